package promconv_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/vitalsgo/vitals/internal/promconv"
)

const (
	benchSeries = 10000
	benchScope  = "github.com/vitalsgo/vitals/bench"
)

// BenchmarkScrape serves 1 000 and 10 000 counter series, one attribute
// route="r<i>" each, through promhttp in the text format: client_golang
// (the anchor), the OTel exporter, and promconv, side by side.
func BenchmarkScrape(b *testing.B) {
	for _, n := range []int{1000, benchSeries} {
		b.Run("series="+strconv.Itoa(n), func(b *testing.B) { benchScrape(b, n) })
	}
}

func benchScrape(b *testing.B, n int) {
	b.Run("client_golang", func(b *testing.B) {
		reg := prometheus.NewRegistry()
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bench_requests_total", Help: "Requests."}, []string{"route"})
		reg.MustRegister(c)
		for i := range n {
			c.WithLabelValues("r" + strconv.Itoa(i)).Add(float64(i))
		}
		scrape(b, reg)
	})
	// The same with the otel_scope_name label promconv adds, to separate the
	// cost of the bigger exposition from the cost of the conversion.
	b.Run("client_golang_with_scope_label", func(b *testing.B) {
		reg := prometheus.NewRegistry()
		c := prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bench_requests_total", Help: "Requests.",
			ConstLabels: prometheus.Labels{"otel_scope_name": benchScope},
		}, []string{"route"})
		reg.MustRegister(c)
		for i := range n {
			c.WithLabelValues("r" + strconv.Itoa(i)).Add(float64(i))
		}
		scrape(b, reg)
	})
	b.Run("otel_exporter_default", func(b *testing.B) {
		reg := prometheus.NewRegistry()
		exp, err := otelprom.New(otelprom.WithRegisterer(reg))
		if err != nil {
			b.Fatal(err)
		}
		benchProvider(b, exp, n)
		scrape(b, reg)
	})
	b.Run("otel_exporter_without_scope", func(b *testing.B) {
		reg := prometheus.NewRegistry()
		exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
		if err != nil {
			b.Fatal(err)
		}
		benchProvider(b, exp, n)
		scrape(b, reg)
	})
	b.Run("promconv", func(b *testing.B) {
		reader := sdkmetric.NewManualReader()
		benchProvider(b, reader, n)
		scrape(b, promconv.NewGatherer(reader, nil))
	})
}

// BenchmarkConvert converts one collection of benchSeries counter series.
func BenchmarkConvert(b *testing.B) {
	reader := sdkmetric.NewManualReader()
	benchProvider(b, reader, benchSeries)
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		b.Fatal(err)
	}
	c := promconv.NewConverter(nil)
	b.ReportAllocs()
	for b.Loop() {
		mfs, err := c.Convert(nil, &rm)
		if err != nil || len(mfs) != 2 || len(mfs[0].Metric) != benchSeries {
			b.Fatalf("got %d families, error %v", len(mfs), err)
		}
	}
}

// BenchmarkCollect is the share of the SDK in a promconv scrape.
func BenchmarkCollect(b *testing.B) {
	reader := sdkmetric.NewManualReader()
	benchProvider(b, reader, benchSeries)
	var rm metricdata.ResourceMetrics
	b.ReportAllocs()
	for b.Loop() {
		if err := reader.Collect(context.Background(), &rm); err != nil {
			b.Fatal(err)
		}
	}
}

func benchProvider(b *testing.B, r sdkmetric.Reader, n int) {
	mp := sdkmetric.NewMeterProvider(
		sdkmetric.WithReader(r),
		sdkmetric.WithCardinalityLimit(0), // the default 2000 would fold most series into one
		sdkmetric.WithResource(resource.NewSchemaless(attribute.String("service.name", "bench"))),
	)
	b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	c, err := mp.Meter(benchScope).Float64Counter("bench.requests", metric.WithDescription("Requests."))
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		c.Add(context.Background(), float64(i), metric.WithAttributes(attribute.String("route", "r"+strconv.Itoa(i))))
	}
}

func scrape(b *testing.B, g prometheus.Gatherer) {
	h := promhttp.HandlerFor(g, promhttp.HandlerOpts{})
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	var n int
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		n = rec.Body.Len()
	}
	b.ReportMetric(float64(n), "bytes/scrape")
}
