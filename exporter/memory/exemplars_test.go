package memory_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/trace"

	"github.com/vitalsgo/vitals/exporter/memory"
)

// sampled returns a context carrying a sampled span of trace id (one byte
// repeated).
func sampled(id byte) context.Context {
	var tid trace.TraceID
	var sid trace.SpanID
	for i := range tid {
		tid[i] = id
	}
	for i := range sid {
		sid[i] = id
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
	return trace.ContextWithSpanContext(context.Background(), sc)
}

// TestExemplarsKept: the exemplar of a sampled measurement is kept with
// its bucket series and trace ID, once however many collections report
// it; the newest WithMaxExemplars are kept; matchers and times select.
func TestExemplarsKept(t *testing.T) {
	clk := newClock()
	r := memory.New(memory.WithClock(clk), memory.WithMaxExemplars(3))
	mp := newProvider(t, r, sdkmetric.WithExemplarFilter(exemplar.TraceBasedFilter))
	h, _ := mp.Meter("shop").Float64Histogram("latency", metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(0.1, 1))
	h.Record(sampled(1), 0.05)
	h.Record(context.Background(), 0.5) // not sampled: no exemplar
	collect(t, r)
	clk.Advance(10 * time.Second)
	collect(t, r) // the same exemplar again

	all := []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, "latency_seconds_bucket")}
	// Exemplars keep the time of their measurement (the wall clock's).
	res, err := r.Exemplars(t.Context(), time.UnixMilli(0), time.UnixMilli(math.MaxInt64), all)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].SeriesLabels.Get("le") != "0.1" || len(res[0].Exemplars) != 1 {
		t.Fatalf("exemplars = %v, want one on the le=0.1 bucket", res)
	}
	e := res[0].Exemplars[0]
	if e.Value != 0.05 || e.Labels.Get("trace_id") != "01010101010101010101010101010101" || e.Labels.Get("span_id") != "0101010101010101" {
		t.Errorf("exemplar = %v", e)
	}

	// Three more, in three buckets (+Inf included): the ring keeps three.
	h.Record(sampled(2), 0.07)
	h.Record(sampled(3), 0.7)
	h.Record(sampled(4), 7)
	clk.Advance(10 * time.Second)
	collect(t, r)
	res, _ = r.Exemplars(t.Context(), time.UnixMilli(0), time.UnixMilli(math.MaxInt64), all)
	got := map[string]string{}
	n := 0
	for _, s := range res {
		for _, e := range s.Exemplars {
			got[s.SeriesLabels.Get("le")] = e.Labels.Get("trace_id")[:2]
			n++
		}
	}
	if n != 3 || got["0.1"] != "02" || got["1.0"] != "03" || got["+Inf"] != "04" {
		t.Errorf("after three more: %d exemplars %v, want the newest three (02 at 0.1, 03 at 1.0, 04 at +Inf)", n, got)
	}
	// A time range before them, or another name, has none.
	if res, _ := r.Exemplars(t.Context(), time.UnixMilli(0), time.UnixMilli(e.Ts-1), all); len(res) != 0 {
		t.Errorf("before the first: %v", res)
	}
	other := []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, "other_bucket")}
	if res, _ := r.Exemplars(t.Context(), time.UnixMilli(0), time.UnixMilli(math.MaxInt64), other); len(res) != 0 {
		t.Errorf("another name: %v", res)
	}
	// The +Inf bucket's sample is the count, once.
	if v := instant(t, r, `latency_seconds_bucket{le="+Inf"}`, clk.Now()); len(v) != 1 {
		t.Errorf("+Inf bucket series: %v", v)
	}
}

// TestExemplarsOff: WithMaxExemplars(0) keeps none.
func TestExemplarsOff(t *testing.T) {
	clk := newClock()
	r := memory.New(memory.WithClock(clk), memory.WithMaxExemplars(0))
	mp := newProvider(t, r, sdkmetric.WithExemplarFilter(exemplar.TraceBasedFilter))
	h, _ := mp.Meter("shop").Float64Histogram("latency", metric.WithUnit("s"))
	h.Record(sampled(1), 0.05)
	collect(t, r)
	all := []*labels.Matcher{labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, ".+")}
	if res, err := r.Exemplars(t.Context(), time.UnixMilli(0), time.UnixMilli(math.MaxInt64), all); len(res) != 0 || err != nil {
		t.Errorf("exemplars kept with WithMaxExemplars(0): %v, %v", res, err)
	}
}
