package exporter_test

import (
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/vitalsgo/vitals/clock/clocktest"
	"github.com/vitalsgo/vitals/exporter"
	"github.com/vitalsgo/vitals/exporter/memory"
)

// stepping moves one collection interval forward at every reading.
type stepping struct{ *clocktest.Clock }

func (s stepping) Now() time.Time { return s.Advance(10 * time.Second) }

// sampledContext is the context of a request in a sampled span, the
// measurements the trace_based filter keeps.
func sampledContext(i int) context.Context {
	var tid trace.TraceID
	var sid trace.SpanID
	tid[0], tid[15] = 1, byte(i)
	sid[0], sid[7] = 1, byte(i)
	return trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled,
	}))
}

// exemplarWorkloads are 10 000 series, each recorded once in a sampled span
// so that every one holds exemplars (the worst case: at a low sampling rate
// only the series of sampled requests do): 10 000 counters, or 625
// request-duration histograms of 16 bucket series each.
var exemplarWorkloads = []struct {
	name   string
	series int // OTel series: counters, or histograms
	fill   func(mp metric.MeterProvider)
}{
	{"counters", 10000, func(mp metric.MeterProvider) {
		c, _ := mp.Meter("bench").Int64Counter("hits")
		for i := range 10000 {
			c.Add(sampledContext(i), 1, metric.WithAttributes(attribute.String("route", "/r/"+strconv.Itoa(i))))
		}
	}},
	{"histograms", 625, func(mp metric.MeterProvider) {
		h, _ := mp.Meter("bench").Float64Histogram("http.server.request.duration", metric.WithUnit("s"),
			metric.WithExplicitBucketBoundaries(exporter.SecondsBoundaries()...))
		for i := range 625 {
			a := metric.WithAttributes(attribute.String("http.route", "/r/"+strconv.Itoa(i)))
			for j, v := range exporter.SecondsBoundaries() {
				h.Record(sampledContext(i*16+j), v*0.9, a) // one exemplar in every finite bucket
			}
			h.Record(sampledContext(i*16+15), 20, a)
		}
	}},
}

// newExemplarProvider builds what vitals.Start builds for metrics: the
// in-memory reader, whose readers /metrics shares, under a MeterProvider with
// the given exemplar filter.
func newExemplarProvider(b *testing.B, filter exporter.ExemplarFilter, opts ...exporter.Option) (*exporter.MeterProvider, *memory.Reader) {
	mem := memory.New(memory.WithClock(stepping{clocktest.New(time.Unix(1_700_000_000, 0))}), memory.WithMaxSeries(20000))
	p, err := exporter.NewMeterProvider(context.Background(), exporter.MetricsConfig{
		ServiceName: "bench", Exporters: []exporter.MetricsExporter{exporter.MetricsPrometheus},
		Exemplars: filter, CardinalityLimit: -1,
	}, append([]exporter.Option{exporter.WithReader(mem.SDKReaders()...),
		exporter.WithPrometheusReaders(mem.ClassicReader(), mem.NativeReader())}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return p, mem
}

// BenchmarkCollectExemplars measures one collection of the in-memory reader
// (the SDK's collection, the conversion, the append of a sample to each
// series and, with exemplars, keeping the new ones) over 10 000 series,
// with exemplars off and trace_based (what Vitals turns on with traces).
// The two collections alternate in one loop, so that both see the same
// machine: off-ns and trace_based-ns are one collection each (ns/op is the
// pair with the GCs between them), and added-% is what exemplars add.
func BenchmarkCollectExemplars(b *testing.B) {
	for _, w := range exemplarWorkloads {
		b.Run(w.name, func(b *testing.B) {
			var mems [2]*memory.Reader
			for i, f := range []exporter.ExemplarFilter{exporter.ExemplarsOff, exporter.ExemplarsTraceBased} {
				p, mem := newExemplarProvider(b, f)
				w.fill(p)
				mems[i] = mem
			}
			ctx := context.Background()
			// Each collection starts after a GC, so that neither pays for
			// the other's garbage; what each allocates is reported.
			var took [2]time.Duration
			var allocs [2]uint64
			collect := func(i int) {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				start := time.Now()
				if err := mems[i].Collect(ctx); err != nil {
					b.Fatal(err)
				}
				took[i] += time.Since(start)
				runtime.ReadMemStats(&after)
				allocs[i] += after.Mallocs - before.Mallocs
			}
			for range 4 { // create the series and grow their chunks
				collect(0)
				collect(1)
			}
			took, allocs = [2]time.Duration{}, [2]uint64{}
			for b.Loop() {
				collect(0)
				collect(1)
			}
			n := float64(b.N)
			b.ReportMetric(float64(took[0].Nanoseconds())/n, "off-ns")
			b.ReportMetric(float64(took[1].Nanoseconds())/n, "trace_based-ns")
			b.ReportMetric(float64(allocs[0])/n, "off-allocs")
			b.ReportMetric(float64(allocs[1])/n, "trace_based-allocs")
			b.ReportMetric(100*(float64(took[1])/float64(took[0])-1), "added-%")
		})
	}
}

// BenchmarkExemplarMemory reports the heap the aggregations hold per OTel
// series (a counter, or a histogram of 16 buckets), before any collection,
// with exemplars off,
// with Vitals' reservoirs, and with the SDK's default reservoirs, at
// GOMAXPROCS 2 and 32: the SDK gives a counter series GOMAXPROCS slots.
func BenchmarkExemplarMemory(b *testing.B) {
	sdkDefault := exporter.WithView(func(i sdkmetric.Instrument) (sdkmetric.Stream, bool) {
		return sdkmetric.Stream{Name: i.Name, Description: i.Description, Unit: i.Unit,
			ExemplarReservoirProviderSelector: sdkmetric.DefaultExemplarReservoirProviderSelector}, true
	})
	for _, procs := range []int{2, 32} {
		for _, w := range exemplarWorkloads {
			for _, c := range []struct {
				name   string
				filter exporter.ExemplarFilter
				opts   []exporter.Option
			}{
				{"off", exporter.ExemplarsOff, nil},
				{"vitals", exporter.ExemplarsTraceBased, nil},
				{"sdk-default", exporter.ExemplarsTraceBased, []exporter.Option{sdkDefault}},
			} {
				b.Run("procs="+strconv.Itoa(procs)+"/"+w.name+"/reservoirs="+c.name, func(b *testing.B) {
					defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
					var perSeries float64
					for b.Loop() {
						var before, after runtime.MemStats
						runtime.GC()
						runtime.ReadMemStats(&before)
						p, _ := newExemplarProvider(b, c.filter, c.opts...)
						w.fill(p)
						runtime.GC()
						runtime.ReadMemStats(&after)
						perSeries = float64(after.HeapAlloc-before.HeapAlloc) / float64(w.series)
						runtime.KeepAlive(p)
						_ = p.Shutdown(context.Background())
					}
					b.ReportMetric(perSeries, "B/series")
				})
			}
		}
	}
}
