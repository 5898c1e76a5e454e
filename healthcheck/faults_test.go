package healthcheck_test

// Faults: checks that hang (honouring their context or not), panic and
// flap, under many concurrent probes of the real /livez, /readyz and
// /healthz handlers on 127.0.0.1 and concurrent RunAll calls, with
// background runs triggered by a clock the test moves.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/goleak"

	"github.com/vitalsgo/vitals/healthcheck"
	"github.com/vitalsgo/vitals/internal/logtest"
)

// fhCounter counts a checker's calls and how many run at once.
type fhCounter struct {
	calls, cur, max atomic.Int64
}

// enter returns the call's number, from 1.
func (c *fhCounter) enter() int64 {
	n := c.calls.Add(1)
	cur := c.cur.Add(1)
	for {
		m := c.max.Load()
		if cur <= m || c.max.CompareAndSwap(m, cur) {
			break
		}
	}
	runtime.Gosched() // give an overlapping run its chance to show
	return n
}

func (c *fhCounter) exit() { c.cur.Add(-1) }

// fhFlap fails on odd calls and passes on even ones; the call's number is
// its observed value, so a report can be traced to the run that made it.
func fhFlap(c *fhCounter) healthcheck.Checker {
	return healthcheck.ResultFunc(func(context.Context) healthcheck.Result {
		n := c.enter()
		defer c.exit()
		if n%2 == 1 {
			return healthcheck.Result{Status: healthcheck.StatusFail, ObservedValue: n, Output: fmt.Sprintf("flap %d failed", n)}
		}
		return healthcheck.Result{Status: healthcheck.StatusPass, ObservedValue: n}
	})
}

const (
	fhTimeout   = 20 * time.Millisecond
	fhTimedOut  = "timeout after 20ms"
	fhStillBusy = "previous run still in progress after its timeout"
	// fhBound bounds every probe: far above the checks' timeout, far below
	// "never", which is how long a hanging check would hold a probe that
	// waited for it.
	fhBound = 5 * time.Second
)

// fhChecks are the registered checks: which probes they belong to and
// whether they are critical.
var fhChecks = map[string]struct {
	kind     healthcheck.Kind
	critical bool
}{
	"flap":             {healthcheck.Readiness, true},
	"flap-live":        {healthcheck.Liveness, false},
	"bg-flap":          {healthcheck.Readiness, false},
	"hang":             {healthcheck.Readiness, false},
	"hang-ignores-ctx": {healthcheck.Liveness | healthcheck.Readiness, false},
	"panics":           {healthcheck.Liveness | healthcheck.Readiness, false},
	"ok":               {healthcheck.Liveness, true},
}

// fhAggregate is the documented aggregation, applied to what a probe
// reported: a critical fail fails; any other fail or a warn warns.
func fhAggregate(statuses map[string]string) string {
	out := "pass"
	for name, s := range statuses {
		switch s {
		case "fail":
			if fhChecks[name].critical {
				return "fail"
			}
			out = "warn"
		case "warn":
			out = "warn"
		}
	}
	return out
}

// fhVerify checks one check's reported status and details against what
// its checker can have produced.
func fhVerify(t *testing.T, where, name, status, output string, observed any, counters map[string]*fhCounter) {
	t.Helper()
	switch name {
	case "flap", "flap-live", "bg-flap":
		if observed == nil {
			// Only the background check may not have run yet.
			if name != "bg-flap" || status != "fail" || (output != "not run yet" && output != "") {
				t.Errorf("%s: %s is %s (%q) with no observed value", where, name, status, output)
			}
			return
		}
		var n int64
		switch v := observed.(type) {
		case float64: // from JSON
			n = int64(v)
		case int64:
			n = v
		default:
			t.Errorf("%s: %s observed %T %v", where, name, observed, observed)
			return
		}
		want := "pass"
		if n%2 == 1 {
			want = "fail"
		}
		if n < 1 || n > counters[name].calls.Load() || status != want {
			t.Errorf("%s: %s reports %s for run %d; that run produced %s (of %d runs)", where, name, status, n, want, counters[name].calls.Load())
		}
	case "hang", "hang-ignores-ctx":
		if status != "fail" || (output != fhTimedOut && output != fhStillBusy) {
			t.Errorf("%s: %s is %s %q, want fail with %q or %q", where, name, status, output, fhTimedOut, fhStillBusy)
		}
	case "panics":
		if status != "fail" || output != "panic: kaboom" {
			t.Errorf("%s: panics is %s %q, want fail with \"panic: kaboom\"", where, status, output)
		}
	case "ok":
		if status != "pass" {
			t.Errorf("%s: ok is %s", where, status)
		}
	default:
		t.Errorf("%s: unexpected check %q", where, name)
	}
}

// fhProbe gets one probe and checks it: in time, a status code matching
// the aggregate status, the aggregate matching the checks' statuses, and
// each check's status one its checker produced.
func fhProbe(t *testing.T, client *http.Client, base, path string, kind healthcheck.Kind, counters map[string]*fhCounter) {
	t.Helper()
	start := time.Now()
	resp, err := client.Get(base + path)
	if err != nil {
		t.Errorf("GET %s: %v", path, err)
		return
	}
	defer func() { _ = resp.Body.Close() }()
	var body struct {
		Status healthcheck.Status                   `json:"status"`
		Checks map[string][]healthcheck.CheckObject `json:"checks"`
	}
	err = json.NewDecoder(resp.Body).Decode(&body)
	if elapsed := time.Since(start); elapsed > fhBound {
		t.Errorf("GET %s took %v, want within %v", path, elapsed, fhBound)
	}
	if err != nil {
		t.Errorf("GET %s: body: %v", path, err)
		return
	}
	wantCode := http.StatusOK
	if body.Status == healthcheck.StatusFail {
		wantCode = http.StatusServiceUnavailable
	}
	if resp.StatusCode != wantCode || resp.Header.Get("Content-Type") != healthcheck.ContentType {
		t.Errorf("GET %s: %d %q with status %q, want %d", path, resp.StatusCode, resp.Header.Get("Content-Type"), body.Status, wantCode)
	}
	statuses := map[string]string{}
	for name, objs := range body.Checks {
		if len(objs) != 1 {
			t.Errorf("GET %s: %s has %d entries", path, name, len(objs))
			continue
		}
		statuses[name] = objs[0].Status.String()
		fhVerify(t, "GET "+path, name, objs[0].Status.String(), objs[0].Output, objs[0].ObservedValue, counters)
	}
	for name, c := range fhChecks {
		if _, ok := statuses[name]; ok != (c.kind&kind != 0) {
			t.Errorf("GET %s: %s reported: %v, want %v", path, name, ok, c.kind&kind != 0)
		}
	}
	if want := fhAggregate(statuses); body.Status.String() != want {
		t.Errorf("GET %s: status %q, but its checks %v aggregate to %q", path, body.Status, statuses, want)
	}
}

// fhClock is the test's manual clock with timeouts (AfterFunc) on the wall
// clock.
type fhClock struct{ *manualClock }

func (fhClock) AfterFunc(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }

// fhWaitGoroutines polls until no more goroutines run than before, or
// fails after a deadline naming those left.
func fhWaitGoroutines(t *testing.T, before int, ignore goleak.Option) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Errorf("%d goroutines after the test, %d before: %v", runtime.NumGoroutine(), before, goleak.Find(ignore))
			return
		}
		runtime.Gosched()
	}
}

func TestFaultsConcurrentProbesOfHangingPanickingFlappingChecks(t *testing.T) {
	const (
		probers    = 12
		rounds     = 15
		runAllers  = 3
		clockMoves = 15
	)
	ignore := goleak.IgnoreCurrent()
	before := runtime.NumGoroutine()

	// Background runs wait on the manual clock; the hanging checks' timeouts
	// run on the wall clock, so that they end while the probes pound on them.
	clk := &fhClock{newManualClock()}
	// parked receives each time the background loop waits for its next
	// interval: its run is over.
	parked := make(chan struct{}, 2*clockMoves)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for range clk.waiters {
			parked <- struct{}{}
		}
	}()
	waitParked := func() {
		select {
		case <-parked:
		case <-time.After(fhBound):
			t.Error("the background check did not come back to wait for its interval")
		}
	}
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	logger, logs := logtest.New()
	r, err := healthcheck.New(healthcheck.WithClock(clk), healthcheck.WithLogger(logger), healthcheck.WithMeterProvider(mp))
	must(t, err)

	counters := map[string]*fhCounter{}
	for name := range fhChecks {
		counters[name] = &fhCounter{}
	}
	release := make(chan struct{})
	released := false
	releaseHang := func() {
		if !released {
			released = true
			close(release)
		}
	}
	defer releaseHang() // a failed test still lets the stuck checker end

	opts := func(name string, more ...healthcheck.CheckOption) []healthcheck.CheckOption {
		o := []healthcheck.CheckOption{healthcheck.WithKinds(fhChecks[name].kind)}
		if !fhChecks[name].critical {
			o = append(o, healthcheck.WithoutCritical())
		}
		return append(o, more...)
	}
	must(t, r.Register("flap", fhFlap(counters["flap"]), opts("flap")...))
	must(t, r.Register("flap-live", fhFlap(counters["flap-live"]), opts("flap-live")...))
	must(t, r.Register("bg-flap", fhFlap(counters["bg-flap"]), opts("bg-flap", healthcheck.WithInterval(time.Hour))...))
	must(t, r.Register("hang", healthcheck.CheckFunc(func(ctx context.Context) error {
		counters["hang"].enter()
		defer counters["hang"].exit()
		<-ctx.Done()
		return ctx.Err()
	}), opts("hang", healthcheck.WithTimeout(fhTimeout))...))
	must(t, r.Register("hang-ignores-ctx", healthcheck.CheckFunc(func(context.Context) error {
		counters["hang-ignores-ctx"].enter()
		defer counters["hang-ignores-ctx"].exit()
		<-release
		return nil
	}), opts("hang-ignores-ctx", healthcheck.WithTimeout(fhTimeout))...))
	must(t, r.Register("panics", healthcheck.CheckFunc(func(context.Context) error {
		counters["panics"].enter()
		defer counters["panics"].exit()
		panic("kaboom")
	}), opts("panics")...))
	must(t, r.Register("ok", healthcheck.CheckFunc(func(context.Context) error {
		counters["ok"].enter()
		defer counters["ok"].exit()
		return nil
	}), opts("ok")...))

	authorized := healthcheck.WithAuthorizer(func(*http.Request) bool { return true })
	mux := http.NewServeMux()
	mux.Handle("GET /livez", healthcheck.Handler(r, healthcheck.Liveness, authorized))
	mux.Handle("GET /readyz", healthcheck.Handler(r, healthcheck.Readiness, authorized))
	mux.Handle("GET /healthz", healthcheck.Handler(r, healthcheck.Liveness|healthcheck.Readiness, authorized))
	srv := httptest.NewServer(mux)
	tr := &http.Transport{MaxIdleConnsPerHost: probers}
	client := &http.Client{Transport: tr, Timeout: fhBound}

	probes := []struct {
		path string
		kind healthcheck.Kind
	}{
		{"/livez", healthcheck.Liveness},
		{"/readyz", healthcheck.Readiness},
		{"/healthz", healthcheck.Liveness | healthcheck.Readiness},
	}
	var wg sync.WaitGroup
	for g := range probers {
		wg.Go(func() {
			for i := range rounds {
				p := probes[(g+i)%len(probes)]
				fhProbe(t, client, srv.URL, p.path, p.kind, counters)
			}
		})
	}
	for range runAllers {
		wg.Go(func() {
			for range rounds {
				start := time.Now()
				rep := r.RunAll(t.Context())
				if elapsed := time.Since(start); elapsed > fhBound {
					t.Errorf("RunAll took %v, want within %v", elapsed, fhBound)
				}
				statuses := map[string]string{}
				for _, c := range rep.Checks {
					statuses[c.Name] = c.Status.String()
					fhVerify(t, "RunAll", c.Name, c.Status.String(), c.Output, c.ObservedValue, counters)
				}
				if len(rep.Checks) != len(fhChecks) {
					t.Errorf("RunAll reported %d checks, want %d", len(rep.Checks), len(fhChecks))
				}
				if want := fhAggregate(statuses); rep.Status.String() != want {
					t.Errorf("RunAll: status %v, but its checks %v aggregate to %q", rep.Status, statuses, want)
				}
			}
		})
	}
	wg.Go(func() {
		// Background runs of bg-flap, concurrent with the probes: one per
		// move of the clock, each over before the next move.
		for range clockMoves {
			waitParked()
			clk.Advance(time.Hour)
		}
		waitParked()
	})
	wg.Wait()

	// Never two runs of one checker at once; the checker that ignores its
	// context was started once, however many probes came while it hung.
	for name, c := range counters {
		if m := c.max.Load(); m > 1 {
			t.Errorf("%s ran %d times at once, want at most 1", name, m)
		}
	}
	if n := counters["hang-ignores-ctx"].calls.Load(); n != 1 {
		t.Errorf("hang-ignores-ctx was started %d times while stuck, want 1", n)
	}

	// The results, the counts and the metrics agree.
	results := map[string]healthcheck.CheckResult{}
	for _, res := range r.Results() {
		results[res.Name] = res
	}
	if n := counters["bg-flap"].calls.Load(); n < clockMoves+1 {
		t.Errorf("bg-flap ran %d times, want at least %d (once at registration, once per interval)", n, clockMoves+1)
	}
	for _, name := range []string{"flap", "flap-live", "bg-flap"} {
		calls := counters[name].calls.Load()
		if res := results[name]; res.Runs != calls || res.Failures != (calls+1)/2 {
			t.Errorf("%s: %d runs, %d failures; its checker ran %d times, failing %d", name, res.Runs, res.Failures, calls, (calls+1)/2)
		}
	}
	if res, calls := results["panics"], counters["panics"].calls.Load(); res.Runs != calls || res.Failures != calls || calls == 0 {
		t.Errorf("panics: %d runs, %d failures, %d calls; want all equal", res.Runs, res.Failures, calls)
	}
	if n, calls := strings.Count(logs.String(), "health check panicked"), counters["panics"].calls.Load(); int64(n) != calls {
		t.Errorf("%d panics logged, %d happened", n, calls)
	}
	for _, name := range []string{"hang", "hang-ignores-ctx"} {
		if res := results[name]; res.Failures != res.Runs || res.Runs < counters[name].calls.Load() {
			t.Errorf("%s: %d runs, %d failures, %d calls; want every run failed", name, res.Runs, res.Failures, counters[name].calls.Load())
		}
	}
	if res := results["ok"]; res.Failures != 0 || res.Runs != counters["ok"].calls.Load() {
		t.Errorf("ok: %d runs, %d failures, %d calls", res.Runs, res.Failures, counters["ok"].calls.Load())
	}
	fhVerifyMetrics(t, reader, results)

	// Once the stuck checker returns, it runs again and passes; the
	// panicking check still fails without harm.
	releaseHang()
	for counters["hang-ignores-ctx"].cur.Load() != 0 {
		runtime.Gosched()
	}
	rep := r.Check(t.Context(), healthcheck.Liveness)
	for _, c := range rep.Checks {
		if c.Name == "hang-ignores-ctx" && c.Status != healthcheck.StatusPass {
			t.Errorf("hang-ignores-ctx after its release: %v %q, want pass", c.Status, c.Output)
		}
		if c.Name == "panics" && c.Status != healthcheck.StatusFail {
			t.Errorf("panics after everything: %v", c.Status)
		}
	}
	if n := counters["hang-ignores-ctx"].calls.Load(); n != 2 {
		t.Errorf("hang-ignores-ctx was started %d times, want 2", n)
	}

	srv.Close()
	tr.CloseIdleConnections()
	must(t, r.Shutdown(t.Context()))
	close(clk.waiters)
	<-drained
	must(t, mp.Shutdown(context.Background()))
	fhWaitGoroutines(t, before, ignore)
}

// fhVerifyMetrics checks that the metrics say what the results say: one
// status at 1 (the check's), its failures, and one duration per run.
func fhVerifyMetrics(t *testing.T, reader *sdkmetric.ManualReader, results map[string]healthcheck.CheckResult) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	must(t, reader.Collect(context.Background(), &rm))
	statusOnes := map[string][]string{}
	statusPoints := map[string]int{}
	failures := map[string]int64{}
	durations := map[string]uint64{}
	check := func(set attribute.Set) string {
		v, _ := set.Value("check")
		return v.AsString()
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch m.Name {
			case healthcheck.MetricStatus:
				for _, dp := range m.Data.(metricdata.Gauge[int64]).DataPoints {
					name := check(dp.Attributes)
					statusPoints[name]++
					if dp.Value == 1 {
						s, _ := dp.Attributes.Value("status")
						statusOnes[name] = append(statusOnes[name], s.AsString())
					} else if dp.Value != 0 {
						t.Errorf("%s: status gauge %d", name, dp.Value)
					}
					if c, _ := dp.Attributes.Value("critical"); c.AsString() != fmt.Sprint(fhChecks[name].critical) {
						t.Errorf("%s: critical=%s", name, c.AsString())
					}
				}
			case healthcheck.MetricFailures:
				for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
					failures[check(dp.Attributes)] = dp.Value
				}
			case healthcheck.MetricDuration:
				for _, dp := range m.Data.(metricdata.Histogram[float64]).DataPoints {
					durations[check(dp.Attributes)] = dp.Count
				}
			}
		}
	}
	for name, res := range results {
		if got := statusOnes[name]; len(got) != 1 || got[0] != res.Status.String() || statusPoints[name] != 4 {
			t.Errorf("%s: status gauge at 1 for %v (of %d points), want only %v", name, got, statusPoints[name], res.Status)
		}
		if failures[name] != res.Failures {
			t.Errorf("%s: failures metric %d, result %d", name, failures[name], res.Failures)
		}
		if durations[name] != uint64(res.Runs) {
			t.Errorf("%s: %d durations recorded, %d runs", name, durations[name], res.Runs)
		}
	}
	if len(results) != len(fhChecks) {
		t.Errorf("%d results, want %d", len(results), len(fhChecks))
	}
}
