package memory_test

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/vitalsgo/vitals/exporter/memory"
)

// exactQuantile is the q-quantile of sorted values, interpolated linearly
// between the order statistics around rank q·(n−1) (numpy's default).
func exactQuantile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	i := int(pos)
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (sorted[i+1]-sorted[i])*(pos-float64(i))
}

func lognormal(rng *rand.Rand, n int, median, sigma float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = median * math.Exp(sigma*rng.NormFloat64())
	}
	return out
}

// TestNativeHistogramPercentiles records known distributions into an OTel
// histogram with the semantic conventions' buckets and checks that
// histogram_quantile over the native histogram the reader keeps beside the
// classic buckets is within 5 % of the exact percentile of the recorded
// values, where the classic buckets cannot be.
func TestNativeHistogramPercentiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dists := map[string][]float64{
		"lognormal median 400µs": lognormal(rng, 3000, 400e-6, 0.8),
		"constant 1.234ms":       slices.Repeat([]float64{1.234e-3}, 3000),
	}
	bimodal := make([]float64, 0, 3000)
	for i := range 3000 {
		if i%3 == 0 {
			bimodal = append(bimodal, 80e-3*math.Exp(0.1*rng.NormFloat64()))
		} else {
			bimodal = append(bimodal, 200e-6*math.Exp(0.1*rng.NormFloat64()))
		}
	}
	dists["bimodal 200µs/80ms"] = bimodal
	wide := make([]float64, 3000)
	for i := range wide {
		wide[i] = 10e-6 * math.Pow(6e6, rng.Float64()) // log-uniform, 10 µs to 60 s
	}
	dists["log-uniform 10µs-60s"] = wide

	for name, values := range dists {
		t.Run(name, func(t *testing.T) {
			clk := newClock()
			r := memory.New(memory.WithClock(clk))
			mp := newProvider(t, r)
			h, _ := mp.Meter("t").Float64Histogram("http.server.request.duration", metric.WithUnit("s"),
				metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10))
			route := metric.WithAttributes(attribute.String("http.route", "/r"))
			for _, v := range values {
				h.Record(t.Context(), v, route)
			}
			collect(t, r)
			sorted := slices.Sorted(slices.Values(values))
			for _, q := range []float64{0.5, 0.9, 0.95, 0.99} {
				want := exactQuantile(sorted, q)
				got := instant(t, r, `histogram_quantile(`+ftoa(q)+`, sum(http_server_request_duration_seconds))`, clk.Now())["{}"]
				rel := math.Abs(got-want) / want
				if rel > 0.05 {
					t.Errorf("p%v = %.6g, exact %.6g: %.1f %% off", q*100, got, want, rel*100)
				}
				classic := instant(t, r, `histogram_quantile(`+ftoa(q)+`, sum by (le) (http_server_request_duration_seconds_bucket))`, clk.Now())["{}"]
				t.Logf("p%v: exact %.4g, native %.4g (%.2f %% off), classic buckets %.4g (%.0f %% off)",
					q*100, want, got, rel*100, classic, math.Abs(classic-want)/want*100)
			}
			count := instant(t, r, `histogram_count(sum(http_server_request_duration_seconds))`, clk.Now())["{}"]
			classic := instant(t, r, `sum(http_server_request_duration_seconds_count)`, clk.Now())["{}"]
			if count != float64(len(values)) || classic != count {
				t.Errorf("native count %v, classic count %v, want %d", count, classic, len(values))
			}
		})
	}
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// TestNativeHistogramWindow checks the exact window of a native histogram:
// the difference of the cumulative histogram at two collections holds the
// observations between them, whatever came before, across chunk cuts and
// bucket layout changes.
func TestNativeHistogramWindow(t *testing.T) {
	clk := newClock()
	r := memory.New(memory.WithClock(clk), memory.WithRetention(6*time.Hour))
	mp := newProvider(t, r)
	h, _ := mp.Meter("t").Float64Histogram("op.duration", metric.WithUnit("s"))
	rng := rand.New(rand.NewPCG(3, 4))
	var batches [][]float64
	// 300 collections (more than two chunks), each with a batch whose
	// spread widens, so that buckets keep appearing.
	for i := range 300 {
		batch := lognormal(rng, 20, 1e-3*float64(1+i%7), 0.2+float64(i)/300)
		for _, v := range batch {
			h.Record(t.Context(), v)
		}
		batches = append(batches, batch)
		clk.Advance(10 * time.Second)
		collect(t, r)
	}
	// The last 100 collections' observations.
	var last []float64
	for _, b := range batches[200:] {
		last = append(last, b...)
	}
	slices.Sort(last)
	const window = `sum(op_duration_seconds) - sum(op_duration_seconds offset 1000s)`
	if got := instant(t, r, `histogram_count(`+window+`)`, clk.Now())["{}"]; got != float64(len(last)) {
		t.Errorf("count of the last 100 collections = %v, want %d", got, len(last))
	}
	for _, q := range []float64{0.5, 0.99} {
		want := exactQuantile(last, q)
		got := instant(t, r, `histogram_quantile(`+ftoa(q)+`, `+window+`)`, clk.Now())["{}"]
		if rel := math.Abs(got-want) / want; rel > 0.05 {
			t.Errorf("p%v of the window = %.6g, exact %.6g", q*100, got, want)
		}
	}
	// Every collection is there, in order: the count grows by 20 a time.
	res, err := r.QueryRange(t.Context(), `histogram_count(op_duration_seconds)`, clk.Now().Add(-2990*time.Second), clk.Now(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	m := res.Value.(memory.Matrix)
	if len(m) != 1 || len(m[0].Floats) != 300 {
		t.Fatalf("range over the whole history: %v", res.Value)
	}
	for i, p := range m[0].Floats {
		if p.F != float64(20*(i+1)) {
			t.Fatalf("count at collection %d = %v, want %d", i+1, p.F, 20*(i+1))
		}
	}
	st := r.Stats()
	if st.Samples == 0 || st.Bytes == 0 {
		t.Errorf("stats: %+v", st)
	}
}

// TestFloatChunksAcrossCuts checks float samples over several chunks: an
// exact difference over a window that spans a chunk cut, and the samples
// of a range query.
func TestFloatChunksAcrossCuts(t *testing.T) {
	clk := newClock()
	r := memory.New(memory.WithClock(clk), memory.WithRetention(6*time.Hour))
	mp := newProvider(t, r)
	c, _ := mp.Meter("t").Int64Counter("jobs")
	for i := range 500 {
		c.Add(t.Context(), int64(i))
		clk.Advance(10 * time.Second)
		collect(t, r)
	}
	// After collection k the counter is k(k−1)/2. 450 collections ago it
	// was after collection 50.
	got := instant(t, r, `sum(jobs_total) - sum(jobs_total offset 4500s)`, clk.Now())["{}"]
	if want := float64(500*499/2 - 50*49/2); got != want {
		t.Errorf("difference over 450 collections = %v, want %v", got, want)
	}
	res, err := r.QueryRange(t.Context(), `jobs_total`, clk.Now().Add(-4990*time.Second), clk.Now(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	pts := res.Value.(memory.Matrix)[0].Floats
	if len(pts) != 500 {
		t.Fatalf("%d points, want 500", len(pts))
	}
	for i, p := range pts {
		if k := i + 1; p.F != float64(k*(k-1)/2) {
			t.Fatalf("point %d = %v, want %d", k, p.F, k*(k-1)/2)
		}
	}
}

// TestExactWindowFormula pins what docs/metrics.md tells PromQL users: for
// a counter born inside the window, the difference of the cumulative value
// at the window's end and at its start, counting from zero where there is
// no start, is exact; increase() extrapolates, and the engine's anchored
// range selector (parsed by this engine version without any option)
// loses what the series counted up to its first sample.
func TestExactWindowFormula(t *testing.T) {
	clk := newClock()
	r := memory.New(memory.WithClock(clk))
	mp := newProvider(t, r)
	c, _ := mp.Meter("t").Int64Counter("jobs")
	clk.Advance(10 * time.Second)
	collect(t, r) // before the counter exists
	for i := range 10 {
		c.Add(t.Context(), int64(i+1)) // 55 in all, the first sample 1
		clk.Advance(10 * time.Second)
		collect(t, r)
	}
	q := func(expr string) float64 { return instant(t, r, expr, clk.Now())["{}"] }
	if got := q(`sum(jobs_total) - (sum(jobs_total offset 200s) or sum(jobs_total) * 0)`); got != 55 {
		t.Errorf("difference over a window longer than the series = %v, want 55", got)
	}
	if got := q(`sum(jobs_total) - (sum(jobs_total offset 60s) or sum(jobs_total) * 0)`); got != 45 {
		t.Errorf("difference over the last six collections = %v, want 45 (5+6+…+10)", got)
	}
	if got := q(`sum(increase(jobs_total[200s] anchored))`); got != 54 {
		t.Errorf("anchored increase = %v, want 54: the first sample's 1 is lost", got)
	}
	if got := q(`sum(increase(jobs_total[60s]))`); got == 45 {
		t.Errorf("increase over the last six collections = %v: it extrapolates, it should not be exact here", got)
	}
}

// TestInstantSelectorsReadTheNewestSample checks the reader's shortcut for
// instant selectors (Select returns only the newest sample at or before the
// evaluation time) against the full decoding that range queries use: at
// every collection of a history spanning several chunks, with offsets,
// between collections, after a series went stale and for native
// histograms.
func TestInstantSelectorsReadTheNewestSample(t *testing.T) {
	clk := newClock()
	r := memory.New(memory.WithClock(clk), memory.WithRetention(6*time.Hour))
	mp := newProvider(t, r)
	m := mp.Meter("t")
	c, _ := m.Int64Counter("jobs")
	h, _ := m.Float64Histogram("op.duration", metric.WithUnit("s"))
	var gone atomic.Bool
	_, _ = m.Int64ObservableGauge("queue", metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
		if !gone.Load() {
			o.Observe(7)
		}
		return nil
	}))
	rng := rand.New(rand.NewPCG(5, 6))
	start := clk.Now()
	const n = 600
	for i := range n {
		c.Add(t.Context(), rng.Int64N(50))
		for range 5 {
			h.Record(t.Context(), 1e-3*math.Exp(rng.NormFloat64()))
		}
		gone.Store(i >= 400) // stale from collection 401 on
		clk.Advance(10 * time.Second)
		collect(t, r)
	}
	exprs := []string{`sum(jobs_total)`, `histogram_count(sum(op_duration_seconds))`, `histogram_sum(sum(op_duration_seconds))`, `count(queue)`}
	for _, expr := range exprs {
		res, err := r.QueryRange(t.Context(), expr, start, clk.Now(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		want := map[int64]float64{}
		for _, s := range res.Value.(memory.Matrix) {
			for _, p := range s.Floats {
				want[p.T] = p.F
			}
		}
		for ts := start; !ts.After(clk.Now()); ts = ts.Add(5 * time.Second) {
			got, ok := instant(t, r, expr, ts)["{}"]
			w, wok := want[ts.UnixMilli()]
			if ok != wok || got != w {
				t.Fatalf("%s at %v: instant %v (%v), range %v (%v)", expr, ts.Sub(start), got, ok, w, wok)
			}
			// The same time through an offset from now.
			off := clk.Now().Sub(ts)
			if off > 0 {
				shifted := strings.Replace(expr, ")", " offset "+model.Duration(off).String()+")", 1)
				if got2, ok2 := instant(t, r, shifted, clk.Now())["{}"]; ok2 != wok || got2 != w {
					t.Fatalf("%s: %v (%v), want %v (%v)", shifted, got2, ok2, w, wok)
				}
			}
		}
	}
}
