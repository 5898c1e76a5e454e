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
	"go.opentelemetry.io/otel/metric/embedded"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/vitalsgo/vitals/internal/buckets"
	"github.com/vitalsgo/vitals/internal/clock"
	"github.com/vitalsgo/vitals/internal/lifecycle"
	"github.com/vitalsgo/vitals/internal/ratelog"
)

// ScopeName is the instrumentation scope of the metrics this package records
// about itself.
const ScopeName = "github.com/vitalsgo/vitals/exporter"

// secondsBoundaries are the semantic conventions' duration buckets.
var secondsBoundaries = buckets.Seconds()

// SecondsBoundaries returns the explicit bucket boundaries, in seconds, that
// the semantic conventions advise for durations such as
// http.server.request.duration. A Provider gives them to every float64
// histogram with unit "s" whose instrument advises no boundaries of its own.
func SecondsBoundaries() []float64 { return buckets.Seconds() }

// ErrShutdown is returned by Provider.Shutdown when it was already called.
// It is the one value of every Vitals component (vitals.ErrShutdown).
var ErrShutdown = lifecycle.ErrShutdown

// Option configures New. Options are for what the environment cannot say:
// loggers, extra readers and views.
type Option interface {
	apply(options) options
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
	if o.logger == nil {
		o.logger = slog.Default()
	}
	return o
}

type optionFunc func(options) options

func (f optionFunc) apply(o options) options { return f(o) }

// WithLogger sets the logger for errors that have no caller, such as a
// background OTLP export that failed. Repeats of one error are logged at most
// once a minute, with a count of those held back. By default, slog.Default().
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(o options) options {
		o.logger = l
		return o
	})
}

// WithReader adds readers, such as the in-memory reader's SDKReaders, to
// the provider. Each reader costs one more aggregation per synchronous
// measurement of the instruments it keeps. By default, only the readers the
// Config asks for are added.
func WithReader(rs ...sdkmetric.Reader) Option {
	return optionFunc(func(o options) options {
		o.readers = append(o.readers, rs...)
		return o
	})
}

// WithPrometheusReaders makes /metrics serve what classic and native
// collect instead of readers of its own: classic aggregates every
// instrument with the default aggregations (explicit bucket histograms),
// native aggregates histograms only, as buckets.Exponential() (read only
// with Config.ExponentialHistograms). The caller registers them with
// WithReader, native first, and gives them the producers. vitals.Start
// passes the in-memory reader's (memory.Reader.ClassicReader and
// NativeReader), which hold the same aggregations: sharing them saves
// /metrics' own aggregation of every synchronous measurement. A nil classic
// is ignored. By default, /metrics has readers of its own.
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

// WithProducer registers p, a source of metrics that are aggregated
// elsewhere (such as instrument.RuntimeProducer's scheduler latency
// histogram), on every reader New builds: the Prometheus reader behind
// /metrics (with Config.ExponentialHistograms, the classic one only: a
// producer's data is aggregated already) and the OTLP and console push
// readers. Readers passed with WithReader are built by their owner and need
// the producer given to them there (memory.WithProducer for the in-memory
// reader). A nil p is ignored. By default, the readers have no producers.
func WithProducer(p sdkmetric.Producer) Option {
	return optionFunc(func(o options) options {
		if p != nil {
			o.producers = append(o.producers, p)
		}
		return o
	})
}

// withClock sets the clock of the error rate limiter; for tests.
func withClock(c clock.Clock) Option {
	return optionFunc(func(o options) options {
		o.clock = c
		return o
	})
}

// Provider is an OpenTelemetry metric.MeterProvider backed by one SDK
// MeterProvider and the readers its Config asks for. It is safe for
// concurrent use.
type Provider struct {
	embedded.MeterProvider

	sdk      *sdkmetric.MeterProvider
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

var _ metric.MeterProvider = (*Provider)(nil)

// New builds the MeterProvider cfg describes. It validates cfg completely
// before starting anything: on error nothing runs and nothing needs to be
// shut down. Push exporters never block recording: they run in the
// background, and their failures are counted (metric
// vitals.exporter.exports{outcome="failure"}) and logged at a bounded rate.
func New(ctx context.Context, cfg Config, opts ...Option) (*Provider, error) {
	o := newOptions(opts)
	if err := cfg.validate(); err != nil {
		return nil, err
	}

	res, err := newResource(ctx, cfg)
	if err != nil {
		return nil, err
	}

	p := &Provider{
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
	for _, kind := range cfg.readers() {
		switch kind {
		case KindPrometheus:
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
		case KindOTLP:
			exp, err := newOTLPExporter(ctx, cfg.OTLP, selector)
			if err != nil {
				cleanup()
				return nil, err
			}
			built = append(built, p.newPeriodicReader(exp, kind, cfg, readerOpts))
		case KindConsole:
			w := cfg.ConsoleWriter
			if w == nil {
				w = os.Stdout
			}
			exp, err := stdoutmetric.New(stdoutmetric.WithWriter(w), stdoutmetric.WithAggregationSelector(selector))
			if err != nil {
				cleanup()
				return nil, fmt.Errorf("console exporter: %w", err)
			}
			built = append(built, p.newPeriodicReader(exp, kind, cfg, readerOpts))
		}
	}
	for _, r := range built {
		sdkOpts = append(sdkOpts, sdkmetric.WithReader(r))
	}
	for _, r := range o.readers {
		sdkOpts = append(sdkOpts, sdkmetric.WithReader(r))
	}
	p.sdk = sdkmetric.NewMeterProvider(sdkOpts...)

	if err := p.observeExports(); err != nil {
		_ = p.sdk.Shutdown(context.WithoutCancel(ctx))
		return nil, err
	}
	return p, nil
}

func (p *Provider) newPeriodicReader(exp sdkmetric.Exporter, kind Kind, cfg Config, readerOpts []sdkmetric.ReaderOption) sdkmetric.Reader {
	pe := &pushExporter{Exporter: exp, kind: kind, resource: p.resource, failed: p.exportFailed}
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
func (p *Provider) exportFailed(kind Kind, err error) {
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
		p.errs.Handle(err, slog.String("exporter", kind.String()))
	}
}

// capture collects the export errors made until the returned function is
// called, which returns them.
func (p *Provider) capture() func() []error {
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
func (p *Provider) observeExports() error {
	if len(p.push) == 0 {
		return nil
	}
	m := p.sdk.Meter(ScopeName)
	exports, err := m.Int64ObservableCounter("vitals.exporter.exports",
		metric.WithUnit("{export}"),
		metric.WithDescription("Push exports attempted by the metric exporters, by outcome."))
	if err != nil {
		return fmt.Errorf("exporter: creating vitals.exporter.exports: %w", err)
	}
	type sets struct{ ok, failed metric.MeasurementOption }
	attrs := make([]sets, len(p.push))
	for i, pe := range p.push {
		attrs[i] = sets{
			ok:     metric.WithAttributes(exporterAttr.String(pe.kind.String()), outcomeAttr.String("success")),
			failed: metric.WithAttributes(exporterAttr.String(pe.kind.String()), outcomeAttr.String("failure")),
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
func (p *Provider) Meter(name string, opts ...metric.MeterOption) metric.Meter {
	return secondsMeter{p.sdk.Meter(name, opts...)}
}

// SDK returns the underlying SDK MeterProvider. Its Meter does not apply
// SecondsBoundaries(); prefer Provider.Meter.
func (p *Provider) SDK() *sdkmetric.MeterProvider { return p.sdk }

// Resource returns the resource every metric is reported with: on
// /metrics (target_info), over OTLP and to the console. Readers added with
// WithReader get the OTel SDK's resource, which is this one plus any
// OTEL_RESOURCE_ATTRIBUTES key listed in Config.DropResourceAttributes.
func (p *Provider) Resource() *resource.Resource { return p.resource }

// PrometheusHandler serves the metrics in the Prometheus text,
// OpenMetrics or protobuf format, as the scraper asks, gzip-compressed when
// it asks, and 503 once the Provider is shut down. With
// Config.ExponentialHistograms the protobuf format carries each histogram
// with both its classic buckets and a native histogram; the text formats
// are unchanged. It is nil when the Config has no Prometheus reader.
func (p *Provider) PrometheusHandler() http.Handler { return p.prom }

// ForceFlush pushes what has been recorded to the push exporters now. It
// returns the errors of the exports it made, and only those: it collects
// and exports itself rather than through the periodic readers' loops, so
// that a background export failing meanwhile is logged as usual, never
// returned to the caller of ForceFlush.
func (p *Provider) ForceFlush(ctx context.Context) error {
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
func (p *Provider) Shutdown(ctx context.Context) error {
	err := ErrShutdown
	p.shutdownOnce.Do(func() {
		// An export interrupted by the shutdown is not worth a log line.
		p.closing.Store(true)
		p.stopFlushes()
		done := p.capture()
		sdkErr := p.sdk.Shutdown(ctx)
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

// validate checks what ConfigFromEnv may not have seen: values set in code.
func (c Config) validate() error {
	var errs []error
	for _, k := range c.Exporters {
		if k < KindPrometheus || k > KindConsole {
			errs = append(errs, fmt.Errorf("exporter: unknown exporter kind %v", k))
		}
	}
	if slices.Contains(c.readers(), KindOTLP) {
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
// console) with Config.ExponentialHistograms: OTLP cannot carry a classic
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
