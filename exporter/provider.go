package exporter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/vitalsgo/vitals/clock"
	"github.com/vitalsgo/vitals/internal/buckets"
	"github.com/vitalsgo/vitals/internal/lifecycle"
	"github.com/vitalsgo/vitals/internal/ratelog"
)

// ScopeName is the instrumentation scope of the metrics this package records
// about itself.
const ScopeName = "github.com/vitalsgo/vitals/exporter"

// MetricExports counts the push exports of the metric exporters, by
// exporter and outcome (success or failure).
const MetricExports = "vitals.exporter.exports"

// secondsBoundaries are the semantic conventions' duration buckets.
var secondsBoundaries = buckets.Seconds()

// SecondsBoundaries returns the explicit bucket boundaries, in seconds, that
// the semantic conventions advise for durations such as
// http.server.request.duration. A MeterProvider gives them to every float64
// histogram with unit "s" whose instrument advises no boundaries of its own.
func SecondsBoundaries() []float64 { return buckets.Seconds() }

// ErrShutdown is returned by the Shutdown of MeterProvider, TracerProvider
// and LoggerProvider when it was already called.
// It is the one value of every Vitals component (vitals.ErrShutdown).
var ErrShutdown = lifecycle.ErrShutdown

// Option configures NewMeterProvider. Options are for what the environment
// cannot say: loggers, extra readers and views.
type Option interface {
	apply(options) options
}

// SignalOption configures NewTracerProvider and NewLoggerProvider. The
// metric options (WithReader, WithView, WithProducer, WithPrometheusReaders)
// have nothing to act on there, so they are not SignalOptions: passing one
// does not compile rather than being ignored.
type SignalOption interface {
	applySignal(options) options
}

// ProviderOption configures every provider this package builds: it is both
// an Option and a SignalOption. WithLogger returns one.
type ProviderOption interface {
	Option
	SignalOption
}

type options struct {
	logger                  *slog.Logger
	readers                 []sdkmetric.Reader
	views                   []sdkmetric.View
	producers               []sdkmetric.Producer
	clock                   clock.Clock
	promClassic, promNative sdkmetric.Reader
}

// newOptions applies opts to the defaults.
func newOptions(opts []Option) options {
	var o options
	for _, opt := range opts {
		o = opt.apply(o)
	}
	return o.withDefaults()
}

// newSignalOptions applies the options of NewTracerProvider or
// NewLoggerProvider to the defaults.
func newSignalOptions(opts []SignalOption) options {
	var o options
	for _, opt := range opts {
		o = opt.applySignal(o)
	}
	return o.withDefaults()
}

func (o options) withDefaults() options {
	if o.logger == nil {
		o.logger = slog.Default()
	}
	return o
}

// optionFunc is an Option only: a SignalOption it is not.
type optionFunc func(options) options

func (f optionFunc) apply(o options) options { return f(o) }

// providerOptionFunc is a ProviderOption.
type providerOptionFunc func(options) options

func (f providerOptionFunc) apply(o options) options       { return f(o) }
func (f providerOptionFunc) applySignal(o options) options { return f(o) }

// WithLogger sets the logger for errors that have no caller, such as a
// background OTLP export that failed. Repeats of one error are logged at most
// once a minute, with a count of those held back. It configures every
// provider. By default, slog.Default().
func WithLogger(l *slog.Logger) ProviderOption {
	return providerOptionFunc(func(o options) options {
		o.logger = l
		return o
	})
}

// WithReader adds readers, such as the in-memory reader's SDKReaders, to
// the provider. Each reader costs one more aggregation per synchronous
// measurement of the instruments it keeps. By default, only the readers the
// MetricsConfig asks for are added.
func WithReader(rs ...sdkmetric.Reader) Option {
	return optionFunc(func(o options) options {
		o.readers = append(o.readers, rs...)
		return o
	})
}

// WithPrometheusReaders makes /metrics serve what classic and native
// collect instead of readers of its own, which saves aggregating every
// measurement once more (see "Prometheus" in the package doc for what they
// must aggregate). The caller registers them with WithReader, native first.
// A nil classic is ignored. By default, /metrics has readers of its own.
func WithPrometheusReaders(classic, native sdkmetric.Reader) Option {
	return optionFunc(func(o options) options {
		if classic != nil {
			o.promClassic, o.promNative = classic, native
		}
		return o
	})
}

// WithView adds views to the provider. By default, there are none.
func WithView(views ...sdkmetric.View) Option {
	return optionFunc(func(o options) options {
		o.views = append(o.views, views...)
		return o
	})
}

// WithProducer registers p, a source of metrics aggregated elsewhere (such
// as instrument.RuntimeProducer's scheduler latency histogram), on every
// reader NewMeterProvider builds: Prometheus (see "Exponential histograms"
// in the package doc), OTLP and console. Readers passed with WithReader
// need it from their owner (memory.WithProducer for the in-memory reader).
// A nil p is ignored. By default, the readers have no producers.
func WithProducer(p sdkmetric.Producer) Option {
	return optionFunc(func(o options) options {
		if p != nil {
			o.producers = append(o.producers, p)
		}
		return o
	})
}

// withClock sets the clock of the error rate limiter; for tests.
func withClock(c clock.Clock) ProviderOption {
	return providerOptionFunc(func(o options) options {
		o.clock = c
		return o
	})
}

// MeterProvider is the SDK meter provider NewMeterProvider builds, with the
// readers its MetricsConfig asks for. Its Meter applies SecondsBoundaries(), which
// the embedded SDK provider's does not; its ForceFlush and Shutdown return
// export errors to their caller and return within ctx's deadline even when
// an endpoint hangs. It is safe for concurrent use.
type MeterProvider struct {
	*sdkmetric.MeterProvider

	resource *resource.Resource
	prom     http.Handler
	push     []*pushExporter
	errs     *ratelog.Limiter
	closing  atomic.Bool // Shutdown has begun
	// stopping is done once Shutdown begins: it cancels the exports of
	// ForceFlush calls still in flight, as the SDK cancels its readers'.
	stopping    context.Context
	stopFlushes context.CancelFunc

	sinksMu sync.Mutex
	sinks   []*errSink // callers of ForceFlush and Shutdown waiting now

	shutdownOnce sync.Once
}

var _ metric.MeterProvider = (*MeterProvider)(nil)

// NewMeterProvider builds the meter provider cfg describes. It validates cfg
// completely before starting anything: on error nothing runs and nothing
// needs to be shut down. Push exporters never block recording: they run in
// the background, and their failures are counted (metric
// vitals.exporter.exports{outcome="failed"}) and logged at a bounded rate.
func NewMeterProvider(ctx context.Context, cfg MetricsConfig, opts ...Option) (*MeterProvider, error) {
	o := newOptions(opts)
	if err := cfg.validate(); err != nil {
		return nil, err
	}

	res, err := newResource(ctx, cfg)
	if err != nil {
		return nil, err
	}

	p := &MeterProvider{
		resource: res,
		errs:     ratelog.New(o.logger, "vitals: metrics export failed", 0, o.clock),
	}
	p.stopping, p.stopFlushes = context.WithCancel(context.Background())

	// selector is the push readers' aggregation; /metrics has its own.
	selector := sdkmetric.DefaultAggregationSelector
	if cfg.ExponentialHistograms {
		selector = exponentialSelector
	}

	sdkOpts := []sdkmetric.Option{
		sdkmetric.WithResource(res),
		sdkmetric.WithExemplarFilter(exemplarFilter(cfg.Exemplars)),
		sdkmetric.WithCardinalityLimit(cardinalityLimit(cfg.CardinalityLimit)),
	}
	switch {
	case cfg.Exemplars == ExemplarsOn || cfg.Exemplars == ExemplarsTraceBased:
		// Reservoirs bounded per series (exemplarReservoirs).
		sdkOpts = append(sdkOpts, sdkmetric.WithView(withExemplarReservoirs(o.views)...))
	case len(o.views) > 0:
		sdkOpts = append(sdkOpts, sdkmetric.WithView(o.views...))
	}

	var readerOpts []sdkmetric.ReaderOption
	for _, pr := range o.producers {
		readerOpts = append(readerOpts, sdkmetric.WithProducer(pr))
	}

	var built []sdkmetric.Reader
	cleanup := func() {
		for _, r := range built {
			_ = r.Shutdown(context.WithoutCancel(ctx))
		}
	}
	for _, exporter := range cfg.readers() {
		switch exporter {
		case MetricsPrometheus:
			if o.promClassic != nil {
				// Readers the caller registers (WithPrometheusReaders).
				var native sdkmetric.Reader
				if cfg.ExponentialHistograms {
					native = o.promNative
				}
				p.prom = newPrometheusHandler(resourceReader{o.promClassic, res}, native, p.errs, &p.closing)
				continue
			}
			// /metrics keeps classic histograms; with ExponentialHistograms
			// a second reader adds their native form (newPrometheusHandler).
			mOpts := []sdkmetric.ManualReaderOption{sdkmetric.WithAggregationSelector(sdkmetric.DefaultAggregationSelector)}
			for _, ro := range readerOpts {
				mOpts = append(mOpts, ro)
			}
			r := sdkmetric.NewManualReader(mOpts...)
			var native sdkmetric.Reader
			if cfg.ExponentialHistograms {
				// No producers: what they produce is already aggregated
				// (the runtime producer's histogram has explicit buckets),
				// and the classic reader reports it. Registered before
				// r, as promconv.NewNativeGatherer requires.
				native = sdkmetric.NewManualReader(sdkmetric.WithAggregationSelector(buckets.NativeSelector))
				built = append(built, native)
			}
			p.prom = newPrometheusHandler(resourceReader{r, res}, native, p.errs, &p.closing)
			built = append(built, r)
		case MetricsOTLP:
			exp, err := newOTLPExporter(ctx, cfg.OTLP, selector)
			if err != nil {
				cleanup()
				return nil, err
			}
			built = append(built, p.newPeriodicReader(exp, exporter, cfg, readerOpts))
		case MetricsConsole:
			w := cfg.ConsoleWriter
			if w == nil {
				w = os.Stdout
			}
			exp, err := stdoutmetric.New(stdoutmetric.WithWriter(w), stdoutmetric.WithAggregationSelector(selector))
			if err != nil {
				cleanup()
				return nil, fmt.Errorf("console exporter: %w", err)
			}
			built = append(built, p.newPeriodicReader(exp, exporter, cfg, readerOpts))
		}
	}
	for _, r := range built {
		sdkOpts = append(sdkOpts, sdkmetric.WithReader(r))
	}
	for _, r := range o.readers {
		sdkOpts = append(sdkOpts, sdkmetric.WithReader(r))
	}
	p.MeterProvider = sdkmetric.NewMeterProvider(sdkOpts...)

	if err := p.observeExports(); err != nil {
		_ = p.MeterProvider.Shutdown(context.WithoutCancel(ctx))
		return nil, err
	}
	return p, nil
}

func (p *MeterProvider) newPeriodicReader(exp sdkmetric.Exporter, exporter MetricsExporter, cfg MetricsConfig, readerOpts []sdkmetric.ReaderOption) sdkmetric.Reader {
	pe := &pushExporter{Exporter: exp, name: exporter, resource: p.resource, failed: p.exportFailed}
	p.push = append(p.push, pe)
	interval, timeout := cfg.ExportInterval, cfg.ExportTimeout
	if interval <= 0 {
		interval = DefaultExportInterval
	}
	switch {
	case timeout == 0:
		timeout = DefaultExportTimeout
	case timeout < 0:
		timeout = noLimit
	}
	pOpts := []sdkmetric.PeriodicReaderOption{sdkmetric.WithInterval(interval), sdkmetric.WithTimeout(timeout)}
	for _, ro := range readerOpts {
		pOpts = append(pOpts, ro)
	}
	pe.reader, pe.timeout = sdkmetric.NewPeriodicReader(pe, pOpts...), timeout
	return pe.reader
}

// exportFailed hands a failed export to the callers of ForceFlush or
// Shutdown waiting now, or else logs it at a bounded rate. An export that
// fails once Shutdown has begun (interrupted by it) is not logged.
func (p *MeterProvider) exportFailed(exporter MetricsExporter, err error) {
	p.sinksMu.Lock()
	if len(p.sinks) > 0 {
		for _, s := range p.sinks {
			s.errs = append(s.errs, err)
		}
		p.sinksMu.Unlock()
		return
	}
	p.sinksMu.Unlock()
	if !p.closing.Load() {
		p.errs.Handle(err, slog.String("exporter", exporter.String()))
	}
}

// capture collects the export errors made until the returned function is
// called, which returns them.
func (p *MeterProvider) capture() func() []error {
	s := &errSink{}
	p.sinksMu.Lock()
	p.sinks = append(p.sinks, s)
	p.sinksMu.Unlock()
	return func() []error {
		p.sinksMu.Lock()
		defer p.sinksMu.Unlock()
		p.sinks = slices.DeleteFunc(p.sinks, func(x *errSink) bool { return x == s })
		return s.errs
	}
}

// observeExports registers the export outcome counters, read from the push
// exporters' atomics at collection time.
func (p *MeterProvider) observeExports() error {
	if len(p.push) == 0 {
		return nil
	}
	m := p.MeterProvider.Meter(ScopeName)
	exports, err := m.Int64ObservableCounter(MetricExports,
		metric.WithUnit("{export}"),
		metric.WithDescription("Push exports attempted by the metric exporters, by outcome."))
	if err != nil {
		return fmt.Errorf("exporter: creating %s: %w", MetricExports, err)
	}
	type sets struct{ ok, failed metric.MeasurementOption }
	attrs := make([]sets, len(p.push))
	for i, pe := range p.push {
		attrs[i] = sets{
			ok:     metric.WithAttributes(exporterAttr.String(pe.name.String()), outcomeAttr.String("sent")),
			failed: metric.WithAttributes(exporterAttr.String(pe.name.String()), outcomeAttr.String("failed")),
		}
	}
	_, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for i, pe := range p.push {
			o.ObserveInt64(exports, pe.successes.Load(), attrs[i].ok)
			o.ObserveInt64(exports, pe.failures.Load(), attrs[i].failed)
		}
		return nil
	}, exports)
	if err != nil {
		return fmt.Errorf("exporter: registering the export callback: %w", err)
	}
	return nil
}

// Meter returns a Meter for the named instrumentation scope. Float64
// histograms with unit "s" that advise no bucket boundaries get
// SecondsBoundaries() instead of the SDK's millisecond-scale defaults.
func (p *MeterProvider) Meter(name string, opts ...metric.MeterOption) metric.Meter {
	return secondsMeter{p.MeterProvider.Meter(name, opts...)}
}

// Resource returns the resource every metric is reported with: on
// /metrics (target_info), over OTLP and to the console. Readers added with
// WithReader get the OTel SDK's resource, which is this one plus any
// OTEL_RESOURCE_ATTRIBUTES key listed in MetricsConfig.DropResourceAttributes.
func (p *MeterProvider) Resource() *resource.Resource { return p.resource }

// PrometheusHandler serves the metrics in the Prometheus text,
// OpenMetrics or protobuf format, as the scraper asks, gzip-compressed when
// it asks, and 503 once the MeterProvider is shut down. With
// MetricsConfig.ExponentialHistograms the protobuf format carries each histogram
// with both its classic buckets and a native histogram; the text formats
// are unchanged. It is nil when the MetricsConfig has no Prometheus reader.
func (p *MeterProvider) PrometheusHandler() http.Handler { return p.prom }

// ForceFlush pushes what has been recorded to the push exporters now. It
// returns the errors of the exports it made, and only those: it collects
// and exports itself rather than through the periodic readers' loops, so
// that a background export failing meanwhile is logged as usual, never
// returned to the caller of ForceFlush.
func (p *MeterProvider) ForceFlush(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(p.stopping, cancel)()
	errs := make([]error, 0, len(p.push))
	for _, e := range p.push {
		errs = append(errs, e.flush(ctx))
	}
	return errors.Join(errs...)
}

// Shutdown flushes the push exporters one last time and stops every reader;
// /metrics then answers 503. It returns within ctx's deadline even when an
// endpoint hangs, with the errors of the final exports. Calls after the first
// return ErrShutdown.
func (p *MeterProvider) Shutdown(ctx context.Context) error {
	err := ErrShutdown
	p.shutdownOnce.Do(func() {
		// An export interrupted by the shutdown is not worth a log line.
		p.closing.Store(true)
		p.stopFlushes()
		done := p.capture()
		sdkErr := p.MeterProvider.Shutdown(ctx)
		exportErrs := done()
		if ctx.Err() == nil {
			// A background export in flight when the periodic reader
			// stopped its loop was cancelled by the SDK, not by ctx: it is
			// not a final export, and its error is not returned.
			exportErrs = slices.DeleteFunc(exportErrs, func(e error) bool { return errors.Is(e, context.Canceled) })
		}
		err = errors.Join(append([]error{sdkErr}, exportErrs...)...)
	})
	return err
}

// validate checks what MetricsConfigFromEnv may not have seen: values set in code.
func (c MetricsConfig) validate() error {
	var errs []error
	for _, e := range c.Exporters {
		if e < MetricsPrometheus || e > MetricsConsole {
			errs = append(errs, fmt.Errorf("exporter: unknown metrics exporter %v", e))
		}
	}
	if slices.Contains(c.readers(), MetricsOTLP) {
		if c.OTLP.Protocol < ProtocolUnknown || c.OTLP.Protocol > ProtocolHTTPProtobuf {
			errs = append(errs, fmt.Errorf("exporter: unknown OTLP protocol %d", int(c.OTLP.Protocol)))
		} else {
			for _, f := range []struct{ name, raw string }{{"Endpoint", c.OTLP.Endpoint}, {"BaseEndpoint", c.OTLP.BaseEndpoint}} {
				if f.raw == "" {
					continue
				}
				if _, err := resolveEndpoint(f.raw, c.OTLP.Protocol, c.OTLP.Insecure); err != nil {
					errs = append(errs, fmt.Errorf("exporter: OTLP.%s %q: %w", f.name, redactURL(f.raw), err))
				}
			}
		}
		for k := range c.OTLP.Headers {
			if !validHeaderName(k) {
				errs = append(errs, fmt.Errorf("exporter: OTLP header name %q is not a valid header name", k))
			}
		}
		if c.OTLP.Compression != "" && c.OTLP.Compression != "gzip" {
			errs = append(errs, fmt.Errorf("exporter: OTLP compression %q: want \"gzip\" or \"\"", c.OTLP.Compression))
		}
	}
	if c.ExportInterval < 0 {
		errs = append(errs, fmt.Errorf("exporter: negative export interval %v", c.ExportInterval))
	}
	if c.ExportTimeout < 0 {
		errs = append(errs, fmt.Errorf("exporter: negative export timeout %v", c.ExportTimeout))
	}
	for _, k := range c.DropResourceAttributes {
		switch k {
		case semconv.ServiceNameKey:
			errs = append(errs, fmt.Errorf("exporter: DropResourceAttributes: %s cannot be dropped: it names the service every metric comes from", k))
		case "":
			errs = append(errs, errors.New("exporter: DropResourceAttributes: empty key"))
		}
	}
	if c.ServiceName == "" {
		for _, kv := range c.ResourceAttributes {
			if kv.Key == "service.name" && kv.Value.AsString() == "" {
				errs = append(errs, errors.New("exporter: empty service.name resource attribute"))
			}
		}
	}
	return errors.Join(errs...)
}

var (
	exporterAttr = attribute.Key("exporter")
	outcomeAttr  = attribute.Key("outcome")
)

func exemplarFilter(f ExemplarFilter) exemplar.Filter {
	switch f {
	case ExemplarsOn:
		return exemplar.AlwaysOnFilter
	case ExemplarsTraceBased:
		return exemplar.TraceBasedFilter
	default:
		return exemplar.AlwaysOffFilter
	}
}

func cardinalityLimit(n int) int {
	switch {
	case n == 0:
		return DefaultCardinalityLimit
	case n < 0:
		return 0 // no limit
	default:
		return n
	}
}

// exponentialSelector is the aggregation of the push readers (OTLP,
// console) with MetricsConfig.ExponentialHistograms: OTLP cannot carry a classic
// and an exponential stream of one name, so histograms are exponential
// only.
func exponentialSelector(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
	if k == sdkmetric.InstrumentKindHistogram {
		return buckets.Exponential()
	}
	return sdkmetric.DefaultAggregationSelector(k)
}

// secondsMeter gives unadvised seconds histograms the semantic-convention
// boundaries. Everything else goes to the SDK meter unchanged.
type secondsMeter struct{ metric.Meter }

func (m secondsMeter) Float64Histogram(name string, opts ...metric.Float64HistogramOption) (metric.Float64Histogram, error) {
	cfg := metric.NewFloat64HistogramConfig(opts...)
	if cfg.Unit() == "s" && cfg.ExplicitBucketBoundaries() == nil {
		opts = append(opts[:len(opts):len(opts)], metric.WithExplicitBucketBoundaries(secondsBoundaries...))
	}
	return m.Meter.Float64Histogram(name, opts...)
}
