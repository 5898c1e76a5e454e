// Package exporter builds the one OpenTelemetry MeterProvider that Vitals
// records into, with its readers: Prometheus pull, OTLP push (gRPC or
// HTTP/protobuf) and a console writer for debugging. It also builds the
// TracerProvider and LoggerProvider that send spans and log records over
// OTLP or to the console.
//
// NewMeterProvider, NewTracerProvider and NewLoggerProvider each take a
// config (MetricsConfig, TracesConfig, LogsConfig) whose Exporters list says
// where the signal goes (MetricsExporter, TracesExporter, LogsExporter),
// with an OTLP for the collector and a ConsoleWriter for the console. Each
// exporter listed gets a reader (metrics) or a batch processor (spans, log
// records) of its own; a duplicate counts once. Each returns a
// provider that embeds the OTel SDK's provider of its signal, reached as its
// MeterProvider, TracerProvider or LoggerProvider field. Every provider's
// Shutdown returns within its context's deadline, abandoning an export
// still running; so does MeterProvider's ForceFlush. TracerProvider and
// LoggerProvider keep the SDK's ForceFlush, whose exports are each bounded
// by the OTLP timeout (OTLP.Timeout). Options are typed by what they can act
// on: an Option configures NewMeterProvider, a SignalOption
// NewTracerProvider and NewLoggerProvider, and WithLogger, a ProviderOption,
// all three.
//
// # Configuration
//
// MetricsConfigFromEnv reads the standard OTEL_* variables (the Env constants) with
// the specification's defaults and precedence: a metrics-specific variable
// wins over the generic one, /v1/metrics is appended only to the generic
// OTLP/HTTP endpoint, and any invalid value is an *EnvError naming the
// variable. Fields set on the MetricsConfig in code afterwards win over the
// environment. TracesConfigFromEnv and LogsConfigFromEnv do the same for
// OTEL_TRACES_* and OTEL_LOGS_*. OTEL_METRICS_EXPORTER, OTEL_TRACES_EXPORTER
// and OTEL_LOGS_EXPORTER each take a comma-separated list, so that
// Prometheus and OTLP, or OTLP and the console, run side by side; "none"
// may only stand alone.
//
// Booleans must be "true" or "false" (any case) and enumerations one of
// their documented values: where the specification falls back to a default
// with a warning, Vitals refuses to start, naming the variable, so that a
// typo never silently changes what is exported. A timeout of 0 means no
// limit.
//
// # Defaults
//
// In each config, a nil Exporters means the signal's default and an empty,
// non-nil one no exporter (the variable's "none"), so that the zero config
// is the default; the zero MetricsExporter, TracesExporter and LogsExporter
// (MetricsUnknown, TracesUnknown, LogsUnknown) are no exporter, and the
// providers refuse them. The defaults: metrics are served for Prometheus
// pull, and pushed over OTLP too when an OTLP endpoint is set; spans are
// pushed over OTLP when an OTLP endpoint is set, else none are made; log
// records stay with the service's own handler (the specification's default
// is OTLP, but a service has its log pipeline already, so records leave
// the process only when asked).
//
// With nothing set: Prometheus pull only. OTLP turns on when an endpoint is
// given or OTEL_METRICS_EXPORTER names it. Float64 histograms with unit "s"
// that advise no boundaries get SecondsBoundaries() (the SDK's defaults are
// millisecond-scale and would pin a seconds p95 at one bucket). Each
// instrument keeps at most DefaultCardinalityLimit attribute sets; the rest
// fold into one series labelled otel_metric_overflow="true", so totals stay
// right. Exemplars are off; when on (MetricsConfig.Exemplars), histogram buckets
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
// .version, plus what OTEL_RESOURCE_ATTRIBUTES and MetricsConfig.ResourceAttributes
// add. On /metrics they are the labels of target_info.
//
// MetricsConfig.DropResourceAttributes removes keys from it, service.name
// excepted, once detection, OTEL_RESOURCE_ATTRIBUTES, ResourceAttributes
// and ServiceVersion have set it: they are then absent from
// MeterProvider.Resource, from target_info and from what OTLP and the
// console receive. Readers added with WithReader get the OTel SDK's
// resource instead, in which the SDK puts back the dropped keys that
// OTEL_RESOURCE_ATTRIBUTES sets.
//
// # Secrets
//
// OTLP credentials belong in OTLP.Headers (OTEL_EXPORTER_OTLP_HEADERS): an
// endpoint with user information, a query or a fragment is refused, since
// the OTel exporters would drop them silently. Errors never show a header
// value, and MetricsConfig, TracesConfig, LogsConfig and OTLP, printed with
// any fmt verb or logged with log/slog, show header names only. Both show
// endpoints with user information, query values and fragment replaced by
// REDACTED.
//
// # Prometheus
//
// MeterProvider.PrometheusHandler serves the text and OpenMetrics formats
// from a registry of its own (never the global default registry). Series
// carry the otel_scope_name label but not otel_scope_version or
// otel_scope_schema_url: the version would split every series on each
// upgrade. A scrape costs about what the same series cost with
// client_golang (docs/benchmarks.md).
//
// By default /metrics collects readers of its own, which aggregate every
// synchronous measurement once more. WithPrometheusReaders hands it two
// readers that the caller registers (with WithReader, native first) and
// gives the producers instead: classic aggregates every instrument with the
// default aggregations (explicit bucket histograms), native histograms only,
// as base-2 exponential histograms, and is read only with
// MetricsConfig.ExponentialHistograms. vitals.Start passes the in-memory reader's
// (memory.Reader.ClassicReader and NativeReader), which hold the same
// aggregations.
//
// # Exponential histograms
//
// MetricsConfig.ExponentialHistograms (or EnvHistogramAggregation) adds base-2
// exponential histograms (400 buckets, at most 4.4 % wide for values
// spanning up to 2^25) to the explicit-bucket ones. On /metrics every
// histogram series then carries both, as client_golang serves a histogram
// with classic buckets and a native schema: the text and OpenMetrics
// formats show the classic buckets exactly as without the option, and the
// protobuf format (which Prometheus negotiates when native histograms are
// enabled) adds the native histogram to each series. It costs one more
// aggregation per histogram measurement, and a protobuf scrape a second
// collection. OTLP and the console, which cannot carry two streams of one
// name, get exponential histograms only. A producer's metrics
// (WithProducer), aggregated already, go to the classic Prometheus reader
// only.
//
// # Failures
//
// Push exporters run in the background and never block recording. A failed
// export is counted in vitals.exporter.exports{outcome="failed"} and either
// returned to the ForceFlush or Shutdown call waiting for it, or, in the
// background, logged at most once a minute per distinct error; it never
// reaches the OTel global error handler. Shutdown returns within its
// context's deadline even when the endpoint hangs. Every OTLP setting is
// passed to the OTel exporter explicitly, so what it would read from the
// environment itself never overrides the MetricsConfig.
//
// Spans and log records are handled the same way: NewTracerProvider and
// NewLoggerProvider pass every setting to the SDK and the OTel exporter
// explicitly, so that only their config decides; each export, retries
// included, is bounded by the OTLP timeout; a failed export's spans or
// records are dropped and the failure logged at most once a minute per
// distinct error, to WithLogger's logger, never handed to the OTel global
// error handler.
//
// # Concurrency
//
// A MeterProvider, TracerProvider or LoggerProvider is safe for concurrent
// use.
package exporter
