package exporter

import (
	"context"
	"slices"
	"sort"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/trace"
)

// exemplarReservoirs is the exemplar reservoir of every stream a
// MeterProvider aggregates, unless a view chooses another. Exemplars link a
// histogram's buckets to traces, so histograms keep them and nothing else
// does:
//
//   - an explicit bucket histogram series keeps the last exemplar of each
//     bucket (lastReservoir): the exemplars OpenMetrics puts on _bucket
//     lines, OTLP sends, and the dashboard links slow requests with;
//   - an exponential histogram series keeps its last one (the SDK keeps
//     twenty);
//   - counters, up-down counters and gauges keep none. The SDK's default
//     gives each of their series GOMAXPROCS slots of about 130 bytes, and
//     resampling them makes a collection of 10 000 counter series more than
//     twice as slow (docs/benchmarks.md), for an exemplar of an arbitrary
//     request. A view with its own ExemplarReservoirProviderSelector brings
//     them back for the instruments it matches.
//
// A series' exemplar memory is thus bounded by its bucket count, whatever
// GOMAXPROCS is.
func exemplarReservoirs(agg sdkmetric.Aggregation) exemplar.ReservoirProvider {
	switch a := agg.(type) {
	case sdkmetric.AggregationExplicitBucketHistogram:
		if len(a.Boundaries) > 0 {
			bounds := slices.Clone(a.Boundaries)
			slices.Sort(bounds)
			return func(attribute.Set) exemplar.Reservoir {
				return &lastReservoir{bounds: bounds, slots: make([]lastSlot, len(bounds)+1)}
			}
		}
	case sdkmetric.AggregationBase2ExponentialHistogram:
		return func(attribute.Set) exemplar.Reservoir { return &lastReservoir{slots: make([]lastSlot, 1)} }
	}
	return noReservoir
}

// noReservoir keeps no exemplars. The SDK drops reservoirs only when the
// exemplar filter is always_off; this is the closest per stream.
func noReservoir(attribute.Set) exemplar.Reservoir { return dropReservoir{} }

type dropReservoir struct{}

func (dropReservoir) Offer(context.Context, time.Time, exemplar.Value, []attribute.KeyValue) {}

func (dropReservoir) Collect(dest *[]exemplar.Exemplar) { *dest = (*dest)[:0] }

// lastReservoir keeps the last measurement offered in each bucket of bounds
// (one slot when bounds is nil), as client_golang keeps the newest exemplar
// of each bucket. The SDK's reservoirs sample uniformly within a collection
// interval instead, which costs random numbers and logarithms for every
// slot at every collection, and a copy of the trace and span IDs on the
// heap for every exemplar at every collection. Here an offer allocates
// nothing, and a collection copies only the IDs of slots offered a new
// measurement since the previous one: the exemplars it returns share the
// copies, which are never written again.
type lastReservoir struct {
	mu     sync.Mutex
	bounds []float64
	slots  []lastSlot
}

type lastSlot struct {
	attrs []attribute.KeyValue
	value exemplar.Value
	nanos int64 // the measurement's time, Unix nanoseconds
	trace trace.TraceID
	span  trace.SpanID
	valid bool
	fresh bool // offered since ids was made
	// ids holds the trace ID then the span ID, immutable once made; nil
	// when the measurement had no span.
	ids *[24]byte
}

func (r *lastReservoir) Offer(ctx context.Context, t time.Time, v exemplar.Value, attrs []attribute.KeyValue) {
	i := 0
	if r.bounds != nil {
		var f float64
		switch v.Type() {
		case exemplar.Int64ValueType:
			f = float64(v.Int64())
		default:
			f = v.Float64()
		}
		i = sort.SearchFloat64s(r.bounds, f) // the first bound ≥ f: the bucket Prometheus' le gives
	}
	sc := trace.SpanContextFromContext(ctx)
	r.mu.Lock()
	s := &r.slots[i]
	s.attrs, s.value, s.nanos = attrs, v, t.UnixNano()
	s.trace, s.span = sc.TraceID(), sc.SpanID()
	s.valid, s.fresh = true, true
	r.mu.Unlock()
}

func (r *lastReservoir) Collect(dest *[]exemplar.Exemplar) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := (*dest)[:0]
	for i := range r.slots {
		s := &r.slots[i]
		if !s.valid {
			continue
		}
		if s.fresh {
			s.fresh, s.ids = false, nil
			if s.trace.IsValid() && s.span.IsValid() {
				s.ids = new([24]byte)
				copy(s.ids[:16], s.trace[:])
				copy(s.ids[16:], s.span[:])
			}
		}
		e := exemplar.Exemplar{FilteredAttributes: s.attrs, Time: time.Unix(0, s.nanos), Value: s.value}
		if s.ids != nil {
			e.TraceID, e.SpanID = s.ids[:16:16], s.ids[16:]
		}
		out = append(out, e)
	}
	*dest = out
}

// withExemplarReservoirs returns views that give every stream
// exemplarReservoirs: the caller's views, each filling in the reservoir
// where it chose none, and after them one that matches every instrument no
// caller's view matches, with the stream the SDK would make by default
// (a second matching view would make a second stream).
func withExemplarReservoirs(views []sdkmetric.View) []sdkmetric.View {
	out := make([]sdkmetric.View, 0, len(views)+1)
	for _, v := range views {
		out = append(out, func(i sdkmetric.Instrument) (sdkmetric.Stream, bool) {
			s, ok := v(i)
			if ok && s.ExemplarReservoirProviderSelector == nil {
				s.ExemplarReservoirProviderSelector = exemplarReservoirs
			}
			return s, ok
		})
	}
	return append(out, func(i sdkmetric.Instrument) (sdkmetric.Stream, bool) {
		for _, v := range views {
			if _, ok := v(i); ok {
				return sdkmetric.Stream{}, false
			}
		}
		return sdkmetric.Stream{
			Name:                              i.Name,
			Description:                       i.Description,
			Unit:                              i.Unit,
			ExemplarReservoirProviderSelector: exemplarReservoirs,
		}, true
	})
}
