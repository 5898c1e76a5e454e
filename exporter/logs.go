package exporter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutlog"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/vitalsgo/vitals/internal/ratelog"
)

// The environment variables LogsConfigFromEnv reads, besides the generic
// OTLP ones, which the logs-specific ones win over.
const (
	EnvLogsExporter    = "OTEL_LOGS_EXPORTER"
	EnvLogsEndpoint    = "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"
	EnvLogsProtocol    = "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL"
	EnvLogsHeaders     = "OTEL_EXPORTER_OTLP_LOGS_HEADERS"
	EnvLogsTimeout     = "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT"
	EnvLogsInsecure    = "OTEL_EXPORTER_OTLP_LOGS_INSECURE"
	EnvLogsCompression = "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION"
	// The batch log record processor's settings, as OTEL_BSP_* for spans.
	EnvBLRPScheduleDelay  = "OTEL_BLRP_SCHEDULE_DELAY"
	EnvBLRPExportTimeout  = "OTEL_BLRP_EXPORT_TIMEOUT"
	EnvBLRPMaxQueueSize   = "OTEL_BLRP_MAX_QUEUE_SIZE"
	EnvBLRPMaxExportBatch = "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE"
)

// LogsExporter names a log record exporter that LogsConfig.Exporters can
// ask for.
type LogsExporter int

// The log exporters of OTEL_LOGS_EXPORTER.
const (
	// LogsUnknown is the zero value and is not a valid exporter.
	LogsUnknown LogsExporter = iota
	// LogsOTLP also pushes the records over OTLP.
	LogsOTLP
	// LogsConsole also writes the records to LogsConfig.ConsoleWriter as
	// JSON.
	LogsConsole
)

// String returns the name OTEL_LOGS_EXPORTER uses for e.
func (e LogsExporter) String() string {
	switch e {
	case LogsOTLP:
		return "otlp"
	case LogsConsole:
		return "console"
	default:
		return fmt.Sprintf("LogsExporter(%d)", int(e))
	}
}

// LogsConfig is what NewLoggerProvider builds. The zero value sends no
// records.
type LogsConfig struct {
	// Exporters lists where records go besides the service's own slog
	// handler, each exporter with a batch log record processor of its own;
	// a duplicate counts once. Nil means the default, none, unlike the
	// specification's (otlp): a service has its log pipeline already, and
	// log records carry more than metrics and spans do, so they leave the
	// process only when asked. An empty, non-nil slice means none too
	// (OTEL_LOGS_EXPORTER=none).
	Exporters []LogsExporter
	// OTLP is the OTLP exporter's configuration, as for metrics:
	// BaseEndpoint gets /v1/logs for OTLP/HTTP. Temporality is not used.
	OTLP OTLP
	// Batch configures the batch log record processor; zero fields keep
	// the SDK's defaults (1 s, 30 s, 2048, 512).
	Batch BatchConfig
	// ConsoleWriter receives the records of LogsConsole. By default,
	// os.Stdout.
	ConsoleWriter io.Writer
}

// Enabled reports whether cfg sends records anywhere: Exporters names an
// exporter.
func (cfg LogsConfig) Enabled() bool { return len(cfg.Exporters) > 0 }

// LogValue describes cfg for log/slog without its secrets, as
// MetricsConfig.LogValue does (see OTLP.LogValue).
func (cfg LogsConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("exporters", exportersText(cfg.Exporters)),
		slog.Any("otlp", cfg.OTLP),
		slog.Attr{Key: "batch", Value: batchValue(cfg.Batch)},
	)
}

// String formats cfg as its LogValue does, so that fmt's %v and %s hide
// the same secrets.
func (cfg LogsConfig) String() string { return groupText(cfg.LogValue()) }

// GoString formats cfg as Go syntax for fmt's %#v, with OTLP as
// OTLP.GoString hides it.
func (cfg LogsConfig) GoString() string {
	type fields LogsConfig // without methods; its OTLP field keeps them
	return goSyntax("exporter.LogsConfig", fields(cfg))
}

// Format makes every fmt verb hide the secrets: %#v prints GoString, any
// other verb String.
func (cfg LogsConfig) Format(f fmt.State, verb rune) { format(f, verb, cfg) }

// LogsConfigFromEnv reads OTEL_LOGS_EXPORTER, the OTLP variables (the
// logs-specific ones win over the generic ones) and OTEL_BLRP_*. As
// MetricsConfigFromEnv, every invalid variable is reported, joined into one error
// of *EnvError values naming it. Unlike the specification's default (otlp), records are sent
// only when OTEL_LOGS_EXPORTER names an exporter (see LogsConfig.Exporters).
func LogsConfigFromEnv() (LogsConfig, error) {
	return logsConfigFromLookup(os.LookupEnv)
}

func logsConfigFromLookup(lookup func(string) (string, bool)) (LogsConfig, error) {
	r := &envReader{lookup: lookup}
	var cfg LogsConfig
	if v, ok := r.get(EnvLogsExporter); ok {
		exps, err := parseExporters(v, LogsOTLP, LogsConsole)
		if err != nil {
			r.fail(EnvLogsExporter, v, err)
		}
		cfg.Exporters = exps
	}
	r.otlp(&cfg.OTLP, EnvLogsEndpoint, EnvLogsProtocol, EnvLogsHeaders, EnvLogsTimeout, EnvLogsInsecure, EnvLogsCompression)
	r.batch(&cfg.Batch, EnvBLRPScheduleDelay, EnvBLRPExportTimeout, EnvBLRPMaxQueueSize, EnvBLRPMaxExportBatch)
	return cfg, errors.Join(r.errs...)
}

// exportTimeout is the bound of one export, retries included:
// DefaultOTLPTimeout by default, noLimit for none.
func (o OTLP) exportTimeout() time.Duration {
	switch {
	case o.Timeout == 0:
		return DefaultOTLPTimeout
	case o.Timeout < 0:
		return noLimit
	}
	return o.Timeout
}

// resolve returns what an OTLP exporter of signal (traces, logs) needs: the
// endpoint, the timeout of one export (DefaultOTLPTimeout by default,
// noLimit for none) and the headers (never nil).
func (o OTLP) resolve(signal string) (endpoint, time.Duration, map[string]string, error) {
	raw := o.endpointFor(signal)
	ep, err := resolveEndpoint(raw, o.protocol(), o.Insecure)
	if err != nil {
		return endpoint{}, 0, nil, fmt.Errorf("otlp endpoint %q: %w", redactURL(raw), err)
	}
	timeout := o.exportTimeout()
	headers := o.Headers
	if headers == nil {
		headers = map[string]string{}
	}
	return ep, timeout, headers, nil
}

// LoggerProvider is the SDK logger provider NewLoggerProvider builds. Its
// Shutdown returns within its context's deadline even when the collector
// hangs, as TracerProvider's does.
type LoggerProvider struct {
	*sdklog.LoggerProvider
	abort context.CancelFunc
	done  atomic.Bool // Shutdown was called
}

// Shutdown flushes the records still queued and stops the provider, within
// ctx: when ctx ends first, the export in progress is cancelled. A second
// call returns ErrShutdown. On the nil provider NewLoggerProvider returns
// when logs are off, it does nothing.
func (l *LoggerProvider) Shutdown(ctx context.Context) error {
	if l == nil {
		return nil
	}
	if l.done.Swap(true) {
		return ErrShutdown
	}
	stop := context.AfterFunc(ctx, l.abort)
	defer stop()
	err := l.LoggerProvider.Shutdown(ctx)
	l.abort()
	return err
}

// NewLoggerProvider builds the logger provider cfg describes over res (the
// metrics' resource, MeterProvider.Resource), with a batch log record
// processor per exporter, or returns nil when cfg sends none. Every setting
// is passed to the exporter explicitly; each export, retries included, is
// bounded by the OTLP timeout. A failed export's records are dropped, that
// exporter's next batches too for a while, and the failure logged as the
// metrics' are (at most once a minute per distinct error, to WithLogger's
// logger), never handed to the global OTel error handler. The caller shuts
// it down.
func NewLoggerProvider(ctx context.Context, cfg LogsConfig, res *resource.Resource, opts ...SignalOption) (*LoggerProvider, error) {
	if !cfg.Enabled() {
		return nil, nil
	}
	o := newSignalOptions(opts)
	var exps []*boundedLogExporter
	life, abort := context.WithCancel(context.Background())
	errs := ratelog.New(o.logger, "vitals: logs export failed", 0, o.clock)
	for _, e := range distinct(cfg.Exporters) {
		inner, err := newLogExporter(ctx, cfg, e)
		if err != nil {
			abort()
			for _, exp := range exps {
				_ = exp.Exporter.Shutdown(context.WithoutCancel(ctx))
			}
			return nil, fmt.Errorf("logs: %w", err)
		}
		exps = append(exps, &boundedLogExporter{Exporter: inner, name: e, timeout: cfg.OTLP.exportTimeout(), life: life,
			errs: errs, backoff: exportBackoff{clock: o.clock}})
	}
	var bopts []sdklog.BatchProcessorOption
	b := cfg.Batch
	if b.ScheduleDelay > 0 {
		bopts = append(bopts, sdklog.WithExportInterval(b.ScheduleDelay))
	}
	if b.ExportTimeout > 0 {
		bopts = append(bopts, sdklog.WithExportTimeout(b.ExportTimeout))
	}
	if b.MaxQueueSize > 0 {
		bopts = append(bopts, sdklog.WithMaxQueueSize(b.MaxQueueSize))
	}
	if b.MaxExportBatchSize > 0 {
		bopts = append(bopts, sdklog.WithExportMaxBatchSize(b.MaxExportBatchSize))
	}
	lopts := []sdklog.LoggerProviderOption{sdklog.WithResource(res)}
	for _, exp := range exps {
		lopts = append(lopts, sdklog.WithProcessor(sdklog.NewBatchProcessor(exp, bopts...)))
	}
	return &LoggerProvider{LoggerProvider: sdklog.NewLoggerProvider(lopts...), abort: abort}, nil
}

// boundedLogExporter bounds each export and handles its failure as
// boundedSpanExporter does.
type boundedLogExporter struct {
	sdklog.Exporter
	name    LogsExporter // for the log line
	timeout time.Duration
	life    context.Context
	errs    *ratelog.Limiter
	backoff exportBackoff
}

func (b *boundedLogExporter) Export(ctx context.Context, records []sdklog.Record) error {
	if !b.backoff.allow() {
		return nil // dropped: the collector failed the last attempt (exportBackoff)
	}
	ctx, cancel := boundExport(ctx, b.timeout, b.life)
	defer cancel()
	err := b.Exporter.Export(ctx, records)
	if wait := b.backoff.done(err); err != nil {
		b.errs.Handle(err, slog.String("exporter", b.name.String()), slog.Int("records", len(records)), slog.Duration("next_attempt_in", wait))
	}
	return nil
}

// newLogExporter builds the log exporter e of cfg.
func newLogExporter(ctx context.Context, cfg LogsConfig, e LogsExporter) (sdklog.Exporter, error) {
	switch e {
	case LogsConsole:
		w := cfg.ConsoleWriter
		if w == nil {
			w = os.Stdout
		}
		return stdoutlog.New(stdoutlog.WithWriter(w))
	case LogsOTLP:
	default:
		return nil, fmt.Errorf("unknown exporter %v", e)
	}
	o := cfg.OTLP
	p := o.protocol()
	ep, timeout, headers, err := o.resolve("logs")
	if err != nil {
		return nil, err
	}
	switch p {
	case ProtocolGRPC:
		opts := []otlploggrpc.Option{
			otlploggrpc.WithEndpointURL(ep.grpcURL()),
			otlploggrpc.WithTimeout(timeout),
			otlploggrpc.WithHeaders(headers),
		}
		if o.Compression == "gzip" {
			opts = append(opts, otlploggrpc.WithCompressor("gzip"))
		}
		return otlploggrpc.New(ctx, opts...)
	case ProtocolHTTPProtobuf:
		compression := otlploghttp.NoCompression
		if o.Compression == "gzip" {
			compression = otlploghttp.GzipCompression
		}
		return otlploghttp.New(ctx,
			otlploghttp.WithEndpointURL(ep.url),
			otlploghttp.WithTimeout(timeout),
			otlploghttp.WithHeaders(headers),
			otlploghttp.WithCompression(compression),
		)
	default:
		return nil, fmt.Errorf("otlp protocol %v: want grpc or http/protobuf", p)
	}
}
