package bizmetrics

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// cacheLine is the size of a CPU cache line. The atomics of the handles
// are alone on theirs: a handle is allocated on its own and is 64 bytes,
// which Go's allocator aligns to 64 (objects of a size class that is a
// multiple of 64 start at multiples of 64 in page-aligned spans), so two
// counters written from two cores never share a line. TestHandleSizes
// holds the sizes.
const cacheLine = 64

// BoundCounter is a monotonic integer counter bound to one attribute set:
// Add is an atomic add, read by an observable counter at collection time.
// Methods on a nil BoundCounter do nothing.
type BoundCounter struct {
	v   atomic.Int64
	obs []metric.ObserveOption
	_   [32]byte // 64 bytes: a cache line of its own (see cacheLine)
}

// Add adds n. A negative n is ignored: a counter only grows.
func (b *BoundCounter) Add(_ context.Context, n int64) {
	if b != nil && n > 0 {
		b.v.Add(n)
	}
}

// BoundFloatCounter is a monotonic float counter bound to one attribute
// set: Add is a compare-and-swap loop on the value's bits, read by an
// observable counter at collection time. Floating-point sums are exact only
// for values such as 0.5 or 0.25; count money with Orders, which sums
// integer minor units. Methods on a nil BoundFloatCounter do nothing.
type BoundFloatCounter struct {
	bits atomic.Uint64
	obs  []metric.ObserveOption
	_    [32]byte // 64 bytes: a cache line of its own
}

// Add adds v. A negative, NaN or infinite v is ignored.
func (b *BoundFloatCounter) Add(_ context.Context, v float64) {
	if b == nil || !(v > 0) || math.IsInf(v, 1) {
		return
	}
	for {
		old := b.bits.Load()
		if b.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// BoundUpDownCounter is an integer that goes up and down (items in a queue,
// open carts), bound to one attribute set: Add is an atomic add, read by an
// observable up-down counter at collection time. Methods on a nil
// BoundUpDownCounter do nothing.
type BoundUpDownCounter struct {
	v   atomic.Int64
	obs []metric.ObserveOption
	_   [32]byte // 64 bytes: a cache line of its own
}

// Add adds n, which may be negative.
func (b *BoundUpDownCounter) Add(_ context.Context, n int64) {
	if b != nil {
		b.v.Add(n)
	}
}

// BoundGauge is a value that is set (a temperature, a stock level), bound
// to one attribute set: Set is an atomic store, read by an observable gauge
// at collection time. A gauge is reported from its first Set on. Methods
// on a nil BoundGauge do nothing.
type BoundGauge struct {
	bits atomic.Uint64
	set  atomic.Bool
	obs  []metric.ObserveOption
	_    [24]byte // 64 bytes: a cache line of its own
}

// Set sets the gauge to v.
func (b *BoundGauge) Set(_ context.Context, v float64) {
	if b == nil {
		return
	}
	b.bits.Store(math.Float64bits(v))
	if !b.set.Load() {
		b.set.Store(true)
	}
}

// BoundHistogram records into an OTel SDK histogram with an attribute set
// and option slice built once: Record costs what the SDK's Record costs
// with a pre-built set, and allocates nothing. Methods on a nil
// BoundHistogram do nothing.
type BoundHistogram struct {
	inst metric.Float64Histogram
	rec  []metric.RecordOption
}

func newBoundHistogram(inst metric.Float64Histogram, set attribute.Set) *BoundHistogram {
	return &BoundHistogram{inst: inst, rec: []metric.RecordOption{metric.WithAttributeSet(set)}}
}

// Record records v.
func (b *BoundHistogram) Record(ctx context.Context, v float64) {
	if b != nil {
		b.inst.Record(ctx, v, b.rec...)
	}
}

// Counter is a custom monotonic integer counter. Add with attributes finds
// the handle of the attribute set (allocating nothing once it exists); Bind
// returns the handle for hot paths. It is safe for concurrent use.
type Counter struct {
	inst metric.Int64ObservableCounter
	t    *table[BoundCounter]
}

// Add adds n to the counter of attrs; a negative n is ignored.
func (c *Counter) Add(ctx context.Context, n int64, attrs ...attribute.KeyValue) {
	c.t.get(attrs).Add(ctx, n)
}

// Bind returns the counter of attrs. Past WithMaxAttributeSets sets, it is
// the shared overflow counter (otel.metric.overflow=true).
func (c *Counter) Bind(attrs ...attribute.KeyValue) *BoundCounter { return c.t.get(attrs) }

// BindSet returns the counter of set, as Bind.
func (c *Counter) BindSet(set attribute.Set) *BoundCounter { return c.t.getSet(set) }

// FloatCounter is a custom monotonic float counter. It is safe for
// concurrent use.
type FloatCounter struct {
	inst metric.Float64ObservableCounter
	t    *table[BoundFloatCounter]
}

// Add adds v to the counter of attrs; a negative, NaN or infinite v is
// ignored.
func (c *FloatCounter) Add(ctx context.Context, v float64, attrs ...attribute.KeyValue) {
	c.t.get(attrs).Add(ctx, v)
}

// Bind returns the counter of attrs, as Counter.Bind.
func (c *FloatCounter) Bind(attrs ...attribute.KeyValue) *BoundFloatCounter { return c.t.get(attrs) }

// BindSet returns the counter of set, as Bind.
func (c *FloatCounter) BindSet(set attribute.Set) *BoundFloatCounter { return c.t.getSet(set) }

// UpDownCounter is a custom integer that goes up and down. It is safe for
// concurrent use.
type UpDownCounter struct {
	inst metric.Int64ObservableUpDownCounter
	t    *table[BoundUpDownCounter]
}

// Add adds n, which may be negative, to the counter of attrs.
func (c *UpDownCounter) Add(ctx context.Context, n int64, attrs ...attribute.KeyValue) {
	c.t.get(attrs).Add(ctx, n)
}

// Bind returns the counter of attrs, as Counter.Bind.
func (c *UpDownCounter) Bind(attrs ...attribute.KeyValue) *BoundUpDownCounter { return c.t.get(attrs) }

// BindSet returns the counter of set, as Bind.
func (c *UpDownCounter) BindSet(set attribute.Set) *BoundUpDownCounter { return c.t.getSet(set) }

// Gauge is a custom float gauge. It is safe for concurrent use.
type Gauge struct {
	inst metric.Float64ObservableGauge
	t    *table[BoundGauge]
}

// Set sets the gauge of attrs to v.
func (g *Gauge) Set(ctx context.Context, v float64, attrs ...attribute.KeyValue) {
	g.t.get(attrs).Set(ctx, v)
}

// Bind returns the gauge of attrs, as Counter.Bind.
func (g *Gauge) Bind(attrs ...attribute.KeyValue) *BoundGauge { return g.t.get(attrs) }

// BindSet returns the gauge of set, as Bind.
func (g *Gauge) BindSet(set attribute.Set) *BoundGauge { return g.t.getSet(set) }

// Histogram is a custom float histogram, recorded through the SDK's
// synchronous instrument. It is safe for concurrent use.
type Histogram struct {
	inst metric.Float64Histogram
	t    *table[BoundHistogram]
}

// Record records v with attrs.
func (h *Histogram) Record(ctx context.Context, v float64, attrs ...attribute.KeyValue) {
	h.t.get(attrs).Record(ctx, v)
}

// Bind returns the histogram of attrs, as Counter.Bind.
func (h *Histogram) Bind(attrs ...attribute.KeyValue) *BoundHistogram { return h.t.get(attrs) }

// BindSet returns the histogram of set, as Bind.
func (h *Histogram) BindSet(set attribute.Set) *BoundHistogram { return h.t.getSet(set) }

// Counter returns the custom counter <namespace>.name, creating it on first
// use; unit follows UCUM as OTel does ("{email}", "By", "s") and
// description is its help text. A second call with the same name returns
// the same counter. An empty name returns an error wrapping ErrEmptyName;
// a name already used by another kind of instrument, or one the SDK
// rejects, returns an error.
func (m *Metrics) Counter(name, unit, description string) (*Counter, error) {
	return customInstrument(m, name, func(full string) (*Counter, error) {
		inst, err := m.meter.Int64ObservableCounter(full, metric.WithUnit(unit), metric.WithDescription(description))
		if err != nil {
			return nil, err
		}
		c := &Counter{inst: inst, t: newTable(m.cfg.maxSets, nil, func(set attribute.Set) *BoundCounter {
			return &BoundCounter{obs: []metric.ObserveOption{metric.WithAttributeSet(set)}}
		})}
		_, err = m.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
			c.t.each(func(b *BoundCounter) { o.ObserveInt64(inst, b.v.Load(), b.obs...) })
			return nil
		}, inst)
		return c, err
	})
}

// FloatCounter returns the custom float counter <namespace>.name, as
// Counter.
func (m *Metrics) FloatCounter(name, unit, description string) (*FloatCounter, error) {
	return customInstrument(m, name, func(full string) (*FloatCounter, error) {
		inst, err := m.meter.Float64ObservableCounter(full, metric.WithUnit(unit), metric.WithDescription(description))
		if err != nil {
			return nil, err
		}
		c := &FloatCounter{inst: inst, t: newTable(m.cfg.maxSets, nil, func(set attribute.Set) *BoundFloatCounter {
			return &BoundFloatCounter{obs: []metric.ObserveOption{metric.WithAttributeSet(set)}}
		})}
		_, err = m.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
			c.t.each(func(b *BoundFloatCounter) { o.ObserveFloat64(inst, math.Float64frombits(b.bits.Load()), b.obs...) })
			return nil
		}, inst)
		return c, err
	})
}

// UpDownCounter returns the custom up-down counter <namespace>.name, as
// Counter.
func (m *Metrics) UpDownCounter(name, unit, description string) (*UpDownCounter, error) {
	return customInstrument(m, name, func(full string) (*UpDownCounter, error) {
		inst, err := m.meter.Int64ObservableUpDownCounter(full, metric.WithUnit(unit), metric.WithDescription(description))
		if err != nil {
			return nil, err
		}
		c := &UpDownCounter{inst: inst, t: newTable(m.cfg.maxSets, nil, func(set attribute.Set) *BoundUpDownCounter {
			return &BoundUpDownCounter{obs: []metric.ObserveOption{metric.WithAttributeSet(set)}}
		})}
		_, err = m.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
			c.t.each(func(b *BoundUpDownCounter) { o.ObserveInt64(inst, b.v.Load(), b.obs...) })
			return nil
		}, inst)
		return c, err
	})
}

// Gauge returns the custom gauge <namespace>.name, as Counter. Each
// attribute set is reported from its first Set on.
func (m *Metrics) Gauge(name, unit, description string) (*Gauge, error) {
	return customInstrument(m, name, func(full string) (*Gauge, error) {
		inst, err := m.meter.Float64ObservableGauge(full, metric.WithUnit(unit), metric.WithDescription(description))
		if err != nil {
			return nil, err
		}
		g := &Gauge{inst: inst, t: newTable(m.cfg.maxSets, nil, func(set attribute.Set) *BoundGauge {
			return &BoundGauge{obs: []metric.ObserveOption{metric.WithAttributeSet(set)}}
		})}
		_, err = m.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
			g.t.each(func(b *BoundGauge) {
				if b.set.Load() {
					o.ObserveFloat64(inst, math.Float64frombits(b.bits.Load()), b.obs...)
				}
			})
			return nil
		}, inst)
		return g, err
	})
}

// Histogram returns the custom histogram <namespace>.name, as Counter,
// with explicit bucket boundaries when given (else the provider's choice:
// the exporter gives histograms with unit "s" the semantic conventions'
// duration buckets).
func (m *Metrics) Histogram(name, unit, description string, boundaries ...float64) (*Histogram, error) {
	return customInstrument(m, name, func(full string) (*Histogram, error) {
		opts := []metric.Float64HistogramOption{metric.WithUnit(unit), metric.WithDescription(description)}
		if len(boundaries) > 0 {
			opts = append(opts, metric.WithExplicitBucketBoundaries(boundaries...))
		}
		inst, err := m.meter.Float64Histogram(full, opts...)
		if err != nil {
			return nil, err
		}
		return &Histogram{inst: inst, t: newTable(m.cfg.maxSets, nil, func(set attribute.Set) *BoundHistogram {
			return newBoundHistogram(inst, set)
		})}, nil
	})
}

// reservedNames are the built-in metrics' names, which custom instruments
// cannot take.
var reservedNames = map[string]bool{
	MetricOrdersPlaced: true, MetricOrdersRejected: true, MetricOrderAmount: true, MetricRevenue: true,
	MetricRegistrations: true, MetricUsers: true, MetricCacheOperations: true, MetricCacheDuration: true,
	MetricAPICalls: true, MetricTimerDuration: true,
}

// customInstrument returns the instrument registered under name, creating
// it with create on first use.
func customInstrument[T any](m *Metrics, name string, create func(full string) (*T, error)) (*T, error) {
	if name == "" {
		return nil, fmt.Errorf("bizmetrics: instrument name: %w", ErrEmptyName)
	}
	if reservedNames[name] {
		return nil, fmt.Errorf("bizmetrics: instrument %q: the name of a built-in metric", name)
	}
	full := m.name(name)
	m.customMu.Lock()
	defer m.customMu.Unlock()
	if got, ok := m.custom[full]; ok {
		if inst, ok := got.(*T); ok {
			return inst, nil
		}
		return nil, fmt.Errorf("bizmetrics: instrument %q already exists as a %T", full, got)
	}
	inst, err := create(full)
	if err != nil {
		return nil, fmt.Errorf("bizmetrics: instrument %q: %w", full, err)
	}
	m.custom[full] = inst
	return inst, nil
}
