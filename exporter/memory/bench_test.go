package memory_test

import (
	"bytes"
	"context"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
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
	mp := sdkmetric.NewMeterProvider(append(r.MeterProviderOptions(), sdkmetric.WithCardinalityLimit(0),
		sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter))...) // as Vitals configures it
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

// tickingClock moves one interval forward at every reading: a perfectly
// regular collection.
type tickingClock struct {
	*clock
	d time.Duration
}

func (c tickingClock) Now() time.Time { return c.Advance(c.d) }

// BenchmarkRetention fills a reader for a whole default retention (6 h at
// 10 s: 2 160 collections) and reports the heap it holds (series, labels,
// chunks and the SDK's own state for the series: an upper bound on the
// store's cost), the heap per stored sample, and the encoded chunk bytes per
// sample. "constant": 1 000 counter series that do not change, the workload
// of the store's earlier benchmark. "counters": 1 000 counter series, each
// growing by 0 to 20 at every collection, as busy request counters do. "histograms": 50 native histogram
// series, each observing 20 lognormal latencies (median 2 ms) a collection;
// their classic bucket series are stored too and counted as samples.
func BenchmarkRetention(b *testing.B) {
	collections := int(memory.DefaultRetention / memory.DefaultInterval)
	for _, kind := range []string{"constant", "counters", "histograms"} {
		b.Run(kind, func(b *testing.B) {
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				r := memory.New(memory.WithClock(tickingClock{newClock(), memory.DefaultInterval}), memory.WithMaxSeries(100000))
				mp := sdkmetric.NewMeterProvider(append(r.MeterProviderOptions(), sdkmetric.WithCardinalityLimit(0),
					sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter))...)
				ctx := context.Background()
				rng := rand.New(rand.NewPCG(1, 2))
				var record func()
				switch kind {
				case "constant":
					fill(b, mp, 1000)
					record = func() {}
				case "counters":
					c, _ := mp.Meter("bench").Int64Counter("hits")
					attrs := make([]metric.AddOption, 1000)
					for i := range attrs {
						attrs[i] = metric.WithAttributes(attribute.String("route", "/r/"+strconv.Itoa(i)))
					}
					record = func() {
						for _, a := range attrs {
							c.Add(ctx, rng.Int64N(21), a)
						}
					}
				default:
					h, _ := mp.Meter("bench").Float64Histogram("op.duration", metric.WithUnit("s"))
					attrs := make([]metric.RecordOption, 50)
					for i := range attrs {
						attrs[i] = metric.WithAttributes(attribute.String("route", "/r/"+strconv.Itoa(i)))
					}
					record = func() {
						for _, a := range attrs {
							for range 20 {
								h.Record(ctx, 2e-3*math.Exp(0.8*rng.NormFloat64()), a)
							}
						}
					}
				}
				for range collections {
					record()
					if err := r.Collect(ctx); err != nil {
						b.Fatal(err)
					}
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				st := r.Stats()
				heap := float64(after.HeapAlloc - before.HeapAlloc)
				b.ReportMetric(heap/1e6, "heap-MB")
				b.ReportMetric(heap/float64(st.Samples), "heap-B/sample")
				b.ReportMetric(float64(st.Bytes)/float64(st.Samples), "chunk-B/sample")
				if kind == "histograms" {
					b.ReportMetric(float64(st.HistogramBytes)/float64(st.HistogramSamples), "native-B/sample")
					b.ReportMetric(float64(st.Bytes-st.HistogramBytes)/float64(st.Samples-st.HistogramSamples), "float-B/sample")
				}
				runtime.KeepAlive(r)
				_ = mp.Shutdown(ctx)
			}
		})
	}
}

// BenchmarkInstantQuery evaluates sum(rate(hits_total[1m])) over 10 000
// series holding seven samples each.
func BenchmarkInstantQuery(b *testing.B) {
	const n = 10000
	clk := newClock()
	r := memory.New(memory.WithClock(clk), memory.WithMaxSeries(n+10))
	mp := sdkmetric.NewMeterProvider(append(r.MeterProviderOptions(), sdkmetric.WithCardinalityLimit(0),
		sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter))...)
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
				opts = append(opts, memory.New().MeterProviderOptions()...)
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

// snapshotBench is a reader that holds 10 000 counter series for a whole
// default retention (6 h at 10 s, filled as BenchmarkRetention's
// "counters"), its clock and its snapshot, shared by BenchmarkSnapshot and
// BenchmarkRestore: filling it takes several seconds.
var snapshotBench struct {
	once sync.Once
	r    *memory.Reader
	clk  *clock
	hits metric.Int64Counter
	snap []byte
	err  error
}

const snapshotBenchSeries = 10000

func snapshotReader(b *testing.B) (*memory.Reader, *clock, []byte) {
	sb := &snapshotBench
	sb.once.Do(func() {
		ctx := context.Background()
		sb.clk = newClock()
		sb.r = memory.New(memory.WithClock(tickingClock{sb.clk, memory.DefaultInterval}), memory.WithMaxSeries(snapshotBenchSeries+100))
		// The provider lives as long as the process: the reader is shared.
		mp := sdkmetric.NewMeterProvider(append(sb.r.MeterProviderOptions(), sdkmetric.WithCardinalityLimit(0),
			sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter))...)
		c, _ := mp.Meter("bench").Int64Counter("hits")
		sb.hits = c
		attrs := make([]metric.AddOption, snapshotBenchSeries)
		for i := range attrs {
			attrs[i] = metric.WithAttributes(attribute.String("route", "/r/"+strconv.Itoa(i)))
		}
		rng := rand.New(rand.NewPCG(1, 2))
		for range int(memory.DefaultRetention / memory.DefaultInterval) {
			for _, a := range attrs {
				c.Add(ctx, rng.Int64N(21), a)
			}
			if sb.err = sb.r.Collect(ctx); sb.err != nil {
				return
			}
		}
		var buf bytes.Buffer
		sb.err = sb.r.SaveState(&buf)
		sb.snap = buf.Bytes()
	})
	if sb.err != nil {
		b.Fatal(sb.err)
	}
	return sb.r, sb.clk, sb.snap
}

// BenchmarkSnapshot writes the snapshot of 10 000 counter series × 6 h at
// 10 s (21.6 million samples) to memory, and reports its size and the
// longest time it holds a store's read lock (ms/lock): the longest a
// collection waits for it.
func BenchmarkSnapshot(b *testing.B) {
	r, _, snap := snapshotReader(b)
	var buf bytes.Buffer
	buf.Grow(len(snap))
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := r.SaveState(&buf); err != nil {
			b.Fatal(err)
		}
	}
	var held time.Duration
	for range 5 {
		held = max(held, r.SnapshotLockHeld())
	}
	st := r.Stats()
	b.ReportMetric(float64(buf.Len())/1e6, "MB")
	b.ReportMetric(float64(buf.Len())/float64(st.Samples), "B/sample")
	b.ReportMetric(float64(held.Microseconds())/1e3, "ms/lock")
}

// BenchmarkRestore restores the snapshot of BenchmarkSnapshot into a new
// reader: reading it, checking every chunk and rebuilding the series.
func BenchmarkRestore(b *testing.B) {
	_, clk, snap := snapshotReader(b)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		r := memory.New(memory.WithClock(clk), memory.WithMaxSeries(snapshotBenchSeries+100))
		b.StartTimer()
		if err := r.LoadState(bytes.NewReader(snap)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(snap))/1e6, "MB")
}

// BenchmarkSnapshotPause measures what a snapshot of BenchmarkSnapshot's
// store does to the service meanwhile: an instant query of one series and
// a counter increment, each alone ("idle") and while snapshots of the
// store run back to back ("snapshotting"). It reports the mean (ns/op) and
// the longest single operation (max-ms). Recording never touches the store
// (the SDK aggregates it); a query shares the snapshot's read lock, and
// waits only behind a collection queued for the write lock. On a machine
// with few cores, what remains is the competition for the CPU. B/op and
// allocs/op while snapshotting include the snapshots' own.
func BenchmarkSnapshotPause(b *testing.B) {
	r, clk, _ := snapshotReader(b)
	hits := snapshotBench.hits
	one := metric.WithAttributes(attribute.String("route", "/r/7"))
	ctx := context.Background()
	ops := map[string]func() error{
		"query": func() error {
			_, err := r.Query(ctx, `hits{route="/r/7"}`, clk.Now())
			return err
		},
		"record": func() error {
			hits.Add(ctx, 1, one)
			return nil
		},
	}
	for _, op := range []string{"query", "record"} {
		for _, mode := range []string{"idle", "snapshotting"} {
			b.Run(op+"/"+mode, func(b *testing.B) {
				stop := make(chan struct{})
				done := make(chan struct{})
				go func() {
					defer close(done)
					for mode == "snapshotting" {
						select {
						case <-stop:
							return
						default:
						}
						if err := r.SaveState(io.Discard); err != nil {
							b.Error(err)
							return
						}
					}
				}()
				var longest time.Duration
				b.ReportAllocs()
				for b.Loop() {
					start := time.Now()
					if err := ops[op](); err != nil {
						b.Fatal(err)
					}
					longest = max(longest, time.Since(start))
				}
				close(stop)
				<-done
				b.ReportMetric(float64(longest.Microseconds())/1e3, "max-ms")
			})
		}
	}
}
