package memory_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/vitalsgo/vitals/exporter/memory"
)

// histogramProducer produces one cumulative histogram, queue.wait, whose
// count grows by one per call.
type histogramProducer struct{ n uint64 }

func (p *histogramProducer) Produce(context.Context) ([]metricdata.ScopeMetrics, error) {
	p.n++
	return []metricdata.ScopeMetrics{{
		Scope: instrumentation.Scope{Name: "example.com/producer"},
		Metrics: []metricdata.Metrics{{
			Name: "queue.wait",
			Unit: "s",
			Data: metricdata.Histogram[float64]{
				Temporality: metricdata.CumulativeTemporality,
				DataPoints: []metricdata.HistogramDataPoint[float64]{{
					Attributes:   attribute.NewSet(attribute.String("queue", "orders")),
					Bounds:       []float64{0.1, 1},
					BucketCounts: []uint64{p.n, 0, 0},
					Count:        p.n,
					Sum:          0.05 * float64(p.n),
				}},
			},
		}},
	}}, nil
}

// TestWithProducer checks that what a producer produces is stored under the
// names /metrics would give it, collection after collection.
func TestWithProducer(t *testing.T) {
	clk := newClock()
	r := memory.New(memory.WithClock(clk), memory.WithProducer(&histogramProducer{}), memory.WithProducer(nil))
	_ = newProvider(t, r)

	collect(t, r)
	clk.Advance(r.Interval())
	collect(t, r)

	for expr, want := range map[string]float64{
		`queue_wait_seconds_count{queue="orders"}`:                       2,
		`queue_wait_seconds_bucket{queue="orders",le="0.1"}`:             2,
		`queue_wait_seconds_bucket{queue="orders",le="+Inf"}`:            2,
		`queue_wait_seconds_sum{queue="orders"}`:                         0.1,
		`queue_wait_seconds_count - queue_wait_seconds_count offset 10s`: 1,
	} {
		got := instant(t, r, expr, clk.Now())
		if len(got) != 1 {
			t.Errorf("%s: %d series, want 1: %v", expr, len(got), got)
			continue
		}
		for _, v := range got {
			if !approx(v, want) {
				t.Errorf("%s = %v, want %v", expr, v, want)
			}
		}
	}
}
