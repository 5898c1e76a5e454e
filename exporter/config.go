package exporter

import (
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
)

// Defaults used when a MetricsConfig field is left at its zero value. They
// are the OpenTelemetry specification's defaults unless noted.
const (
	// DefaultExportInterval is the time between two OTLP (or console) pushes.
	DefaultExportInterval = 60 * time.Second
	// DefaultExportTimeout bounds one collect-and-push cycle.
	DefaultExportTimeout = 30 * time.Second
	// DefaultOTLPTimeout bounds one OTLP request, retries included.
	DefaultOTLPTimeout = 10 * time.Second
	// DefaultCardinalityLimit is the number of distinct attribute sets one
	// instrument keeps per collection; further sets are folded into one
	// series with the attribute otel.metric.overflow=true.
	DefaultCardinalityLimit = 2000
	// DefaultGRPCEndpoint is the OTLP/gRPC endpoint used when OTLP is
	// requested without an endpoint.
	DefaultGRPCEndpoint = "http://localhost:4317"
	// DefaultHTTPEndpoint is the OTLP/HTTP endpoint used when OTLP is
	// requested without an endpoint; /v1/metrics, /v1/traces or /v1/logs is
	// appended.
	DefaultHTTPEndpoint = "http://localhost:4318"
)

// MetricsConfig says which readers the MeterProvider gets and how they behave.
// The zero value is useful: Prometheus pull only, with the defaults above.
// MetricsConfigFromEnv fills a MetricsConfig from the standard OTEL_* variables; fields set
// in code afterwards win over the environment.
type MetricsConfig struct {
	// ServiceName is the service.name resource attribute. By default it is
	// "unknown_service:" followed by the executable's name, as the
	// specification says.
	ServiceName string
	// ServiceVersion is the service.version resource attribute. By default it
	// is the main module's version from the build information, when known.
	ServiceVersion string
	// ResourceAttributes are added to the resource. ServiceName and
	// ServiceVersion win over service.name and service.version given here.
	ResourceAttributes []attribute.KeyValue
	// DropResourceAttributes are removed from the resource once everything
	// else has set it, so that a detected or inherited attribute can be
	// kept out of every metric (see "Resource" in the package doc). A key
	// the resource lacks is ignored; service.name cannot be dropped
	// (NewMeterProvider returns an error). By default, nothing is dropped.
	DropResourceAttributes []attribute.Key

	// Exporters lists the exporters to build a reader for. Nil means the
	// default: Prometheus, plus OTLP when OTLP.Endpoint or OTLP.BaseEndpoint
	// is set. An empty, non-nil slice means none (OTEL_METRICS_EXPORTER=none).
	Exporters []MetricsExporter

	// OTLP configures the OTLP exporter, used when Exporters includes
	// MetricsOTLP (or by default when an OTLP endpoint is set).
	OTLP OTLP

	// ExportInterval is the time between pushes of the periodic readers
	// (OTLP, console). By default, DefaultExportInterval.
	ExportInterval time.Duration
	// ExportTimeout bounds one collect-and-push cycle of the periodic
	// readers. By default, DefaultExportTimeout; negative means no limit
	// (OTEL_METRIC_EXPORT_TIMEOUT=0).
	ExportTimeout time.Duration

	// CardinalityLimit is the number of distinct attribute sets kept per
	// instrument. By default, DefaultCardinalityLimit; negative means no
	// limit (not recommended: one unbounded attribute grows memory without
	// bound).
	CardinalityLimit int

	// ExponentialHistograms adds base-2 exponential histograms, whose
	// relative error is bounded at any scale, to the explicit-bucket ones:
	// /metrics serves both, OTLP and the console the exponential ones only
	// (see "Exponential histograms" in the package doc). By default,
	// explicit buckets only. EnvHistogramAggregation sets it.
	ExponentialHistograms bool

	// Exemplars selects which measurements may be kept as exemplars. By
	// default, ExemplarsOff: exemplars link metrics to traces, so they are
	// worth their cost only when traces are recorded (ExemplarsTraceBased).
	// When on, each histogram bucket keeps its last kept measurement and
	// counters and gauges keep none, unless a view chooses another
	// reservoir (docs/configuration.md#exemplars).
	Exemplars ExemplarFilter

	// ConsoleWriter receives the console exporter's output. By default,
	// os.Stdout.
	ConsoleWriter io.Writer
}

// OTLP configures an OTLP exporter: the metrics' in MetricsConfig, the
// spans' in TracesConfig and the log records' in LogsConfig. Each signal has its own,
// so that they may go to different collectors.
type OTLP struct {
	// Endpoint is the collector's URL for this signal (http or https
	// scheme), used as it is: for ProtocolHTTPProtobuf the full URL, path
	// included ("/" when it has none); for ProtocolGRPC the path is ignored
	// and "host:port" is accepted too (TLS unless Insecure). It wins over
	// BaseEndpoint. Neither may carry user information, a query or a
	// fragment: credentials belong in Headers (see "Secrets" in the package
	// doc).
	Endpoint string
	// BaseEndpoint is the collector's base URL, as in
	// OTEL_EXPORTER_OTLP_ENDPOINT: for ProtocolHTTPProtobuf, /v1/metrics,
	// /v1/traces or /v1/logs is appended to its path; for ProtocolGRPC it is
	// used as Endpoint is. When neither is set, OTLP is off unless the
	// signal's exporter names it, in which case the protocol's default
	// endpoint is used.
	BaseEndpoint string
	// Protocol is the transport. By default, ProtocolHTTPProtobuf.
	Protocol Protocol
	// Headers are sent with every request (for example an API key). Their
	// values are never logged.
	Headers map[string]string
	// Timeout bounds one export request including retries. By default,
	// DefaultOTLPTimeout; negative means no limit
	// (OTEL_EXPORTER_OTLP_TIMEOUT=0).
	Timeout time.Duration
	// Insecure disables TLS for a gRPC endpoint given without scheme. A
	// scheme, when present, decides: http is plaintext, https is TLS.
	Insecure bool
	// Compression is "gzip" or "" (none). With ProtocolGRPC, "" cannot
	// override OTEL_EXPORTER_OTLP_COMPRESSION=gzip, which the gRPC exporter
	// reads itself.
	Compression string
	// Temporality is the aggregation temporality preference, for metrics
	// only. By default, TemporalityCumulative.
	Temporality Temporality
}

// LogValue describes c for log/slog without its secrets: the OTLP header
// names but not their values, and endpoints without user information,
// query values or fragment (see OTLP.LogValue).
func (c MetricsConfig) LogValue() slog.Value {
	attrs := make([]string, len(c.ResourceAttributes))
	for i, kv := range c.ResourceAttributes {
		attrs[i] = string(kv.Key) + "=" + kv.Value.Emit()
	}
	drop := make([]string, len(c.DropResourceAttributes))
	for i, k := range c.DropResourceAttributes {
		drop[i] = string(k)
	}
	return slog.GroupValue(
		slog.String("service_name", c.ServiceName),
		slog.String("service_version", c.ServiceVersion),
		slog.String("resource_attributes", strings.Join(attrs, ",")),
		slog.String("drop_resource_attributes", strings.Join(drop, ",")),
		slog.String("exporters", exportersText(c.Exporters)),
		slog.Any("otlp", c.OTLP),
		slog.String("export_interval", durationText(c.ExportInterval)),
		slog.String("export_timeout", durationText(c.ExportTimeout)),
		slog.String("cardinality_limit", limitText(c.CardinalityLimit)),
		slog.Bool("exponential_histograms", c.ExponentialHistograms),
		slog.String("exemplars", enumText(c.Exemplars, c.Exemplars == ExemplarsUnknown)),
	)
}

// exportersText lists es as an OTEL_*_EXPORTER variable would: "default"
// for nil, "none" for an empty list.
func exportersText[E fmt.Stringer](es []E) string {
	if es == nil {
		return "default"
	}
	if len(es) == 0 {
		return "none"
	}
	names := make([]string, len(es))
	for i, e := range es {
		names[i] = e.String()
	}
	return strings.Join(names, ",")
}

// String formats c as its LogValue does, so that fmt's %v and %s hide the
// same secrets.
func (c MetricsConfig) String() string { return groupText(c.LogValue()) }

// GoString formats c as Go syntax for fmt's %#v, with OTLP as
// OTLP.GoString hides it.
func (c MetricsConfig) GoString() string {
	type fields MetricsConfig // without methods; its OTLP field keeps them
	return goSyntax("exporter.MetricsConfig", fields(c))
}

// Format makes every fmt verb hide the secrets: %#v prints GoString, any
// other verb String.
func (c MetricsConfig) Format(f fmt.State, verb rune) { format(f, verb, c) }

// LogValue describes o for log/slog without its secrets: the header names
// but not their values, and the endpoints with their user information
// (user or user:password), query values (the keys stay) and fragment
// replaced by REDACTED, even when they are not valid URLs.
func (o OTLP) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("endpoint", redactURL(o.Endpoint)),
		slog.String("base_endpoint", redactURL(o.BaseEndpoint)),
		slog.String("protocol", enumText(o.Protocol, o.Protocol == ProtocolUnknown)),
		slog.String("headers", strings.Join(slices.Sorted(maps.Keys(o.Headers)), ",")),
		slog.String("timeout", durationText(o.Timeout)),
		slog.Bool("insecure", o.Insecure),
		slog.String("compression", o.Compression),
		slog.String("temporality", enumText(o.Temporality, o.Temporality == TemporalityUnknown)),
	)
}

// String formats o as its LogValue does, so that fmt's %v and %s hide the
// same secrets.
func (o OTLP) String() string { return groupText(o.LogValue()) }

// GoString formats o as Go syntax for fmt's %#v, with the endpoints as
// LogValue shows them and every header value replaced by "REDACTED".
func (o OTLP) GoString() string {
	o.Endpoint = redactURL(o.Endpoint)
	o.BaseEndpoint = redactURL(o.BaseEndpoint)
	if o.Headers != nil {
		h := make(map[string]string, len(o.Headers))
		for k := range o.Headers {
			h[k] = redacted
		}
		o.Headers = h
	}
	type fields OTLP // without methods
	return goSyntax("exporter.OTLP", fields(o))
}

// Format makes every fmt verb hide the secrets: %#v prints GoString, any
// other verb String.
func (o OTLP) Format(f fmt.State, verb rune) { format(f, verb, o) }

// format prints v for fmt: %#v as GoString, any other verb (%v, %+v, %s,
// %q, even %d) as the verb would print String.
func format(f fmt.State, verb rune, v interface {
	fmt.Stringer
	fmt.GoStringer
}) {
	if verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, v.GoString())
		return
	}
	_, _ = fmt.Fprintf(f, fmt.FormatString(f, verb), v.String())
}

// goSyntax formats v, a value of a method-less copy of a struct type, with
// %#v under the name of the original type.
func goSyntax(name string, v any) string {
	s := fmt.Sprintf("%#v", v)
	if i := strings.IndexByte(s, '{'); i >= 0 {
		return name + s[i:]
	}
	return s
}

// durationText, limitText and enumText show a zero value, which
// NewMeterProvider replaces by its default, as "default", and durationText
// and limitText a negative one, meaning none, as "none".
func durationText(d time.Duration) string {
	switch {
	case d == 0:
		return "default"
	case d < 0:
		return "none"
	}
	return d.String()
}

func limitText(n int) string {
	switch {
	case n == 0:
		return "default"
	case n < 0:
		return "none"
	}
	return fmt.Sprint(n)
}

func enumText(v fmt.Stringer, zero bool) string {
	if zero {
		return "default"
	}
	return v.String()
}

// groupText formats a group as {key=value ...}, a nested group (or a
// LogValuer's) in braces too.
func groupText(v slog.Value) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, a := range v.Group() {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(a.Key)
		b.WriteByte('=')
		if v := a.Value.Resolve(); v.Kind() == slog.KindGroup {
			b.WriteString(groupText(v))
		} else {
			fmt.Fprintf(&b, "%q", v.String())
		}
	}
	b.WriteByte('}')
	return b.String()
}

// MetricsExporter names a metrics exporter that MetricsConfig.Exporters can
// ask for, as TracesExporter and LogsExporter do for spans and log records.
type MetricsExporter int

// The metrics exporters of OTEL_METRICS_EXPORTER.
const (
	// MetricsUnknown is the zero value and is not a valid exporter.
	MetricsUnknown MetricsExporter = iota
	// MetricsPrometheus serves the metrics for pulling, on
	// MeterProvider.PrometheusHandler.
	MetricsPrometheus
	// MetricsOTLP pushes the metrics to an OTLP endpoint.
	MetricsOTLP
	// MetricsConsole writes the metrics as JSON to
	// MetricsConfig.ConsoleWriter; for debugging.
	MetricsConsole
)

// String returns the name OTEL_METRICS_EXPORTER uses for e.
func (e MetricsExporter) String() string {
	switch e {
	case MetricsPrometheus:
		return "prometheus"
	case MetricsOTLP:
		return "otlp"
	case MetricsConsole:
		return "console"
	default:
		return fmt.Sprintf("MetricsExporter(%d)", int(e))
	}
}

// Protocol is an OTLP transport.
type Protocol int

// The OTLP transports.
const (
	// ProtocolUnknown is the zero value: ProtocolHTTPProtobuf is used.
	ProtocolUnknown Protocol = iota
	// ProtocolGRPC is OTLP over gRPC.
	ProtocolGRPC
	// ProtocolHTTPProtobuf is OTLP over HTTP with protobuf bodies.
	ProtocolHTTPProtobuf
)

// String returns the name OTEL_EXPORTER_OTLP_PROTOCOL uses for p.
func (p Protocol) String() string {
	switch p {
	case ProtocolGRPC:
		return "grpc"
	case ProtocolHTTPProtobuf:
		return "http/protobuf"
	default:
		return "unknown"
	}
}

// Temporality is the OTLP aggregation temporality preference, as in
// OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE.
type Temporality int

// The temporality presets of the specification.
const (
	// TemporalityUnknown is the zero value: NewMeterProvider uses
	// TemporalityCumulative.
	TemporalityUnknown Temporality = iota
	// TemporalityCumulative reports every instrument cumulatively.
	TemporalityCumulative
	// TemporalityDelta reports counters, observable counters and histograms
	// as deltas, up-down counters cumulatively.
	TemporalityDelta
	// TemporalityLowMemory reports synchronous counters and histograms as
	// deltas, everything else cumulatively.
	TemporalityLowMemory
)

// String returns the preset's name.
func (t Temporality) String() string {
	switch t {
	case TemporalityCumulative:
		return "cumulative"
	case TemporalityDelta:
		return "delta"
	case TemporalityLowMemory:
		return "lowmemory"
	default:
		return "unknown"
	}
}

// ExemplarFilter selects which measurements may become exemplars.
type ExemplarFilter int

// The exemplar filters of OTEL_METRICS_EXEMPLAR_FILTER.
const (
	// ExemplarsUnknown is the zero value: NewMeterProvider uses ExemplarsOff.
	ExemplarsUnknown ExemplarFilter = iota
	// ExemplarsOff records no exemplars.
	ExemplarsOff
	// ExemplarsTraceBased keeps measurements made in a sampled span.
	ExemplarsTraceBased
	// ExemplarsOn keeps any measurement.
	ExemplarsOn
)

// String returns the filter's name in OTEL_METRICS_EXEMPLAR_FILTER.
func (f ExemplarFilter) String() string {
	switch f {
	case ExemplarsOff:
		return "always_off"
	case ExemplarsTraceBased:
		return "trace_based"
	case ExemplarsOn:
		return "always_on"
	default:
		return "unknown"
	}
}

// readers returns the exporters c asks for, with the default applied and
// duplicates removed.
func (c MetricsConfig) readers() []MetricsExporter {
	if c.Exporters == nil {
		exps := []MetricsExporter{MetricsPrometheus}
		if c.OTLP.Endpoint != "" || c.OTLP.BaseEndpoint != "" {
			exps = append(exps, MetricsOTLP)
		}
		return exps
	}
	return distinct(c.Exporters)
}

// distinct returns es without its duplicates, in order; nil when es is
// empty.
func distinct[E comparable](es []E) []E {
	var out []E
	for _, e := range es {
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out
}
