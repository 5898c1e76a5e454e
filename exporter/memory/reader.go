package memory

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/vitalsgo/vitals/internal/buckets"
	"github.com/vitalsgo/vitals/internal/lifecycle"
	"github.com/vitalsgo/vitals/internal/promconv"
	"github.com/vitalsgo/vitals/internal/ratelog"
)

// ScopeName is the instrumentation scope of the metrics the reader records
// about itself.
const ScopeName = "github.com/vitalsgo/vitals/exporter/memory"

// Defaults of the options.
const (
	DefaultInterval      = 10 * time.Second // between collections (WithInterval)
	DefaultRetention     = 6 * time.Hour    // of samples (WithRetention)
	DefaultMaxSeries     = 20000            // series held (WithMaxSeries)
	DefaultQueryTimeout  = 10 * time.Second // per query (WithQueryLimits)
	DefaultMaxSamples    = 5_000_000        // per query (WithQueryLimits)
	DefaultLookbackDelta = 5 * time.Minute  // of instant selectors (WithLookbackDelta)
)

// ErrCollectOrder is returned by Collect when the clock has not moved past
// the previous collection: samples of a series must have increasing times.
var ErrCollectOrder = errors.New("memory: collection time is not after the previous collection")

// Reader is an OpenTelemetry metric reader that keeps the recent history of
// every metric in memory, named exactly as /metrics names it, and answers
// PromQL over it with the Prometheus engine. Create it with New, add its
// SDKReaders to the MeterProvider, then drive it with Run (or Collect).
// It is safe for concurrent use.
type Reader struct {
	manual *sdkmetric.ManualReader // default aggregations: classic histograms
	native *sdkmetric.ManualReader // histograms only, base-2 exponential
	conv   *promconv.Converter
	nconv  *promconv.Converter
	store  *store
	engine *promql.Engine
	cfg    config

	collectMu sync.Mutex // serialises collections; guards the fields below
	rm        metricdata.ResourceMetrics
	nrm       metricdata.ResourceMetrics
	fams      []*dto.MetricFamily
	nfams     []*dto.MetricFamily
	hist      histogram.Histogram
	scratch   labels.ScratchBuilder
	lset      labels.Labels
	leCache   map[float64]string

	exemplars *exemplarStore // nil with WithMaxExemplars(0)

	metaMu sync.RWMutex        // guards meta against Metadata; written under collectMu too
	meta   map[string]Metadata // the families' metadata (Metadata)

	series  atomic.Int64
	dropped atomic.Int64

	shutdown atomic.Bool
	loops    lifecycle.Loops // Run's
	regMu    sync.Mutex
	regs     []metric.Registration // Instrument's callbacks, unregistered at Shutdown

	appMu     sync.Mutex
	appenders []*store             // stores of the appenders, queried with the collector's
	named     map[string]*Appender // the named ones, by name (NewNamedAppender)
}

// New returns a Reader configured by opts.
func New(opts ...Option) *Reader {
	cfg := newConfig(opts)
	manualOpts := make([]sdkmetric.ManualReaderOption, 0, len(cfg.producers))
	for _, p := range cfg.producers {
		manualOpts = append(manualOpts, sdkmetric.WithProducer(p))
	}
	// Conversion problems that do not fail a collection (dropped
	// exemplars, a skipped bridge scope) are logged at a bounded rate.
	convErrs := ratelog.New(cfg.logger, "vitals: in-memory conversion", 0, cfg.clock)
	onErr := func(err error) { convErrs.Handle(err) }
	r := &Reader{
		manual:    sdkmetric.NewManualReader(manualOpts...),
		native:    sdkmetric.NewManualReader(sdkmetric.WithAggregationSelector(buckets.NativeSelector)),
		conv:      promconv.NewConverter(onErr),
		nconv:     promconv.NewConverter(onErr),
		store:     newStore(cfg.retention.Milliseconds(), cfg.maxSeries),
		exemplars: newExemplarStore(cfg.maxExemplars),
		cfg:       cfg,
		leCache:   make(map[float64]string),
	}
	r.engine = promql.NewEngine(promql.EngineOpts{
		Logger:               cfg.logger.With("component", "vitals/memory promql"),
		MaxSamples:           cfg.maxSamples,
		Timeout:              cfg.queryTimeout,
		LookbackDelta:        cfg.lookback,
		EnableAtModifier:     true,
		EnableNegativeOffset: true,
		NoStepSubqueryIntervalFn: func(int64) int64 {
			return cfg.interval.Milliseconds()
		},
	})
	return r
}

// SDKReaders returns the readers to register with the MeterProvider, in
// this order (sdkmetric.WithReader for each, or exporter.WithReader): the
// NativeReader, then the ClassicReader. Both use cumulative temporality, as
// Prometheus does. The SDK records a measurement into its readers in the
// order they were registered and Collect reads the classic one first, so a
// measurement a collection sees in the classic series is in the native
// histogram too.
func (r *Reader) SDKReaders() []sdkmetric.Reader {
	return []sdkmetric.Reader{r.native, r.manual}
}

// ClassicReader returns the reader that aggregates every instrument as
// /metrics does, histograms with explicit buckets (the _bucket series that
// portable rules read). exporter.WithPrometheusReaders can serve /metrics
// from it, so that a measurement is aggregated once for both.
func (r *Reader) ClassicReader() sdkmetric.Reader { return r.manual }

// NativeReader returns the reader that aggregates histograms only, as
// base-2 exponential histograms kept as Prometheus native histograms
// (percentiles within 4.4 % at any latency).
func (r *Reader) NativeReader() sdkmetric.Reader { return r.native }

// MeterProviderOptions returns sdkmetric.WithReader for each of
// SDKReaders, in order, to pass to sdkmetric.NewMeterProvider.
func (r *Reader) MeterProviderOptions() []sdkmetric.Option {
	return []sdkmetric.Option{sdkmetric.WithReader(r.native), sdkmetric.WithReader(r.manual)}
}

// Interval returns the time between two collections of Run.
func (r *Reader) Interval() time.Duration { return r.cfg.interval }

// Now returns the time on the reader's clock: the time of the next
// collection, and the default time of a query.
func (r *Reader) Now() time.Time { return r.cfg.clock.Now() }

// Retention returns how long samples are kept.
func (r *Reader) Retention() time.Duration { return r.cfg.retention }

// Collect collects the MeterProvider once, at the reader's clock's time
// (aligned on the interval's grid), and appends one sample to every series
// it reports and to up. A series not reported gets a stale marker; series
// beyond the series limit are dropped and counted (see "Series" and
// "Bounds" in the package doc).
func (r *Reader) Collect(ctx context.Context) error {
	r.collectMu.Lock()
	defer r.collectMu.Unlock()

	err := r.manual.Collect(ctx, &r.rm)
	if errors.Is(err, sdkmetric.ErrReaderShutdown) || errors.Is(err, sdkmetric.ErrReaderNotRegistered) {
		return err
	}
	fams, cerr := r.conv.Convert(r.fams[:0], &r.rm)
	r.fams = fams
	r.noteMetadata(fams)
	err = errors.Join(err, cerr)
	var nfams []*dto.MetricFamily
	if nerr := r.native.Collect(ctx, &r.nrm); nerr == nil {
		nfams, cerr = r.nconv.Convert(r.nfams[:0], &r.nrm)
		r.nfams = nfams
		err = errors.Join(err, cerr)
	} else if !errors.Is(nerr, sdkmetric.ErrReaderNotRegistered) && !errors.Is(nerr, sdkmetric.ErrReaderShutdown) {
		err = errors.Join(err, nerr)
	}

	now := r.cfg.clock.Now().UnixMilli()
	st := r.store
	st.mu.Lock()
	if last, ok := st.lastTime(); ok {
		if now <= last {
			st.mu.Unlock()
			return errors.Join(err, fmt.Errorf("%w: %d ms after %d ms", ErrCollectOrder, now, last))
		}
		if grid := last + r.cfg.interval.Milliseconds(); now >= grid && now-grid <= r.cfg.interval.Milliseconds()/100 {
			now = grid
		}
	}
	st.begin(now)
	var dropped int64
	for _, f := range fams {
		dropped += r.appendFamily(f, now)
	}
	for _, f := range nfams {
		dropped += r.appendNative(f, now)
	}
	// As a Prometheus scrape records up for its target: the process
	// answered this collection.
	dropped += r.appendSample("up", nil, "", 1, now)
	st.end(now)
	n := st.n
	st.mu.Unlock()

	r.series.Store(int64(n))
	r.dropped.Add(dropped)
	clear(r.fams) // let the converted families be collected
	clear(r.nfams)
	return err
}

// appendFamily appends the samples of one family, returning how many were
// dropped for want of room. The caller holds the store's write lock.
func (r *Reader) appendFamily(f *dto.MetricFamily, now int64) (dropped int64) {
	name := f.GetName()
	for _, m := range f.GetMetric() {
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			dropped += r.appendSample(name, m.Label, "", m.GetCounter().GetValue(), now)
		case dto.MetricType_GAUGE:
			dropped += r.appendSample(name, m.Label, "", m.GetGauge().GetValue(), now)
		case dto.MetricType_UNTYPED:
			dropped += r.appendSample(name, m.Label, "", m.GetUntyped().GetValue(), now)
		case dto.MetricType_HISTOGRAM:
			h := m.GetHistogram()
			var infExemplar *dto.Exemplar
			for _, b := range h.GetBucket() {
				if math.IsInf(b.GetUpperBound(), 1) {
					// An explicit +Inf bucket, there for its exemplar.
					infExemplar = b.GetExemplar()
					continue
				}
				dropped += r.appendBucket(name, m.Label, r.le(b.GetUpperBound()), float64(b.GetCumulativeCount()), b.GetExemplar(), now)
			}
			// The +Inf bucket is implied by the count, as in the exposition.
			count := float64(h.GetSampleCount())
			dropped += r.appendBucket(name, m.Label, "+Inf", count, infExemplar, now)
			dropped += r.appendSample(name+"_sum", m.Label, "", h.GetSampleSum(), now)
			dropped += r.appendSample(name+"_count", m.Label, "", count, now)
		}
	}
	return dropped
}

// appendNative appends the native histograms of one family of the
// exponential reader under the family's name, as Prometheus stores a
// native histogram. The caller holds the store's write lock.
func (r *Reader) appendNative(f *dto.MetricFamily, now int64) (dropped int64) {
	if f.GetType() != dto.MetricType_HISTOGRAM {
		return 0
	}
	name := f.GetName()
	for _, m := range f.GetMetric() {
		if !nativeFromDTO(&r.hist, m.GetHistogram()) {
			continue
		}
		s := r.seriesOf(name, m.Label, "")
		if s == nil {
			dropped++
			continue
		}
		// The series keeps the histogram as its newest sample (the
		// chunk copies what it needs): give it its own, as r.hist is
		// reused.
		s.appendHistogram(now, r.hist.Copy())
		r.store.touch(s, now)
	}
	return dropped
}

// nativeFromDTO fills h from the native part of d, reporting false if d
// has none (a classic histogram).
func nativeFromDTO(h *histogram.Histogram, d *dto.Histogram) bool {
	if d == nil || d.Schema == nil {
		return false
	}
	*h = histogram.Histogram{
		Schema:          d.GetSchema(),
		ZeroThreshold:   d.GetZeroThreshold(),
		ZeroCount:       d.GetZeroCount(),
		Count:           d.GetSampleCount(),
		Sum:             d.GetSampleSum(),
		PositiveSpans:   spans(h.PositiveSpans[:0], d.GetPositiveSpan()),
		NegativeSpans:   spans(h.NegativeSpans[:0], d.GetNegativeSpan()),
		PositiveBuckets: append(h.PositiveBuckets[:0], d.GetPositiveDelta()...),
		NegativeBuckets: append(h.NegativeBuckets[:0], d.GetNegativeDelta()...),
	}
	return true
}

func spans(dst []histogram.Span, src []*dto.BucketSpan) []histogram.Span {
	for _, sp := range src {
		dst = append(dst, histogram.Span{Offset: sp.GetOffset(), Length: sp.GetLength()})
	}
	return dst
}

// seriesOf returns the series of name, pairs and le, creating it when there
// is room, or nil. The caller holds the store's write lock.
func (r *Reader) seriesOf(name string, pairs []*dto.LabelPair, le string) *series {
	r.scratch.Reset()
	r.scratch.Add(labels.MetricName, name)
	for _, p := range pairs {
		r.scratch.Add(p.GetName(), p.GetValue())
	}
	if le != "" {
		r.scratch.Add(labels.BucketLabel, le)
	}
	r.scratch.Sort()
	r.scratch.Overwrite(&r.lset)
	return r.store.get(r.lset, r.lset.Hash())
}

// appendBucket appends a sample of the bucket le of histogram name, and
// keeps its exemplar, if any.
func (r *Reader) appendBucket(name string, pairs []*dto.LabelPair, le string, v float64, ex *dto.Exemplar, now int64) int64 {
	s := r.seriesOf(name+"_bucket", pairs, le)
	if s == nil {
		return 1
	}
	s.appendFloat(now, v)
	r.store.touch(s, now)
	if ex != nil && r.exemplars != nil && ex != s.lastEx {
		s.lastEx = ex
		r.exemplars.add(s.lset, s.hash, ex, now)
	}
	return 0
}

func (r *Reader) appendSample(name string, pairs []*dto.LabelPair, le string, v float64, now int64) int64 {
	s := r.seriesOf(name, pairs, le)
	if s == nil {
		return 1
	}
	s.appendFloat(now, v)
	r.store.touch(s, now)
	return 0
}

// le formats a bucket bound as Prometheus stores it when it scrapes the
// OpenMetrics format, and as Prometheus 3 normalises every scrape: integral
// bounds get ".0" ("1.0", "10.0"), others the shortest form ("0.005").
func (r *Reader) le(bound float64) string {
	if s, ok := r.leCache[bound]; ok {
		return s
	}
	var s string
	switch {
	case math.IsInf(bound, +1):
		s = "+Inf"
	case math.IsInf(bound, -1):
		s = "-Inf"
	case math.IsNaN(bound):
		s = "NaN"
	default:
		s = strconv.FormatFloat(bound, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eE") {
			s += ".0"
		}
	}
	if len(r.leCache) >= 4096 {
		clear(r.leCache)
	}
	r.leCache[bound] = s
	return s
}

// ErrShutdown is returned by Shutdown after the first call. It is the one
// value of every Vitals component (vitals.ErrShutdown).
var ErrShutdown = lifecycle.ErrShutdown

// Run collects every interval on the reader's clock until ctx is done, the
// reader shuts down (Shutdown) or its MeterProvider does. A failed
// collection is logged at a bounded rate and does not stop the loop. It
// returns nil, or ErrShutdown at once when called after Shutdown.
func (r *Reader) Run(ctx context.Context) error {
	return r.run(ctx, nil)
}

// Shutdown stops Run and waits for it to return, within ctx, and removes
// the metrics Instrument registered. What was collected stays queryable,
// and Collect still works: the MeterProvider owns the SDK readers and
// shuts them down. Calls after the first return ErrShutdown.
func (r *Reader) Shutdown(ctx context.Context) error {
	if r.shutdown.Swap(true) {
		return ErrShutdown
	}
	r.regMu.Lock()
	errs := make([]error, 0, len(r.regs)+1)
	for _, reg := range r.regs {
		errs = append(errs, reg.Unregister())
	}
	r.regs = nil
	r.regMu.Unlock()
	return errors.Join(append(errs, r.loops.Stop(ctx))...)
}

// run is Run, ticking on tick when it is not nil (tests), else every
// interval on the clock, on a grid that a slow collection does not shift.
func (r *Reader) run(ctx context.Context, tick <-chan time.Time) error {
	ctx, exit, ok := r.loops.Enter(ctx)
	if !ok {
		return ErrShutdown
	}
	defer exit()
	errs := ratelog.New(r.cfg.logger, "vitals: in-memory collection failed", 0, r.cfg.clock)
	next := r.cfg.clock.Now()
	for {
		wait := tick
		if wait == nil {
			now := r.cfg.clock.Now()
			if next = next.Add(r.cfg.interval); next.Before(now) {
				next = now.Add(r.cfg.interval) // fell behind: skip, do not catch up
			}
			wait = r.cfg.clock.After(next.Sub(now))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-wait:
			err := r.Collect(ctx)
			if errors.Is(err, sdkmetric.ErrReaderShutdown) {
				return nil
			}
			errs.Handle(err)
		}
	}
}

// The reader's own metrics (Instrument).
const (
	MetricSeries         = "vitals.memory.series"          // gauge: series held
	MetricSamplesDropped = "vitals.memory.samples.dropped" // counter: samples dropped at the series limit
)

// Instrument registers the reader's own metrics with mp:
// vitals.memory.series (series held) and vitals.memory.samples.dropped
// (samples dropped because the series limit was reached). They are read
// from atomics at collection time.
func (r *Reader) Instrument(mp metric.MeterProvider) error {
	m := mp.Meter(ScopeName)
	series, err := m.Int64ObservableGauge(MetricSeries,
		metric.WithUnit("{series}"),
		metric.WithDescription("Series held by the in-memory reader."))
	if err != nil {
		return fmt.Errorf("memory: %w", err)
	}
	dropped, err := m.Int64ObservableCounter(MetricSamplesDropped,
		metric.WithUnit("{sample}"),
		metric.WithDescription("Samples the in-memory reader dropped because its series limit was reached."))
	if err != nil {
		return fmt.Errorf("memory: %w", err)
	}
	reg, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(series, r.series.Load())
		o.ObserveInt64(dropped, r.dropped.Load())
		return nil
	}, series, dropped)
	if err != nil {
		return fmt.Errorf("memory: %w", err)
	}
	r.regMu.Lock()
	r.regs = append(r.regs, reg)
	r.regMu.Unlock()
	return nil
}

// Stats describes what the reader holds.
type Stats struct {
	// Series is the number of series held.
	Series int
	// Dropped is the number of samples dropped since the reader was created
	// because the series limit was reached.
	Dropped int64
	// Collections is the number of collections within the retention.
	Collections int
	// Samples is the number of samples held, stale markers included. Whole
	// chunks are dropped once they end before the retention, so it may
	// include up to a chunk per series older than that: at most 240
	// samples or a quarter of the retention.
	Samples int
	// Bytes is the size of the encoded samples held: the chunks' bytes,
	// without the series' labels and bookkeeping.
	Bytes int
	// HistogramSamples and HistogramBytes are the part of Samples and
	// Bytes that are native histogram samples.
	HistogramSamples, HistogramBytes int
}

// Stats returns what the reader holds now. It reads every series, so it
// costs about a microsecond per series.
func (r *Reader) Stats() Stats {
	r.store.mu.RLock()
	defer r.store.mu.RUnlock()
	z := r.store.sizes()
	return Stats{
		Series:           r.store.n,
		Dropped:          r.dropped.Load(),
		Collections:      len(r.store.times),
		Samples:          z.samples,
		Bytes:            z.bytes,
		HistogramSamples: z.histSamples,
		HistogramBytes:   z.histBytes,
	}
}

// allStores returns the collector's store and the appenders' stores.
func (r *Reader) allStores() []*store {
	r.appMu.Lock()
	defer r.appMu.Unlock()
	return append([]*store{r.store}, r.appenders...)
}
