package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"go.opentelemetry.io/otel"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/vitalsgo/vitals/clock"
	"github.com/vitalsgo/vitals/internal/lifecycle"
)

// Defaults of the check options.
const (
	DefaultTimeout = 5 * time.Second // of each run (WithTimeout)
)

// Errors returned by the registry.
var (
	// ErrDuplicate is returned by Register for a name already registered.
	ErrDuplicate = errors.New("healthcheck: a check with this name is already registered")
	// ErrNotFound is returned for a name that is not registered.
	ErrNotFound = errors.New("healthcheck: no check with this name")
	// ErrShutdown is returned by Shutdown after the first call and by
	// Register after Shutdown. It is the one value of every Vitals
	// component (vitals.ErrShutdown).
	ErrShutdown = lifecycle.ErrShutdown
)

// errTimeout is the cause of a run's cancellation when its timeout fires.
var errTimeout = errors.New("healthcheck: timeout")

// Option configures New.
type Option interface {
	apply(config) config
}

type config struct {
	clock  clock.Clock
	logger *slog.Logger
	mp     metric.MeterProvider
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

// WithClock sets the clock of background intervals, initial delays and
// timeouts, so that tests move time by hand. By default, the system clock.
func WithClock(c clock.Clock) Option {
	return optionFunc(func(cfg config) config {
		if c != nil {
			cfg.clock = c
		}
		return cfg
	})
}

// WithLogger sets the logger for status changes and recovered panics. By
// default, slog.Default().
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(cfg config) config {
		if l != nil {
			cfg.logger = l
		}
		return cfg
	})
}

// WithMeterProvider records every check as metrics:
// vitals.healthcheck.status (1 for the check's current status, 0 for the
// others), vitals.healthcheck.duration and vitals.healthcheck.failures,
// through mp. By default (or with nil), the OTel global provider,
// otel.GetMeterProvider(); vitals.Start passes its own.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(cfg config) config {
		cfg.mp = mp
		return cfg
	})
}

// CheckOption configures one check at Register.
type CheckOption interface {
	applyCheck(checkConfig) checkConfig
}

type checkConfig struct {
	critical      bool
	kind          Kind
	timeout       time.Duration
	interval      time.Duration
	initialDelay  time.Duration
	tags          []string
	componentType string
	measurement   string
}

type checkOptionFunc func(checkConfig) checkConfig

func (f checkOptionFunc) applyCheck(c checkConfig) checkConfig { return f(c) }

// WithoutCritical makes a failure of the check degrade the service (warn)
// instead of failing it. By default, a check is critical.
func WithoutCritical() CheckOption {
	return checkOptionFunc(func(c checkConfig) checkConfig {
		c.critical = false
		return c
	})
}

// WithKinds says which probes run the check (Liveness, Readiness or both).
// By default, and for a k that names neither, Readiness only: a failing
// dependency should stop traffic, not restart the process.
func WithKinds(k Kind) CheckOption {
	return checkOptionFunc(func(c checkConfig) checkConfig {
		if k&(Liveness|Readiness) != 0 {
			c.kind = k & (Liveness | Readiness)
		}
		return c
	})
}

// WithTimeout bounds one run: the check's context is cancelled and the run is
// reported failed with "timeout after <d>". d <= 0 keeps the default,
// DefaultTimeout (5 s).
func WithTimeout(d time.Duration) CheckOption {
	return checkOptionFunc(func(c checkConfig) checkConfig {
		if d > 0 {
			c.timeout = d
		}
		return c
	})
}

// WithInterval runs the check in the background every d and serves probes from
// the cached result, so that a probe never waits for a slow dependency.
// Until the first run the check is StatusUnknown, which does not pass. By
// default, and for d <= 0, a check runs on demand, when a probe asks.
func WithInterval(d time.Duration) CheckOption {
	return checkOptionFunc(func(c checkConfig) checkConfig {
		if d > 0 {
			c.interval = d
		}
		return c
	})
}

// WithInitialDelay waits d after registration before the first run; until
// then the check is StatusUnknown. By default, and for d <= 0, there is no
// delay.
func WithInitialDelay(d time.Duration) CheckOption {
	return checkOptionFunc(func(c checkConfig) checkConfig {
		if d > 0 {
			c.initialDelay = d
		}
		return c
	})
}

// WithTags labels the check for people reading the detailed report. By
// default, there are none.
func WithTags(tags ...string) CheckOption {
	return checkOptionFunc(func(c checkConfig) checkConfig {
		c.tags = append(c.tags[:len(c.tags):len(c.tags)], tags...)
		return c
	})
}

// WithComponentType sets the draft's componentType: for example
// "datastore", "component" or "system". By default, none.
func WithComponentType(componentType string) CheckOption {
	return checkOptionFunc(func(c checkConfig) checkConfig {
		c.componentType = componentType
		return c
	})
}

// WithMeasurement sets what the check measures ("responseTime"); the HTTP
// body names the check name:measurement ("db:responseTime"). By default,
// the body uses the bare name.
func WithMeasurement(measurement string) CheckOption {
	return checkOptionFunc(func(c checkConfig) checkConfig {
		c.measurement = measurement
		return c
	})
}

// check is one registered check and its latest result.
type check struct {
	name       string
	checker    Checker
	cfg        checkConfig
	registered time.Time
	enabled    atomic.Bool
	busy       atomic.Bool // a run's goroutine is still executing the checker
	// ctx is cancelled when the check is unregistered or the registry
	// shuts down; background runs run under it.
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	last     CheckResult
	inflight chan struct{} // closed when the current run ends
	runs     int64
	failures int64
	total    time.Duration
}

// Change is a change of the aggregate status of all enabled checks.
type Change struct {
	// Old and New are the aggregate status before and after; Checks are the
	// enabled checks' latest results, sorted by name.
	Old, New Status
	Checks   []CheckResult
}

// Registry holds health checks, runs them and aggregates their results. It
// is safe for concurrent use. Create it with New and stop its background
// checks with Shutdown.
type Registry struct {
	cfg     config
	metrics *registryMetrics

	mu        sync.RWMutex
	checks    map[string]*check
	listeners []func(Change)
	stopped   bool

	notifyMu sync.Mutex
	status   Status // aggregate of all enabled checks, for listeners

	wg sync.WaitGroup
}

// New returns an empty registry.
func New(opts ...Option) (*Registry, error) {
	cfg := config{clock: clock.System{}, logger: slog.Default()}
	for _, o := range opts {
		cfg = o.apply(cfg)
	}
	r := &Registry{cfg: cfg, checks: make(map[string]*check)}
	mp := cfg.mp
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m, err := newRegistryMetrics(mp, r)
	if err != nil {
		return nil, err
	}
	r.metrics = m
	return r, nil
}

// Register adds a check under name (which must be new and non-empty). A
// check registered with WithInterval starts running in the background at
// once (after its WithInitialDelay).
func (r *Registry) Register(name string, c Checker, opts ...CheckOption) error {
	if name == "" {
		return errors.New("healthcheck: empty check name")
	}
	if c == nil {
		return fmt.Errorf("healthcheck: check %q: nil Checker", name)
	}
	cfg := checkConfig{critical: true, kind: Readiness, timeout: DefaultTimeout}
	for _, o := range opts {
		cfg = o.applyCheck(cfg)
	}
	ch := &check{name: name, checker: c, cfg: cfg, registered: r.cfg.clock.Now()}
	ch.enabled.Store(true)
	ch.last = CheckResult{Name: name, Status: StatusUnknown}

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return ErrShutdown
	}
	if _, ok := r.checks[name]; ok {
		return fmt.Errorf("%w: %q", ErrDuplicate, name)
	}
	ch.ctx, ch.cancel = context.WithCancel(context.Background())
	r.checks[name] = ch
	if cfg.interval > 0 {
		r.wg.Add(1)
		go r.background(ch)
	}
	return nil
}

// Unregister removes a check and stops its background runs.
func (r *Registry) Unregister(name string) error {
	r.mu.Lock()
	ch, ok := r.checks[name]
	if ok {
		delete(r.checks, name)
		ch.cancel()
	}
	r.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	r.notify()
	return nil
}

// SetEnabled turns a check on or off. A disabled check is not run and not
// part of any probe or aggregate.
func (r *Registry) SetEnabled(name string, enabled bool) error {
	r.mu.RLock()
	ch, ok := r.checks[name]
	r.mu.RUnlock()
	if !ok {
		return fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	ch.enabled.Store(enabled)
	r.notify()
	return nil
}

// OnStatusChange calls fn, from the goroutine that saw it, whenever the
// aggregate status of all enabled checks changes. fn must not block.
func (r *Registry) OnStatusChange(fn func(Change)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.listeners = append(r.listeners, fn)
}

// Shutdown cancels every background check and waits for their goroutines
// until ctx ends. A checker that ignores its context is abandoned, not
// waited for. Calls after the first return ErrShutdown; Register then
// fails with ErrShutdown, and probes still report the checks.
func (r *Registry) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return ErrShutdown
	}
	r.stopped = true
	for _, ch := range r.checks {
		ch.cancel()
	}
	var err error
	if r.metrics != nil {
		err = r.metrics.reg.Unregister()
	}
	r.mu.Unlock()
	done := make(chan struct{})
	go func() {
		r.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return err
	case <-ctx.Done():
		return errors.Join(err, ctx.Err())
	}
}

// Report is the outcome of a probe: the aggregate status and each check's
// latest result, sorted by name.
type Report struct {
	// Status is the aggregate (Aggregate) of Checks.
	Status Status
	// Checks are the latest results of the checks probed, sorted by name.
	Checks []CheckResult
}

// Check evaluates the enabled checks of kind (Liveness, Readiness or both)
// other than those named in exclude: on-demand checks run now,
// concurrently, each bounded by its timeout; background checks give their
// cached result. The aggregate is fail if any critical check fails (or is
// unknown), warn if any other check fails or any check warns, else pass;
// with no checks it is pass.
func (r *Registry) Check(ctx context.Context, kind Kind, exclude ...string) Report {
	return r.evaluate(ctx, kind, exclude, false)
}

// RunAll runs every enabled check now, background ones included, and
// returns the report.
func (r *Registry) RunAll(ctx context.Context) Report {
	return r.evaluate(ctx, Liveness|Readiness, nil, true)
}

// Results returns the latest result of every registered check, enabled or
// not, without running anything.
func (r *Registry) Results() []CheckResult {
	var out []CheckResult
	for _, ch := range r.snapshot() {
		out = append(out, ch.result())
	}
	sortResults(out)
	return out
}

func (r *Registry) snapshot() []*check {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*check, 0, len(r.checks))
	for _, ch := range r.checks {
		out = append(out, ch)
	}
	return out
}

func (r *Registry) evaluate(ctx context.Context, kind Kind, exclude []string, all bool) Report {
	var selected []*check
	for _, ch := range r.snapshot() {
		if !ch.enabled.Load() || ch.cfg.kind&kind == 0 || slices.Contains(exclude, ch.name) {
			continue
		}
		selected = append(selected, ch)
	}
	results := make([]CheckResult, len(selected))
	var wg sync.WaitGroup
	for i, ch := range selected {
		if ch.cfg.interval > 0 && !all {
			results[i] = ch.result()
			continue
		}
		wg.Go(func() { results[i] = r.run(ctx, ch) })
	}
	wg.Wait()
	sortResults(results)
	if len(selected) > 0 {
		r.notify()
	}
	return Report{Status: Aggregate(results), Checks: results}
}

func sortResults(rs []CheckResult) {
	slices.SortFunc(rs, func(a, b CheckResult) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
}

// Aggregate combines results as probes do: any critical fail or unknown →
// fail; a non-critical fail or unknown, or any warn → warn; else (and for
// no results) pass.
func Aggregate(results []CheckResult) Status {
	status := StatusPass
	for _, res := range results {
		switch res.Status {
		case StatusFail, StatusUnknown:
			if res.Critical {
				return StatusFail
			}
			status = StatusWarn
		case StatusWarn:
			status = StatusWarn
		}
	}
	return status
}

// run runs one check now, or waits for the run already in progress. The
// checker runs in its own goroutine, bounded by the timeout and protected
// against panics; a checker that ignores its context and is still running
// from an earlier run is not started again.
func (r *Registry) run(ctx context.Context, ch *check) CheckResult {
	now := r.cfg.clock.Now()
	if d := ch.cfg.initialDelay; d > 0 && now.Sub(ch.registered) < d && ch.cfg.interval == 0 {
		return ch.result() // still unknown
	}
	ch.mu.Lock()
	if wait := ch.inflight; wait != nil {
		ch.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
		}
		return ch.result()
	}
	done := make(chan struct{})
	ch.inflight = done
	ch.mu.Unlock()

	start := r.cfg.clock.Now()
	res := r.execute(ctx, ch)
	dur := r.cfg.clock.Now().Sub(start)

	ch.mu.Lock()
	ch.runs++
	ch.total += dur
	if res.Status == StatusFail || res.Status == StatusUnknown {
		ch.failures++
	}
	ch.last.Status = res.Status
	ch.last.ObservedValue = res.ObservedValue
	ch.last.ObservedUnit = res.ObservedUnit
	ch.last.Output = res.Output
	ch.last.LastRun = start
	ch.last.Duration = dur
	ch.inflight = nil
	ch.mu.Unlock()
	close(done)
	if r.metrics != nil {
		r.metrics.recordRun(ch, dur)
	}
	return ch.result()
}

func (r *Registry) execute(ctx context.Context, ch *check) Result {
	if !ch.busy.CompareAndSwap(false, true) {
		return Result{Status: StatusFail, Output: "previous run still in progress after its timeout"}
	}
	// The timeout runs on the registry's clock, so that tests move it.
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := r.cfg.clock.AfterFunc(ch.cfg.timeout, func() { cancel(errTimeout) })
	defer stop()
	out := make(chan Result, 1)
	go func() {
		res := r.safeCheck(cctx, ch)
		ch.busy.Store(false) // before the result is seen, so a next run may start
		out <- res
	}()
	select {
	case res := <-out:
		if context.Cause(cctx) == errTimeout {
			// The checker returned because its timeout cancelled it.
			return Result{Status: StatusFail, Output: timeoutOutput(ch.cfg.timeout)}
		}
		if res.Status == StatusUnknown {
			res.Status = StatusFail
			if res.Output == "" {
				res.Output = "check returned no status"
			}
		}
		return res
	case <-cctx.Done():
		if context.Cause(cctx) == errTimeout {
			return Result{Status: StatusFail, Output: timeoutOutput(ch.cfg.timeout)}
		}
		return Result{Status: StatusFail, Output: "cancelled: " + cctx.Err().Error()}
	}
}

// safeCheck runs the checker, turning a panic into a failure.
func (r *Registry) safeCheck(ctx context.Context, ch *check) (res Result) {
	defer func() {
		if p := recover(); p != nil {
			r.cfg.logger.Error("health check panicked", "check", ch.name, "panic", fmt.Sprint(p))
			res = Result{Status: StatusFail, Output: fmt.Sprintf("panic: %v", p)}
		}
	}()
	return ch.checker.Check(ctx)
}

// background runs a check every interval until it is unregistered or the
// registry stops.
func (r *Registry) background(ch *check) {
	defer r.wg.Done()
	wait := ch.cfg.initialDelay
	for {
		if wait > 0 {
			select {
			case <-ch.ctx.Done():
				return
			case <-r.cfg.clock.After(wait):
			}
		}
		if ch.ctx.Err() != nil {
			return
		}
		if ch.enabled.Load() {
			// Runs under the check's context: unregistering the check or
			// shutting the registry down cancels a run in progress.
			r.run(ch.ctx, ch)
			r.notify()
		}
		wait = ch.cfg.interval
	}
}

// result returns a copy of the check's latest result with its
// configuration.
func (ch *check) result() CheckResult {
	ch.mu.Lock()
	res := ch.last
	runs, failures, total := ch.runs, ch.failures, ch.total
	ch.mu.Unlock()
	res.Name = ch.name
	res.Critical = ch.cfg.critical
	res.Kinds = ch.cfg.kind
	res.ComponentType = ch.cfg.componentType
	res.Measurement = ch.cfg.measurement
	res.Tags = ch.cfg.tags
	res.Runs, res.Failures = runs, failures
	if runs > 0 {
		res.AverageDuration = total / time.Duration(runs)
	}
	res.Interval = ch.cfg.interval
	res.Timeout = ch.cfg.timeout
	res.Enabled = ch.enabled.Load()
	return res
}

// notify computes the aggregate of all enabled checks' latest results and
// calls the listeners when it changed.
func (r *Registry) notify() {
	r.notifyMu.Lock()
	var results []CheckResult
	for _, ch := range r.snapshot() {
		if ch.enabled.Load() {
			results = append(results, ch.result())
		}
	}
	sortResults(results)
	status := Aggregate(results)
	old := r.status
	r.status = status
	r.notifyMu.Unlock()
	if old == status {
		return
	}
	r.mu.RLock()
	listeners := slices.Clone(r.listeners)
	r.mu.RUnlock()
	// Name the checks that are not passing, so that the line says why: a
	// check that has not run yet is "unknown" (an on-demand check runs when
	// first probed).
	var notPassing []string
	for _, res := range results {
		if res.Status != StatusPass {
			notPassing = append(notPassing, res.Name+":"+res.Status.String())
		}
	}
	r.cfg.logger.Info("health status changed", "from", old.String(), "to", status.String(), "not_passing", strings.Join(notPassing, ","))
	for _, fn := range listeners {
		fn(Change{Old: old, New: status, Checks: results})
	}
}
