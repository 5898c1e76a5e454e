package performance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"reflect"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/runtime"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.uber.org/goleak"

	"github.com/vitalsgo/vitals/clock/clocktest"
	"github.com/vitalsgo/vitals/exporter/memory"
	"github.com/vitalsgo/vitals/performance"
)

// summaryClock is the shared hand-moved clock, for the memory reader.
type summaryClock struct{ *clocktest.Clock }

// summaryStart is the start of the summaryScripted window.
var summaryStart = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// summaryBounds are the bucket bounds of http.server.request.duration.
var summaryBounds = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// summaryRequest is N requests of the script with the same attributes and
// duration.
type summaryRequest struct {
	Method, Route string
	Status        int
	ErrorType     string
	Seconds       float64
	N             int
}

// summaryBatch is one batch of the script: 18 requests on 5 (route,
// method) pairs, with 2xx, 4xx, 5xx and a recovered panic. The summaryScripted
// reader records it twice.
var summaryBatch = []summaryRequest{
	{"GET", "/orders/{id}", 200, "", 0.02, 4},
	{"GET", "/orders/{id}", 200, "", 0.2, 2},
	{"GET", "/orders/{id}", 200, "", 0.6, 1},
	{"GET", "/users/{id}", 200, "", 0.004, 3},
	{"GET", "/users/{id}", 404, "", 0.003, 1},
	{"POST", "/orders", 201, "", 0.3, 2},
	{"POST", "/orders", 201, "", 1.5, 1},
	{"POST", "/orders", 500, "500", 3.0, 1},
	{"GET", "/panic", 500, "*errors.errorString", 0.04, 2},
	{"DELETE", "/orders/{id}", 503, "503", 8.0, 1},
}

// summaryRecorder records requests the way instrument.Middleware does: the
// same instruments, units, buckets and attributes; and cache lookups as
// bizmetrics counts them.
type summaryRecorder struct {
	duration metric.Float64Histogram
	slow     metric.Int64Counter
	sched    metric.Float64Histogram
	cache    metric.Int64Counter
}

// summaryCacheOp is N operations of the script on one cache.
type summaryCacheOp struct {
	Cache, Operation, Result string
	N                        int
}

// summaryCacheBatch is the cache operations of one batch: sessions hit 6
// times of 8, products 3 of 6; sets carry no result.
var summaryCacheBatch = []summaryCacheOp{
	{"sessions", "get", "hit", 6},
	{"sessions", "get", "miss", 2},
	{"sessions", "set", "", 1},
	{"products", "get", "hit", 3},
	{"products", "get", "miss", 3},
}

func newSummaryRecorder(mp metric.MeterProvider) (*summaryRecorder, error) {
	m := mp.Meter("github.com/vitalsgo/vitals/performance")
	var rec summaryRecorder
	var err error
	if rec.duration, err = m.Float64Histogram("http.server.request.duration", metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(summaryBounds...)); err != nil {
		return nil, err
	}
	if rec.slow, err = m.Int64Counter("vitals.http.server.slow_requests", metric.WithUnit("{request}")); err != nil {
		return nil, err
	}
	// bizmetrics' cache counter, under its default namespace (bizmetrics
	// reports it through an observable counter: the same series).
	if rec.cache, err = mp.Meter("github.com/vitalsgo/vitals/bizmetrics").Int64Counter("app.cache.operations",
		metric.WithUnit("{operation}")); err != nil {
		return nil, err
	}
	// The runtime metrics as contrib's runtime instrumentation and its
	// producer name them, with values the test chooses.
	rt := mp.Meter("go.opentelemetry.io/contrib/instrumentation/runtime")
	used, err := rt.Int64ObservableUpDownCounter("go.memory.used", metric.WithUnit("By"))
	if err != nil {
		return nil, err
	}
	limit, err := rt.Int64ObservableUpDownCounter("go.memory.limit", metric.WithUnit("By"))
	if err != nil {
		return nil, err
	}
	goroutines, err := rt.Int64ObservableUpDownCounter("go.goroutine.count", metric.WithUnit("{goroutine}"))
	if err != nil {
		return nil, err
	}
	stack := metric.WithAttributes(attribute.String("go.memory.type", "stack"))
	other := metric.WithAttributes(attribute.String("go.memory.type", "other"))
	if _, err = rt.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(used, 1<<20, stack)
		o.ObserveInt64(used, 7<<20, other)
		o.ObserveInt64(limit, 1<<30)
		o.ObserveInt64(goroutines, 42)
		return nil
	}, used, limit, goroutines); err != nil {
		return nil, err
	}
	if rec.sched, err = rt.Float64Histogram("go.schedule.duration", metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(1e-6, 1e-5, 1e-4, 1e-3, 1e-2)); err != nil {
		return nil, err
	}
	return &rec, nil
}

// record records the requests, counting those over 1 s as slow, the cache
// operations of summaryCacheBatch, and 100 scheduler latencies: 98 of 5 µs
// and 2 of 500 µs.
func (rec *summaryRecorder) record(ctx context.Context, reqs []summaryRequest) {
	for _, c := range summaryCacheBatch {
		kvs := []attribute.KeyValue{attribute.String("cache.name", c.Cache), attribute.String("cache.operation", c.Operation)}
		if c.Result != "" {
			kvs = append(kvs, attribute.String("cache.result", c.Result))
		}
		rec.cache.Add(ctx, int64(c.N), metric.WithAttributes(kvs...))
	}
	for _, q := range reqs {
		kvs := []attribute.KeyValue{
			attribute.String("http.request.method", q.Method),
			attribute.Int("http.response.status_code", q.Status),
			attribute.String("http.route", q.Route),
			attribute.String("url.scheme", "http"),
			attribute.String("network.protocol.version", "1.1"),
		}
		if q.ErrorType != "" {
			kvs = append(kvs, attribute.String("error.type", q.ErrorType))
		}
		attrs := metric.WithAttributeSet(attribute.NewSet(kvs...))
		for range q.N {
			rec.duration.Record(ctx, q.Seconds, attrs)
			if q.Seconds > 1 {
				rec.slow.Add(ctx, 1, metric.WithAttributes(
					attribute.String("http.request.method", q.Method), attribute.String("http.route", q.Route)))
			}
		}
	}
	for i := range 100 {
		d := 5e-6
		if i%50 == 0 {
			d = 5e-4
		}
		rec.sched.Record(ctx, d)
	}
}

// summaryScripted is a memory reader holding summaryBatch twice in the
// one-minute window that ends at end, and once more before it.
type summaryScripted struct {
	r   *memory.Reader
	clk *summaryClock
	end time.Time
}

// newSummaryScripted returns a reader holding summaryBatch three times: a
// first batch collected at summaryStart, then one batch before each of the
// collections at +30 s and +60 s.
//
// The one-minute window at +60 s holds exactly the last two batches: it
// counts the events after the last collection at or before its start
// (summaryStart, which holds the first batch) up to the collection at
// +60 s, so every count is the difference between the cumulative values at
// +60 s (3v) and at summaryStart (v): 2v, twice the batch, whole. The first
// batch, cut off by the window's start, makes the start's subtraction
// matter: a summary that extrapolated, or counted from zero, would not get
// 2v.
func newSummaryScripted(t testing.TB) summaryScripted {
	t.Helper()
	clk := &summaryClock{clocktest.New(summaryStart)}
	r := memory.New(memory.WithClock(clk))
	mp := sdkmetric.NewMeterProvider(r.MeterProviderOptions()...)
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	rec, err := newSummaryRecorder(mp)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 3 {
		rec.record(ctx, summaryBatch)
		if i > 0 {
			clk.Advance(30 * time.Second)
		}
		if err := r.Collect(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return summaryScripted{r: r, clk: clk, end: clk.Now()}
}

// summaryLatencies returns every duration of the script's window (two
// batches) matching keep, sorted.
func summaryLatencies(keep func(summaryRequest) bool) []float64 {
	var out []float64
	for range 2 {
		for _, q := range summaryBatch {
			if keep(q) {
				for range q.N {
					out = append(out, q.Seconds)
				}
			}
		}
	}
	sort.Float64s(out)
	return out
}

// summaryHandQuantile is the nearest-rank q-quantile of sorted values:
// the observation of rank ⌈q·n⌉.
func summaryHandQuantile(sorted []float64, q float64) float64 {
	return sorted[max(int(math.Ceil(q*float64(len(sorted)))), 1)-1]
}

// summaryPercentileBound is the documented error bound of a percentile:
// the width of a native histogram bucket at scale 4, 2^(1/16) − 1 = 4.4 %.
var summaryPercentileBound = math.Exp2(1.0/16) - 1

// checkSummaryPercentile fails unless got is within the documented bound of
// want, relative to want.
func checkSummaryPercentile(t *testing.T, name string, got, want float64) {
	t.Helper()
	if e := math.Abs(got-want) / want; !(e <= summaryPercentileBound) {
		t.Errorf("%s = %v, want within %.1f %% of the hand value %v (off by %.2f %%)",
			name, got, 100*summaryPercentileBound, want, 100*e)
	}
}

func summaryApprox(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b))
}

func TestSummaryScripted(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	sc := newSummaryScripted(t)
	r, end := sc.r, sc.end

	s, err := performance.Summarize(t.Context(), r, time.Minute,
		performance.WithApdexThreshold(250*time.Millisecond), performance.WithTime(end))
	if err != nil {
		t.Fatal(err)
	}

	// Counts are exact (see newSummaryScripted): 2 × 18 requests, of which
	// 2 × 4 are 5xx (500, 2 panics, 503) and 2 × 3 took over 1 s. The
	// Apdex counts are exact too: T = 0.25 s and 4T = 1 s are powers of two,
	// bounds of the native histogram's buckets at any scale.
	exact := []struct {
		name      string
		got, want float64
	}{
		{"WindowSeconds", s.WindowSeconds, 60},
		{"TotalRequests", float64(s.TotalRequests), 36},
		{"RequestsPerSecond", s.RequestsPerSecond, 0.6},
		{"RequestsPerMinute", s.RequestsPerMinute, 36},
		{"Errors", float64(s.Errors), 8},
		{"ErrorRate", s.ErrorRate, 8.0 / 36},
		{"SlowRequests", float64(s.SlowRequests), 6},
		// ≤ 0.25 s are 2 × (4+2+3+1+2), (0.25 s, 1 s] are 2 × (1+2)
		// (0.6 s, 0.3 s), the rest frustrated.
		{"Apdex.Satisfied", float64(s.Apdex.Satisfied), 24},
		{"Apdex.Tolerating", float64(s.Apdex.Tolerating), 6},
		{"Apdex.Frustrated", float64(s.Apdex.Frustrated), 6},
		{"Apdex.Total", float64(s.Apdex.Total), 36},
		{"Apdex.ThresholdSeconds", s.Apdex.ThresholdSeconds, 0.25},
		{"RuntimeHealth.MemoryUsedBytes", s.RuntimeHealth.MemoryUsedBytes, 8 << 20},
		{"RuntimeHealth.MemoryLimitBytes", s.RuntimeHealth.MemoryLimitBytes, 1 << 30},
		{"RuntimeHealth.Goroutines", float64(s.RuntimeHealth.Goroutines), 42},
	}
	for _, c := range exact {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if want := (24 + 6.0/2) / 36; !summaryApprox(s.Apdex.Score, want) {
		t.Errorf("Apdex.Score = %v, want %v", s.Apdex.Score, want)
	}
	if !s.GeneratedAt.Equal(end) {
		t.Errorf("GeneratedAt = %v, want %v", s.GeneratedAt, end)
	}

	all := summaryLatencies(func(summaryRequest) bool { return true })
	var sum float64
	for _, v := range all {
		sum += v
	}
	if !summaryApprox(s.Latency.MeanSeconds, sum/36) {
		t.Errorf("Latency.MeanSeconds = %v, want %v", s.Latency.MeanSeconds, sum/36)
	}
	checkSummaryPercentile(t, "Latency.P50Seconds", s.Latency.P50Seconds, summaryHandQuantile(all, 0.5))
	checkSummaryPercentile(t, "Latency.P90Seconds", s.Latency.P90Seconds, summaryHandQuantile(all, 0.9))
	checkSummaryPercentile(t, "Latency.P95Seconds", s.Latency.P95Seconds, summaryHandQuantile(all, 0.95))
	checkSummaryPercentile(t, "Latency.P99Seconds", s.Latency.P99Seconds, summaryHandQuantile(all, 0.99))
	// The scheduler's p99 is read from its classic buckets: 196 of the
	// window's 200 latencies are 5 µs, 4 are 500 µs, in (100 µs, 1 ms];
	// rank 198 is half-way through that bucket.
	if p := s.RuntimeHealth.SchedulerLatencyP99Seconds; !summaryApprox(p, 1e-4+0.5*(1e-3-1e-4)) {
		t.Errorf("RuntimeHealth.SchedulerLatencyP99Seconds = %v, want %v", p, 1e-4+0.5*(1e-3-1e-4))
	}

	// Routes: most requests first; POST /orders and GET /users/{id} tie at
	// 8 and are ordered by route.
	wantRoutes := []struct {
		method, route string
		requests      float64
		errors        float64
		apdex         float64
	}{
		{"GET", "/orders/{id}", 14, 0, (12 + 2.0/2) / 14}, // 0.6 s tolerating
		{"POST", "/orders", 8, 2, (0 + 4.0/2) / 8},        // 0.3 s tolerating, 1.5 s and 3 s frustrated
		{"GET", "/users/{id}", 8, 0, 1},
		{"GET", "/panic", 4, 4, 1},
		{"DELETE", "/orders/{id}", 2, 2, 0},
	}
	if len(s.TopRoutes) != len(wantRoutes) {
		t.Fatalf("TopRoutes = %+v, want %d routes", s.TopRoutes, len(wantRoutes))
	}
	for i, w := range wantRoutes {
		got := s.TopRoutes[i]
		if got.Method != w.method || got.Route != w.route {
			t.Errorf("TopRoutes[%d] = %s %s, want %s %s", i, got.Method, got.Route, w.method, w.route)
			continue
		}
		lat := summaryLatencies(func(q summaryRequest) bool { return q.Method == w.method && q.Route == w.route })
		var sum float64
		for _, v := range lat {
			sum += v
		}
		if float64(got.Requests) != w.requests || float64(got.Errors) != w.errors || got.ErrorRate != w.errors/w.requests {
			t.Errorf("%s %s: requests %v, errors %v, error rate %v; want %v, %v, %v",
				w.method, w.route, got.Requests, got.Errors, got.ErrorRate, w.requests, w.errors, w.errors/w.requests)
		}
		if !summaryApprox(got.ApdexScore, w.apdex) {
			t.Errorf("%s %s: Apdex = %v, want %v", w.method, w.route, got.ApdexScore, w.apdex)
		}
		if !summaryApprox(got.MeanSeconds, sum/float64(len(lat))) {
			t.Errorf("%s %s: MeanSeconds = %v, want %v", w.method, w.route, got.MeanSeconds, sum/float64(len(lat)))
		}
		checkSummaryPercentile(t, w.method+" "+w.route+" P95Seconds", got.P95Seconds, summaryHandQuantile(lat, 0.95))
	}

	// Errors: the panics first, then the 500 and the 503 (2 each) by status.
	wantErrors := []performance.RouteError{
		{Status: 500, ErrorType: "*errors.errorString", Method: "GET", Route: "/panic", Count: 4},
		{Status: 500, ErrorType: "500", Method: "POST", Route: "/orders", Count: 2},
		{Status: 503, ErrorType: "503", Method: "DELETE", Route: "/orders/{id}", Count: 2},
	}
	if !reflect.DeepEqual(s.TopErrors, wantErrors) {
		t.Errorf("TopErrors = %+v\nwant %+v", s.TopErrors, wantErrors)
	}
}

// summaryNativeSchema returns the schema of the window's native duration
// histogram of sc, summed over every series.
func summaryNativeSchema(t *testing.T, sc summaryScripted) int32 {
	t.Helper()
	res, err := sc.r.Query(t.Context(), `sum(http_server_request_duration_seconds)`, sc.end)
	if err != nil {
		t.Fatal(err)
	}
	v, err := res.Vector()
	if err != nil || len(v) != 1 || v[0].H == nil {
		t.Fatalf("native histogram: %v, %v; want one histogram", res.Value, err)
	}
	return v[0].H.Schema
}

// summaryNativeBucket is the index of the native histogram bucket of
// schema that holds v > 0: bucket i is (2^((i−1)/2^schema), 2^(i/2^schema)].
func summaryNativeBucket(v float64, schema int32) int {
	return int(math.Ceil(math.Log2(v) * math.Exp2(float64(schema))))
}

// summaryApdexTruth returns the exact number of values at most x, and how
// many of the values share x's native histogram bucket: the documented
// bound of the estimated count.
func summaryApdexTruth(values []float64, x float64, schema int32) (atMost, shared float64) {
	for _, v := range values {
		if v <= x {
			atMost++
		}
		if summaryNativeBucket(v, schema) == summaryNativeBucket(x, schema) {
			shared++
		}
	}
	return atMost, shared
}

// TestSummaryApdexThresholds checks the Apdex counts against the exact
// counts of the script's durations: equal when T and 4T fall between the
// buckets' populations, within the requests of T's (or 4T's) bucket when
// one shares a bucket with some requests; and always integers adding up to
// the total, with the score (f(T) + f(4T)) / 2 of histogram_fraction.
func TestSummaryApdexThresholds(t *testing.T) {
	sc := newSummaryScripted(t)
	r, end := sc.r, sc.end
	schema := summaryNativeSchema(t, sc)
	if schema < 4 {
		t.Fatalf("native schema %d: buckets wider than the documented 4.4 %%", schema)
	}
	all := summaryLatencies(func(summaryRequest) bool { return true })
	post := summaryLatencies(func(q summaryRequest) bool { return q.Method == "POST" && q.Route == "/orders" })
	tests := []struct {
		name      string
		threshold time.Duration
		// shared is whether some requests share T's or 4T's bucket, so
		// that the counts are estimates.
		shared bool
	}{
		// T = 0.5 s and 4T = 2 s are powers of two, bucket bounds, and
		// fall between populations anyway (0.3 s and 0.6 s, 1.5 s and
		// 3 s): exact, where the classic buckets had to interpolate
		// 4T = 2 s between their 1 s and 2.5 s bounds.
		{"default", performance.DefaultApdexThreshold, false},
		// T = 0.3 s shares its bucket with the four 0.3 s requests (they
		// are satisfied: at most T); 4T = 1.2 s falls between 0.6 s and
		// 1.5 s.
		{"T shares a bucket", 300 * time.Millisecond, true},
		// T = 3 s shares its bucket with the two 3 s requests; 4T = 12 s
		// is above every request.
		{"T shares a bucket, 4T above all", 3 * time.Second, true},
		// Powers of two are bucket bounds at every scale.
		{"bounds", 125 * time.Millisecond, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := []performance.Option{performance.WithTime(end)}
			if tt.threshold != performance.DefaultApdexThreshold {
				opts = append(opts, performance.WithApdexThreshold(tt.threshold))
			}
			s, err := performance.Summarize(t.Context(), r, time.Minute, opts...)
			if err != nil {
				t.Fatal(err)
			}
			a := s.Apdex
			T := tt.threshold.Seconds()
			if a.ThresholdSeconds != T || float64(a.Total) != 36 {
				t.Errorf("threshold %v, total %v; want %v, 36", a.ThresholdSeconds, float64(a.Total), T)
			}
			if a.Satisfied < 0 || a.Tolerating < 0 || a.Frustrated < 0 {
				t.Errorf("counts %v, %v, %v: want non-negative", a.Satisfied, a.Tolerating, a.Frustrated)
			}
			if float64(a.Satisfied)+float64(a.Tolerating)+float64(a.Frustrated) != float64(a.Total) {
				t.Errorf("satisfied %v + tolerating %v + frustrated %v != total %v", float64(a.Satisfied), float64(a.Tolerating), float64(a.Frustrated), float64(a.Total))
			}

			// Against the exact counts.
			atT, sharedT := summaryApdexTruth(all, T, schema)
			at4T, shared4T := summaryApdexTruth(all, 4*T, schema)
			if (sharedT+shared4T > 0) != tt.shared {
				t.Fatalf("requests sharing T's and 4T's buckets: %v, %v; the case expects shared = %v", sharedT, shared4T, tt.shared)
			}
			if math.Abs(float64(a.Satisfied)-atT) > sharedT {
				t.Errorf("satisfied %v, want %v ± %v", float64(a.Satisfied), atT, sharedT)
			}
			if got := float64(a.Satisfied) + float64(a.Tolerating); math.Abs(got-at4T) > shared4T {
				t.Errorf("at most 4T %v, want %v ± %v", got, at4T, shared4T)
			}
			exactScore := (atT + at4T) / 2 / 36
			if bound := (sharedT + shared4T) / 2 / 36; math.Abs(a.Score-exactScore) > bound+1e-12 {
				t.Errorf("score %v, want %v ± %v", a.Score, exactScore, bound)
			}

			// The documented PromQL gives the same counts and score.
			x := "sum(http_server_request_duration_seconds) - (sum(http_server_request_duration_seconds offset 1m)" +
				" or sum(http_server_request_duration_seconds) * 0)"
			f := func(upper float64) float64 {
				t.Helper()
				expr := "histogram_fraction(0, " + strconv.FormatFloat(upper, 'g', -1, 64) + ", " + x + ")"
				res, err := r.Query(t.Context(), expr, end)
				if err != nil {
					t.Fatal(err)
				}
				v, err := res.Vector()
				if err != nil || len(v) != 1 {
					t.Fatalf("%s = %v, %v", expr, res.Value, err)
				}
				return v[0].F
			}
			fT, f4T := f(T), f(4*T)
			if float64(a.Satisfied) != math.Round(36*fT) || float64(a.Satisfied)+float64(a.Tolerating) != math.Round(36*f4T) {
				t.Errorf("satisfied %v, at most 4T %v; want round(36 × %v), round(36 × %v)",
					float64(a.Satisfied), float64(a.Satisfied)+float64(a.Tolerating), fT, f4T)
			}
			if !summaryApprox(a.Score, (fT+f4T)/2) {
				t.Errorf("score %v, want (f(T) + f(4T)) / 2 = %v", a.Score, (fT+f4T)/2)
			}
			if !tt.shared && (float64(a.Satisfied) != atT || float64(a.Satisfied)+float64(a.Tolerating) != at4T || !summaryApprox(a.Score, exactScore)) {
				t.Errorf("satisfied %v, at most 4T %v, score %v; want exactly %v, %v, %v",
					float64(a.Satisfied), float64(a.Satisfied)+float64(a.Tolerating), a.Score, atT, at4T, exactScore)
			}

			// POST /orders, within its own bound.
			pT, pSharedT := summaryApdexTruth(post, T, schema)
			p4T, pShared4T := summaryApdexTruth(post, 4*T, schema)
			n := float64(len(post))
			for _, rt := range s.TopRoutes {
				if rt.Method != "POST" || rt.Route != "/orders" {
					continue
				}
				want, bound := (pT+p4T)/2/n, (pSharedT+pShared4T)/2/n
				if math.Abs(rt.ApdexScore-want) > bound+1e-12 {
					t.Errorf("POST /orders Apdex = %v, want %v ± %v", rt.ApdexScore, want, bound)
				}
			}
		})
	}
}

func TestSummaryTopN(t *testing.T) {
	sc := newSummaryScripted(t)
	r, end := sc.r, sc.end
	tests := []struct {
		n          int
		wantRoutes []string
		wantErrors []string
	}{
		{2, []string{"GET /orders/{id}", "POST /orders"}, []string{"GET /panic", "POST /orders"}},
		{3, []string{"GET /orders/{id}", "POST /orders", "GET /users/{id}"}, []string{"GET /panic", "POST /orders", "DELETE /orders/{id}"}},
		{0, []string{}, []string{}},
		{-1, // ignored: the default of 10 lists all
			[]string{"GET /orders/{id}", "POST /orders", "GET /users/{id}", "GET /panic", "DELETE /orders/{id}"},
			[]string{"GET /panic", "POST /orders", "DELETE /orders/{id}"}},
	}
	for _, tt := range tests {
		s, err := performance.Summarize(t.Context(), r, time.Minute, performance.WithTopN(tt.n), performance.WithTime(end))
		if err != nil {
			t.Fatal(err)
		}
		routes, errs := []string{}, []string{}
		for _, rt := range s.TopRoutes {
			routes = append(routes, rt.Method+" "+rt.Route)
		}
		for _, e := range s.TopErrors {
			errs = append(errs, e.Method+" "+e.Route)
		}
		if !slices.Equal(routes, tt.wantRoutes) || !slices.Equal(errs, tt.wantErrors) {
			t.Errorf("WithTopN(%d): routes %q, errors %q; want %q, %q", tt.n, routes, errs, tt.wantRoutes, tt.wantErrors)
		}
		if s.TotalRequests != 36 {
			t.Errorf("WithTopN(%d): TotalRequests = %v, want 36: truncation must not change totals", tt.n, s.TotalRequests)
		}
	}
}

// summaryZero is what a summary over no data holds.
func summaryZero(at time.Time, window time.Duration, threshold float64) performance.Summary {
	return performance.Summary{
		WindowSeconds: window.Seconds(),
		GeneratedAt:   at,
		Apdex:         performance.Apdex{ThresholdSeconds: threshold},
		TopRoutes:     []performance.Route{},
		TopErrors:     []performance.RouteError{},
		CacheHitRatio: performance.CacheHitRatio{Caches: []performance.CacheRatio{}},
	}
}

func TestSummaryEmptyReader(t *testing.T) {
	clk := &summaryClock{clocktest.New(summaryStart)}
	r := memory.New(memory.WithClock(clk))
	mp := sdkmetric.NewMeterProvider(r.MeterProviderOptions()...)
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })

	// Before any collection, and after one with nothing recorded.
	for i := range 2 {
		s, err := performance.Summarize(t.Context(), r, 5*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if want := summaryZero(clk.Now(), 5*time.Minute, 0.5); !reflect.DeepEqual(s, want) {
			t.Errorf("collection %d: summary = %+v\nwant %+v", i, s, want)
		}
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("json.Marshal: %v", err)
		}
		if !bytes.Contains(b, []byte(`"topRoutes":[]`)) || !bytes.Contains(b, []byte(`"topErrors":[]`)) {
			t.Errorf("empty lists must encode as []: %s", b)
		}
		clk.Advance(10 * time.Second)
		if err := r.Collect(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSummaryIdleWindow checks a window with series but no requests: every
// ratio and quantile is NaN in PromQL, and 0 in the summary.
func TestSummaryIdleWindow(t *testing.T) {
	sc := newSummaryScripted(t)
	// Two more collections with no requests: over the window (+60 s,
	// +120 s] every counter is flat, so every difference is 0 and the
	// window's native histogram is empty.
	for range 2 {
		sc.clk.Advance(30 * time.Second)
		if err := sc.r.Collect(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	at := sc.clk.Now()
	res, err := sc.r.Query(t.Context(),
		`histogram_quantile(0.5, sum(http_server_request_duration_seconds)
		  - (sum(http_server_request_duration_seconds offset 1m) or sum(http_server_request_duration_seconds) * 0))`, at)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := res.Value.(memory.Vector); !ok || len(v) != 1 || !math.IsNaN(v[0].F) {
		t.Fatalf("p50 over an idle window = %v, want NaN: the test does not test what it should", res.Value)
	}

	s, err := performance.Summarize(t.Context(), sc.r, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	want := summaryZero(at, time.Minute, 0.5)
	// The gauges are still reported.
	want.RuntimeHealth = performance.RuntimeHealth{MemoryUsedBytes: 8 << 20, MemoryLimitBytes: 1 << 30, Goroutines: 42}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("summary = %+v\nwant %+v", s, want)
	}
	if _, err := json.Marshal(s); err != nil {
		t.Errorf("json.Marshal: %v", err)
	}
}

// TestSummaryDefaultTime checks that without WithTime the summary is
// computed at the querier's Now: the reader's clock, or any other querier's.
func TestSummaryDefaultTime(t *testing.T) {
	sc := newSummaryScripted(t)
	s, err := performance.Summarize(t.Context(), sc.r, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !s.GeneratedAt.Equal(sc.end) || s.TotalRequests != 36 {
		t.Errorf("GeneratedAt %v, TotalRequests %v; want %v, 36", s.GeneratedAt, s.TotalRequests, sc.end)
	}

	var mu sync.Mutex
	var seen []time.Time
	q := summaryQuerierFunc(func(ctx context.Context, expr string, ts time.Time) (memory.Result, error) {
		mu.Lock()
		seen = append(seen, ts)
		mu.Unlock()
		return sc.r.Query(ctx, expr, ts)
	})
	s, err = performance.Summarize(t.Context(), q, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !s.GeneratedAt.Equal(summaryQuerierNow) {
		t.Errorf("GeneratedAt = %v, want the querier's Now %v", s.GeneratedAt, summaryQuerierNow)
	}
	if len(seen) == 0 {
		t.Fatal("no query ran")
	}
	for _, ts := range seen {
		if !ts.Equal(summaryQuerierNow) {
			t.Errorf("a query ran at %v, not at the querier's Now %v", ts, summaryQuerierNow)
		}
	}
}

// summaryQuerierNow is the clock of summaryQuerierFunc: 7 s after the end
// of summaryScripted's window, so that a test can tell it from the reader's.
var summaryQuerierNow = summaryStart.Add(time.Minute + 7*time.Second)

// summaryQuerierFunc adapts a function to memory.Evaluator; its Now is
// summaryQuerierNow.
type summaryQuerierFunc func(ctx context.Context, expr string, ts time.Time) (memory.Result, error)

func (f summaryQuerierFunc) Query(ctx context.Context, expr string, ts time.Time) (memory.Result, error) {
	return f(ctx, expr, ts)
}

func (f summaryQuerierFunc) Now() time.Time { return summaryQuerierNow }

func TestSummaryErrors(t *testing.T) {
	sc := newSummaryScripted(t)
	errDown := errors.New("backend down")

	t.Run("window", func(t *testing.T) {
		for _, w := range []time.Duration{0, -time.Minute, time.Microsecond} {
			if _, err := performance.Summarize(t.Context(), sc.r, w); err == nil || !strings.Contains(err.Error(), w.String()) {
				t.Errorf("window %v: err = %v, want an error naming the window", w, err)
			}
		}
	})
	t.Run("nil querier", func(t *testing.T) {
		if _, err := performance.Summarize(t.Context(), nil, time.Minute); err == nil {
			t.Error("no error for a nil querier")
		}
	})
	t.Run("canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := performance.Summarize(ctx, sc.r, time.Minute); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
	t.Run("canceled during the queries", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		q := summaryQuerierFunc(func(ctx context.Context, expr string, ts time.Time) (memory.Result, error) {
			cancel()
			return sc.r.Query(ctx, expr, ts)
		})
		s, err := performance.Summarize(ctx, q, time.Minute)
		if err == nil || !reflect.DeepEqual(s, performance.Summary{}) {
			t.Errorf("summary %+v, err %v; want a zero summary and an error", s, err)
		}
	})
	t.Run("failing query", func(t *testing.T) {
		q := summaryQuerierFunc(func(ctx context.Context, expr string, ts time.Time) (memory.Result, error) {
			if strings.Contains(expr, "go_goroutine_count") {
				return memory.Result{}, errDown
			}
			return sc.r.Query(ctx, expr, ts)
		})
		_, err := performance.Summarize(t.Context(), q, time.Minute)
		if !errors.Is(err, errDown) || !strings.Contains(err.Error(), "sum(go_goroutine_count)") {
			t.Errorf("err = %v, want errDown naming the query", err)
		}
	})
	t.Run("matrix result", func(t *testing.T) {
		q := summaryQuerierFunc(func(ctx context.Context, expr string, ts time.Time) (memory.Result, error) {
			return memory.Result{Value: memory.Matrix{}}, nil
		})
		if _, err := performance.Summarize(t.Context(), q, time.Minute); err == nil || !strings.Contains(err.Error(), "matrix") {
			t.Errorf("err = %v, want an error about the result type", err)
		}
	})
}

// summaryJSONFields are the documented JSON field names.
var summaryJSONFields = map[string][]string{
	"": {"windowSeconds", "generatedAt", "totalRequests", "requestsPerSecond", "requestsPerMinute",
		"errors", "errorRate", "slowRequests", "latency", "apdex", "topRoutes", "topErrors", "runtimeHealth",
		"cacheHitRatio"},
	"latency":       {"meanSeconds", "p50Seconds", "p90Seconds", "p95Seconds", "p99Seconds"},
	"apdex":         {"score", "thresholdSeconds", "satisfied", "tolerating", "frustrated", "total"},
	"topRoutes":     {"route", "method", "requests", "meanSeconds", "p95Seconds", "errors", "errorRate", "apdexScore"},
	"topErrors":     {"status", "errorType", "method", "route", "count"},
	"runtimeHealth": {"memoryUsedBytes", "memoryLimitBytes", "goroutines", "schedulerLatencyP99Seconds"},
	"cacheHitRatio": {"ratio", "hits", "lookups", "caches"},
	"caches":        {"name", "ratio", "hits", "lookups"},
}

func TestSummaryJSON(t *testing.T) {
	sc := newSummaryScripted(t)
	s, err := performance.Summarize(t.Context(), sc.r, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}

	var back performance.Summary
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, s) {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, s)
	}

	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	checkKeys := func(where string, obj map[string]any) {
		t.Helper()
		var got []string
		for k := range obj {
			got = append(got, k)
		}
		want := slices.Clone(summaryJSONFields[where])
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%q fields = %q, want %q", where, got, want)
		}
	}
	checkKeys("", m)
	for _, k := range []string{"latency", "apdex", "runtimeHealth", "cacheHitRatio"} {
		checkKeys(k, m[k].(map[string]any))
	}
	caches := m["cacheHitRatio"].(map[string]any)["caches"].([]any)
	if len(caches) == 0 {
		t.Fatal("cacheHitRatio.caches is empty")
	}
	checkKeys("caches", caches[0].(map[string]any))
	for _, k := range []string{"topRoutes", "topErrors"} {
		list := m[k].([]any)
		if len(list) == 0 {
			t.Fatalf("%s is empty", k)
		}
		checkKeys(k, list[0].(map[string]any))
	}
	if m["generatedAt"] != "2025-03-01T12:01:00Z" {
		t.Errorf("generatedAt = %v, want RFC 3339", m["generatedAt"])
	}
}

// TestSummaryCacheHitRatio checks the cache hit ratio of the script: 18
// hits of 28 lookups, sessions 12 of 16, products 6 of 12; sets are not
// lookups.
func TestSummaryCacheHitRatio(t *testing.T) {
	sc := newSummaryScripted(t)
	s, err := performance.Summarize(t.Context(), sc.r, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	want := performance.CacheHitRatio{
		Ratio: 18.0 / 28, Hits: 18, Lookups: 28,
		Caches: []performance.CacheRatio{
			{Name: "sessions", Ratio: 0.75, Hits: 12, Lookups: 16},
			{Name: "products", Ratio: 0.5, Hits: 6, Lookups: 12},
		},
	}
	if !reflect.DeepEqual(s.CacheHitRatio, want) {
		t.Errorf("CacheHitRatio = %+v, want %+v", s.CacheHitRatio, want)
	}

	// The documented single expression gives the same ratios.
	res, err := sc.r.Query(t.Context(), `(
    sum by (cache_name) (app_cache_operations_total{cache_result="hit"})
  - (sum by (cache_name) (app_cache_operations_total{cache_result="hit"} offset 1m)
     or sum by (cache_name) (app_cache_operations_total{cache_result="hit"}) * 0)
)
/
(
    sum by (cache_name) (app_cache_operations_total{cache_result=~"hit|miss"})
  - (sum by (cache_name) (app_cache_operations_total{cache_result=~"hit|miss"} offset 1m)
     or sum by (cache_name) (app_cache_operations_total{cache_result=~"hit|miss"}) * 0)
)`, sc.end)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, smp := range res.Value.(memory.Vector) {
		got[smp.Metric.Get("cache_name")] = smp.F
	}
	if got["sessions"] != 0.75 || got["products"] != 0.5 || len(got) != 2 {
		t.Errorf("hit ratio by PromQL = %v, want sessions 0.75, products 0.5", got)
	}

	// Another series (bizmetrics under another namespace); a missing one
	// gives zeros.
	var seen []string
	var mu sync.Mutex
	q := summaryQuerierFunc(func(ctx context.Context, expr string, ts time.Time) (memory.Result, error) {
		mu.Lock()
		seen = append(seen, expr)
		mu.Unlock()
		return sc.r.Query(ctx, expr, ts)
	})
	s, err = performance.Summarize(t.Context(), q, time.Minute, performance.WithCacheSeries("shop_cache_operations_total"))
	if err != nil {
		t.Fatal(err)
	}
	if want := (performance.CacheHitRatio{Caches: []performance.CacheRatio{}}); !reflect.DeepEqual(s.CacheHitRatio, want) {
		t.Errorf("CacheHitRatio of a missing series = %+v, want %+v", s.CacheHitRatio, want)
	}
	if !slices.ContainsFunc(seen, func(e string) bool { return strings.Contains(e, "shop_cache_operations_total") }) {
		t.Errorf("no query read shop_cache_operations_total: %q", seen)
	}
}

// TestSummaryDocSample checks that the sample in
// docs/performance-summary.md is the real output for the summaryScripted requests.
func TestSummaryDocSample(t *testing.T) {
	sc := newSummaryScripted(t)
	s, err := performance.Summarize(t.Context(), sc.r, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../docs/performance-summary.md")
	if err != nil {
		t.Fatal(err)
	}
	const start = "<!-- sample: TestSummaryDocSample -->\n```json\n"
	i := bytes.Index(doc, []byte(start))
	if i < 0 {
		t.Fatalf("docs/performance-summary.md has no %q", start)
	}
	sample := doc[i+len(start):]
	sample = sample[:bytes.Index(sample, []byte("\n```"))]
	// Compared as JSON values, floats to within 1e-9 relative: the last
	// digits of an interpolation may differ where the compiler fuses a
	// multiply and an add (arm64).
	var want, have any
	if err := json.Unmarshal(sample, &want); err != nil {
		t.Fatalf("the sample in docs/performance-summary.md: %v", err)
	}
	if err := json.Unmarshal(got, &have); err != nil {
		t.Fatal(err)
	}
	if !summaryJSONClose(have, want) {
		t.Errorf("the sample in docs/performance-summary.md is not the output; replace it with:\n%s", got)
	}
}

// summaryJSONClose reports whether two decoded JSON values are equal, their
// numbers to within 1e-9 relative.
func summaryJSONClose(a, b any) bool {
	switch a := a.(type) {
	case float64:
		b, ok := b.(float64)
		return ok && summaryApprox(a, b)
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !summaryJSONClose(a[i], b[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, v := range a {
			if w, ok := b[k]; !ok || !summaryJSONClose(v, w) {
				return false
			}
		}
		return true
	default:
		return a == b
	}
}

// TestSummaryRuntimeMetrics reads the runtime metrics of contrib's runtime
// instrumentation and producer, to check the series names.
func TestSummaryRuntimeMetrics(t *testing.T) {
	clk := &summaryClock{clocktest.New(summaryStart)}
	// The interval option is a ProducerOption too, behind the Option type.
	prod := runtime.NewProducer(runtime.WithMinimumReadMemStatsInterval(time.Nanosecond).(runtime.ProducerOption))
	r := memory.New(memory.WithClock(clk), memory.WithProducer(prod))
	mp := sdkmetric.NewMeterProvider(r.MeterProviderOptions()...)
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	if err := runtime.Start(runtime.WithMeterProvider(mp), runtime.WithMinimumReadMemStatsInterval(time.Nanosecond)); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		// Goroutines to schedule, so that the scheduler latency histogram
		// moves between collections.
		var wg sync.WaitGroup
		for range 1000 {
			wg.Go(func() {})
		}
		wg.Wait()
		clk.Advance(20 * time.Second)
		if err := r.Collect(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	s, err := performance.Summarize(t.Context(), r, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	h := s.RuntimeHealth
	if h.MemoryUsedBytes <= 0 || h.Goroutines <= 0 {
		t.Errorf("RuntimeHealth = %+v, want memory used and goroutines", h)
	}
	wantLimit := 0.0
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		wantLimit = float64(l)
	}
	if h.MemoryLimitBytes != wantLimit {
		t.Errorf("MemoryLimitBytes = %v, want %v", h.MemoryLimitBytes, wantLimit)
	}
	res, err := r.Query(t.Context(), `count(go_schedule_duration_seconds_bucket)`, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := res.Value.(memory.Vector); !ok || len(v) != 1 || v[0].F < 2 {
		t.Errorf("go_schedule_duration_seconds_bucket series: %v, want the runtime's buckets", res.Value)
	}
	if h.SchedulerLatencyP99Seconds < 0 || h.SchedulerLatencyP99Seconds > 10 {
		t.Errorf("SchedulerLatencyP99Seconds = %v, want a plausible latency", h.SchedulerLatencyP99Seconds)
	}
}

// TestSummaryConcurrentSafe runs summaries while the reader collects.
func TestSummaryConcurrentSafe(t *testing.T) {
	sc := newSummaryScripted(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 5 {
				if _, err := performance.Summarize(t.Context(), sc.r, time.Minute); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for range 5 {
		sc.clk.Advance(time.Second)
		if err := sc.r.Collect(t.Context()); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
}
