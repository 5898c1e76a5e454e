package memory_test

import (
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"

	"github.com/vitalsgo/vitals/exporter/memory"
)

// fill records one counter series per id.
func fill(b *testing.B, mp metric.MeterProvider, n int) {
	c, _ := mp.Meter("bench").Int64Counter("hits")
	ctx := context.Background()
	for i := range n {
		c.Add(ctx, 1, metric.WithAttributes(attribute.String("route", "/r/"+strconv.Itoa(i))))
	}
}

func newBenchReader(b *testing.B, n int, opts ...memory.Option) *memory.Reader {
	r := memory.New(append([]memory.Option{memory.WithClock(steppingClock{newClock()}), memory.WithMaxSeries(n + 10)}, opts...)...)
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.SDKReader()), sdkmetric.WithCardinalityLimit(0),
		sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter)) // as Vitals configures it
	b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	fill(b, mp, n)
	return r
}

// BenchmarkCollect measures one collect-and-append cycle: the SDK's
// collection, the conversion to Prometheus series and the append of one
// sample to each.
func BenchmarkCollect(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run("series="+strconv.Itoa(n), func(b *testing.B) {
			r := newBenchReader(b, n)
			ctx := context.Background()
			// Warm up: create the series and grow their rings.
			for range 8 {
				if err := r.Collect(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := r.Collect(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/series")
		})
	}
}

// BenchmarkBytesPerSample fills 1000 series for a whole retention (362
// collections at the default 10 s interval and 1 h retention) and reports
// the heap the store holds per stored sample, series overhead included.
func BenchmarkBytesPerSample(b *testing.B) {
	const n = 1000
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		r := newBenchReader(b, n)
		ctx := context.Background()
		collections := int(memory.DefaultRetention/memory.DefaultInterval) + 2
		for range collections {
			if err := r.Collect(ctx); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		st := r.Stats()
		samples := float64(st.Series * st.Collections)
		// The SDK's own aggregation state for the n series is included, so
		// this is an upper bound on the store's cost.
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/samples, "B/sample")
		runtime.KeepAlive(r)
	}
}

// BenchmarkInstantQuery evaluates sum(rate(hits_total[1m])) over 10 000
// series holding seven samples each.
func BenchmarkInstantQuery(b *testing.B) {
	const n = 10000
	clk := newClock()
	r := memory.New(memory.WithClock(clk), memory.WithMaxSeries(n+10))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.SDKReader()), sdkmetric.WithCardinalityLimit(0),
		sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter))
	b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	ctx := context.Background()
	for range 7 {
		fill(b, mp, n)
		clk.Advance(10 * time.Second)
		if err := r.Collect(ctx); err != nil {
			b.Fatal(err)
		}
	}
	for _, expr := range []string{`sum(rate(hits_total[1m]))`, `hits_total{route="/r/42"}`} {
		b.Run(expr, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Query(ctx, expr, clk.Now()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAdd measures a synchronous Add with the Prometheus reader alone
// and with the in-memory reader beside it: the reader's cost on the hot path.
func BenchmarkAdd(b *testing.B) {
	for _, withMemory := range []bool{false, true} {
		name := "prometheus_reader"
		if withMemory {
			name = "prometheus_and_memory_readers"
		}
		b.Run(name, func(b *testing.B) {
			opts := []sdkmetric.Option{sdkmetric.WithReader(sdkmetric.NewManualReader())}
			if withMemory {
				opts = append(opts, sdkmetric.WithReader(memory.New().SDKReader()))
			}
			mp := sdkmetric.NewMeterProvider(append(opts, sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter))...)
			b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
			c, _ := mp.Meter("bench").Int64Counter("hits")
			addOpts := []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("route", "/orders")))}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				c.Add(ctx, 1, addOpts...)
			}
		})
	}
}
