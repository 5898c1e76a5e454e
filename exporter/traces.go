package exporter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/vitalsgo/vitals/internal/ratelog"
)

// The environment variables TracesConfigFromEnv reads, besides the generic
// OTLP ones (EnvEndpoint, EnvProtocol, EnvHeaders, EnvTimeout, EnvInsecure,
// EnvCompression), which the traces-specific ones win over.
const (
	EnvTracesExporter    = "OTEL_TRACES_EXPORTER"
	EnvTracesEndpoint    = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvTracesProtocol    = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	EnvTracesHeaders     = "OTEL_EXPORTER_OTLP_TRACES_HEADERS"
	EnvTracesTimeout     = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"
	EnvTracesInsecure    = "OTEL_EXPORTER_OTLP_TRACES_INSECURE"
	EnvTracesCompression = "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION"
	EnvTracesSampler     = "OTEL_TRACES_SAMPLER"
	EnvTracesSamplerArg  = "OTEL_TRACES_SAMPLER_ARG"
	EnvBSPScheduleDelay  = "OTEL_BSP_SCHEDULE_DELAY"
	EnvBSPExportTimeout  = "OTEL_BSP_EXPORT_TIMEOUT"
	EnvBSPMaxQueueSize   = "OTEL_BSP_MAX_QUEUE_SIZE"
	EnvBSPMaxExportBatch = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"
)

// TracesExporter names a span exporter that TracesConfig.Exporters can ask
// for.
type TracesExporter int

// The trace exporters of OTEL_TRACES_EXPORTER.
const (
	// TracesUnknown is the zero value and is not a valid exporter.
	TracesUnknown TracesExporter = iota
	// TracesOTLP pushes the spans over OTLP.
	TracesOTLP
	// TracesConsole writes the spans to TracesConfig.ConsoleWriter, one
	// JSON object each, for a look during development.
	TracesConsole
)

// String returns the name OTEL_TRACES_EXPORTER uses for e.
func (e TracesExporter) String() string {
	switch e {
	case TracesOTLP:
		return "otlp"
	case TracesConsole:
		return "console"
	default:
		return fmt.Sprintf("TracesExporter(%d)", int(e))
	}
}

// TracesConfig is what NewTracerProvider builds: where spans go, which are
// sampled, and how they are batched. The zero value makes no spans.
type TracesConfig struct {
	// Exporters lists where spans go, each exporter with a batch span
	// processor of its own; a duplicate counts once. Nil means the
	// default: OTLP when OTLP.Endpoint or OTLP.BaseEndpoint is set, else
	// none. An empty, non-nil slice means none (OTEL_TRACES_EXPORTER=none).
	Exporters []TracesExporter
	// OTLP is the OTLP exporter's configuration, as for metrics:
	// BaseEndpoint gets /v1/traces for OTLP/HTTP. Temporality is not used.
	OTLP OTLP
	// Sampler decides which traces are recorded. By default,
	// ParentBased(AlwaysSample()), as the specification says.
	Sampler sdktrace.Sampler
	// SamplerName is the OTEL_TRACES_SAMPLER value Sampler came from, for
	// logs; empty for the default.
	SamplerName string
	// Batch configures the batch span processor; zero fields keep the
	// SDK's defaults (5 s, 30 s, 2048, 512).
	Batch BatchConfig
	// ConsoleWriter receives the spans of TracesConsole. By default,
	// os.Stdout.
	ConsoleWriter io.Writer
}

// BatchConfig is a batch processor's configuration: OTEL_BSP_* for spans,
// OTEL_BLRP_* for log records. A zero field keeps the SDK's default.
type BatchConfig struct {
	// ScheduleDelay is the time between two exports of what is queued.
	ScheduleDelay time.Duration
	// ExportTimeout bounds the export of one batch.
	ExportTimeout time.Duration
	// MaxQueueSize is the number of spans or records queued at most;
	// beyond it, they are dropped.
	MaxQueueSize int
	// MaxExportBatchSize is the number of spans or records exported at
	// most in one batch; it may not exceed MaxQueueSize.
	MaxExportBatchSize int
}

// Enabled reports whether cfg makes spans: Exporters names an exporter, or
// it is nil and an OTLP endpoint is set.
func (cfg TracesConfig) Enabled() bool { return len(cfg.exporters()) > 0 }

// exporters returns the exporters cfg asks for, with the default applied
// and duplicates removed.
func (cfg TracesConfig) exporters() []TracesExporter {
	if cfg.Exporters == nil {
		if cfg.OTLP.Endpoint != "" || cfg.OTLP.BaseEndpoint != "" {
			return []TracesExporter{TracesOTLP}
		}
		return nil
	}
	return distinct(cfg.Exporters)
}

// LogValue describes cfg for log/slog without its secrets, as
// MetricsConfig.LogValue does (see OTLP.LogValue).
func (cfg TracesConfig) LogValue() slog.Value {
	sampler := cfg.SamplerName
	if sampler == "" && cfg.Sampler != nil {
		sampler = cfg.Sampler.Description()
	}
	if sampler == "" {
		sampler = "default"
	}
	return slog.GroupValue(
		slog.String("exporters", exportersText(cfg.Exporters)),
		slog.Any("otlp", cfg.OTLP),
		slog.String("sampler", sampler),
		slog.Attr{Key: "batch", Value: batchValue(cfg.Batch)},
	)
}

// String formats cfg as its LogValue does, so that fmt's %v and %s hide
// the same secrets.
func (cfg TracesConfig) String() string { return groupText(cfg.LogValue()) }

// GoString formats cfg as Go syntax for fmt's %#v, with OTLP as
// OTLP.GoString hides it.
func (cfg TracesConfig) GoString() string {
	type fields TracesConfig // without methods; its OTLP field keeps them
	return goSyntax("exporter.TracesConfig", fields(cfg))
}

// Format makes every fmt verb hide the secrets: %#v prints GoString, any
// other verb String.
func (cfg TracesConfig) Format(f fmt.State, verb rune) { format(f, verb, cfg) }

// batchValue describes b for LogValue: a field left to the SDK (zero or
// negative) shows as "default".
func batchValue(b BatchConfig) slog.Value {
	text := func(set bool, v any) string {
		if !set {
			return "default"
		}
		return fmt.Sprint(v)
	}
	return slog.GroupValue(
		slog.String("schedule_delay", text(b.ScheduleDelay > 0, b.ScheduleDelay)),
		slog.String("export_timeout", text(b.ExportTimeout > 0, b.ExportTimeout)),
		slog.String("max_queue_size", text(b.MaxQueueSize > 0, b.MaxQueueSize)),
		slog.String("max_export_batch_size", text(b.MaxExportBatchSize > 0, b.MaxExportBatchSize)),
	)
}

// TracesConfigFromEnv reads OTEL_TRACES_EXPORTER, the OTLP variables (the
// traces-specific ones win over the generic ones), OTEL_TRACES_SAMPLER and
// its argument, and OTEL_BSP_*, with the specification's defaults. As
// MetricsConfigFromEnv, it refuses what the specification would ignore with a
// warning: every invalid variable is reported, joined into one error of
// *EnvError values naming it.
func TracesConfigFromEnv() (TracesConfig, error) {
	return tracesConfigFromLookup(os.LookupEnv)
}

func tracesConfigFromLookup(lookup func(string) (string, bool)) (TracesConfig, error) {
	r := &envReader{lookup: lookup}
	var cfg TracesConfig
	if v, ok := r.get(EnvTracesExporter); ok {
		exps, err := parseExporters(v, TracesOTLP, TracesConsole)
		if err != nil {
			r.fail(EnvTracesExporter, v, err)
		}
		cfg.Exporters = exps
	}
	r.otlp(&cfg.OTLP, EnvTracesEndpoint, EnvTracesProtocol, EnvTracesHeaders, EnvTracesTimeout, EnvTracesInsecure, EnvTracesCompression)
	cfg.Sampler, cfg.SamplerName = r.sampler()
	r.batch(&cfg.Batch, EnvBSPScheduleDelay, EnvBSPExportTimeout, EnvBSPMaxQueueSize, EnvBSPMaxExportBatch)
	return cfg, errors.Join(r.errs...)
}

// batch reads a batch processor's four variables (OTEL_BSP_* or
// OTEL_BLRP_*): the batch may not exceed the queue.
func (r *envReader) batch(dst *BatchConfig, delay, timeout, queue, maxBatch string) {
	r.millis(&dst.ScheduleDelay, false, delay)
	r.millis(&dst.ExportTimeout, false, timeout)
	r.count(&dst.MaxQueueSize, queue)
	r.count(&dst.MaxExportBatchSize, maxBatch)
	if q, b := dst.MaxQueueSize, dst.MaxExportBatchSize; q > 0 && b > q {
		r.fail(maxBatch, strconv.Itoa(b), fmt.Errorf("want at most %s (%d)", queue, q))
	}
}

// count reads a positive whole number up to a million.
func (r *envReader) count(dst *int, name string) {
	v, ok := r.get(name)
	if !ok {
		return
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 || n > 1_000_000 {
		r.fail(name, v, errors.New("want a positive whole number up to 1000000"))
		return
	}
	*dst = n
}

// sampler reads OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG: nil and ""
// when unset (the default, parentbased_always_on).
func (r *envReader) sampler() (sdktrace.Sampler, string) {
	name, ok := r.get(EnvTracesSampler)
	arg, hasArg := r.get(EnvTracesSamplerArg)
	if !ok {
		return nil, ""
	}
	name = strings.ToLower(name)
	ratio := func() (float64, bool) {
		if !hasArg {
			return 1, true
		}
		f, err := strconv.ParseFloat(arg, 64)
		if err != nil || f < 0 || f > 1 {
			r.fail(EnvTracesSamplerArg, arg, fmt.Errorf("want a probability from 0 to 1 for %s", name))
			return 0, false
		}
		return f, true
	}
	switch name {
	case "always_on":
		return sdktrace.AlwaysSample(), name
	case "always_off":
		return sdktrace.NeverSample(), name
	case "traceidratio":
		if f, ok := ratio(); ok {
			return sdktrace.TraceIDRatioBased(f), name
		}
	case "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), name
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), name
	case "parentbased_traceidratio":
		if f, ok := ratio(); ok {
			return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(f)), name
		}
	default:
		r.fail(EnvTracesSampler, name, errors.New(`want "always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off" or "parentbased_traceidratio"`))
	}
	return nil, ""
}

// TracerProvider is the SDK tracer provider NewTracerProvider builds. Its
// Shutdown returns within its context's deadline even when the collector
// hangs: the export still running then is abandoned, not left to its own
// timeout.
type TracerProvider struct {
	*sdktrace.TracerProvider
	abort context.CancelFunc // cancels every export, running or to come
	done  atomic.Bool        // Shutdown was called
}

// Shutdown flushes the spans still queued and stops the provider, within
// ctx: when ctx ends first, the export in progress is cancelled and the
// spans left are dropped. A second call returns ErrShutdown. On the nil
// provider NewTracerProvider returns when spans are off, it does nothing,
// so that defer tp.Shutdown(ctx) needs no check.
func (t *TracerProvider) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	if t.done.Swap(true) {
		return ErrShutdown
	}
	stop := context.AfterFunc(ctx, t.abort)
	defer stop()
	err := t.TracerProvider.Shutdown(ctx)
	t.abort()
	return err
}

// NewTracerProvider builds the tracer provider cfg describes over res (the
// metrics' resource, MeterProvider.Resource), with a batch span processor
// per exporter, or returns nil when cfg makes no spans (Enabled is false).
// Only cfg decides, never what the SDK or the OTel exporter would read from
// the environment. Each export is bounded by the OTLP timeout; a failed
// one's spans are dropped, that exporter's next batches too for a while,
// and the failure logged at a bounded rate (see "Failures" in the package
// doc). The caller shuts it down.
func NewTracerProvider(ctx context.Context, cfg TracesConfig, res *resource.Resource, opts ...SignalOption) (*TracerProvider, error) {
	if !cfg.Enabled() {
		return nil, nil
	}
	o := newSignalOptions(opts)
	var exps []*boundedSpanExporter
	life, abort := context.WithCancel(context.Background())
	errs := ratelog.New(o.logger, "vitals: traces export failed", 0, o.clock)
	for _, e := range cfg.exporters() {
		inner, err := newSpanExporter(ctx, cfg, e)
		if err != nil {
			abort()
			for _, exp := range exps {
				_ = exp.SpanExporter.Shutdown(context.WithoutCancel(ctx))
			}
			return nil, fmt.Errorf("traces: %w", err)
		}
		exps = append(exps, &boundedSpanExporter{SpanExporter: inner, name: e, timeout: cfg.OTLP.exportTimeout(), life: life,
			errs: errs, backoff: exportBackoff{clock: o.clock}})
	}
	var bopts []sdktrace.BatchSpanProcessorOption
	b := cfg.Batch
	if b.ScheduleDelay > 0 {
		bopts = append(bopts, sdktrace.WithBatchTimeout(b.ScheduleDelay))
	}
	if b.ExportTimeout > 0 {
		bopts = append(bopts, sdktrace.WithExportTimeout(b.ExportTimeout))
	}
	if b.MaxQueueSize > 0 {
		bopts = append(bopts, sdktrace.WithMaxQueueSize(b.MaxQueueSize))
	}
	if b.MaxExportBatchSize > 0 {
		bopts = append(bopts, sdktrace.WithMaxExportBatchSize(b.MaxExportBatchSize))
	}
	sampler := cfg.Sampler
	if sampler == nil {
		sampler = sdktrace.ParentBased(sdktrace.AlwaysSample())
	}
	topts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res), sdktrace.WithSampler(sampler)}
	for _, exp := range exps {
		topts = append(topts, sdktrace.WithBatcher(exp, bopts...))
	}
	return &TracerProvider{TracerProvider: sdktrace.NewTracerProvider(topts...), abort: abort}, nil
}

// boundedSpanExporter bounds each export, retries included, by timeout
// (the OTLP/HTTP exporter bounds each attempt only), and ends it when life
// ends (Shutdown's deadline passed). A failure is logged through errs, at
// a bounded rate, and not returned: the batch processor would only hand it
// to the global OTel error handler, which writes every one to stderr. After
// a failure, batches are dropped without an attempt for a while
// (exportBackoff).
type boundedSpanExporter struct {
	sdktrace.SpanExporter
	name    TracesExporter // for the log line
	timeout time.Duration
	life    context.Context
	errs    *ratelog.Limiter
	backoff exportBackoff
}

func (b *boundedSpanExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if !b.backoff.allow() {
		return nil // dropped: the collector failed the last attempt (exportBackoff)
	}
	ctx, cancel := boundExport(ctx, b.timeout, b.life)
	defer cancel()
	err := b.SpanExporter.ExportSpans(ctx, spans)
	if wait := b.backoff.done(err); err != nil {
		b.errs.Handle(err, slog.String("exporter", b.name.String()), slog.Int("spans", len(spans)), slog.Duration("next_attempt_in", wait))
	}
	return nil
}

// boundExport returns ctx bounded by timeout (none when it is noLimit or
// less) and cancelled when life ends.
func boundExport(ctx context.Context, timeout time.Duration, life context.Context) (context.Context, context.CancelFunc) {
	var cancel context.CancelFunc
	if timeout > 0 && timeout != noLimit {
		ctx, cancel = context.WithTimeout(ctx, timeout)
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}
	stop := context.AfterFunc(life, cancel)
	return ctx, func() { stop(); cancel() }
}

// newSpanExporter builds the span exporter e of cfg.
func newSpanExporter(ctx context.Context, cfg TracesConfig, e TracesExporter) (sdktrace.SpanExporter, error) {
	switch e {
	case TracesConsole:
		w := cfg.ConsoleWriter
		if w == nil {
			w = os.Stdout
		}
		return stdouttrace.New(stdouttrace.WithWriter(w))
	case TracesOTLP:
	default:
		return nil, fmt.Errorf("unknown exporter %v", e)
	}
	o := cfg.OTLP
	p := o.protocol()
	ep, timeout, headers, err := o.resolve("traces")
	if err != nil {
		return nil, err
	}
	switch p {
	case ProtocolGRPC:
		opts := []otlptracegrpc.Option{
			otlptracegrpc.WithEndpointURL(ep.grpcURL()),
			otlptracegrpc.WithTimeout(timeout),
			otlptracegrpc.WithHeaders(headers),
		}
		if o.Compression == "gzip" {
			opts = append(opts, otlptracegrpc.WithCompressor("gzip"))
		}
		return otlptracegrpc.New(ctx, opts...)
	case ProtocolHTTPProtobuf:
		compression := otlptracehttp.NoCompression
		if o.Compression == "gzip" {
			compression = otlptracehttp.GzipCompression
		}
		return otlptracehttp.New(ctx,
			otlptracehttp.WithEndpointURL(ep.url),
			otlptracehttp.WithTimeout(timeout),
			otlptracehttp.WithHeaders(headers),
			otlptracehttp.WithCompression(compression),
		)
	default:
		return nil, fmt.Errorf("otlp protocol %v: want grpc or http/protobuf", p)
	}
}
