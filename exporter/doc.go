// Package exporter builds the one OpenTelemetry MeterProvider that Vitals
// records into, with its readers: Prometheus pull, OTLP push (gRPC or
// HTTP/protobuf) and a console writer for debugging.
//
// # Configuration
//
// ConfigFromEnv reads the standard OTEL_* variables (the Env constants) with
// the specification's defaults and precedence: a metrics-specific variable
// wins over the generic one, /v1/metrics is appended only to the generic
// OTLP/HTTP endpoint, and any invalid value is an *EnvError naming the
// variable. Fields set on the Config in code afterwards win over the
// environment. OTEL_METRICS_EXPORTER takes a comma-separated list, so
// Prometheus and OTLP can run side by side.
//
// # Defaults
//
// With nothing set: Prometheus pull only. OTLP turns on when an endpoint is
// given or OTEL_METRICS_EXPORTER names it. Float64 histograms with unit "s"
// that advise no boundaries get SecondsBoundaries() (the SDK's defaults are
// millisecond-scale and would pin a seconds p95 at one bucket). Each
// instrument keeps at most DefaultCardinalityLimit attribute sets; the rest
// fold into one series labelled otel_metric_overflow="true", so totals stay
// right. Exemplars are off; when on (Config.Exemplars), histogram buckets
// keep their last kept measurement and counters and gauges keep none, so
// their memory does not grow with GOMAXPROCS.
//
// # Resource
//
// Every metric carries one resource: service.name, service.version (when the
// build records a module version), service.instance.id (random at each
// start), host.name, process.pid, process.executable.name,
// process.runtime.name, process.runtime.version,
// process.runtime.description and telemetry.sdk.name, .language and
// .version, plus what OTEL_RESOURCE_ATTRIBUTES and Config.ResourceAttributes
// add. On /metrics they are the labels of target_info.
// Config.DropResourceAttributes removes keys from it, service.name excepted.
//
// # Prometheus
//
// Provider.PrometheusHandler serves the text and OpenMetrics formats from a
// registry of its own (never the global default registry). Series carry the
// otel_scope_name label but not otel_scope_version or otel_scope_schema_url:
// the version would split every series on each upgrade. A scrape costs about
// what the same series cost with client_golang (docs/benchmarks.md).
//
// # Failures
//
// Push exporters run in the background and never block recording. A failed
// export is counted in vitals.exporter.exports{outcome="failure"} and either
// returned to the ForceFlush or Shutdown call waiting for it, or, in the
// background, logged at most once a minute per distinct error; it never
// reaches the OTel global error handler. Shutdown returns within its
// context's deadline even when the endpoint hangs. Every OTLP setting is
// passed to the OTel exporter explicitly, so what it would read from the
// environment itself never overrides the Config.
//
// # Concurrency
//
// A Provider is safe for concurrent use.
package exporter
