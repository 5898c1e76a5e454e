package healthcheck_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vitalsgo/vitals/clock/clocktest"
	"github.com/vitalsgo/vitals/healthcheck"
	"github.com/vitalsgo/vitals/internal/logtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// manualClock is the shared hand-moved clock; waiters signals each new
// After (not the timeouts' AfterFunc), so a test can wait for a background
// loop to be parked without sleeping.
type manualClock struct {
	*clocktest.Clock
	waiters chan struct{}
}

func newManualClock() *manualClock {
	return &manualClock{Clock: clocktest.New(time.Unix(1_700_000_000, 0)), waiters: make(chan struct{}, 100)}
}

func (c *manualClock) After(d time.Duration) <-chan time.Time {
	ch := c.Clock.After(d)
	c.waiters <- struct{}{}
	return ch
}

func newRegistry(t *testing.T, opts ...healthcheck.Option) *healthcheck.Registry {
	t.Helper()
	r, err := healthcheck.New(append([]healthcheck.Option{healthcheck.WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Shutdown(context.Background()) })
	return r
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func pass(context.Context) error { return nil }

func failWith(msg string) healthcheck.CheckFunc {
	return func(context.Context) error { return errors.New(msg) }
}

func warnWith(msg string) healthcheck.CheckFunc {
	return func(context.Context) error { return healthcheck.Warn(errors.New(msg)) }
}

func TestAggregation(t *testing.T) {
	type reg struct {
		name     string
		check    healthcheck.Checker
		critical bool
	}
	tests := []struct {
		name   string
		checks []reg
		want   healthcheck.Status
	}{
		{"no checks", nil, healthcheck.StatusPass},
		{"all pass", []reg{{"a", healthcheck.CheckFunc(pass), true}, {"b", healthcheck.CheckFunc(pass), false}}, healthcheck.StatusPass},
		{"critical fail", []reg{{"a", failWith("down"), true}, {"b", healthcheck.CheckFunc(pass), true}}, healthcheck.StatusFail},
		{"non-critical fail degrades", []reg{{"a", failWith("down"), false}, {"b", healthcheck.CheckFunc(pass), true}}, healthcheck.StatusWarn},
		{"a warning degrades", []reg{{"a", warnWith("slow"), true}}, healthcheck.StatusWarn},
		{"critical fail beats warn", []reg{{"a", warnWith("slow"), true}, {"b", failWith("down"), true}}, healthcheck.StatusFail},
		{"no status is a failure", []reg{{"a", healthcheck.ResultFunc(func(context.Context) healthcheck.Result { return healthcheck.Result{} }), true}}, healthcheck.StatusFail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRegistry(t)
			for _, c := range tt.checks {
				var opts []healthcheck.CheckOption
				if !c.critical {
					opts = append(opts, healthcheck.WithoutCritical())
				}
				must(t, r.Register(c.name, c.check, opts...))
			}
			rep := r.Check(t.Context(), healthcheck.Readiness)
			if rep.Status != tt.want {
				t.Errorf("status %v, want %v (checks %+v)", rep.Status, tt.want, rep.Checks)
			}
			if len(rep.Checks) != len(tt.checks) {
				t.Errorf("%d results, want %d", len(rep.Checks), len(tt.checks))
			}
		})
	}
}

func TestKindsAndExclude(t *testing.T) {
	r := newRegistry(t)
	must(t, r.Register("db", failWith("down")))
	must(t, r.Register("deadlock", healthcheck.CheckFunc(pass), healthcheck.WithKinds(healthcheck.Liveness)))
	must(t, r.Register("both", healthcheck.CheckFunc(pass), healthcheck.WithKinds(healthcheck.Liveness|healthcheck.Readiness)))
	if rep := r.Check(t.Context(), healthcheck.Liveness); rep.Status != healthcheck.StatusPass || len(rep.Checks) != 2 {
		t.Errorf("liveness: %v with %d checks, want pass with deadlock and both", rep.Status, len(rep.Checks))
	}
	if rep := r.Check(t.Context(), healthcheck.Readiness); rep.Status != healthcheck.StatusFail {
		t.Errorf("readiness: %v, want fail", rep.Status)
	}
	if rep := r.Check(t.Context(), healthcheck.Readiness, "db"); rep.Status != healthcheck.StatusPass || len(rep.Checks) != 1 {
		t.Errorf("readiness excluding db: %v %v", rep.Status, rep.Checks)
	}
}

func TestTimeoutBoundsAHangingCheck(t *testing.T) {
	r := newRegistry(t)
	must(t, r.Register("hangs", healthcheck.CheckFunc(func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}), healthcheck.WithTimeout(20*time.Millisecond)))
	must(t, r.Register("fast", healthcheck.CheckFunc(pass)))
	rep := r.Check(t.Context(), healthcheck.Readiness)
	byName := map[string]healthcheck.CheckResult{}
	for _, c := range rep.Checks {
		byName[c.Name] = c
	}
	if h := byName["hangs"]; h.Status != healthcheck.StatusFail || h.Output != "timeout after 20ms" {
		t.Errorf("hanging check: %v %q, want fail with \"timeout after 20ms\"", h.Status, h.Output)
	}
	if f := byName["fast"]; f.Status != healthcheck.StatusPass {
		t.Errorf("a hanging check changed the fast one: %v", f.Status)
	}
}

func TestCheckIgnoringItsContextIsNotStartedTwice(t *testing.T) {
	r := newRegistry(t)
	release := make(chan struct{})
	var calls sync.WaitGroup
	calls.Add(1)
	started := 0
	var mu sync.Mutex
	must(t, r.Register("stuck", healthcheck.CheckFunc(func(context.Context) error {
		mu.Lock()
		started++
		mu.Unlock()
		<-release // ignores its context
		return nil
	}), healthcheck.WithTimeout(10*time.Millisecond)))

	first := r.Check(t.Context(), healthcheck.Readiness).Checks[0]
	second := r.Check(t.Context(), healthcheck.Readiness).Checks[0]
	if first.Output != "timeout after 10ms" || second.Output != "previous run still in progress after its timeout" {
		t.Errorf("outputs %q then %q", first.Output, second.Output)
	}
	mu.Lock()
	if started != 1 {
		t.Errorf("the checker was started %d times while stuck, want 1", started)
	}
	mu.Unlock()
	close(release)
	// Once the stuck run ends, the check runs again (and passes now).
	for r.Check(t.Context(), healthcheck.Readiness).Status != healthcheck.StatusPass {
	}
}

func TestPanickingCheck(t *testing.T) {
	r := newRegistry(t)
	must(t, r.Register("boom", healthcheck.CheckFunc(func(context.Context) error { panic("kaboom") })))
	must(t, r.Register("ok", healthcheck.CheckFunc(pass), healthcheck.WithoutCritical()))
	for range 3 {
		rep := r.Check(t.Context(), healthcheck.Readiness)
		if rep.Status != healthcheck.StatusFail || rep.Checks[0].Output != "panic: kaboom" || rep.Checks[1].Status != healthcheck.StatusPass {
			t.Fatalf("report %+v", rep)
		}
	}
}

func TestBackgroundCheck(t *testing.T) {
	clk := newManualClock()
	r := newRegistry(t, healthcheck.WithClock(clk))
	var mu sync.Mutex
	healthy := true
	runs := make(chan struct{}, 10)
	var changes []string
	r.OnStatusChange(func(c healthcheck.Change) {
		mu.Lock()
		changes = append(changes, c.Old.String()+"->"+c.New.String())
		mu.Unlock()
	})
	must(t, r.Register("db", healthcheck.CheckFunc(func(context.Context) error {
		defer func() { runs <- struct{}{} }()
		mu.Lock()
		defer mu.Unlock()
		if !healthy {
			return errors.New("down")
		}
		return nil
	}), healthcheck.WithInterval(time.Minute), healthcheck.WithInitialDelay(30*time.Second)))

	<-clk.waiters // the loop waits for its initial delay
	// Before the first run the check is unknown: the probe must not pass.
	if rep := r.Check(t.Context(), healthcheck.Readiness); rep.Status != healthcheck.StatusFail || rep.Checks[0].Status != healthcheck.StatusUnknown {
		t.Fatalf("before the first run: %v %v", rep.Status, rep.Checks[0].Status)
	}
	select {
	case <-runs:
		t.Fatal("the probe ran a background check")
	default:
	}

	clk.Advance(30 * time.Second)
	<-runs
	<-clk.waiters // parked until the next interval
	if rep := r.Check(t.Context(), healthcheck.Readiness); rep.Status != healthcheck.StatusPass {
		t.Fatalf("after the first run: %v", rep.Status)
	}

	mu.Lock()
	healthy = false
	mu.Unlock()
	clk.Advance(time.Minute)
	<-runs
	<-clk.waiters
	if rep := r.Check(t.Context(), healthcheck.Readiness); rep.Status != healthcheck.StatusFail || rep.Checks[0].Output != "down" {
		t.Fatalf("after it failed: %+v", rep)
	}
	mu.Lock()
	got := strings.Join(changes, " ")
	mu.Unlock()
	if got != "unknown->fail fail->pass pass->fail" {
		t.Errorf("status changes %q", got)
	}
}

func TestInitialDelayOnDemand(t *testing.T) {
	clk := newManualClock()
	r := newRegistry(t, healthcheck.WithClock(clk))
	must(t, r.Register("warm", healthcheck.CheckFunc(pass), healthcheck.WithInitialDelay(time.Minute)))
	if rep := r.Check(t.Context(), healthcheck.Readiness); rep.Checks[0].Status != healthcheck.StatusUnknown {
		t.Errorf("during the initial delay: %v", rep.Checks[0].Status)
	}
	clk.Advance(time.Minute)
	if rep := r.Check(t.Context(), healthcheck.Readiness); rep.Checks[0].Status != healthcheck.StatusPass {
		t.Errorf("after the initial delay: %v", rep.Checks[0].Status)
	}
}

func TestRegistryManagement(t *testing.T) {
	r := newRegistry(t)
	must(t, r.Register("a", failWith("down")))
	if err := r.Register("a", healthcheck.CheckFunc(pass)); !errors.Is(err, healthcheck.ErrDuplicate) {
		t.Errorf("duplicate: %v", err)
	}
	if err := r.Register("", healthcheck.CheckFunc(pass)); err == nil {
		t.Error("empty name accepted")
	}
	if err := r.Register("nil", nil); err == nil {
		t.Error("nil checker accepted")
	}
	must(t, r.SetEnabled("a", false))
	if rep := r.Check(t.Context(), healthcheck.Readiness); rep.Status != healthcheck.StatusPass || len(rep.Checks) != 0 {
		t.Errorf("with a disabled: %+v", rep)
	}
	must(t, r.SetEnabled("a", true))
	must(t, r.Unregister("a"))
	if err := r.Unregister("a"); !errors.Is(err, healthcheck.ErrNotFound) {
		t.Errorf("second Unregister: %v", err)
	}
	if err := r.SetEnabled("zzz", true); !errors.Is(err, healthcheck.ErrNotFound) {
		t.Errorf("SetEnabled of unknown: %v", err)
	}
	must(t, r.Shutdown(t.Context()))
	if err := r.Shutdown(t.Context()); !errors.Is(err, healthcheck.ErrShutdown) {
		t.Errorf("second Shutdown: %v", err)
	}
	if err := r.Register("late", healthcheck.CheckFunc(pass)); !errors.Is(err, healthcheck.ErrShutdown) {
		t.Errorf("Register after Shutdown: %v", err)
	}
}

func TestRegistryConcurrentSafe(t *testing.T) {
	clk := newManualClock()
	go func() {
		for range clk.waiters {
		}
	}()
	defer close(clk.waiters)
	r, err := healthcheck.New(healthcheck.WithClock(clk), healthcheck.WithLogger(slog.New(slog.DiscardHandler)))
	must(t, err)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				name := fmt.Sprintf("c%d-%d", g, i)
				_ = r.Register(name, healthcheck.CheckFunc(pass), healthcheck.WithInterval(time.Hour))
				_ = r.SetEnabled(name, i%2 == 0)
				if i%3 == 0 {
					_ = r.Unregister(name)
				}
			}
		})
		wg.Go(func() {
			for range 50 {
				r.Check(t.Context(), healthcheck.Readiness)
				r.RunAll(t.Context())
				r.Results()
			}
		})
	}
	wg.Wait()
	must(t, r.Shutdown(t.Context()))
}

func TestRunAllRunsBackgroundChecks(t *testing.T) {
	clk := newManualClock()
	r := newRegistry(t, healthcheck.WithClock(clk))
	runs := make(chan struct{}, 10)
	must(t, r.Register("bg", healthcheck.CheckFunc(func(context.Context) error { runs <- struct{}{}; return nil }),
		healthcheck.WithInterval(time.Hour), healthcheck.WithInitialDelay(time.Hour)))
	<-clk.waiters
	rep := r.RunAll(t.Context())
	<-runs
	if rep.Status != healthcheck.StatusPass || rep.Checks[0].Runs != 1 {
		t.Errorf("RunAll: %+v", rep)
	}
}

// TestStatusChangeLogNamesTheChecks: the "health status changed" line says
// which checks are not passing, and that one not yet run is unknown.
func TestStatusChangeLogNamesTheChecks(t *testing.T) {
	logger, logs := logtest.New()
	r := newRegistry(t, healthcheck.WithLogger(logger))
	must(t, r.Register("db", healthcheck.CheckFunc(pass)))
	must(t, r.Register("cache", failWith("down"), healthcheck.WithoutCritical()))
	// Running only the liveness checks (none) leaves both unknown: the
	// aggregate changes from unknown to fail because db has not run yet.
	must(t, r.Register("loop", healthcheck.CheckFunc(pass), healthcheck.WithKinds(healthcheck.Liveness)))
	r.Check(t.Context(), healthcheck.Liveness)
	if out := logs.String(); !strings.Contains(out, "to=fail") || !strings.Contains(out, `not_passing=cache:unknown,db:unknown`) {
		t.Errorf("first change:\n%s", out)
	}
	r.Check(t.Context(), healthcheck.Readiness)
	if out := logs.String(); !strings.Contains(out, `from=fail to=warn not_passing=cache:fail`) {
		t.Errorf("second change:\n%s", out)
	}
}

// TestTimeoutRunsOnTheClock: a check's timeout fires when the registry's
// clock passes it, not on the wall clock.
func TestTimeoutRunsOnTheClock(t *testing.T) {
	clk := newManualClock()
	r := newRegistry(t, healthcheck.WithClock(clk))
	must(t, r.Register("slow", healthcheck.CheckFunc(func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}), healthcheck.WithTimeout(time.Hour)))
	done := make(chan healthcheck.Report)
	go func() { done <- r.Check(context.Background(), healthcheck.Readiness) }()

	clk.BlockUntil(1) // the run's timeout is set on the clock
	clk.Advance(time.Hour - time.Nanosecond)
	if n := clk.Pending(); n != 1 {
		t.Fatalf("%d timers pending before the timeout, want 1", n)
	}
	clk.Advance(time.Nanosecond)
	rep := <-done
	if c := rep.Checks[0]; c.Status != healthcheck.StatusFail || c.Output != "timeout after 1h0m0s" || c.Duration != time.Hour {
		t.Errorf("after the timeout: %v %q in %v", c.Status, c.Output, c.Duration)
	}
}

// TestShutdownAbandonsACheckThatIgnoresItsContext: Shutdown cancels a
// background run in progress and does not wait for a checker that ignores
// its context.
func TestShutdownAbandonsACheckThatIgnoresItsContext(t *testing.T) {
	clk := newManualClock()
	r, err := healthcheck.New(healthcheck.WithClock(clk), healthcheck.WithLogger(slog.New(slog.DiscardHandler)))
	must(t, err)
	started, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	must(t, r.Register("stuck", healthcheck.CheckFunc(func(context.Context) error {
		close(started)
		<-release
		return nil
	}), healthcheck.WithInterval(time.Minute), healthcheck.WithTimeout(time.Hour)))
	<-started
	must(t, r.Shutdown(t.Context()))
	if err := r.Shutdown(t.Context()); !errors.Is(err, healthcheck.ErrShutdown) {
		t.Errorf("second Shutdown: %v", err)
	}
}

// TestShutdownHonoursContext: Shutdown returns when ctx ends even if a
// background goroutine cannot finish (here, held by a status listener).
func TestShutdownHonoursContext(t *testing.T) {
	clk := newManualClock()
	r, err := healthcheck.New(healthcheck.WithClock(clk), healthcheck.WithLogger(slog.New(slog.DiscardHandler)))
	must(t, err)
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	r.OnStatusChange(func(healthcheck.Change) {
		once.Do(func() {
			close(held)
			<-release
		})
	})
	must(t, r.Register("bg", healthcheck.CheckFunc(pass), healthcheck.WithInterval(time.Minute)))
	<-held
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := r.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown with an ended context while a goroutine is held: %v", err)
	}
	close(release)
	if err := r.Shutdown(t.Context()); !errors.Is(err, healthcheck.ErrShutdown) {
		t.Errorf("second Shutdown: %v", err)
	}
}
