package vitals

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/alerting/notify"
	"github.com/vitalsgo/vitals/bizmetrics"
	"github.com/vitalsgo/vitals/exporter"
	"github.com/vitalsgo/vitals/exporter/memory"
	"github.com/vitalsgo/vitals/healthcheck"
	"github.com/vitalsgo/vitals/instrument"
	"github.com/vitalsgo/vitals/internal/lifecycle"
	"github.com/vitalsgo/vitals/internal/ratelog"
	"github.com/vitalsgo/vitals/monitoring"
)

// ErrShutdown is returned by Vitals.Shutdown when it was already called. It
// is the one value of every component's Shutdown: exporter, memory
// (exporter/memory), instrument, healthcheck, alerting and notify re-export it.
var ErrShutdown = lifecycle.ErrShutdown

// Vitals is a running set of vital signs for one service: a MeterProvider
// with its readers and the HTTP handler that exposes them. It is safe for
// concurrent use. Create it with Start and stop it with Shutdown.
type Vitals struct {
	provider *exporter.MeterProvider
	mem      *memory.Reader
	handler  *monitoring.Handler
	logger   *slog.Logger

	tracerProvider trace.TracerProvider     // the user's, or ownTracing, or nil
	ownTracing     *exporter.TracerProvider // built from OTEL_TRACES_* by Start
	loggerProvider otellog.LoggerProvider   // the user's, or ownLogs, or nil
	ownLogs        *exporter.LoggerProvider // built from OTEL_LOGS_* by Start
	runtime        *instrument.Runtime
	health         *healthcheck.Registry
	biz            *bizmetrics.Metrics
	alerts         *alerting.Engine
	notifyQueues   []*notify.Queue // one per notifier of the alert routes

	state *stateKeeper // nil without a state directory

	shutdownOnce sync.Once
}

// Start builds the MeterProvider, and the tracer provider when tracing is
// on, from the standard OTEL_* environment variables (see
// exporter.MetricsConfigFromEnv) and opts, which win over the environment, and
// starts the background work the Vitals owns. An invalid variable or option
// is an error that names it; on error nothing is left running. The package
// doc says what Start serves and pushes by default.
func Start(ctx context.Context, opts ...Option) (*Vitals, error) {
	return start(ctx, opts)
}

// start is Start, with a named error for its one deferred rollback.
func start(ctx context.Context, opts []Option) (_ *Vitals, err error) {
	cfg := newConfig(opts)
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("vitals: %w", err)
	}

	// Every bad variable of the three signals is reported at once; one
	// that all three read (OTEL_EXPORTER_OTLP_ENDPOINT) only once.
	ec, errM := exporter.MetricsConfigFromEnv()
	tc, errT := exporter.TracesConfigFromEnv()
	lc, errL := exporter.LogsConfigFromEnv()
	if err := joinDistinct(errM, errT, errL); err != nil {
		return nil, fmt.Errorf("vitals: %w", err)
	}
	if cfg.serviceName != "" {
		ec.ServiceName = cfg.serviceName
	}
	if cfg.serviceVersion != "" {
		ec.ServiceVersion = cfg.serviceVersion
	}
	// A TracerProvider or LoggerProvider given in code wins over the
	// environment.
	ownTracing := cfg.tracerProvider == nil && tc.Enabled()
	ownLogs := cfg.loggerProvider == nil && lc.Enabled()
	if (cfg.tracerProvider != nil || ownTracing) && ec.Exemplars == exporter.ExemplarsUnknown {
		// Exemplars earn their cost once there are traces to link to.
		ec.Exemplars = exporter.ExemplarsTraceBased
	}
	for _, fn := range cfg.exporterFuncs {
		fn(&ec)
	}

	eopts := []exporter.Option{exporter.WithLogger(cfg.logger)}
	var producer sdkmetric.Producer
	if cfg.runtime {
		// Scheduler latency comes from a producer, which every reader needs.
		producer = instrument.RuntimeProducer()
		eopts = append(eopts, exporter.WithProducer(producer))
		cfg.memoryOpts = append([]memory.Option{memory.WithProducer(producer)}, cfg.memoryOpts...)
	}
	for _, r := range cfg.readers {
		eopts = append(eopts, exporter.WithReader(r))
	}
	var mem *memory.Reader
	if cfg.memory {
		mem = memory.New(append([]memory.Option{memory.WithLogger(cfg.logger)}, cfg.memoryOpts...)...)
		// /metrics serves the memory reader's aggregations rather than
		// its own: one aggregation less per measurement.
		eopts = append(eopts, exporter.WithReader(mem.SDKReaders()...),
			exporter.WithPrometheusReaders(mem.ClassicReader(), mem.NativeReader()))
	}
	p, err := exporter.NewMeterProvider(ctx, ec, eopts...)
	if err != nil {
		return nil, fmt.Errorf("vitals: %w", err)
	}

	v := &Vitals{provider: p, mem: mem, logger: cfg.logger, tracerProvider: cfg.tracerProvider}
	// One rollback for every error below: Shutdown stops whatever has
	// started, in order, and skips what has not.
	defer func() {
		if err != nil {
			_ = v.Shutdown(context.WithoutCancel(ctx))
			err = fmt.Errorf("vitals: %w", err)
		}
	}()
	if ownTracing {
		if v.ownTracing, err = exporter.NewTracerProvider(ctx, tc, p.Resource(), exporter.WithLogger(cfg.logger)); err != nil {
			return nil, err
		}
		v.tracerProvider = v.ownTracing
	}
	v.loggerProvider = cfg.loggerProvider
	if ownLogs {
		if v.ownLogs, err = exporter.NewLoggerProvider(ctx, lc, p.Resource(), exporter.WithLogger(cfg.logger)); err != nil {
			return nil, err
		}
		v.loggerProvider = v.ownLogs
	}
	if v.loggerProvider != nil {
		// Vitals' own records (panics, server errors, alerts) go to the
		// logs bridge too, with the trace of the request they are about.
		v.logger = slog.New(slog.NewMultiHandler(cfg.logger.Handler(), v.logBridge()))
		cfg.logger = v.logger
	}
	if v.health, err = healthcheck.New(healthcheck.WithMeterProvider(p), healthcheck.WithLogger(cfg.logger)); err != nil {
		return nil, err
	}
	// Vitals' providers first, so that WithBizMetrics's options win (with
	// bizmetrics.WithTracerProvider(nil), say, to turn the database spans
	// off).
	bizOpts := []bizmetrics.Option{bizmetrics.WithMeterProvider(p)}
	if v.tracerProvider != nil {
		bizOpts = append(bizOpts, bizmetrics.WithTracerProvider(v.tracerProvider))
	}
	if v.biz, err = bizmetrics.New(append(bizOpts, cfg.bizOpts...)...); err != nil {
		return nil, err
	}
	if cfg.runtime {
		rtOpts := append([]instrument.RuntimeOption{instrument.WithMeterProvider(p)}, cfg.runtimeOpts...)
		if v.runtime, err = instrument.StartRuntime(rtOpts...); err != nil {
			return nil, err
		}
	}
	if mem != nil {
		if err = mem.Instrument(p); err != nil {
			return nil, err
		}
		if err = v.newAlerting(cfg); err != nil {
			return nil, err
		}
		// The state directory: locked, then loaded before anything
		// collects or evaluates.
		if v.state, err = newStateKeeper(cfg, mem, v.alerts, v.notifyQueues, cfg.logger, p); err != nil {
			return nil, err
		}
		if v.state != nil {
			v.state.load(ctx)
		}
		go func() { _ = mem.Run(context.WithoutCancel(ctx)) }() // until mem.Shutdown
		v.runAlerting()
		if v.state != nil {
			every := cfg.stateInterval
			if every <= 0 {
				every = DefaultStateInterval
			}
			go v.state.run(context.WithoutCancel(ctx), every) // until v.state.shutdown
		}
	}
	if cfg.global {
		otel.SetMeterProvider(p)
		errs := ratelog.New(cfg.logger, "vitals: OpenTelemetry error", 0, nil)
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { errs.Handle(err) }))
	}
	if v.handler, err = v.newHandler(cfg); err != nil {
		return nil, err
	}
	return v, nil
}

// Middleware wraps next with the HTTP server instrumentation of package
// instrument, recording into this Vitals' provider and logging through its
// logger, with tracing when Start has a tracer provider (WithTracerProvider
// or the OTEL_* environment). opts come after those and may override them.
func (v *Vitals) Middleware(next http.Handler, opts ...instrument.Option) http.Handler {
	base := []instrument.Option{instrument.WithMeterProvider(v.provider), instrument.WithLogger(v.logger)}
	if v.tracerProvider != nil {
		base = append(base, instrument.WithTracerProvider(v.tracerProvider))
	}
	return instrument.Middleware(next, append(base, opts...)...)
}

// Transport wraps base (http.DefaultTransport when nil) with the HTTP
// client instrumentation of package instrument: http.client.request.duration
// and http.client.active_requests recorded into this Vitals' provider, and,
// with tracing on, a client span per request with the trace context
// injected into the outgoing headers. opts come after those and may
// override them:
//
//	client := &http.Client{Transport: v.Transport(nil), Timeout: 5 * time.Second}
func (v *Vitals) Transport(base http.RoundTripper, opts ...instrument.TransportOption) http.RoundTripper {
	o := []instrument.TransportOption{instrument.WithMeterProvider(v.provider), instrument.WithLogger(v.logger)}
	if v.tracerProvider != nil {
		o = append(o, instrument.WithTracerProvider(v.tracerProvider))
	}
	return instrument.Transport(base, append(o, opts...)...)
}

// TracerProvider returns the tracer provider of the middleware's server
// spans: the one given WithTracerProvider, else the one Start built from
// OTEL_TRACES_EXPORTER and the OTLP variables, else (tracing off) a no-op
// one. Spans of one's own made from it join the request's trace.
func (v *Vitals) TracerProvider() trace.TracerProvider {
	if v.tracerProvider == nil {
		return tracenoop.NewTracerProvider()
	}
	return v.tracerProvider
}

// LogHandler wraps h, the service's own slog handler, so that records
// logged with a request's context (slog.InfoContext(r.Context(), ...))
// carry its request_id, trace_id and span_id, and, with a logger provider
// (WithLoggerProvider, or OTEL_LOGS_EXPORTER), also go through the
// OpenTelemetry logs bridge with the request's trace. Use it once, for the
// service's logger: slog.SetDefault(slog.New(v.LogHandler(h))).
func (v *Vitals) LogHandler(h slog.Handler) slog.Handler {
	if v.loggerProvider != nil {
		h = slog.NewMultiHandler(h, v.logBridge())
	}
	return instrument.LogHandler(h)
}

// logBridge returns the OpenTelemetry logs bridge to the logger provider.
func (v *Vitals) logBridge() slog.Handler {
	return otelslog.NewHandler("github.com/vitalsgo/vitals", otelslog.WithLoggerProvider(v.loggerProvider))
}

// Alerting returns the alert engine evaluating the rules given to Start, or
// nil when Start was given WithoutMemory (rules are evaluated over the
// in-memory reader).
func (v *Vitals) Alerting() *alerting.Engine { return v.alerts }

// newAlerting loads the rules and builds the engine; runAlerting starts its
// loop.
func (v *Vitals) newAlerting(cfg config) error {
	groups, err := ruleGroups(cfg)
	if err != nil {
		return err
	}
	routes := cfg.alertRoutes
	if len(routes) == 0 {
		routes = []alerting.Route{{Name: "log", Notifiers: []alerting.Notifier{notify.Log(cfg.logger)}}}
	}
	// Every notifier sits behind a queue, so that evaluation never waits
	// for a receiver; Shutdown stops the queues after the engine.
	routes, v.notifyQueues = notify.QueueRoutes(routes, notify.WithLogger(cfg.logger), notify.WithMeterProvider(v.provider))
	// Start's logger and provider first, so that WithAlerting's options win
	// as those of WithBizMetrics, WithRuntime and WithMemory do; the queued
	// routes and the external URL last, since only their own options set them.
	opts := append([]alerting.Option{alerting.WithLogger(cfg.logger), alerting.WithMeterProvider(v.provider)}, cfg.alertOpts...)
	opts = append(opts, alerting.WithRoutes(routes...))
	if cfg.externalURL != "" {
		opts = append(opts, alerting.WithExternalURL(cfg.externalURL))
	}
	v.alerts, err = alerting.New(v.mem, groups, opts...)
	return err
}

// runAlerting starts the engine's loop, which runs until its Shutdown.
func (v *Vitals) runAlerting() {
	go func() { _ = v.alerts.Run(context.Background()) }()
}

// BizMetrics returns the business metrics: orders and revenue, registrations,
// database and cache operations, timers and custom instruments, recorded
// into this Vitals' provider.
func (v *Vitals) BizMetrics() *bizmetrics.Metrics { return v.biz }

// Health returns the health check registry served on /livez, /readyz and
// /healthz. Register checks on it; it has none at first.
func (v *Vitals) Health() *healthcheck.Registry { return v.health }

// Memory returns the in-memory reader: the recent history of every metric,
// queryable with PromQL. It is nil when Start was given WithoutMemory.
func (v *Vitals) Memory() *memory.Reader { return v.mem }

// MeterProvider returns the provider to record metrics with, or to pass to
// instrumentation libraries (for example otelhttp.WithMeterProvider).
func (v *Vitals) MeterProvider() metric.MeterProvider { return v.provider }

// Meter returns a Meter for the named instrumentation scope; a shorthand for
// v.MeterProvider().Meter(name, opts...).
func (v *Vitals) Meter(name string, opts ...metric.MeterOption) metric.Meter {
	return v.provider.Meter(name, opts...)
}

// Handler returns the HTTP handler of the vital signs: /metrics, /livez,
// /readyz, /healthz, the monitoring API and the dashboard under
// /monitoring/ (package monitoring lists every route). Mount it at "/" of
// the service's mux (the more specific patterns win) and wrap the mux in
// Middleware, which does not record Handler's own requests unless
// WithCountHandlerRequests is given. A service that owns "/" serves it on a
// listener of its own instead; under a prefix, use http.StripPrefix.
func (v *Vitals) Handler() http.Handler { return v.handler }

// newHandler builds the monitoring handler over what Start built.
func (v *Vitals) newHandler(cfg config) (*monitoring.Handler, error) {
	res := v.provider.Resource()
	mc := monitoring.Config{
		Health:  v.health,
		SLOs:    cfg.slos, // only with the memory reader (validate)
		Metrics: v.provider.PrometheusHandler(),
		Service: healthcheck.ServiceInfo{
			// The resource says which release runs, not an API version.
			ReleaseID:   resourceValue(res, "service.version"),
			ServiceID:   resourceValue(res, "service.instance.id"),
			Description: resourceValue(res, "service.name"),
		},
		Authorizer:           cfg.authorize,
		ProtectedReads:       cfg.protectReads,
		CountHandlerRequests: cfg.countOwn,
		CacheSeries:          v.biz.Namespace() + "_cache_operations_total",
		Started:              time.Now(),
		TraceURL:             cfg.traceURL,
	}
	if v.mem != nil {
		mc.History = v.mem
	}
	if v.alerts != nil { // not a nil *Engine in the interface
		mc.Alerting = v.alerts
	}
	return monitoring.New(mc)
}

// ForceFlush pushes everything recorded so far to the push exporters:
// metrics (OTLP, console), and the spans and log records of the providers
// Start built. It returns the errors of the exports that failed.
func (v *Vitals) ForceFlush(ctx context.Context) error {
	errs := []error{v.provider.ForceFlush(ctx)}
	if v.ownTracing != nil {
		errs = append(errs, v.ownTracing.ForceFlush(ctx))
	}
	if v.ownLogs != nil {
		errs = append(errs, v.ownLogs.ForceFlush(ctx))
	}
	return errors.Join(errs...)
}

// Shutdown stops background work and makes a final OTLP flush attempt,
// returning within ctx's deadline even when the collector hangs. Calls after
// the first return ErrShutdown. Recording after Shutdown is a cheap no-op.
func (v *Vitals) Shutdown(ctx context.Context) error {
	err := ErrShutdown
	v.shutdownOnce.Do(func() {
		var errs []error
		if v.alerts != nil {
			errs = append(errs, v.alerts.Shutdown(ctx)) // waits for its loop
		}
		for _, q := range v.notifyQueues {
			errs = append(errs, q.Shutdown(ctx))
		}
		if v.health != nil {
			errs = append(errs, v.health.Shutdown(ctx))
		}
		if v.runtime != nil {
			errs = append(errs, v.runtime.Shutdown(ctx))
		}
		if v.mem != nil {
			errs = append(errs, v.mem.Shutdown(ctx)) // waits for its loop
		}
		if v.state != nil {
			// The last save, after the engine and the reader stopped.
			errs = append(errs, v.state.shutdown(ctx))
		}
		// The last spans and records beside the metrics' final flush, so
		// that a collector that hangs on one signal cannot take the
		// others' share of the deadline.
		var wg sync.WaitGroup
		var traceErr, logErr error
		if v.ownTracing != nil {
			wg.Go(func() { traceErr = v.ownTracing.Shutdown(ctx) })
		}
		if v.ownLogs != nil {
			wg.Go(func() { logErr = v.ownLogs.Shutdown(ctx) })
		}
		errs = append(errs, v.provider.Shutdown(ctx))
		wg.Wait()
		errs = append(errs, traceErr, logErr)
		if err = errors.Join(errs...); err != nil {
			err = fmt.Errorf("vitals: shutdown: %w", err)
		}
	})
	return err
}

// resourceValue returns the string value of a resource attribute, or "".
func resourceValue(res *resource.Resource, key string) string {
	if v, ok := res.Set().Value(attribute.Key(key)); ok {
		return v.Emit()
	}
	return ""
}

// joinDistinct joins errs, the errors each joins flattened, leaving out
// nils and errors whose text an earlier one has.
func joinDistinct(errs ...error) error {
	var out []error
	seen := map[string]bool{}
	var add func(error)
	add = func(err error) {
		if err == nil {
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				add(e)
			}
			return
		}
		if !seen[err.Error()] {
			seen[err.Error()] = true
			out = append(out, err)
		}
	}
	for _, err := range errs {
		add(err)
	}
	return errors.Join(out...)
}
