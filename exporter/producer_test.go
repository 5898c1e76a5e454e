package exporter

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/vitalsgo/vitals/internal/otlptest"
)

// fakeProducer produces one cumulative counter, produced.items = 7, and
// counts its calls.
type fakeProducer struct{ calls atomic.Int64 }

func (p *fakeProducer) Produce(context.Context) ([]metricdata.ScopeMetrics, error) {
	p.calls.Add(1)
	return []metricdata.ScopeMetrics{{
		Scope: instrumentation.Scope{Name: "example.com/producer"},
		Metrics: []metricdata.Metrics{{
			Name: "produced.items",
			Unit: "{item}",
			Data: metricdata.Sum[int64]{
				Temporality: metricdata.CumulativeTemporality,
				IsMonotonic: true,
				DataPoints:  []metricdata.DataPoint[int64]{{Value: 7}},
			},
		}},
	}}, nil
}

// TestWithProducerReachesEveryReader checks that a producer given to
// NewMeterProvider is read by the Prometheus, console and OTLP readers
// alike.
func TestWithProducerReachesEveryReader(t *testing.T) {
	var console bytes.Buffer
	rcv := otlptest.NewHTTP(t)
	prod := &fakeProducer{}
	p := newTestProvider(t, MetricsConfig{
		Exporters:     []MetricsExporter{MetricsPrometheus, MetricsOTLP, MetricsConsole},
		ConsoleWriter: &console,
		OTLP:          OTLP{Protocol: ProtocolHTTPProtobuf, Endpoint: rcv.Endpoint() + "/v1/metrics"},
	}, WithProducer(prod), WithProducer(nil))

	srv := httptest.NewServer(p.PrometheusHandler())
	defer srv.Close()
	mfs := scrape(t, srv.URL)
	f := mfs["produced_items_total"]
	if f == nil || len(f.GetMetric()) != 1 || f.GetMetric()[0].GetCounter().GetValue() != 7 {
		t.Errorf("/metrics: produced_items_total = %v, want one counter of 7", f)
	}
	if got := prod.calls.Load(); got != 1 {
		t.Errorf("after a scrape: %d calls to Produce, want 1", got)
	}

	if err := p.ForceFlush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(console.String(), `"produced.items"`) {
		t.Errorf("console output lacks produced.items:\n%s", console.String())
	}
	ms := otlptest.FindMetric(rcv.Requests(), "produced.items")
	if len(ms) != 1 || ms[0].GetSum().GetDataPoints()[0].GetAsInt() != 7 {
		t.Errorf("OTLP: produced.items = %v, want one sum of 7", ms)
	}
	if got := prod.calls.Load(); got != 3 {
		t.Errorf("after a scrape and a flush of two push readers: %d calls to Produce, want 3", got)
	}
}

// TestWithoutProducer checks that readers have no producer by default.
func TestWithoutProducer(t *testing.T) {
	p := newTestProvider(t, MetricsConfig{})
	srv := httptest.NewServer(p.PrometheusHandler())
	defer srv.Close()
	if f := scrape(t, srv.URL)["produced_items_total"]; f != nil {
		t.Errorf("unexpected produced_items_total: %v", f)
	}
}
