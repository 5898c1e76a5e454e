// Package healthcheck runs health checks and serves them as /livez,
// /readyz and /healthz in the application/health+json format of the IETF
// draft "Health Check Response Format for HTTP APIs".
//
// # Checks
//
// A check is a Checker; CheckFunc adapts func(ctx) error (Warn marks an
// error as a warning) and ResultFunc one that returns a richer Result
// (status, observed value and unit, output). Register takes options per
// check:
//
//   - critical (the default) or WithoutCritical: a critical failure fails
//     the probe, any other failure or warning degrades it (warn);
//   - WithKinds: Liveness, Readiness (the default) or both;
//   - WithTimeout (default 5 s): the context is cancelled and the run
//     reported failed with "timeout after 5s";
//   - WithInterval: run in the background and serve the cached result, so a
//     probe never waits for a slow dependency (default: on demand);
//   - WithInitialDelay, WithTags, WithComponentType, WithMeasurement.
//
// A check that panics fails with the panic value; the registry keeps
// working. Checks run concurrently, each bounded by its own timeout; a check
// that ignores its context is abandoned after the timeout and not started
// again while it still runs, so a hung dependency costs one goroutine.
// Concurrent probes share a run in progress rather than starting another.
//
// # Aggregation
//
// Any critical check failing, or not run yet (StatusUnknown), fails the
// aggregate; a non-critical failure or any warning makes it warn; else it
// passes. No checks registered passes. A probe never reports healthy before
// the first real result.
//
// # HTTP
//
// Handler answers 200 for pass and warn and 503 for fail. Without an
// authorizer (WithAuthorizer) the body carries check names and statuses
// only (WithServiceInfo describes the service to authorized requests): outputs and observed values can name hosts or carry driver
// messages. ?exclude=name skips a check; ?verbose answers in the Kubernetes
// text style.
//
// # Metrics and listeners
//
// Every check is exported as
// vitals_healthcheck_status{check,critical,status} (1 for the current
// status), vitals_healthcheck_duration_seconds and
// vitals_healthcheck_failures_total, to the OTel global provider
// (otel.GetMeterProvider()) unless WithMeterProvider gives another.
// OnStatusChange listeners see every change of the aggregate status with
// the results behind it.
//
// # Built-in checks
//
// Memory (the Go memory in use, go.memory.used, against GOMEMLIMIT or a
// given limit), Goroutines, SchedulerLatency (p99 of /sched/latencies),
// SQLPing, HTTPGet and TCPDial. The check of a
// PromQL expression over the in-memory reader is promcheck.Threshold, in
// package healthcheck/promcheck, so that this package does not link the
// PromQL engine.
//
// # Concurrency
//
// A Registry is safe for concurrent use. Shutdown cancels the background
// checks and waits for their goroutines until its context ends.
//
// # Time
//
// Background intervals, initial delays and timeouts run on the registry's
// clock (WithClock), so that tests move time by hand.
package healthcheck
