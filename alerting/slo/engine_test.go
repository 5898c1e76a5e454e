package slo_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/alerting/slo"
	"github.com/vitalsgo/vitals/exporter/memory"
)

// sloScenario scripts HTTP-like traffic minute by minute: a counter
// app_requests_total{code} (6000 requests a minute) and the request
// duration histogram (100 requests a minute), a share of which fails or is
// slow. The memory reader collects every minute and keeps 4 days; the
// engine evaluates the SLOs' in-process rules every 5 minutes.
type sloScenario struct {
	t     *testing.T
	clk   *engClock
	mem   *memory.Reader
	eng   *alerting.Engine
	dur   metric.Float64Histogram
	start time.Time
	now   time.Duration // offset of the last collection

	mu         sync.Mutex
	ok, failed float64
}

var (
	okAttrs   = metric.WithAttributes(attribute.String("code", "200"))
	failAttrs = metric.WithAttributes(attribute.String("code", "500"))
)

func newSLOScenario(t *testing.T, slos ...slo.SLO) *sloScenario {
	t.Helper()
	s := &sloScenario{t: t, clk: newEngClock(time.Unix(1_700_000_000, 0))}
	s.start = s.clk.Now()
	// The default 1 h retention: the long windows come from the 5m ratio,
	// which the SLO keeps for its whole period on a store of its own.
	s.mem = memory.New(memory.WithClock(s.clk), memory.WithInterval(time.Minute))
	mp := sdkmetric.NewMeterProvider(s.mem.MeterProviderOptions()...)
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	m := mp.Meter("t")
	_, err := m.Float64ObservableCounter("app.requests", metric.WithFloat64Callback(func(_ context.Context, o metric.Float64Observer) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		o.Observe(s.ok, okAttrs)
		o.Observe(s.failed, failAttrs)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	s.dur, err = m.Float64Histogram("http.server.request.duration", metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(slo.HTTPDurationBoundaries()...))
	if err != nil {
		t.Fatal(err)
	}
	groups, err := slo.InProcessRules(slos...)
	if err != nil {
		t.Fatal(err)
	}
	s.eng, err = alerting.New(s.mem, groups, alerting.WithClock(s.clk))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.eng.Shutdown(context.Background()) })
	return s
}

// run moves time minute by minute up to offset end with a share bad of
// failed and of slow requests, evaluating every 5 minutes and calling
// check after each evaluation.
func (s *sloScenario) run(end time.Duration, bad float64, check func(at time.Duration)) {
	s.t.Helper()
	ctx := s.t.Context()
	for s.now < end {
		s.now += time.Minute
		s.mu.Lock()
		s.ok += 6000 * (1 - bad)
		s.failed += 6000 * bad
		s.mu.Unlock()
		slow := int(100 * bad)
		for i := range 100 {
			d := 0.01
			if i < slow {
				d = 0.5
			}
			s.dur.Record(ctx, d)
		}
		now := s.start.Add(s.now)
		s.clk.set(now)
		if err := s.mem.Collect(ctx); err != nil {
			s.t.Fatal(err)
		}
		if s.now%(5*time.Minute) != 0 {
			continue
		}
		if err := s.eng.Eval(ctx, now); err != nil {
			s.t.Fatalf("at %s: %v", s.now, err)
		}
		if check != nil {
			check(s.now)
		}
	}
}

// firing returns "slo/severity" of every firing alert, sorted.
func (s *sloScenario) firing() string {
	var out []string
	for _, a := range s.eng.Alerts() {
		if a.State == alerting.StateFiring {
			out = append(out, a.Labels["sloth_slo"]+"/"+a.Labels["sloth_severity"])
		}
	}
	sort.Strings(out)
	return strings.Join(slicesCompact(out), " ")
}

func slicesCompact(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// TestSLOFastBurnPages: 2 % of requests fail (or are slow) against a
// 99.9 % objective, a burn rate of 20. The page needs the 5m and 1h error
// ratios above 14.4 × 0.1 % = 1.44 %. The 5m ratio is 2 % from the first
// evaluation after the onset; the 1h ratio, the mean of the twelve 5m
// ratios of the hour, passes 1.44 % when more than 72 % of the hour is bad:
// 43.2 minutes, so at the evaluation 45 minutes after the onset, and not at
// 40. The 6h pair (30m and 6h above 0.6 %) would need 108 minutes. When the
// errors stop, the 5m ratio drops to 0 at the next evaluation and the page
// resolves.
func TestSLOFastBurnPages(t *testing.T) {
	avail := slo.SLO{Service: "app", Name: "availability", Objective: 99.9, SLI: slo.SLI{Events: &slo.EventsSLI{
		ErrorQuery: `sum(rate(app_requests_total{code=~"5.."}[{{.window}}]))`,
		TotalQuery: `sum(rate(app_requests_total[{{.window}}]))`,
	}}}
	lat := slo.HTTPLatency("latency", 99.9, 250*time.Millisecond, "")
	lat.Service = "app"
	s := newSLOScenario(t, avail, lat)

	onset := 6 * time.Hour
	s.run(onset, 0, func(at time.Duration) {
		if got := s.firing(); got != "" {
			t.Fatalf("healthy at %s: firing %q", at, got)
		}
	})
	s.run(onset+time.Hour, 0.02, func(at time.Duration) {
		got := pagesOnly(s.firing())
		switch since := at - onset; {
		case since <= 40*time.Minute && got != "":
			t.Errorf("%s after the onset: firing %q, want nothing before 43.2 min", since, got)
		case since >= 45*time.Minute && got != "availability/page latency/page":
			t.Errorf("%s after the onset: firing %q, want both pages", since, got)
		}
	})
	for _, a := range s.eng.Alerts() {
		if a.Labels["sloth_severity"] != "page" {
			continue // the 3d window holds 6 h only here: the ticket fires too
		}
		if a.State == alerting.StateFiring && a.Labels["severity"] != "page" {
			t.Errorf("page alert labels %v", a.Labels)
		}
		if a.State == alerting.StateFiring && !strings.Contains(a.Annotations["description"], "which spends 2% of the 30d error budget in 1h") {
			t.Errorf("description %q", a.Annotations["description"])
		}
	}
	s.run(onset+time.Hour+5*time.Minute, 0, nil)
	if got := pagesOnly(s.firing()); got != "" {
		t.Errorf("5 min after the errors stopped: firing %q", got)
	}
	resolved := 0
	for _, a := range s.eng.Alerts() {
		if a.Labels["sloth_severity"] == "page" && a.State == alerting.StateResolved {
			resolved++
		}
	}
	if resolved != 2 {
		t.Errorf("%d resolved pages, want 2: %+v", resolved, s.eng.Alerts())
	}
}

// pagesOnly keeps the "slo/page" entries of firing.
func pagesOnly(firing string) string {
	var out []string
	for _, f := range strings.Fields(firing) {
		if strings.HasSuffix(f, "/page") {
			out = append(out, f)
		}
	}
	return strings.Join(out, " ")
}

// TestSLOSlowBurnTickets: 0.2 % of requests fail against 99.9 %, a burn
// rate of 2: never a page (14.4 and 6 needed) nor the 2h/1d ticket (3
// needed); the 6h/3d ticket needs both ratios above 0.1 %, more than half
// of each window bad. After 12 healthy hours (the reader holds no more, so
// the 3d window is those 12 h plus the bad time), the 6h ratio passes at
// 3 h and the 3d one at 12 h after the onset, so the ticket fires 12 h after
// the onset (one evaluation either side for the exact tie at half). The
// errors stop 13 h after the onset: the 3d window then holds 12 h healthy,
// 13 h bad and the healthy time since, so it is no longer more than half
// bad one hour later (13 h of 26 h), and the ticket resolves then, one
// evaluation either side.
func TestSLOSlowBurnTickets(t *testing.T) {
	avail := slo.SLO{Service: "app", Name: "availability", Objective: 99.9, SLI: slo.SLI{Events: &slo.EventsSLI{
		ErrorQuery: `sum(rate(app_requests_total{code=~"5.."}[{{.window}}]))`,
		TotalQuery: `sum(rate(app_requests_total[{{.window}}]))`,
	}}}
	s := newSLOScenario(t, avail)
	onset := 12 * time.Hour
	s.run(onset, 0, nil)
	check := func(at time.Duration) {
		got := s.firing()
		since := at - onset
		switch {
		case strings.Contains(got, "page"):
			t.Fatalf("%s after the onset: firing %q, want no page at 2x", since, got)
		case since < 11*time.Hour+55*time.Minute && got != "":
			t.Fatalf("%s after the onset: firing %q, want the ticket only from 12 h", since, got)
		case since >= 12*time.Hour+5*time.Minute && since <= 13*time.Hour+55*time.Minute && got != "availability/ticket":
			t.Fatalf("%s after the onset: firing %q, want the ticket", since, got)
		case since >= 14*time.Hour+10*time.Minute && got != "":
			t.Fatalf("%s after the onset: firing %q, want it resolved 1 h after recovery", since, got)
		}
	}
	s.run(onset+13*time.Hour, 0.002, check)
	s.run(onset+14*time.Hour+15*time.Minute, 0, check)
	var states []string
	for _, a := range s.eng.Alerts() {
		states = append(states, fmt.Sprintf("%s/%s=%s", a.Labels["sloth_slo"], a.Labels["sloth_severity"], a.State))
	}
	if got := strings.Join(states, " "); got != "availability/ticket=resolved" {
		t.Errorf("alerts at the end: %q", got)
	}
}

func TestSLOStatus(t *testing.T) {
	avail := slo.SLO{Service: "app", Name: "availability", Objective: 99.9, SLI: slo.SLI{Events: &slo.EventsSLI{
		ErrorQuery: `sum(rate(app_requests_total{code=~"5.."}[{{.window}}]))`,
		TotalQuery: `sum(rate(app_requests_total[{{.window}}]))`,
	}}}
	s := newSLOScenario(t, avail)
	s.run(time.Hour, 0.002, nil)
	st, err := avail.Status(t.Context(), s.mem, s.start.Add(s.now))
	if err != nil {
		t.Fatal(err)
	}
	near := func(got, want float64) bool { return got > want-1e-6 && got < want+1e-6 }
	if st.ID != "app-availability" || st.SLI == nil || !near(*st.SLI, 99.8) || !near(st.BurnRates["5m"], 2) ||
		!near(st.BurnRates["30m"], 2) || st.ErrorBudgetRemaining == nil || *st.ErrorBudgetRemaining > -0.5 {
		t.Errorf("status %+v (SLI %v, remaining %v)", st, deref(st.SLI), deref(st.ErrorBudgetRemaining))
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
