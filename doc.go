// Package vitals gives a Go HTTP service its vital signs through
// OpenTelemetry, with one call.
//
// # Getting started
//
//	v, err := vitals.Start(ctx, vitals.WithServiceName("shop"))
//	if err != nil {
//		return err
//	}
//	defer v.Shutdown(context.WithoutCancel(ctx))
//	mux.Handle("/", v.Handler()) // /metrics, /livez, /readyz, /healthz, /monitoring/
//	srv := &http.Server{Addr: ":8080", Handler: v.Middleware(mux)}
//
// Start reads the standard OTEL_* environment variables (listed in
// docs/configuration.md and in package exporter). By default it serves
// Prometheus metrics on Handler; setting OTEL_EXPORTER_OTLP_ENDPOINT also
// pushes them over OTLP, side by side. Options given to Start win over the
// environment.
//
// # Tracing
//
// Traces follow OTEL_TRACES_EXPORTER (by default OTLP when an OTLP endpoint
// is set, else none), OTEL_TRACES_SAMPLER and OTEL_BSP_*
// (exporter.TracesConfigFromEnv), unless WithTracerProvider gives a tracer
// provider. With tracing on, Middleware makes a server span per request,
// with the trace context of the request's headers; the bizmetrics
// database/sql wrapper a client span per operation; caches an event on the
// request's span; and the metrics keep exemplars of measurements made in
// sampled spans, unless OTEL_METRICS_EXEMPLAR_FILTER or WithMetricsConfig
// says otherwise. docs/configuration.md (Traces) has the variables.
//
// # HTTP
//
// Handler serves the vital signs: metrics, health probes, the monitoring
// API and the dashboard, built by package monitoring over what Start
// started. Mount it at "/" of the service's mux and wrap the mux in
// Middleware, as above; package monitoring lists every route and its
// limits.
//
// # Recording
//
// MeterProvider returns a standard OpenTelemetry metric.MeterProvider: record
// with any OTel instrument, or hand it to instrumentation libraries. Every
// number is recorded once and read by each configured reader.
//
// # Concurrency and lifecycle
//
// A Vitals is safe for concurrent use. Shutdown stops background work and
// makes a final flush attempt, returning within its context's deadline; it
// runs once, and later calls return ErrShutdown. Recording after Shutdown
// is a cheap no-op. Nothing is global unless WithGlobal is given.
//
// # State
//
// Without a state directory, a restart forgets everything held in memory.
// WithStateDir (or $VITALS_STATE_DIR) names a directory of the process's
// own, created if missing with mode 0700, for what must survive a restart:
// silences, alert state and history, the notification log, the
// notifications not delivered by Shutdown's deadline (sent after the
// restart) and the in-memory metric history, which holds the SLO windows.
// Start loads it, and fails if the directory cannot be written or another
// process holds it; the state is saved crash-safely every
// DefaultStateInterval (WithStateInterval) and at Shutdown.
// docs/reliability.md (Restarts) lists what survives and what a crash can
// lose.
package vitals
