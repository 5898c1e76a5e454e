package promconv

import (
	"context"
	"errors"
	"math"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	"google.golang.org/protobuf/proto"
)

// nativeOnly aggregates histograms as exponential histograms and drops
// everything else, as the native reader of NewNativeGatherer should.
func nativeOnly(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
	if k == sdkmetric.InstrumentKindHistogram {
		return sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: 160, MaxScale: 20}
	}
	return sdkmetric.AggregationDrop{}
}

// nativeSetup returns a MeterProvider with a native reader registered
// before a classic one, and both readers.
func nativeSetup(t *testing.T) (mp *sdkmetric.MeterProvider, classic, native *sdkmetric.ManualReader) {
	t.Helper()
	classic = sdkmetric.NewManualReader()
	native = sdkmetric.NewManualReader(sdkmetric.WithAggregationSelector(nativeOnly))
	mp = sdkmetric.NewMeterProvider(
		sdkmetric.WithReader(native),
		sdkmetric.WithReader(classic),
		sdkmetric.WithResource(resource.NewSchemaless(attribute.String("service.name", "web"))),
	)
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return mp, classic, native
}

// stripNative returns a copy of mfs without the native histogram fields.
func stripNative(mfs []*dto.MetricFamily) []*dto.MetricFamily {
	out := make([]*dto.MetricFamily, len(mfs))
	for i, mf := range mfs {
		mf = proto.Clone(mf).(*dto.MetricFamily)
		for _, m := range mf.Metric {
			if h := m.Histogram; h != nil {
				h.Schema, h.ZeroThreshold, h.ZeroCount = nil, nil, nil
				h.PositiveSpan, h.PositiveDelta, h.NegativeSpan, h.NegativeDelta = nil, nil, nil, nil
				h.Exemplars = nil
			}
		}
		out[i] = mf
	}
	return out
}

func equalFamilies(a, b []*dto.MetricFamily) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !proto.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func TestNativeGathererMergesHistograms(t *testing.T) {
	mp, classic, native := nativeSetup(t)
	ctx := context.Background()
	meter := mp.Meter("example.com/web")
	lat, _ := meter.Float64Histogram("http.latency", metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(0.1, 1))
	hits, _ := meter.Int64Counter("hits")
	up, _ := meter.Int64Gauge("up")
	a := metric.WithAttributes(attribute.String("route", "/a"))
	b := metric.WithAttributes(attribute.String("route", "/b"))
	for _, v := range []float64{0.05, 0.5, 5, -1, 0} {
		lat.Record(ctx, v, a)
	}
	lat.Record(ctx, 0.3, b)
	hits.Add(ctx, 3, a)
	up.Record(ctx, 1)

	var errs []error
	g := NewNativeGatherer(classic, native, func(err error) { errs = append(errs, err) })
	both, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	only, err := g.Classic().Gather()
	if err != nil {
		t.Fatal(err)
	}
	plain, err := NewGatherer(classic, nil).Gather()
	if err != nil {
		t.Fatal(err)
	}
	if !equalFamilies(only, plain) {
		t.Errorf("Classic().Gather() differs from NewGatherer's Gather:\n%v\n%v", only, plain)
	}
	if !equalFamilies(stripNative(both), plain) {
		t.Errorf("without its native fields, Gather differs from NewGatherer's:\n%v\n%v", both, plain)
	}

	var hist *dto.MetricFamily
	for _, mf := range both {
		if mf.GetName() == "http_latency_seconds" {
			hist = mf
		}
	}
	if hist == nil || len(hist.Metric) != 2 {
		t.Fatalf("http_latency_seconds = %v, want two series", hist)
	}
	h := hist.Metric[0].Histogram
	if h.GetSampleCount() != 5 || len(h.Bucket) != 2 || h.Schema == nil || h.GetZeroCount() != 1 ||
		len(h.PositiveSpan) == 0 || len(h.NegativeSpan) == 0 {
		t.Errorf("route /a: %v, want 5 observations, 2 classic buckets and native buckets on both sides of zero", h)
	}
	if h := hist.Metric[1].Histogram; h.GetSampleCount() != 1 || h.GetSampleSum() != 0.3 || len(h.PositiveSpan) != 1 {
		t.Errorf("route /b: %v", h)
	}
	if len(errs) > 0 {
		t.Errorf("errors: %v", errs)
	}
}

func TestNewGathererClassicIsItself(t *testing.T) {
	g := NewGatherer(sdkmetric.NewManualReader(), nil)
	if g.Classic() != g {
		t.Error("Classic of a Gatherer without native reader is not the Gatherer")
	}
}

func TestNativeGathererShutdown(t *testing.T) {
	mp, classic, native := nativeSetup(t)
	lat, _ := mp.Meter("m").Float64Histogram("lat")
	lat.Record(context.Background(), 1)
	g := NewNativeGatherer(classic, native, nil)

	if err := native.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	mfs, err := g.Gather()
	if err != nil || len(mfs) == 0 {
		t.Fatalf("native reader shut down: %v, %v; want the classic families", mfs, err)
	}
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			if h := m.Histogram; h != nil && (h.Schema != nil || len(h.Bucket) == 0) {
				t.Errorf("native reader shut down: %s has %v", mf.GetName(), h)
			}
		}
	}

	if err := classic.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if mfs, err := g.Gather(); mfs != nil || err != nil {
		t.Errorf("both readers shut down: %v, %v; want nothing", mfs, err)
	}
}

func TestNativeGathererUnregisteredNative(t *testing.T) {
	classic := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(classic))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	c, _ := mp.Meter("m").Int64Counter("c")
	c.Add(context.Background(), 1)
	mfs, err := NewNativeGatherer(classic, sdkmetric.NewManualReader(), nil).Gather()
	if !errors.Is(err, sdkmetric.ErrReaderNotRegistered) || len(mfs) == 0 || mfs[0].GetName() != "c_total" {
		t.Errorf("unregistered native reader: %v, %v; want the classic families and ErrReaderNotRegistered", mfs, err)
	}
}

// histMetric builds a one-series histogram metric with the given labels.
func histMetric(h *dto.Histogram, labels ...string) *dto.Metric {
	m := &dto.Metric{Histogram: h}
	for i := 0; i+1 < len(labels); i += 2 {
		m.Label = append(m.Label, &dto.LabelPair{Name: new(labels[i]), Value: new(labels[i+1])})
	}
	return m
}

func classicHist(count uint64, counts ...uint64) *dto.Histogram {
	h := &dto.Histogram{SampleCount: new(count), SampleSum: new(1.0)}
	for i, c := range counts {
		h.Bucket = append(h.Bucket, &dto.Bucket{UpperBound: new(float64(i + 1)), CumulativeCount: new(c)})
	}
	return h
}

func nativeHist(count uint64) *dto.Histogram {
	return &dto.Histogram{
		SampleCount:   new(count),
		SampleSum:     new(2.0),
		Schema:        new(int32(3)),
		ZeroThreshold: new(0.0),
		ZeroCount:     new(uint64(0)),
		PositiveSpan:  []*dto.BucketSpan{{Offset: new(int32(0)), Length: new(uint32(1))}},
		PositiveDelta: []int64{int64(count)},
	}
}

func fam(name string, typ dto.MetricType, ms ...*dto.Metric) *dto.MetricFamily {
	return &dto.MetricFamily{Name: new(name), Type: typ.Enum(), Metric: ms}
}

func TestMergeNativePairsByNameAndLabels(t *testing.T) {
	a, b, c := classicHist(1, 1), classicHist(2, 1), classicHist(3, 3)
	gauge := &dto.Metric{Gauge: &dto.Gauge{Value: new(1.0)}}
	fams := []*dto.MetricFamily{
		fam("a", dto.MetricType_HISTOGRAM, histMetric(a, "k", "1"), histMetric(b, "k", "2"), histMetric(c, "k", "4")),
		fam("b", dto.MetricType_GAUGE, gauge),
		fam("d", dto.MetricType_HISTOGRAM, histMetric(classicHist(1, 1), "k", "1")),
	}
	nfams := []*dto.MetricFamily{
		fam("a", dto.MetricType_HISTOGRAM, histMetric(nativeHist(2), "k", "2"), histMetric(nativeHist(9), "k", "3"), histMetric(nativeHist(3), "k", "4")),
		fam("b", dto.MetricType_HISTOGRAM, histMetric(nativeHist(1))),
		fam("c", dto.MetricType_HISTOGRAM, histMetric(nativeHist(1), "k", "1")),
		fam("d", dto.MetricType_HISTOGRAM, histMetric(nativeHist(1), "k", "other")),
	}
	mergeNative(fams, nfams)

	got := fams[0].Metric
	if got[0].Histogram != a {
		t.Errorf("k=1 has no native counterpart but changed: %v", got[0].Histogram)
	}
	for i, want := range []*dto.Histogram{b, c} {
		h := got[i+1].Histogram
		if h.Schema == nil || h.GetSchema() != 3 || len(h.Bucket) != 1 || h.Bucket[0] != want.Bucket[0] || h.GetSampleSum() != 2 {
			t.Errorf("series %d: %v, want the classic buckets and the native fields", i+1, h)
		}
	}
	if b.Schema != nil || c.Schema != nil || fams[0].Metric[1].Histogram == b {
		t.Error("the classic histograms were modified rather than replaced")
	}
	if fams[1].Metric[0] != gauge || gauge.Histogram != nil {
		t.Error("a gauge family got a histogram")
	}
	if h := fams[2].Metric[0].Histogram; h.Schema != nil {
		t.Errorf("d{k=1} merged with d{k=other}: %v", h)
	}
}

func TestWithNative(t *testing.T) {
	c := classicHist(4, 1, 2)
	n := nativeHist(5)
	h := withNative(c, n)
	if h.GetSampleCount() != 5 || h.GetSampleSum() != 2 || len(h.Bucket) != 2 || c.GetSampleCount() != 4 {
		t.Errorf("merged %v from %v", h, c)
	}
	if withNative(n, n) != nil || withNative(c, classicHist(4, 1, 2)) != nil || withNative(nil, n) != nil || withNative(c, nil) != nil {
		t.Error("merged a native histogram into a native one, or a classic one into a classic one")
	}

	// An exemplar above every bound gets an explicit +Inf bucket, which
	// must count what the count does.
	ex := &dto.Exemplar{Value: new(99.0)}
	c.Bucket = append(c.Bucket, &dto.Bucket{UpperBound: new(math.Inf(1)), CumulativeCount: new(uint64(4)), Exemplar: ex})
	h = withNative(c, n)
	last := h.Bucket[len(h.Bucket)-1]
	if last.GetCumulativeCount() != 5 || last.Exemplar != ex || c.Bucket[2].GetCumulativeCount() != 4 {
		t.Errorf("+Inf bucket %v (classic %v), want count 5 with the exemplar, classic unchanged", last, c.Bucket[2])
	}

	// An empty native histogram is one still: a span of length 0.
	empty := &dto.Histogram{SampleCount: new(uint64(0)), SampleSum: new(0.0), Schema: new(int32(8)),
		PositiveSpan: []*dto.BucketSpan{{Offset: new(int32(0)), Length: new(uint32(0))}}}
	if h := withNative(classicHist(0, 0), empty); h == nil || len(h.PositiveSpan) != 1 {
		t.Errorf("empty native histogram not merged: %v", h)
	}
}

func TestJoinNew(t *testing.T) {
	e1, e2, e3 := errors.New("one"), errors.New("two"), errors.New("three")
	if got := joinNew(nil, nil); got != nil {
		t.Errorf("joinNew(nil, nil) = %v", got)
	}
	if got := joinNew(e1, nil); got != e1 {
		t.Errorf("joinNew(e1, nil) = %v", got)
	}
	if got := joinNew(nil, e2); got != e2 {
		t.Errorf("joinNew(nil, e2) = %v", got)
	}
	classic := errors.Join(e1, e2)
	if got := joinNew(classic, errors.Join(errors.New("two"), errors.New("one"))); got != classic {
		t.Errorf("repeated errors: %v", got)
	}
	got := joinNew(classic, errors.Join(errors.New("two"), e3))
	if got == nil || got.Error() != "one\ntwo\nthree" || !errors.Is(got, e3) {
		t.Errorf("joinNew = %q, want one, two and three", got)
	}
}
