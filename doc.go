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
// A Vitals is safe for concurrent use. Shutdown stops background work, makes
// a final flush attempt within its context's deadline, and is idempotent.
// Nothing is global unless WithGlobal is given.
package vitals
