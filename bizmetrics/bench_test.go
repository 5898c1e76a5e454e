package bizmetrics_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/vitalsgo/vitals/bizmetrics"
)

// benchBounds are the buckets of every histogram compared.
var benchBounds = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

type benchCase struct {
	name string
	op   func()
}

// benchCases returns the counter and histogram recordings compared, all on
// one SDK MeterProvider with one reader (each further reader adds one
// aggregation to every synchronous measurement, and nothing to an atomic),
// exemplars off as Vitals configures them.
func benchCases(b *testing.B) (counters, histograms []benchCase) {
	ctx := context.Background()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()),
		sdkmetric.WithExemplarFilter(func(context.Context) bool { return false }))
	b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}

	// Anchors.
	var plain atomic.Int64
	reg := prometheus.NewRegistry()
	promCounter := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "jobs_total"}, []string{"queue"})
	promHist := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "render_seconds", Buckets: benchBounds}, []string{"queue"})
	reg.MustRegister(promCounter, promHist)
	promChild := promCounter.WithLabelValues("mail")
	promObserver := promHist.WithLabelValues("mail")

	sdk := mp.Meter("bench/sdk")
	otelCounter, err := sdk.Int64Counter("sdk.jobs")
	must(err)
	otelHist, err := sdk.Float64Histogram("sdk.render", metric.WithExplicitBucketBoundaries(benchBounds...))
	must(err)
	set := attribute.NewSet(attribute.String("queue", "mail"))
	addOpts := []metric.AddOption{metric.WithAttributeSet(set)}
	recOpts := []metric.RecordOption{metric.WithAttributeSet(set)}
	// The anchor of the database histogram: its buckets, three attributes.
	otelDB, err := sdk.Float64Histogram("sdk.db", metric.WithExplicitBucketBoundaries(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10))
	must(err)
	dbOpts := []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(
		attribute.String("db.system.name", "sqlite"), attribute.String("db.operation.name", "SELECT"),
		attribute.String("db.collection.name", "orders")))}

	// Vitals.
	m, err := bizmetrics.New(bizmetrics.WithMeterProvider(mp))
	must(err)
	counter, err := m.Counter("jobs", "{job}", "")
	must(err)
	hist, err := m.Histogram("render", "s", "", benchBounds...)
	must(err)
	queue := attribute.String("queue", "mail")
	jobs := counter.Bind(queue)
	render := hist.Bind(queue)
	web, err := m.Registrations("web")
	must(err)
	sessions, err := m.CacheOperations("sessions")
	must(err)
	eur, err := m.Orders("EUR")
	must(err)
	dbop, err := m.DBOperations("sqlite", "SELECT", "orders")
	must(err)

	counters = []benchCase{
		{"atomic.Int64.Add", func() { plain.Add(1) }},
		{"client_golang.Counter.Inc", func() { promChild.Inc() }},
		{"otel_sdk.Int64Counter.Add", func() { otelCounter.Add(ctx, 1, addOpts...) }},
		{"otel_sdk.Int64Counter.Add_attrs_per_call", func() {
			otelCounter.Add(ctx, 1, metric.WithAttributes(attribute.String("queue", "mail")))
		}},
		{"vitals.BoundCounter.Add", func() { jobs.Add(ctx, 1) }},
		{"vitals.registrations.Add", func() { web.Add(ctx, 1) }},
		{"vitals.Cache.Hit", func() { sessions.Hit(ctx) }},
		{"vitals.Counter.Add_unbound", func() { counter.Add(ctx, 1, attribute.String("queue", "mail")) }},
		{"vitals.Registration_unbound", func() { _ = m.Registration(ctx, "web") }},
	}
	histograms = []benchCase{
		{"client_golang.Histogram.Observe", func() { promObserver.Observe(0.2) }},
		{"otel_sdk.Float64Histogram.Record", func() { otelHist.Record(ctx, 0.2, recOpts...) }},
		{"vitals.BoundHistogram.Record", func() { render.Record(ctx, 0.2) }},
		{"otel_sdk.Float64Histogram.Record_3_attrs", func() { otelDB.Record(ctx, 0.2, dbOpts...) }},
		{"vitals.DBOperation.Record", func() { dbop.Record(ctx, 200*time.Millisecond, nil) }},
		{"vitals.Orders.Record", func() { _ = eur.Record(ctx, 42.5) }},
		{"vitals.Histogram.Record_unbound", func() { hist.Record(ctx, 0.2, attribute.String("queue", "mail")) }},
		{"vitals.RecordDB_unbound", func() { m.RecordDB(ctx, "sqlite", "SELECT", "orders", 200*time.Millisecond, nil) }},
		{"vitals.Order_unbound", func() { _ = m.Order(ctx, "EUR", 42.5) }},
	}
	return counters, histograms
}

func runBench(b *testing.B, cases []benchCase, parallel bool) {
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			c.op() // the handle exists before the loop
			b.ReportAllocs()
			if parallel {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						c.op()
					}
				})
				return
			}
			for b.Loop() {
				c.op()
			}
		})
	}
}

// BenchmarkCounter compares a counter increment: Vitals' handles are
// atomics read at collection time.
func BenchmarkCounter(b *testing.B) {
	counters, _ := benchCases(b)
	runBench(b, counters, false)
}

// BenchmarkCounterParallel is BenchmarkCounter from GOMAXPROCS goroutines
// on the same series.
func BenchmarkCounterParallel(b *testing.B) {
	counters, _ := benchCases(b)
	runBench(b, counters, true)
}

// BenchmarkHistogram compares a histogram recording: Vitals' handles are
// the SDK's synchronous instrument with a set and option slice built once.
func BenchmarkHistogram(b *testing.B) {
	_, histograms := benchCases(b)
	runBench(b, histograms, false)
}

// BenchmarkHistogramParallel is BenchmarkHistogram from GOMAXPROCS
// goroutines on the same series.
func BenchmarkHistogramParallel(b *testing.B) {
	_, histograms := benchCases(b)
	runBench(b, histograms, true)
}
