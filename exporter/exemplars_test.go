package exporter

import (
	"context"
	"encoding/hex"
	"runtime"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/trace"
)

// inSpan returns a context in a sampled span whose trace and span IDs are
// id repeated.
func inSpan(id byte) context.Context {
	var tid trace.TraceID
	var sid trace.SpanID
	for i := range tid {
		tid[i] = id
	}
	for i := range sid {
		sid[i] = id
	}
	return trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled,
	}))
}

// exemplarProvider returns a provider with exemplars as filter says, its
// views, and a manual reader to collect from.
func exemplarProvider(t *testing.T, filter ExemplarFilter, views ...sdkmetric.View) (*MeterProvider, *sdkmetric.ManualReader) {
	t.Helper()
	r := sdkmetric.NewManualReader()
	p, err := NewMeterProvider(t.Context(), MetricsConfig{ServiceName: "t", Exporters: []MetricsExporter{MetricsPrometheus}, Exemplars: filter},
		WithReader(r), WithView(views...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return p, r
}

func collectMetrics(t *testing.T, r *sdkmetric.ManualReader) map[string]metricdata.Aggregation {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Aggregation{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if _, dup := out[m.Name]; dup {
				t.Errorf("metric %q collected twice", m.Name)
			}
			out[m.Name] = m.Data
		}
	}
	return out
}

// TestExemplarReservoirs: with exemplars on, a histogram keeps the last
// sampled measurement of each bucket with its trace, an unsampled one is
// not kept, and counters keep none, whatever GOMAXPROCS is.
func TestExemplarReservoirs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(8))
	p, r := exemplarProvider(t, ExemplarsTraceBased)
	m := p.Meter("t")
	h, _ := m.Float64Histogram("latency", metric.WithExplicitBucketBoundaries(0.1, 1))
	c, _ := m.Int64Counter("hits")
	h.Record(inSpan(1), 0.05)
	h.Record(inSpan(2), 0.08)            // replaces 1 in the first bucket
	h.Record(context.Background(), 0.09) // not sampled
	h.Record(inSpan(3), 1)               // le=1: the second bucket
	h.Record(inSpan(4), 5)               // +Inf
	for i := range 20 {
		c.Add(inSpan(byte(10+i)), 1)
	}
	got := collectMetrics(t, r)

	hd := got["latency"].(metricdata.Histogram[float64]).DataPoints[0]
	want := map[float64]string{0.08: "02", 1: "03", 5: "04"}
	if len(hd.Exemplars) != len(want) {
		t.Fatalf("histogram exemplars %+v, want %d (one per bucket with a sampled measurement)", hd.Exemplars, len(want))
	}
	for _, e := range hd.Exemplars {
		id, ok := want[e.Value]
		if !ok || hex.EncodeToString(e.TraceID) != id+id+id+id+id+id+id+id+id+id+id+id+id+id+id+id || hex.EncodeToString(e.SpanID) != id+id+id+id+id+id+id+id {
			t.Errorf("exemplar value %v trace %x span %x; want the last sampled measurement of its bucket %v", e.Value, e.TraceID, e.SpanID, want)
		}
		if e.Time.IsZero() {
			t.Errorf("exemplar %v has no time", e.Value)
		}
	}
	if cd := got["hits"].(metricdata.Sum[int64]).DataPoints[0]; len(cd.Exemplars) != 0 {
		t.Errorf("counter exemplars %+v, want none", cd.Exemplars)
	}
}

// TestExemplarReservoirsKeepViews: the caller's views still apply, each
// instrument is collected once, and a view's own reservoir wins (here the
// SDK's, which brings back a counter's exemplars).
func TestExemplarReservoirsKeepViews(t *testing.T) {
	rename := sdkmetric.NewView(sdkmetric.Instrument{Name: "hits"}, sdkmetric.Stream{Name: "requests"})
	sdkReservoir := func(i sdkmetric.Instrument) (sdkmetric.Stream, bool) {
		if i.Name != "jobs" {
			return sdkmetric.Stream{}, false
		}
		return sdkmetric.Stream{Name: i.Name, ExemplarReservoirProviderSelector: sdkmetric.DefaultExemplarReservoirProviderSelector}, true
	}
	p, r := exemplarProvider(t, ExemplarsTraceBased, rename, sdkReservoir)
	m := p.Meter("t")
	hits, _ := m.Int64Counter("hits")
	jobs, _ := m.Int64Counter("jobs")
	h, _ := m.Float64Histogram("latency", metric.WithExplicitBucketBoundaries(0.1))
	hits.Add(inSpan(1), 1)
	jobs.Add(inSpan(2), 1)
	h.Record(inSpan(3), 0.05)
	got := collectMetrics(t, r)
	if len(got) != 3 || got["requests"] == nil || got["jobs"] == nil || got["latency"] == nil {
		t.Fatalf("collected %v, want requests (hits renamed), jobs and latency once each", keys(got))
	}
	if ex := got["requests"].(metricdata.Sum[int64]).DataPoints[0].Exemplars; len(ex) != 0 {
		t.Errorf("renamed counter exemplars %+v, want none (Vitals' reservoirs)", ex)
	}
	if ex := got["jobs"].(metricdata.Sum[int64]).DataPoints[0].Exemplars; len(ex) != 1 {
		t.Errorf("counter with the SDK's reservoir: exemplars %+v, want one", ex)
	}
	if ex := got["latency"].(metricdata.Histogram[float64]).DataPoints[0].Exemplars; len(ex) != 1 {
		t.Errorf("histogram exemplars %+v, want one", ex)
	}
}

// TestLastReservoirCollectedIsImmutable: exemplars already collected keep
// their IDs while new measurements are offered, and a collection without a
// new measurement returns the very same IDs (what the converter's cache
// keys on). Run with -race.
func TestLastReservoirCollectedIsImmutable(t *testing.T) {
	r := exemplarReservoirs(sdkmetric.AggregationExplicitBucketHistogram{Boundaries: []float64{1}})(attribute.NewSet())
	offer := func(id byte) {
		r.Offer(inSpan(id), time.Now(), exemplar.NewValue(0.5), nil)
	}
	offer(1)
	var first []exemplar.Exemplar
	r.Collect(&first)
	if len(first) != 1 || first[0].TraceID[0] != 1 {
		t.Fatalf("first collection %+v", first)
	}
	var again []exemplar.Exemplar
	r.Collect(&again)
	if len(again) != 1 || &again[0].TraceID[0] != &first[0].TraceID[0] {
		t.Errorf("a collection with nothing new returned other IDs: %p, want %p", &again[0].TraceID[0], &first[0].TraceID[0])
	}

	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 1000 {
				offer(byte(2 + (i*1000+j)%200))
			}
		})
	}
	wg.Go(func() {
		var dest []exemplar.Exemplar
		for range 1000 {
			r.Collect(&dest)
			for _, e := range dest {
				if e.TraceID[0] != e.TraceID[15] || e.SpanID[0] != e.TraceID[0] {
					t.Errorf("torn exemplar: trace %x span %x", e.TraceID, e.SpanID)
					return
				}
			}
		}
	})
	wg.Wait()
	if first[0].TraceID[0] != 1 || first[0].SpanID[7] != 1 {
		t.Errorf("the first collection's exemplar changed to trace %x span %x", first[0].TraceID, first[0].SpanID)
	}
}
