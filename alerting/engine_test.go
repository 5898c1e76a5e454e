package alerting_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/clock/clocktest"
	"github.com/vitalsgo/vitals/exporter"
	"github.com/vitalsgo/vitals/exporter/memory"
	"github.com/vitalsgo/vitals/internal/logtest"
)

// engClock is the shared hand-moved clock, for the engine and the memory
// reader.
type engClock struct{ *clocktest.Clock }

func newEngClock(t time.Time) *engClock { return &engClock{clocktest.New(t)} }

func (c *engClock) set(t time.Time) { c.Set(t) }

// scenario scripts a gauge "errors" per instance label, a memory reader and
// an engine, and records every notification.
type scenario struct {
	t     *testing.T
	clk   *engClock
	mem   *memory.Reader
	eng   *alerting.Engine
	start time.Time

	mu     sync.Mutex
	values map[string]float64
	sent   [][]alerting.Alert
}

func newScenario(t *testing.T, rules string, route alerting.Route, opts ...alerting.Option) *scenario {
	t.Helper()
	s := &scenario{t: t, clk: newEngClock(time.Unix(1_700_000_000, 0)), values: map[string]float64{}}
	s.start = s.clk.Now()
	s.mem = memory.New(memory.WithClock(s.clk))
	mp := sdkmetric.NewMeterProvider(s.mem.MeterProviderOptions()...)
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	_, err := mp.Meter("t").Float64ObservableGauge("errors", metric.WithFloat64Callback(func(_ context.Context, o metric.Float64Observer) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		for inst, v := range s.values {
			o.Observe(v, metric.WithAttributes(attribute.String("instance", inst)))
		}
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	groups, err := alerting.ParseRules([]byte(rules), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	route.Notifiers = append(route.Notifiers, alerting.NotifierFunc(func(_ context.Context, as []alerting.Alert) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.sent = append(s.sent, as)
		return nil
	}))
	s.eng, err = alerting.New(s.mem, groups, append([]alerting.Option{alerting.WithClock(s.clk), alerting.WithRoutes(route)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.eng.Shutdown(context.Background()) })
	return s
}

// at sets the values, collects and evaluates at start+offset.
func (s *scenario) at(offset time.Duration, values map[string]float64) {
	s.t.Helper()
	s.mu.Lock()
	s.values = values
	s.mu.Unlock()
	now := s.start.Add(offset)
	s.clk.set(now)
	if err := s.mem.Collect(s.t.Context()); err != nil {
		s.t.Fatal(err)
	}
	if err := s.eng.Eval(s.t.Context(), now); err != nil {
		s.t.Fatal(err)
	}
}

// states returns "instance=state" for every alert.
func (s *scenario) states() string {
	var out []string
	for _, a := range s.eng.Alerts() {
		out = append(out, a.Labels["instance"]+"="+a.State.String())
	}
	return strings.Join(out, " ")
}

// notifications stops the engine and returns what was sent, as
// "state:instance,instance" per notification.
func (s *scenario) notifications() []string {
	s.t.Helper()
	if err := s.eng.Shutdown(s.t.Context()); err != nil {
		s.t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, batch := range s.sent {
		var parts []string
		for _, a := range batch {
			parts = append(parts, a.State.String()+":"+a.Labels["instance"])
		}
		out = append(out, strings.Join(parts, ","))
	}
	return out
}

const highErrors = `
groups:
  - name: g
    interval: 15s
    rules:
      - alert: HighErrors
        expr: errors > 5
        for: 1m
        labels:
          severity: critical
        annotations:
          summary: "{{ $labels.instance }} has {{ $value }} errors"
`

var now0 = alerting.Route{GroupWait: -1, GroupInterval: -1}

func TestPendingThenFiring(t *testing.T) {
	s := newScenario(t, highErrors, now0)
	s.at(0, map[string]float64{"a": 10})
	if got := s.states(); got != "a=pending" {
		t.Errorf("t=0: %q", got)
	}
	s.at(30*time.Second, map[string]float64{"a": 10})
	if got := s.states(); got != "a=pending" {
		t.Errorf("t=30s: %q", got)
	}
	s.at(time.Minute, map[string]float64{"a": 12})
	alerts := s.eng.Alerts()
	if len(alerts) != 1 || alerts[0].State != alerting.StateFiring || alerts[0].Annotations["summary"] != "a has 12 errors" ||
		alerts[0].Labels["severity"] != "critical" || alerts[0].Labels["alertname"] != "HighErrors" || !alerts[0].ActiveAt.Equal(s.start) {
		t.Errorf("t=1m: %+v", alerts)
	}
	if got := s.notifications(); len(got) != 1 || got[0] != "firing:a" {
		t.Errorf("notifications %q, want one firing", got)
	}
}

func TestFlappingRestartsThePendingTime(t *testing.T) {
	s := newScenario(t, highErrors, now0)
	s.at(0, map[string]float64{"a": 10})
	s.at(45*time.Second, map[string]float64{"a": 0}) // pending instance dropped
	if got := s.states(); got != "" {
		t.Errorf("after it cleared: %q", got)
	}
	s.at(60*time.Second, map[string]float64{"a": 10})
	s.at(75*time.Second, map[string]float64{"a": 10})
	if got := s.states(); got != "a=pending" {
		t.Errorf("15s after it came back: %q (the for clock must restart)", got)
	}
	s.at(120*time.Second, map[string]float64{"a": 10})
	if got := s.states(); got != "a=firing" {
		t.Errorf("60s after it came back: %q", got)
	}
	if got := s.notifications(); len(got) != 1 {
		t.Errorf("notifications %q", got)
	}
}

func TestResolvedOnceAndKeepFiringFor(t *testing.T) {
	rules := strings.Replace(highErrors, "for: 1m", "for: 0s\n        keep_firing_for: 2m", 1)
	s := newScenario(t, rules, now0)
	s.at(0, map[string]float64{"a": 10})
	s.at(15*time.Second, map[string]float64{"a": 0})
	if got := s.states(); got != "a=firing" {
		t.Errorf("within keep_firing_for: %q", got)
	}
	s.at(2*time.Minute, map[string]float64{"a": 0})
	if got := s.states(); got != "a=firing" {
		t.Errorf("1m45s after it cleared: %q", got)
	}
	s.at(2*time.Minute+30*time.Second, map[string]float64{"a": 0})
	if got := s.states(); got != "a=resolved" {
		t.Errorf("after keep_firing_for: %q", got)
	}
	s.at(3*time.Minute, map[string]float64{"a": 0})
	s.at(20*time.Minute, map[string]float64{"a": 0}) // past the resolved retention
	if got := s.states(); got != "" {
		t.Errorf("after the resolved retention: %q", got)
	}
	if got := s.notifications(); strings.Join(got, " ") != "firing:a resolved:a" {
		t.Errorf("notifications %q, want firing then resolved once", got)
	}
}

func TestSilences(t *testing.T) {
	tests := []struct {
		name    string
		matcher alerting.Matcher
		muted   string // instances the silence mutes
	}{
		{"equal", alerting.Matcher{Name: "instance", Value: "a", IsEqual: true}, "a"},
		{"not equal", alerting.Matcher{Name: "instance", Value: "a", IsEqual: false}, "b"},
		{"regexp", alerting.Matcher{Name: "instance", Value: "a|b", IsRegex: true, IsEqual: true}, "a,b"},
		{"not regexp", alerting.Matcher{Name: "instance", Value: "a.*", IsRegex: true, IsEqual: false}, "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules := strings.Replace(highErrors, "for: 1m", "for: 0s", 1)
			start := func() *scenario {
				s := newScenario(t, rules, alerting.Route{GroupBy: []string{"instance"}, GroupWait: -1, GroupInterval: -1})
				_, err := s.eng.Silences().Add(alerting.Silence{
					Matchers: []alerting.Matcher{{Name: "alertname", Value: "HighErrors", IsEqual: true}, tt.matcher},
					EndsAt:   s.start.Add(time.Minute), CreatedBy: "ops", Comment: "maintenance",
				})
				if err != nil {
					t.Fatal(err)
				}
				s.at(0, map[string]float64{"a": 10, "b": 10})
				return s
			}

			// While the silence is active: states kept, muted ones not sent.
			s := start()
			var silenced []string
			for _, a := range s.eng.Alerts() {
				if a.State != alerting.StateFiring {
					t.Errorf("a silenced alert lost its state: %v", a)
				}
				if len(a.SilencedBy) > 0 {
					silenced = append(silenced, a.Labels["instance"])
				}
			}
			slices.Sort(silenced)
			if strings.Join(silenced, ",") != tt.muted {
				t.Errorf("silenced %v, want %s", silenced, tt.muted)
			}
			for _, n := range s.notifications() {
				inst := strings.TrimPrefix(n, "firing:")
				if strings.Contains(tt.muted, inst) {
					t.Errorf("%s was sent while silenced", inst)
				}
			}

			// After the silence expires by itself, every alert is sent once.
			s = start()
			s.at(2*time.Minute, map[string]float64{"a": 10, "b": 10})
			got := strings.Join(s.notifications(), " ")
			for _, inst := range []string{"a", "b"} {
				if strings.Count(got, "firing:"+inst) != 1 {
					t.Errorf("notifications %q: want %s sent once", got, inst)
				}
			}
		})
	}
}

func TestSilenceValidationAndExpiry(t *testing.T) {
	clk := newEngClock(time.Unix(1_700_000_000, 0))
	sil := alerting.NewSilences(clk)
	base := alerting.Silence{Matchers: []alerting.Matcher{{Name: "a", Value: "b", IsEqual: true}}, EndsAt: clk.Now().Add(time.Hour), CreatedBy: "x", Comment: "y"}
	for name, mutate := range map[string]func(*alerting.Silence){
		"no matchers": func(s *alerting.Silence) { s.Matchers = nil },
		"matches everything": func(s *alerting.Silence) {
			s.Matchers = []alerting.Matcher{{Name: "a", Value: ".*", IsRegex: true, IsEqual: true}}
		},
		"bad regexp": func(s *alerting.Silence) {
			s.Matchers = []alerting.Matcher{{Name: "a", Value: "(", IsRegex: true, IsEqual: true}}
		},
		"ends before starts": func(s *alerting.Silence) { s.StartsAt = clk.Now().Add(2 * time.Hour) },
		"already over":       func(s *alerting.Silence) { s.EndsAt = clk.Now().Add(-time.Second) },
		"no author":          func(s *alerting.Silence) { s.CreatedBy = "" },
		"no comment":         func(s *alerting.Silence) { s.Comment = " " },
	} {
		s := base
		mutate(&s)
		if _, err := sil.Add(s); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	id, err := sil.Add(base)
	if err != nil {
		t.Fatal(err)
	}
	if got := sil.Matching(map[string]string{"a": "b"}, clk.Now()); len(got) != 1 || got[0] != id {
		t.Errorf("matching: %v", got)
	}
	if err := sil.Expire(id); err != nil {
		t.Fatal(err)
	}
	if got := sil.Matching(map[string]string{"a": "b"}, clk.Now()); len(got) != 0 {
		t.Errorf("an expired silence still matches: %v", got)
	}
	if sil.List()[0].State(clk.Now()) != alerting.SilenceStateExpired {
		t.Errorf("state %v", sil.List()[0].State(clk.Now()))
	}
	if err := sil.Expire(id); err == nil {
		t.Error("expiring twice succeeded")
	}
}

// TestSilencesBounded: at most MaxSilences active or pending; expiring one
// frees its place; expired silences give way to new ones, oldest first,
// instead of piling up for SilenceRetention.
func TestSilencesBounded(t *testing.T) {
	clk := newEngClock(time.Unix(1_700_000_000, 0))
	sil := alerting.NewSilences(clk)
	mk := func(i int) alerting.Silence {
		return alerting.Silence{
			Matchers: []alerting.Matcher{{Name: "n", Value: strconv.Itoa(i), IsEqual: true}},
			EndsAt:   clk.Now().Add(time.Hour), CreatedBy: "x", Comment: "y",
		}
	}
	ids := make([]string, alerting.MaxSilences)
	for i := range ids {
		id, err := sil.Add(mk(i))
		if err != nil {
			t.Fatalf("silence %d: %v", i, err)
		}
		ids[i] = id
	}
	_, err := sil.Add(mk(-1))
	if !errors.Is(err, alerting.ErrTooManySilences) || !strings.Contains(err.Error(), "MaxSilences") {
		t.Fatalf("silence %d: err = %v, want ErrTooManySilences naming MaxSilences", alerting.MaxSilences+1, err)
	}
	if n := len(sil.List()); n != alerting.MaxSilences {
		t.Fatalf("%d silences held after a refused Add, want %d", n, alerting.MaxSilences)
	}

	// Expire the first ten, a second apart: each frees a place, and the
	// new silence replaces the oldest expired one.
	for i := range 10 {
		clk.Advance(time.Second)
		if err := sil.Expire(ids[i]); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 10 {
		if _, err := sil.Add(mk(alerting.MaxSilences + i)); err != nil {
			t.Fatalf("after expiring 10, Add %d: %v", i, err)
		}
		list := sil.List()
		if len(list) != alerting.MaxSilences {
			t.Fatalf("%d silences held, want %d", len(list), alerting.MaxSilences)
		}
		held := map[string]bool{}
		for _, s := range list {
			held[s.ID] = true
		}
		for j := range 10 {
			if dropped := j <= i; held[ids[j]] == dropped {
				t.Errorf("after Add %d: expired silence %d held = %v, want %v (oldest dropped first)", i, j, held[ids[j]], !dropped)
			}
		}
		if got := sil.Matching(map[string]string{"n": strconv.Itoa(alerting.MaxSilences + i)}, clk.Now()); len(got) != 1 {
			t.Errorf("the new silence %d matches %v", i, got)
		}
	}
	if _, err := sil.Add(mk(-2)); !errors.Is(err, alerting.ErrTooManySilences) {
		t.Errorf("with no expired silence left to drop: err = %v, want ErrTooManySilences", err)
	}
}

func TestRepeatIntervalAndGrouping(t *testing.T) {
	rules := strings.Replace(highErrors, "for: 1m", "for: 0s", 1)
	s := newScenario(t, rules, alerting.Route{GroupWait: 30 * time.Second, GroupInterval: time.Minute, RepeatInterval: time.Hour})
	burst := map[string]float64{}
	for i := range 50 {
		burst[string(rune('A'+i%26))+string(rune('a'+i/26))] = 10
	}
	s.at(0, burst)
	s.at(15*time.Second, burst) // within group_wait: nothing yet
	s.at(30*time.Second, burst) // one message with all 50
	for m := 1; m < 60; m++ {
		s.at(30*time.Second+time.Duration(m)*time.Minute, burst) // nothing changes
	}
	s.at(90*time.Minute, burst) // the repeat interval has passed
	got := s.notifications()
	if len(got) != 2 {
		t.Fatalf("%d notifications, want 2 (one after group_wait, one repeat): %q", len(got), got)
	}
	for _, n := range got {
		if strings.Count(n, "firing:") != 50 {
			t.Errorf("a notification with %d alerts, want all 50 in one", strings.Count(n, "firing:"))
		}
	}
}

func TestManualResolve(t *testing.T) {
	rules := strings.Replace(highErrors, "for: 1m", "for: 0s", 1)
	s := newScenario(t, rules, now0)
	s.at(0, map[string]float64{"a": 10})
	id := s.eng.Alerts()[0].ID
	if err := s.eng.Resolve(id, ""); err == nil {
		t.Error("a resolution without a reason was accepted")
	}
	if err := s.eng.Resolve("nope", "x"); !errors.Is(err, alerting.ErrAlertNotFound) {
		t.Errorf("unknown id: %v", err)
	}
	if err := s.eng.Resolve(id, "known issue, fix deploying"); err != nil {
		t.Fatal(err)
	}
	s.at(15*time.Second, map[string]float64{"a": 10})
	s.at(30*time.Second, map[string]float64{"a": 10}) // still true: stays quiet
	if a := s.eng.Alerts()[0]; a.State != alerting.StateResolved || a.ResolvedReason != "known issue, fix deploying" {
		t.Errorf("after the manual resolution: %+v", a)
	}
	s.at(45*time.Second, map[string]float64{"a": 0})  // clears
	s.at(60*time.Second, map[string]float64{"a": 10}) // and returns: alerts again
	if got := strings.Join(s.notifications(), " "); got != "firing:a resolved:a firing:a" {
		t.Errorf("notifications %q", got)
	}
}

func TestRecordingRulesFeedOtherRules(t *testing.T) {
	rules := `
groups:
  - name: rec
    interval: 15s
    rules:
      - record: instance:errors:doubled
        expr: errors * 2
        labels:
          source: rule
      - alert: DoubledHigh
        expr: instance:errors:doubled > 15
`
	s := newScenario(t, rules, now0)
	s.at(0, map[string]float64{"a": 10, "b": 1})
	if got := s.states(); got != "a=firing" {
		t.Errorf("states %q: the alert on the recorded series should fire for a", got)
	}
	res, err := s.mem.Query(t.Context(), `instance:errors:doubled{source="rule"}`, s.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if v := res.Value.(memory.Vector); len(v) != 2 {
		t.Errorf("recorded series: %v", v)
	}
}

func TestTemplatesAndEvaluationFailures(t *testing.T) {
	rules := `
groups:
  - name: g
    interval: 15s
    rules:
      - alert: Templated
        expr: errors > 5
        annotations:
          percent: "{{ 0.1234 | humanizePercentage }}"
          duration: "{{ 90 | humanizeDuration }}"
          broken: "{{ $labels.instance | nosuchfunction }}"
`
	_, err := alerting.ParseRules([]byte(rules), "t.yml")
	if err == nil || !strings.Contains(err.Error(), "nosuchfunction") {
		t.Fatalf("a template with an unknown function should fail at load: %v", err)
	}
	rules = strings.Replace(rules, "{{ $labels.instance | nosuchfunction }}", "{{ index $labels 5 }}", 1)
	s := newScenario(t, rules, now0)
	s.at(0, map[string]float64{"a": 10})
	a := s.eng.Alerts()[0]
	if a.Annotations["percent"] != "12.34%" || a.Annotations["duration"] != "1m 30s" || !strings.HasPrefix(a.Annotations["broken"], "<error expanding template:") {
		t.Errorf("annotations %v", a.Annotations)
	}
}

func TestEvaluationFailureIsCountedAndOthersRun(t *testing.T) {
	groups := []alerting.Group{{Name: "g", Rules: []alerting.Rule{
		{Alert: "Fails", Condition: func(context.Context, memory.Evaluator, time.Time) (memory.Vector, error) {
			return nil, errors.New("query timed out")
		}},
		{Alert: "Works", Expr: `vector(1)`},
	}}}
	mem := memory.New()
	eng, err := alerting.New(mem, groups, alerting.WithRoutes(now0))
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Shutdown(context.Background())
	err = eng.Eval(t.Context(), time.Now())
	if err == nil || !strings.Contains(err.Error(), `rule "Fails": query timed out`) {
		t.Errorf("Eval error: %v", err)
	}
	if got := eng.Alerts(); len(got) != 1 || got[0].Name() != "Works" {
		t.Errorf("alerts %v: the other rule must still run", got)
	}
	for _, r := range eng.Rules() {
		if r.Name == "Fails" && (r.Failures != 1 || r.LastError != "query timed out" || r.Exportable) {
			t.Errorf("rule status %+v", r)
		}
	}
}

func TestBadRuleFiles(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"yaml", "groups: [", "yaml"},
		{"unknown field", "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        severity: x\n", "field severity not found"},
		{"no name", "groups:\n  - name: g\n    rules:\n      - expr: up\n", "one of 'record' or 'alert' must be set"},
		{"both", "groups:\n  - name: g\n    rules:\n      - alert: A\n        record: b\n        expr: up\n", "only one of 'record' and 'alert' must be set"},
		{"bad expr", "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: rate(up[5m]\n", "unclosed left parenthesis"},
		{"unknown function", "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: nosuch(up)\n", "unknown function with name \"nosuch\""},
		{"duplicate group", "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n  - name: g\n    rules:\n      - alert: B\n        expr: up\n", "repeated in the same file"},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".yml")
			if err := os.WriteFile(p, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := alerting.LoadFiles(p)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), p) {
				t.Errorf("error %v: want the file name and %q", err, tt.want)
			}
		})
	}
	// Go rules are validated too, naming group and rule.
	_, err := alerting.New(memory.New(), []alerting.Group{{Name: "g", Rules: []alerting.Rule{{Alert: "A", Expr: "sum(("}}}})
	if err == nil || !strings.Contains(err.Error(), `group "g": rule "A"`) {
		t.Errorf("Go rule error: %v", err)
	}
}

func TestDefaultRulesLoadAndExport(t *testing.T) {
	groups, err := alerting.LoadFiles("../docs/rules/vitals-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, g := range groups {
		for _, r := range g.Rules {
			names[r.Alert] = true
		}
	}
	for _, want := range []string{"HighErrorRate", "HighLatency", "CriticalHealthCheckFailing", "MemoryNearLimit", "SchedulerLatencyHigh", "OTLPExportFailing", "MemoryLeakSuspected", "HighCPUUsage"} {
		if !names[want] {
			t.Errorf("default rules lack %s", want)
		}
	}
	groups = append(groups, alerting.Group{Name: "go-only", Rules: []alerting.Rule{{Alert: "InGo", Condition: func(context.Context, memory.Evaluator, time.Time) (memory.Vector, error) { return nil, nil }}}})
	out, err := alerting.PrometheusRules(groups)
	if err == nil || !strings.Contains(err.Error(), "go-only/InGo") {
		t.Errorf("want the Go rule named as not exportable: %v", err)
	}
	back, err := alerting.ParseRules(out, "exported.yml")
	if err != nil {
		t.Fatalf("the exported file does not load back: %v\n%s", err, out)
	}
	if len(back) != len(groups)-1 {
		t.Errorf("%d groups back, want %d", len(back), len(groups)-1)
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not found (Debian's prometheus package ships it): the exported file was not checked by it")
	}
	p := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(p, out, 0o600); err != nil {
		t.Fatal(err)
	}
	if msg, err := exec.Command(promtool, "check", "rules", p).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules: %v\n%s", err, msg)
	}
}

func TestAlertsAsMetrics(t *testing.T) {
	rules := strings.Replace(highErrors, "for: 1m", "for: 30s", 1)
	clk := newEngClock(time.Unix(1_700_000_000, 0))
	mem := memory.New(memory.WithClock(clk))
	p, err := exporter.NewMeterProvider(t.Context(), exporter.MetricsConfig{}, exporter.WithReader(mem.SDKReaders()...))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	_, _ = p.Meter("t").Float64ObservableGauge("errors", metric.WithFloat64Callback(func(_ context.Context, o metric.Float64Observer) error {
		o.Observe(10, metric.WithAttributes(attribute.String("instance", "a")))
		return nil
	}))
	groups, _ := alerting.ParseRules([]byte(rules), "t.yml")
	eng, err := alerting.New(mem, groups, alerting.WithClock(clk), alerting.WithMeterProvider(p), alerting.WithRoutes(now0))
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Shutdown(context.Background())
	if err := mem.Collect(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := eng.Eval(t.Context(), clk.Now()); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	p.PrometheusHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`ALERTS{alertname="HighErrors",alertstate="pending",instance="a",otel_scope_name="github.com/vitalsgo/vitals/alerting",severity="critical"} 1`,
		`ALERTS_FOR_STATE{alertname="HighErrors",instance="a",otel_scope_name="github.com/vitalsgo/vitals/alerting",severity="critical"} 1.7e+09`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestRecordingRulesChainWithinAGroup(t *testing.T) {
	rules := `
groups:
  - name: chain
    interval: 15s
    rules:
      - record: step:one
        expr: errors * 2
      - record: step:two
        expr: step:one + 1
      - alert: ChainHigh
        expr: step:two > 20
`
	s := newScenario(t, rules, now0)
	s.at(0, map[string]float64{"a": 10})
	s.at(15*time.Second, map[string]float64{"a": 12})
	res, err := s.mem.Query(t.Context(), `step:two`, s.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if v := res.Value.(memory.Vector); len(v) != 1 || v[0].F != 25 {
		t.Errorf("step:two = %v, want 25 (computed from step:one of the same evaluation)", v)
	}
	for _, r := range s.eng.Rules() {
		if r.LastError != "" {
			t.Errorf("rule %s: %s", r.Name, r.LastError)
		}
	}
	if got := s.states(); got != "a=firing" {
		t.Errorf("states %q", got)
	}
}

// TestNotifiersGetTheGroupAndTheirErrorsAreLogged: the engine calls a
// route's notifiers with the notification group in the context, and logs
// (rate-limited) what they return.
func TestNotifiersGetTheGroupAndTheirErrorsAreLogged(t *testing.T) {
	logger, logs := logtest.New()
	var groups []alerting.NotificationGroup
	failing := alerting.NotifierFunc(func(ctx context.Context, _ []alerting.Alert) error {
		g, ok := alerting.NotificationGroupFromContext(ctx)
		if !ok {
			t.Error("Notify called without a notification group")
		}
		groups = append(groups, g)
		return errors.New("receiver full")
	})
	rules := strings.Replace(highErrors, "for: 1m", "for: 0s", 1)
	s := newScenario(t, rules, alerting.Route{Name: "ops", Notifiers: []alerting.Notifier{failing}, GroupWait: -1},
		alerting.WithLogger(logger), alerting.WithExternalURL("http://vitals.example/monitoring"))
	s.at(0, map[string]float64{"a": 10})
	if len(groups) != 1 {
		t.Fatalf("the failing notifier was called %d times, want 1", len(groups))
	}
	if g := groups[0]; g.Receiver != "ops" || g.Labels["alertname"] != "HighErrors" || !strings.HasPrefix(g.Key, "ops:") || g.ExternalURL != "http://vitals.example/monitoring" {
		t.Errorf("group = %+v, want receiver ops, alertname HighErrors, a key of route ops, the external URL", g)
	}
	if got := s.notifications(); len(got) != 1 {
		t.Errorf("the scenario's own notifier got %q, want one notification: a failing notifier does not stop the others", got)
	}
	out := logs.String()
	for _, want := range []string{"vitals: notification failed", "route=ops", "notifier=0", "receiver full"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q:\n%s", want, out)
		}
	}
}

// TestShutdownStopsRun: Shutdown makes Run return at once, not at the next
// evaluation (an hour away here), and waits for it.
func TestShutdownStopsRun(t *testing.T) {
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	mem := memory.New(memory.WithClock(clk))
	groups := []alerting.Group{{Name: "g", Interval: time.Hour, Rules: []alerting.Rule{{Alert: "A", Expr: "vector(1) > 2"}}}}
	eng, err := alerting.New(mem, groups, alerting.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- eng.Run(context.Background()) }()
	clk.BlockUntil(1) // evaluated once, waiting for the next interval
	if err := eng.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	default:
		t.Fatal("Shutdown returned before Run did")
	}
	if err := eng.Shutdown(t.Context()); !errors.Is(err, alerting.ErrShutdown) {
		t.Errorf("second Shutdown = %v, want ErrShutdown", err)
	}
	if err := eng.Run(context.Background()); !errors.Is(err, alerting.ErrShutdown) {
		t.Errorf("Run after Shutdown = %v, want ErrShutdown at once", err)
	}
}

// TestRuleStatusJSON: a rule's status carries its configured durations and
// its last evaluation's, each a number of seconds.
func TestRuleStatusJSON(t *testing.T) {
	rules := `
groups:
  - name: g
    interval: 30s
    rules:
      - alert: Slow
        expr: errors > 5
        for: 2m
        keep_firing_for: 1m
`
	s := newScenario(t, rules, now0)
	s.at(0, map[string]float64{"a": 10})
	st := s.eng.Rules()
	if len(st) != 1 {
		t.Fatalf("%d rules", len(st))
	}
	b, err := json.Marshal(st[0])
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]float64{"forSeconds": 120, "keepFiringForSeconds": 60, "intervalSeconds": 30,
		"evaluationDurationSeconds": st[0].EvaluationDuration.Seconds()} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v (%s)", k, got[k], want, b)
		}
	}
	for _, k := range []string{"For", "KeepFiringFor", "Interval", "EvaluationDuration", "Alerts"} {
		if _, ok := got[k]; ok {
			t.Errorf("%s encoded under its Go name: %s", k, b)
		}
	}
}

// TestConditionGetsTheEvaluationTime: a Go condition is asked about the
// time being evaluated, as an Expr is evaluated at it, not about the
// querier's now.
func TestConditionGetsTheEvaluationTime(t *testing.T) {
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	var asked []time.Time
	groups := []alerting.Group{{Name: "g", Rules: []alerting.Rule{{Alert: "InGo", Condition: func(_ context.Context, _ memory.Evaluator, ts time.Time) (memory.Vector, error) {
		asked = append(asked, ts)
		return nil, nil
	}}}}}
	eng, err := alerting.New(memory.New(memory.WithClock(clk)), groups, alerting.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	at := clk.Now().Add(time.Hour) // the reader's clock stays an hour before
	if err := eng.Eval(t.Context(), at); err != nil {
		t.Fatal(err)
	}
	if len(asked) != 1 || !asked[0].Equal(at) {
		t.Errorf("the condition was asked about %v, want %v", asked, at)
	}
}
