package performance_test

import (
	"context"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/vitalsgo/vitals/clock/clocktest"
	"github.com/vitalsgo/vitals/exporter/memory"
	"github.com/vitalsgo/vitals/instrument"
	"github.com/vitalsgo/vitals/performance"
)

// These tests check the summary against an exact reference: requests go
// through the real HTTP middleware into a real MeterProvider and memory
// reader, and every figure is compared with what the scripted durations
// and statuses say it must be.
//
// The reference percentile is the nearest-rank one, the observation of
// rank ⌈q·n⌉ of the sorted durations: histogram_quantile's estimate lies in
// the native bucket that holds it, so it is the value the documented 4.4 %
// bound is about. The distributions have n = 3001 values, so that q·n is
// never whole for the percentiles checked (with a whole q·n Prometheus'
// search from the top lands on the observation of rank q·n + 1 instead;
// in the unions of TestSummaryWindowAlignment, 6002 values, it may, and
// the two neighbouring observations are then within a hair of each other).
// numpy's default (linear interpolation between the order statistics
// around (n−1)·q) is checked too, to the 5 % the tests allow.

// accuracyN is the number of values of each distribution.
const accuracyN = 3001

// accuracyTolerance is the relative error the tests allow a percentile:
// the documented bound of 4.4 %, rounded up.
const accuracyTolerance = 0.05

// accuracyQuantiles are the percentiles of Latency.
var accuracyQuantiles = []float64{0.5, 0.9, 0.95, 0.99}

// accuracyDist is a named distribution of request durations.
type accuracyDist struct {
	name string
	gen  func(*rand.Rand) float64 // seconds
}

// accuracyDists are the distributions the percentiles are checked on.
var accuracyDists = []accuracyDist{
	{"lognormal 400µs", func(r *rand.Rand) float64 { return 400e-6 * math.Exp(0.8*r.NormFloat64()) }},
	{"bimodal 200µs/80ms", func(r *rand.Rand) float64 {
		// 70 % fast, 30 % slow: p50 lies in the fast mode, p90 to p99
		// in the slow one, none in the gap between them.
		if r.Float64() < 0.7 {
			return 200e-6 * math.Exp(0.25*r.NormFloat64())
		}
		return 80e-3 * math.Exp(0.25*r.NormFloat64())
	}},
	{"uniform 1-5s", func(r *rand.Rand) float64 { return 1 + 4*r.Float64() }},
	{"constant 1.234ms", func(*rand.Rand) float64 { return 1.234e-3 }},
	{"log-uniform 10µs-60s", func(r *rand.Rand) float64 {
		return math.Exp(math.Log(10e-6) + (math.Log(60)-math.Log(10e-6))*r.Float64())
	}},
}

// accuracyRequest is one scripted request: its duration and status.
type accuracyRequest struct {
	d      time.Duration
	status int
}

// seconds is the duration the middleware records for the request.
func (q accuracyRequest) seconds() float64 { return q.d.Seconds() }

// accuracyRequests draws n requests of dist with a fixed seed; every 17th
// answers 500.
func accuracyRequests(dist accuracyDist, seed uint64, n int) []accuracyRequest {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	out := make([]accuracyRequest, n)
	for i := range out {
		d := time.Duration(math.Round(dist.gen(rng) * 1e9))
		out[i] = accuracyRequest{d: max(d, time.Nanosecond), status: http.StatusOK}
		if i%17 == 16 {
			out[i].status = http.StatusInternalServerError
		}
	}
	return out
}

// accuracyRoutes are the routes of accuracyRig's mux.
var accuracyRoutes = []string{"/a", "/b", "/old", "/new"}

// accuracyRig is a memory reader on a hand-moved clock, a MeterProvider
// with its readers, and instrument.Middleware timing requests by a second
// hand-moved clock, which the handler advances by the request's scripted
// duration: the middleware reads it when the request starts and when it
// ends, so it records exactly that duration.
type accuracyRig struct {
	r      *memory.Reader
	clk    *summaryClock // the reader's
	reqClk *clocktest.Clock
	h      http.Handler
	next   accuracyRequest // the request being served
}

func newAccuracyRig(t *testing.T) *accuracyRig {
	t.Helper()
	rig := &accuracyRig{
		clk:    &summaryClock{clocktest.New(summaryStart)},
		reqClk: clocktest.New(summaryStart),
	}
	rig.r = memory.New(memory.WithClock(rig.clk))
	mp := sdkmetric.NewMeterProvider(rig.r.MeterProviderOptions()...)
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	mux := http.NewServeMux()
	for _, route := range accuracyRoutes {
		mux.HandleFunc("GET "+route, func(w http.ResponseWriter, _ *http.Request) {
			rig.reqClk.Advance(rig.next.d)
			w.WriteHeader(rig.next.status)
		})
	}
	rig.h = instrument.Middleware(mux,
		instrument.WithMeterProvider(mp),
		instrument.WithClock(rig.reqClk),
		instrument.WithLogger(slog.New(slog.DiscardHandler)))
	return rig
}

// serve sends the requests to route through the middleware, one at a time.
func (rig *accuracyRig) serve(t *testing.T, route string, reqs []accuracyRequest) {
	t.Helper()
	for _, q := range reqs {
		rig.next = q
		rec := httptest.NewRecorder()
		rig.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, route, nil))
		if rec.Code != q.status {
			t.Fatalf("GET %s answered %d, want %d", route, rec.Code, q.status)
		}
	}
}

// collectAt moves the reader's clock to summaryStart + at and collects.
func (rig *accuracyRig) collectAt(t *testing.T, at time.Duration) {
	t.Helper()
	rig.clk.Set(summaryStart.Add(at))
	if err := rig.r.Collect(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// summarize runs Summarize at summaryStart + at over window, failing the
// test on an error or on a warning of any of its queries.
func (rig *accuracyRig) summarize(t *testing.T, at, window time.Duration, opts ...performance.Option) performance.Summary {
	t.Helper()
	var mu sync.Mutex
	var warned []string
	q := summaryQuerierFunc(func(ctx context.Context, expr string, ts time.Time) (memory.Result, error) {
		res, err := rig.r.Query(ctx, expr, ts)
		if len(res.Warnings) > 0 {
			mu.Lock()
			warned = append(warned, expr+": "+res.Warnings.AsErrors()[0].Error())
			mu.Unlock()
		}
		return res, err
	})
	s, err := performance.Summarize(t.Context(), q, window, append(opts, performance.WithTime(summaryStart.Add(at)))...)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range warned {
		t.Errorf("warning: %s", w)
	}
	return s
}

// windowSchema returns the schema of the native duration histogram of the
// window (at − window, at], summed over every series.
func (rig *accuracyRig) windowSchema(t *testing.T, at, window time.Duration) int32 {
	t.Helper()
	const d = "http_server_request_duration_seconds"
	w := window.String()
	res, err := rig.r.Query(t.Context(),
		"sum("+d+") - (sum("+d+" offset "+w+") or sum("+d+") * 0)", summaryStart.Add(at))
	if err != nil {
		t.Fatal(err)
	}
	v, err := res.Vector()
	if err != nil || len(v) != 1 || v[0].H == nil {
		t.Fatalf("window histogram: %v, %v; want one histogram", res.Value, err)
	}
	return v[0].H.Schema
}

// accuracyTruth is the exact reference of a set of requests.
type accuracyTruth struct {
	sorted        []float64 // durations, seconds
	sum           float64
	errors, slow  float64
	requests      float64
	byRoute       map[string][]float64 // sorted durations by route
	errorsByRoute map[string]float64
	routeRequests map[string]float64
}

// accuracyBatch is requests served on one route.
type accuracyBatch struct {
	route string
	reqs  []accuracyRequest
}

func newAccuracyTruth(batches ...accuracyBatch) accuracyTruth {
	tr := accuracyTruth{byRoute: map[string][]float64{}, errorsByRoute: map[string]float64{}, routeRequests: map[string]float64{}}
	for _, b := range batches {
		for _, q := range b.reqs {
			v := q.seconds()
			tr.sorted = append(tr.sorted, v)
			tr.byRoute[b.route] = append(tr.byRoute[b.route], v)
			tr.sum += v
			tr.requests++
			tr.routeRequests[b.route]++
			if q.status >= 500 {
				tr.errors++
				tr.errorsByRoute[b.route]++
			}
			if q.d > instrument.DefaultSlowThreshold {
				tr.slow++
			}
		}
	}
	slices.Sort(tr.sorted)
	for _, v := range tr.byRoute {
		slices.Sort(v)
	}
	return tr
}

// numpyQuantile is numpy's default quantile of sorted values: linear
// interpolation between the order statistics around (n−1)·q.
func numpyQuantile(sorted []float64, q float64) float64 {
	h := float64(len(sorted)-1) * q
	lo := int(math.Floor(h))
	if lo+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo])
}

// checkPercentile fails unless got is within accuracyTolerance of both
// references, and returns its relative error to the nearest-rank one.
func checkPercentile(t *testing.T, name string, got float64, sorted []float64, q float64) float64 {
	t.Helper()
	rank, np := summaryHandQuantile(sorted, q), numpyQuantile(sorted, q)
	e, enp := (got-rank)/rank, (got-np)/np
	if !(math.Abs(e) <= accuracyTolerance) || !(math.Abs(enp) <= accuracyTolerance) {
		t.Errorf("%s p%g = %.6g, want within %.0f %% of the nearest-rank %.6g (%+.2f %%) and of numpy's %.6g (%+.2f %%)",
			name, 100*q, got, 100*accuracyTolerance, rank, 100*e, np, 100*enp)
	}
	return e
}

// checkCounts checks every count of s against the truth: exact integers.
func checkCounts(t *testing.T, s performance.Summary, tr accuracyTruth) {
	t.Helper()
	exact := []struct {
		name      string
		got, want float64
	}{
		{"TotalRequests", float64(s.TotalRequests), tr.requests},
		{"Errors", float64(s.Errors), tr.errors},
		{"SlowRequests", float64(s.SlowRequests), tr.slow},
		{"Apdex.Total", float64(s.Apdex.Total), tr.requests},
	}
	for _, c := range exact {
		if c.got != c.want {
			t.Errorf("%s = %v, want exactly %v", c.name, c.got, c.want)
		}
	}
	if tr.requests > 0 {
		if want := tr.sum / tr.requests; math.Abs(s.Latency.MeanSeconds-want) > 1e-9*want {
			t.Errorf("Latency.MeanSeconds = %v, want %v", s.Latency.MeanSeconds, want)
		}
	}
	got := map[string]performance.Route{}
	for _, r := range s.TopRoutes {
		got[r.Route] = r
	}
	if len(got) != len(tr.byRoute) {
		t.Errorf("routes %v, want %d routes", s.TopRoutes, len(tr.byRoute))
	}
	for route, n := range tr.routeRequests {
		r := got[route]
		if float64(r.Requests) != n || float64(r.Errors) != tr.errorsByRoute[route] {
			t.Errorf("route %s: requests %v, errors %v; want exactly %v, %v", route, r.Requests, r.Errors, n, tr.errorsByRoute[route])
		}
	}
	var topErrors float64
	for _, e := range s.TopErrors {
		topErrors += float64(e.Count)
	}
	if topErrors != tr.errors {
		t.Errorf("TopErrors add up to %v, want exactly %v", topErrors, tr.errors)
	}
}

// checkApdex checks the Apdex of s against the exact counts of the truth:
// integers adding up to the total, each within the requests that share T's
// (or 4T's) bucket at the window's schema, exact when none do.
func checkApdex(t *testing.T, s performance.Summary, tr accuracyTruth, schema int32) {
	t.Helper()
	a := s.Apdex
	T := a.ThresholdSeconds
	if a.Satisfied < 0 || a.Tolerating < 0 || a.Frustrated < 0 {
		t.Errorf("Apdex counts %v, %v, %v: want non-negative", a.Satisfied, a.Tolerating, a.Frustrated)
	}
	if a.Satisfied+a.Tolerating+a.Frustrated != a.Total {
		t.Errorf("Apdex %v + %v + %v != total %v", a.Satisfied, a.Tolerating, a.Frustrated, a.Total)
	}
	atT, sharedT := summaryApdexTruth(tr.sorted, T, schema)
	at4T, shared4T := summaryApdexTruth(tr.sorted, 4*T, schema)
	if math.Abs(float64(a.Satisfied)-atT) > sharedT {
		t.Errorf("T = %v: satisfied %v, want %v ± %v", T, a.Satisfied, atT, sharedT)
	}
	if got := float64(a.Satisfied + a.Tolerating); math.Abs(got-at4T) > shared4T {
		t.Errorf("T = %v: at most 4T %v, want %v ± %v", T, got, at4T, shared4T)
	}
	if tr.requests > 0 {
		want, bound := (atT+at4T)/2/tr.requests, (sharedT+shared4T)/2/tr.requests
		if math.Abs(a.Score-want) > bound+1e-12 {
			t.Errorf("T = %v: score %v, want %v ± %v", T, a.Score, want, bound)
		}
	}
	t.Logf("T = %v: satisfied %v (exact %v, %v share T's bucket), at most 4T %v (exact %v, %v share 4T's bucket)",
		T, a.Satisfied, atT, sharedT, a.Satisfied+a.Tolerating, at4T, shared4T)
}

// checkPercentiles checks the percentiles of s, overall and per route,
// against the truth.
func checkPercentiles(t *testing.T, name string, s performance.Summary, tr accuracyTruth) {
	t.Helper()
	ps := []float64{s.Latency.P50Seconds, s.Latency.P90Seconds, s.Latency.P95Seconds, s.Latency.P99Seconds}
	for i, q := range accuracyQuantiles {
		e := checkPercentile(t, name, ps[i], tr.sorted, q)
		t.Logf("%s p%g: %.6g s, nearest-rank %.6g s, error %+.3f %% (numpy %.6g s, %+.3f %%)", name, 100*q, ps[i],
			summaryHandQuantile(tr.sorted, q), 100*e, numpyQuantile(tr.sorted, q), 100*(ps[i]-numpyQuantile(tr.sorted, q))/numpyQuantile(tr.sorted, q))
	}
	for _, r := range s.TopRoutes {
		e := checkPercentile(t, name+" "+r.Route, r.P95Seconds, tr.byRoute[r.Route], 0.95)
		t.Logf("%s route %s p95: error %+.3f %%", name, r.Route, 100*e)
	}
}

// TestSummaryAccuracy checks, for each distribution, every count against
// the exact one and the percentiles against the exact percentiles of the
// same durations. The window starts before the series existed: they count
// from zero.
func TestSummaryAccuracy(t *testing.T) {
	for i, dist := range accuracyDists {
		t.Run(dist.name, func(t *testing.T) {
			rig := newAccuracyRig(t)
			reqs := accuracyRequests(dist, uint64(i)+1, accuracyN)
			half := len(reqs) / 2
			// Collections every 10 s, the first before any request:
			// the series are born inside the window.
			rig.collectAt(t, 0)
			rig.serve(t, "/a", reqs[:half])
			rig.collectAt(t, 10*time.Second)
			rig.serve(t, "/a", reqs[half:])
			rig.collectAt(t, 20*time.Second)
			tr := newAccuracyTruth(accuracyBatch{"/a", reqs})
			schema := rig.windowSchema(t, 20*time.Second, time.Minute)
			t.Logf("%s: native schema %d (buckets %.2f %% wide)", dist.name, schema, 100*(math.Exp2(math.Exp2(-float64(schema)))-1))
			if schema < 4 {
				t.Errorf("schema %d: buckets wider than the documented 4.4 %%", schema)
			}

			s := rig.summarize(t, 20*time.Second, time.Minute)
			checkCounts(t, s, tr)
			checkPercentiles(t, dist.name, s, tr)
			checkApdex(t, s, tr, schema)
			// A threshold at the median: T shares its bucket with
			// requests (all of them for the constant), so the counts
			// are estimates within the bound.
			med := time.Duration(math.Round(summaryHandQuantile(tr.sorted, 0.5)*1e9)) + 1
			checkApdex(t, rig.summarize(t, 20*time.Second, time.Minute, performance.WithApdexThreshold(med)), tr, schema)
		})
	}
}

// TestSummaryWindowAlignment checks which events a window counts: those
// after the last collection at or before its start, up to the last
// collection at or before its end; a route born inside the window counts
// from zero, and a series older than the window counts only what it
// recorded inside it.
func TestSummaryWindowAlignment(t *testing.T) {
	rig := newAccuracyRig(t)
	// A: slow requests on /old, collected at +10 s; collections every
	// 10 s to +70 s; then B (fast) on /old and C (bimodal) on /new, a
	// route born at +80 s.
	a := accuracyRequests(accuracyDists[2], 101, accuracyN)
	b := accuracyRequests(accuracyDists[0], 102, accuracyN)
	c := accuracyRequests(accuracyDists[1], 103, accuracyN)
	// With A's 60 s outlier, B's 500 ns one takes /old's values past
	// 2^25 apart, more than the 400 buckets of scale 4 hold.
	a = append(a, accuracyRequest{d: time.Minute, status: http.StatusOK})
	b = append(b, accuracyRequest{d: 500 * time.Nanosecond, status: http.StatusOK})
	rig.serve(t, "/old", a)
	for at := 10 * time.Second; at <= 70*time.Second; at += 10 * time.Second {
		rig.collectAt(t, at)
	}
	rig.serve(t, "/old", b)
	rig.serve(t, "/new", c)
	rig.collectAt(t, 80*time.Second)

	// A kept /old's exponential histogram at scale 4; B's durations,
	// down to 10^8 times shorter, made it halve its resolution: the
	// window's histogram is the difference of histograms of two schemas.
	startSchema := rig.windowSchema(t, 10*time.Second, 10*time.Second)
	if endSchema := rig.windowSchema(t, 80*time.Second, time.Minute); startSchema <= endSchema {
		t.Fatalf("schema %d at the window's start, %d at its end: want a change of scale, or the test does not test what it should",
			startSchema, endSchema)
	}

	all := newAccuracyTruth(accuracyBatch{"/old", a}, accuracyBatch{"/old", b}, accuracyBatch{"/new", c})
	inside := newAccuracyTruth(accuracyBatch{"/old", b}, accuracyBatch{"/new", c})
	none := newAccuracyTruth()
	tests := []struct {
		name       string
		at, window time.Duration
		want       accuracyTruth
	}{
		{"window on the grid", 80 * time.Second, time.Minute, inside},
		{"window between collections", 85 * time.Second, time.Minute, inside},
		{"start on the collection holding A", 80 * time.Second, 70 * time.Second, inside},
		{"start before the first collection", 80 * time.Second, 71 * time.Second, all},
		{"one interval", 80 * time.Second, 10 * time.Second, inside},
		{"end before B's collection", 79 * time.Second, time.Minute, none},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := rig.summarize(t, tt.at, tt.window)
			checkCounts(t, s, tt.want)
			if tt.want.requests == 0 {
				if s.Latency != (performance.Latency{}) || s.Apdex.Total != 0 {
					t.Errorf("latency %+v, apdex %+v over no requests: want zeros", s.Latency, s.Apdex)
				}
				return
			}
			// The percentiles are those of the window's requests: A's
			// 1-5 s requests would put p50 of all three batches near
			// 80 ms, not B and C's 300 µs or so.
			checkPercentiles(t, tt.name, s, tt.want)
			checkApdex(t, s, tt.want, rig.windowSchema(t, tt.at, tt.window))
		})
	}
}

// TestSummaryWindowShorterThanSeries checks that a window shorter than a
// series' life counts only the events inside it: batch A, a collection,
// then past the window batch B and a collection count len(B), with and
// without the reader's collections in between.
func TestSummaryWindowShorterThanSeries(t *testing.T) {
	for _, regular := range []bool{true, false} {
		name := "collections every 10 s"
		if !regular {
			name = "one collection after a pause"
		}
		t.Run(name, func(t *testing.T) {
			rig := newAccuracyRig(t)
			a := accuracyRequests(accuracyDists[4], 201, accuracyN)
			b := accuracyRequests(accuracyDists[0], 202, accuracyN)
			rig.serve(t, "/a", a)
			rig.collectAt(t, 10*time.Second)
			if regular {
				for at := 20 * time.Second; at <= 90*time.Second; at += 10 * time.Second {
					rig.collectAt(t, at)
				}
			}
			rig.serve(t, "/a", b)
			rig.collectAt(t, 100*time.Second)

			s := rig.summarize(t, 100*time.Second, time.Minute)
			if s.TotalRequests != int64(len(b)) {
				t.Errorf("TotalRequests = %v, want len(B) = %d", s.TotalRequests, len(b))
			}
			tr := newAccuracyTruth(accuracyBatch{"/a", b})
			checkCounts(t, s, tr)
			checkPercentiles(t, name, s, tr)
			checkApdex(t, s, tr, rig.windowSchema(t, 100*time.Second, time.Minute))
		})
	}
}

// TestSummaryApdexPowersOfTwo checks that a T and a 4T that are powers of
// two, the default 0.5 s and 2 s among them, give exact Apdex counts even
// with requests of exactly T and 4T: they are bucket bounds at every
// scale, and a request of exactly T is satisfied, one of exactly 4T
// tolerating.
func TestSummaryApdexPowersOfTwo(t *testing.T) {
	rig := newAccuracyRig(t)
	var reqs []accuracyRequest
	for _, d := range []time.Duration{
		time.Millisecond, 125 * time.Millisecond, 250 * time.Millisecond, 490 * time.Millisecond,
		500 * time.Millisecond, 510 * time.Millisecond, time.Second, 1990 * time.Millisecond,
		2 * time.Second, 2010 * time.Millisecond, 4 * time.Second, 8 * time.Second,
	} {
		for range 10 {
			reqs = append(reqs, accuracyRequest{d: d, status: http.StatusOK})
		}
	}
	rig.serve(t, "/a", reqs)
	rig.collectAt(t, 10*time.Second)
	tr := newAccuracyTruth(accuracyBatch{"/a", reqs})
	schema := rig.windowSchema(t, 10*time.Second, time.Minute)
	for _, T := range []time.Duration{performance.DefaultApdexThreshold, 250 * time.Millisecond, time.Second} {
		s := rig.summarize(t, 10*time.Second, time.Minute, performance.WithApdexThreshold(T))
		atT, _ := summaryApdexTruth(tr.sorted, T.Seconds(), schema)
		at4T, _ := summaryApdexTruth(tr.sorted, 4*T.Seconds(), schema)
		a := s.Apdex
		if float64(a.Satisfied) != atT || float64(a.Satisfied+a.Tolerating) != at4T || float64(a.Total) != tr.requests ||
			!summaryApprox(a.Score, (atT+at4T)/2/tr.requests) {
			t.Errorf("T = %v: satisfied %v, at most 4T %v, total %v, score %v; want exactly %v, %v, %v, %v",
				T, a.Satisfied, a.Satisfied+a.Tolerating, a.Total, a.Score, atT, at4T, tr.requests, (atT+at4T)/2/tr.requests)
		}
	}
}
