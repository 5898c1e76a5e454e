package alerting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go.opentelemetry.io/otel"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/template"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/vitalsgo/vitals/clock"
	"github.com/vitalsgo/vitals/exporter/memory"
	"github.com/vitalsgo/vitals/internal/lifecycle"
	"github.com/vitalsgo/vitals/internal/ratelog"
)

// ScopeName is the instrumentation scope of the alerting metrics.
const ScopeName = "github.com/vitalsgo/vitals/alerting"

// The metrics the engine records, to the OTel global provider unless
// WithMeterProvider gives another.
const (
	MetricAlerts                  = "ALERTS"                                    // gauge: 1 per pending or firing instance, as Prometheus'
	MetricAlertsForState          = "ALERTS_FOR_STATE"                          // gauge: when each instance became active, as Prometheus'
	MetricRuleEvaluationFailures  = "vitals.alerting.rule.evaluation.failures"  // counter: failed rule evaluations
	MetricGroupEvaluationDuration = "vitals.alerting.group.evaluation.duration" // histogram: one evaluation of a group
)

// ResolvedRetention is how long a resolved instance is kept (and reported),
// as in Prometheus.
const ResolvedRetention = 15 * time.Minute

// Errors of the engine.
var (
	// ErrAlertNotFound is returned (wrapped) by Engine.Resolve for an ID that
	// names no pending or firing alert.
	ErrAlertNotFound = errors.New("alerting: no such alert")
	// ErrShutdown is returned by Shutdown after the first call, of the
	// engine and of the notification queues (package notify) alike. It is
	// the one value of every Vitals component (vitals.ErrShutdown).
	ErrShutdown = lifecycle.ErrShutdown
)

// Option configures New.
type Option interface {
	apply(config) config
}

type config struct {
	clock       clock.Clock
	logger      *slog.Logger
	mp          metric.MeterProvider
	routes      []Route
	externalURL string
	onDispatch  func(now time.Time, batch []Alert) // for tests
	// Restarts (state.go, history.go).
	outageTolerance  time.Duration
	forGracePeriod   time.Duration
	historyRetention time.Duration
	historyMax       int
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

// WithClock sets the engine's clock. By default, the system clock.
func WithClock(c clock.Clock) Option {
	return optionFunc(func(cfg config) config {
		if c != nil {
			cfg.clock = c
		}
		return cfg
	})
}

// WithLogger sets the logger of evaluation and notification failures. By
// default, slog.Default().
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(cfg config) config {
		if l != nil {
			cfg.logger = l
		}
		return cfg
	})
}

// WithMeterProvider sets the provider of ALERTS and ALERTS_FOR_STATE (as
// in Prometheus) and of the evaluation metrics. By default (or with nil),
// the OTel global provider, otel.GetMeterProvider(); vitals.Start passes
// its own.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(cfg config) config {
		cfg.mp = mp
		return cfg
	})
}

// WithRoutes says which alerts go to which notifiers; like every option,
// a later WithRoutes replaces an earlier one. By default, there are none:
// alerts are evaluated and listed, not sent.
func WithRoutes(routes ...Route) Option {
	return optionFunc(func(cfg config) config {
		cfg.routes = slices.Clone(routes)
		return cfg
	})
}

// WithExternalURL sets the URL at which the service's monitoring Handler is
// mounted (as vitals.WithExternalURL), for links: each alert's
// GeneratorURL is it with /monitoring/api/query and the rule's expression
// appended, and templates get it as $externalURL. By default, none.
func WithExternalURL(u string) Option {
	return optionFunc(func(cfg config) config {
		cfg.externalURL = u
		return cfg
	})
}

// Engine evaluates alerting and recording rules over the in-memory reader,
// keeps alert instances with Prometheus' semantics, applies silences and
// manual resolutions, and hands grouped notifications to the routes'
// notifiers. It is safe for concurrent use.
type Engine struct {
	q        Store
	cfg      config
	groups   []*groupState
	silences *Silences
	routes   []*routeState
	errs     *ratelog.Limiter
	// notifyErrs logs the notifiers' errors.
	notifyErrs *ratelog.Limiter
	ext        *url.URL
	metrics    *engineMetrics

	evalMu   sync.Mutex // one evaluation at a time
	mu       sync.Mutex // guards the alert state, the history and the routes' aggregation groups
	shutdown atomic.Bool
	loops    lifecycle.Loops // Run's

	// history of resolved alerts and firing counts; guarded by mu.
	history *history
	// rulesByName indexes the alerting rules by group and alert name, in
	// group order (several rules of a group may share an alert name).
	rulesByName map[ruleName][]*ruleState
	// lastEval is the time of the last Eval; guarded by mu.
	lastEval time.Time
	// evaluated is set by the first Eval, loaded by LoadState: LoadState
	// must come before the first evaluation, once. Guarded by evalMu.
	evaluated, loaded bool
}

// ruleName names an alerting rule: its group and alert name.
type ruleName struct{ group, alert string }

type groupState struct {
	Group
	rules []*ruleState
	next  time.Time // next evaluation
}

type ruleState struct {
	Rule
	group string
	// appender stores a recording rule's results: one per rule, since a
	// store takes one point in time per append and later rules of the
	// group must see what earlier ones recorded at the same time.
	appender interface {
		Append(time.Time, memory.Vector) error
	}
	instances map[uint64]*instance
	lastEval  time.Time
	lastDur   time.Duration
	lastErr   error
	failures  atomic.Int64
	evals     atomic.Int64
}

type instance struct {
	labels          labels.Labels
	id              string
	annotations     map[string]string
	value           float64
	state           State
	activeAt        time.Time
	firedAt         time.Time
	resolvedAt      time.Time
	keepFiringSince time.Time
	manual          string // reason of a manual resolution, or ""
	// seenAt is the last evaluation at which the instance was active
	// (returned by the query, or kept firing): where Prometheus' last
	// ALERTS_FOR_STATE sample would be, the "down at" of a restart.
	seenAt time.Time
}

// New validates groups and builds an engine over q; recording rules write
// through q's appenders. Any invalid rule fails New, naming it; nothing is
// half-loaded.
func New(q Store, groups []Group, opts ...Option) (*Engine, error) {
	cfg := config{clock: clock.System{}, logger: slog.Default(),
		outageTolerance: DefaultOutageTolerance, forGracePeriod: DefaultForGracePeriod,
		historyRetention: DefaultHistoryRetention, historyMax: DefaultHistoryMax}
	for _, o := range opts {
		cfg = o.apply(cfg)
	}
	if err := validate(groups); err != nil {
		return nil, err
	}
	e := &Engine{q: q, cfg: cfg, silences: newSilences(cfg.clock),
		history: newHistory(cfg.historyRetention, cfg.historyMax), rulesByName: map[ruleName][]*ruleState{},
		errs:       ratelog.New(cfg.logger, "vitals: rule evaluation failed", 0, cfg.clock),
		notifyErrs: ratelog.New(cfg.logger, "vitals: notification failed", 0, cfg.clock)}
	if cfg.externalURL != "" {
		u, err := url.Parse(cfg.externalURL)
		if err != nil {
			return nil, fmt.Errorf("alerting: external URL %q: %w", cfg.externalURL, err)
		}
		e.ext = u
	}
	now := cfg.clock.Now()
	for _, g := range groups {
		if g.Interval == 0 {
			g.Interval = DefaultInterval
		}
		gs := &groupState{Group: g, next: now}
		for i, r := range g.Rules {
			rs := &ruleState{Rule: r, group: g.Name, instances: map[uint64]*instance{}}
			if r.Record != "" {
				// Named by group, position and series name, so that a
				// restart gives the rule its history back.
				rs.appender = q.NewNamedAppender(fmt.Sprintf("rules/%s/%d/%s", g.Name, i, r.Record), g.Interval, g.Retention)
			}
			if r.Alert != "" {
				k := ruleName{g.Name, r.Alert}
				e.rulesByName[k] = append(e.rulesByName[k], rs)
			}
			gs.rules = append(gs.rules, rs)
		}
		e.groups = append(e.groups, gs)
	}
	for i, r := range cfg.routes {
		rs, err := newRouteState(r, i)
		if err != nil {
			return nil, err
		}
		e.routes = append(e.routes, rs)
	}
	mp := cfg.mp
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m, err := newEngineMetrics(mp, e)
	if err != nil {
		return nil, err
	}
	e.metrics = m
	return e, nil
}

// Silences returns the engine's silences.
func (e *Engine) Silences() *Silences { return e.silences }

// Now is the time on the engine's clock (WithClock): the time at which
// silence states and alert ages are judged.
func (e *Engine) Now() time.Time { return e.cfg.clock.Now() }

// Run evaluates the groups on their intervals until ctx is done or the
// engine shuts down (Shutdown waits for it to return), and returns nil; a
// Run called after Shutdown returns ErrShutdown at once.
func (e *Engine) Run(ctx context.Context) error {
	ctx, exit, ok := e.loops.Enter(ctx)
	if !ok {
		return ErrShutdown
	}
	defer exit()
	for {
		now := e.cfg.clock.Now()
		if err := e.Eval(ctx, now); errors.Is(err, ErrShutdown) {
			return nil
		}
		next := e.nextDue()
		select {
		case <-ctx.Done():
			return nil
		case <-e.cfg.clock.After(max(next.Sub(now), time.Millisecond)):
		}
	}
}

func (e *Engine) nextDue() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	var next time.Time
	for _, g := range e.groups {
		if next.IsZero() || g.next.Before(next) {
			next = g.next
		}
	}
	if next.IsZero() {
		next = e.cfg.clock.Now().Add(DefaultInterval)
	}
	return next
}

// Eval evaluates every group due at now (each group is due every Interval
// from the engine's creation), updates alert states and dispatches
// notifications. A rule whose query fails keeps its alerts' states, is
// marked with the error and counted; the other rules still run. The error
// returned joins the rules' errors.
func (e *Engine) Eval(ctx context.Context, now time.Time) error {
	if e.shutdown.Load() {
		return ErrShutdown
	}
	e.evalMu.Lock()
	defer e.evalMu.Unlock()
	e.evaluated = true
	e.mu.Lock()
	e.lastEval = now
	e.mu.Unlock()
	var errs []error
	for _, g := range e.groups {
		e.mu.Lock()
		due := !now.Before(g.next)
		if due {
			g.next = now.Add(g.Interval)
		}
		e.mu.Unlock()
		if !due {
			continue
		}
		start := e.cfg.clock.Now()
		for _, r := range g.rules {
			if ctx.Err() != nil {
				// Stopping (Run's context ended): not a failure of the rules.
				return errors.Join(append(errs, ctx.Err())...)
			}
			if err := e.evalRule(ctx, g, r, now); err != nil {
				if ctx.Err() != nil {
					return errors.Join(append(errs, ctx.Err())...)
				}
				r.failures.Add(1)
				e.errs.Handle(err, slog.String("group", g.Name), slog.String("rule", r.Name()))
				errs = append(errs, &RuleError{Group: g.Name, Rule: r.Name(), Err: err})
			}
		}
		if e.metrics != nil {
			e.metrics.evalDuration.Record(ctx, clock.Since(e.cfg.clock, start).Seconds(), metric.WithAttributes(attribute.String("rule_group", g.Name)))
		}
	}
	e.dispatch(ctx, now)
	return errors.Join(errs...)
}

func (e *Engine) evalRule(ctx context.Context, g *groupState, r *ruleState, ts time.Time) error {
	start := e.cfg.clock.Now()
	r.evals.Add(1)
	vec, err := e.query(ctx, r, ts)
	e.mu.Lock()
	r.lastEval, r.lastDur, r.lastErr = ts, clock.Since(e.cfg.clock, start), err
	e.mu.Unlock()
	if err != nil {
		return err
	}
	if r.Record != "" {
		out := make(memory.Vector, 0, len(vec))
		for _, s := range vec {
			lb := labels.NewBuilder(s.Metric)
			lb.Set(labels.MetricName, r.Record)
			for k, v := range r.Labels {
				lb.Set(k, v)
			}
			out = append(out, promql.Sample{Metric: lb.Labels(), F: s.F})
		}
		return r.appender.Append(ts, out)
	}
	return e.updateAlerts(ctx, r, vec, ts)
}

// query runs the rule's expression or condition and returns a vector (a
// scalar becomes one sample without labels).
func (e *Engine) query(ctx context.Context, r *ruleState, ts time.Time) (memory.Vector, error) {
	if r.Condition != nil {
		return r.Condition(ctx, e.q, ts)
	}
	res, err := e.q.Query(ctx, r.Expr, ts)
	if err != nil {
		return nil, err
	}
	return asVector(r.Expr, res)
}

// asVector returns a query's result as a vector (memory.Result.Vector),
// naming the expression in an error.
func asVector(expr string, res memory.Result) (memory.Vector, error) {
	v, err := res.Vector()
	if err != nil {
		return nil, fmt.Errorf("expression %q: %w", expr, err)
	}
	return v, nil
}

// updateAlerts applies Prometheus' alerting-rule semantics (rules/alerting.go)
// to one evaluation's result.
func (e *Engine) updateAlerts(ctx context.Context, r *ruleState, vec memory.Vector, ts time.Time) error {
	seen := make(map[uint64]*instance, len(vec))
	for _, s := range vec {
		if s.H != nil {
			continue
		}
		expand := e.expander(ctx, r, s, ts)
		lb := labels.NewBuilder(s.Metric)
		lb.Del(labels.MetricName)
		for k, v := range r.Labels {
			lb.Set(k, expand(v))
		}
		lb.Set(labels.AlertName, r.Alert)
		lset := lb.Labels()
		ann := make(map[string]string, len(r.Annotations))
		for k, v := range r.Annotations {
			ann[k] = expand(v)
		}
		h := lset.Hash()
		if _, dup := seen[h]; dup {
			return fmt.Errorf("vector contains metrics with the same labelset after applying alert labels")
		}
		seen[h] = &instance{labels: lset, id: fmt.Sprintf("%016x", h), annotations: ann, value: s.F, state: StatePending, activeAt: ts}
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	for h, a := range seen {
		a.seenAt = ts
		if cur, ok := r.instances[h]; ok && cur.state != StateResolved {
			cur.value, cur.annotations, cur.seenAt = a.value, a.annotations, ts
			continue
		}
		r.instances[h] = a
	}
	for h, a := range r.instances {
		if _, ok := seen[h]; !ok {
			keepFiring := false
			if a.state == StateFiring && r.KeepFiringFor > 0 {
				if a.keepFiringSince.IsZero() {
					a.keepFiringSince = ts
				}
				keepFiring = ts.Sub(a.keepFiringSince) < r.KeepFiringFor
			}
			if a.state == StatePending || (!a.resolvedAt.IsZero() && ts.Sub(a.resolvedAt) > ResolvedRetention) {
				delete(r.instances, h)
			}
			if a.state != StateResolved && !keepFiring {
				wasFiring := a.state == StateFiring
				a.state, a.resolvedAt = StateResolved, ts
				if wasFiring {
					e.history.resolved(r, a)
				}
			}
			if !keepFiring {
				continue
			}
			a.seenAt = ts
		} else {
			a.keepFiringSince = time.Time{}
		}
		if a.state == StatePending && ts.Sub(a.activeAt) >= r.For {
			a.state, a.firedAt = StateFiring, ts
			e.history.fired(r, a)
		}
	}
	return nil
}

// expander returns a function expanding one template for one sample, as
// Prometheus does; an error is shown in the text, never returned.
func (e *Engine) expander(ctx context.Context, r *ruleState, s promql.Sample, ts time.Time) func(string) string {
	data := template.AlertTemplateData(s.Metric.Map(), nil, e.cfg.externalURL, s)
	defs := "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"
	qf := func(ctx context.Context, q string, t time.Time) (promql.Vector, error) {
		res, err := e.q.Query(ctx, q, t)
		if err != nil {
			return nil, err
		}
		return asVector(q, res)
	}
	return func(text string) string {
		if !strings.Contains(text, "{{") {
			return text
		}
		tmpl := template.NewTemplateExpander(ctx, defs+text, "__alert_"+r.Alert, data, model.TimeFromUnixNano(ts.UnixNano()), qf, e.ext, nil)
		out, err := tmpl.Expand()
		if err != nil {
			return fmt.Sprintf("<error expanding template: %s>", err)
		}
		return out
	}
}

// Alerts returns every pending, firing and recently resolved instance,
// sorted by alertname then ID, with its silences.
func (e *Engine) Alerts() []Alert {
	now := e.cfg.clock.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Alert
	for _, g := range e.groups {
		for _, r := range g.rules {
			for _, a := range r.instances {
				out = append(out, e.toAlert(r, a, now))
			}
		}
	}
	slices.SortFunc(out, func(a, b Alert) int {
		if c := strings.Compare(a.Name(), b.Name()); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// toAlert copies an instance of rule r. The caller holds e.mu.
func (e *Engine) toAlert(r *ruleState, a *instance, now time.Time) Alert {
	al := Alert{
		ID:             a.id,
		Labels:         a.labels.Map(),
		Annotations:    maps.Clone(a.annotations),
		State:          a.state,
		Value:          a.value,
		ActiveAt:       a.activeAt,
		StartsAt:       a.firedAt,
		ResolvedReason: a.manual,
	}
	if a.state == StateResolved {
		al.EndsAt = a.resolvedAt
	}
	if a.manual != "" && al.State == StateFiring {
		al.State = StateResolved
		al.EndsAt = now
	}
	if e.ext != nil {
		u := *e.ext
		u.Path = strings.TrimSuffix(u.Path, "/") + "/monitoring/api/query"
		u.RawQuery = url.Values{"query": {r.Expr}}.Encode()
		al.GeneratorURL = u.String()
	}
	al.SilencedBy = e.silences.Matching(al.Labels, now)
	return al
}

// Resolve marks a firing (or pending) instance resolved by an operator,
// with a reason: a resolved notification is sent at the next dispatch, and
// the instance stays quiet until its condition clears; when it holds again
// later, it alerts again.
func (e *Engine) Resolve(id, reason string) error {
	if strings.TrimSpace(reason) == "" {
		return errors.New("alerting: a manual resolution needs a reason")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, g := range e.groups {
		for _, r := range g.rules {
			for _, a := range r.instances {
				if a.id == id && a.state != StateResolved {
					a.manual = reason
					return nil
				}
			}
		}
	}
	return fmt.Errorf("%w: %q", ErrAlertNotFound, id)
}

// RuleStatus is the health of one rule. In JSON, the durations are numbers
// of seconds: evaluationDurationSeconds, forSeconds, keepFiringForSeconds
// and intervalSeconds.
type RuleStatus struct {
	// Group and Name identify the rule: its group, and its alert or record
	// name (Rule.Name).
	Group string `json:"group"`
	Name  string `json:"name"`
	// Type is "alerting" or "recording".
	Type string `json:"type"`
	// Expr is the rule's PromQL expression, empty for a rule built with a Go
	// Condition; Exportable is false for such a rule (Rule.Exportable).
	Expr       string `json:"expr,omitempty"`
	Exportable bool   `json:"exportable"`
	// LastEvaluation is the time of the last evaluation (zero before the
	// first), EvaluationDuration how long it took, and LastError its error,
	// empty when it succeeded.
	LastEvaluation     time.Time     `json:"lastEvaluation,omitzero"`
	EvaluationDuration time.Duration `json:"-"`
	LastError          string        `json:"lastError,omitempty"`
	// Evaluations counts the rule's evaluations since the engine was created,
	// Failures those that failed.
	Evaluations int64 `json:"evaluations"`
	Failures    int64 `json:"failures"`
	// Active is the number of the rule's instances pending or firing now.
	Active int `json:"active"`
	// Labels and Annotations are the rule's (annotations: alerting rules
	// only), before templating.
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// For, KeepFiringFor and the group's Interval, as configured.
	For           time.Duration `json:"-"`
	KeepFiringFor time.Duration `json:"-"`
	Interval      time.Duration `json:"-"`
	// Alerts are the rule's instances (pending, firing, and resolved within
	// ResolvedRetention), as Alerts lists them.
	Alerts []Alert `json:"-"`
}

// MarshalJSON encodes the status with its durations in seconds.
func (s RuleStatus) MarshalJSON() ([]byte, error) {
	type plain RuleStatus
	return json.Marshal(struct {
		plain
		EvaluationSeconds    float64 `json:"evaluationDurationSeconds"`
		ForSeconds           float64 `json:"forSeconds,omitempty"`
		KeepFiringForSeconds float64 `json:"keepFiringForSeconds,omitempty"`
		IntervalSeconds      float64 `json:"intervalSeconds"`
	}{plain(s), s.EvaluationDuration.Seconds(), s.For.Seconds(), s.KeepFiringFor.Seconds(), s.Interval.Seconds()})
}

// Rules returns the status of every rule, in group and rule order.
func (e *Engine) Rules() []RuleStatus {
	now := e.cfg.clock.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []RuleStatus
	for _, g := range e.groups {
		for _, r := range g.rules {
			st := RuleStatus{Group: g.Name, Name: r.Name(), Type: "alerting", Expr: r.Expr, Exportable: r.Exportable(),
				LastEvaluation: r.lastEval, EvaluationDuration: r.lastDur, Evaluations: r.evals.Load(), Failures: r.failures.Load(),
				Labels: maps.Clone(r.Labels), Annotations: maps.Clone(r.Annotations), For: r.For, KeepFiringFor: r.KeepFiringFor, Interval: g.Interval}
			if r.Record != "" {
				st.Type = "recording"
			}
			if r.lastErr != nil {
				st.LastError = r.lastErr.Error()
			}
			for _, a := range r.instances {
				if a.state == StatePending || a.state == StateFiring {
					st.Active++
				}
				st.Alerts = append(st.Alerts, e.toAlert(r, a, now))
			}
			slices.SortFunc(st.Alerts, func(a, b Alert) int { return strings.Compare(a.ID, b.ID) })
			out = append(out, st)
		}
	}
	return out
}

// Shutdown stops evaluation: later calls of Eval return ErrShutdown, and
// Run returns (an evaluation in progress is cancelled); Shutdown waits for
// it within ctx. The notifiers belong to the caller, who shuts their
// queues down after the engine. Calls after the first return ErrShutdown.
func (e *Engine) Shutdown(ctx context.Context) error {
	if e.shutdown.Swap(true) {
		return ErrShutdown
	}
	err := e.loops.Stop(ctx)
	if e.metrics != nil {
		_ = e.metrics.reg.Unregister()
	}
	return err
}

// engineMetrics exports ALERTS, ALERTS_FOR_STATE and evaluation metrics.
type engineMetrics struct {
	evalDuration metric.Float64Histogram
	reg          metric.Registration
}

func newEngineMetrics(mp metric.MeterProvider, e *Engine) (*engineMetrics, error) {
	m := mp.Meter(ScopeName)
	alerts, err := m.Int64ObservableGauge(MetricAlerts,
		metric.WithDescription("1 for each pending or firing alert instance, as Prometheus' ALERTS series."))
	if err != nil {
		return nil, err
	}
	forState, err := m.Int64ObservableGauge(MetricAlertsForState,
		metric.WithDescription("The Unix time at which each pending or firing instance became active, as Prometheus' ALERTS_FOR_STATE."))
	if err != nil {
		return nil, err
	}
	failures, err := m.Int64ObservableCounter(MetricRuleEvaluationFailures,
		metric.WithUnit("{evaluation}"),
		metric.WithDescription("Rule evaluations that failed (query errors and timeouts)."))
	if err != nil {
		return nil, err
	}
	dur, err := m.Float64Histogram(MetricGroupEvaluationDuration,
		metric.WithUnit("s"),
		metric.WithDescription("Duration of one evaluation of a rule group."))
	if err != nil {
		return nil, err
	}
	reg, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, g := range e.groups {
			for _, r := range g.rules {
				o.ObserveInt64(failures, r.failures.Load(), metric.WithAttributes(
					attribute.String("rule_group", g.Name), attribute.String("rule", r.Name())))
				for _, a := range r.instances {
					if a.state != StatePending && a.state != StateFiring {
						continue
					}
					kvs := make([]attribute.KeyValue, 0, a.labels.Len()+1)
					a.labels.Range(func(l labels.Label) {
						// otel_scope_name is the exporter's own label: the
						// series gets this package's scope instead.
						if l.Name != "otel_scope_name" {
							kvs = append(kvs, attribute.String(l.Name, l.Value))
						}
					})
					o.ObserveInt64(forState, a.activeAt.Unix(), metric.WithAttributes(kvs...))
					kvs = append(kvs, attribute.String("alertstate", a.state.String()))
					o.ObserveInt64(alerts, 1, metric.WithAttributes(kvs...))
				}
			}
		}
		return nil
	}, alerts, forState, failures)
	if err != nil {
		return nil, err
	}
	return &engineMetrics{evalDuration: dur, reg: reg}, nil
}
