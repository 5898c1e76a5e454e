package performance

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql"

	"github.com/vitalsgo/vitals/exporter/memory"
)

// Series the summary reads, named as on /metrics.
const (
	summaryDurationSeries  = "http_server_request_duration_seconds"
	summarySlowSeries      = "vitals_http_server_slow_requests_total"
	summaryMemUsedSeries   = "go_memory_used_bytes"
	summaryMemLimitSeries  = "go_memory_limit_bytes"
	summaryGoroutineSeries = "go_goroutine_count"
	summarySchedSeries     = "go_schedule_duration_seconds"
	// summaryCacheSeries is the cache operations counter of bizmetrics
	// with its default namespace (app.cache.operations).
	summaryCacheSeries = "app_cache_operations_total"
)

// Labels the summary groups by.
const (
	summaryRouteLabel  = "http_route"
	summaryMethodLabel = "http_request_method"
	summaryStatusLabel = "http_response_status_code"
	summaryErrorLabel  = "error_type"
	summaryLeLabel     = "le"
	summaryCacheLabel  = "cache_name"
	summaryResultLabel = "cache_result"
)

// summaryParallelism bounds the queries a summary runs at once.
const summaryParallelism = 4

// Summarize computes the performance summary of the window that ends now
// (see WithTime) with PromQL instant queries over q, the series the
// HTTP middleware, the runtime metrics and bizmetrics' cache counter
// record. docs/performance-summary.md lists the query behind every field.
//
// Missing series give zero values, not an error: an empty reader gives a
// summary of zeros. The window is rounded down to a millisecond and must be
// at least one. The queries run concurrently (a few at a time) and are
// bounded by ctx; if any fails, Summarize returns the errors joined, each
// naming its query.
func Summarize(ctx context.Context, q memory.Querier, window time.Duration, opts ...Option) (Summary, error) {
	if window < time.Millisecond {
		return Summary{}, fmt.Errorf("performance: summary window %v: must be at least 1ms", window)
	}
	if q == nil {
		return Summary{}, errors.New("performance: summary querier is nil")
	}
	cfg := newConfig(opts)
	at := cfg.at
	if at.IsZero() {
		at = q.Now()
	}
	window = window.Truncate(time.Millisecond)
	if err := ctx.Err(); err != nil {
		return Summary{}, fmt.Errorf("performance: summary: %w", err)
	}

	qs := summaryQueries(model.Duration(window).String(), cfg.cacheSeries)
	vecs, err := summaryRun(ctx, q, qs[:], at)
	if err != nil {
		return Summary{}, fmt.Errorf("performance: summary: %w", err)
	}
	return summaryBuild(cfg, window, at, vecs), nil
}

// The queries, by index into summaryQueries' result.
const (
	summaryQTotal = iota
	summaryQErrors
	summaryQDurationSum
	summaryQP50
	summaryQP90
	summaryQP95
	summaryQP99
	summaryQBuckets
	summaryQSlow
	summaryQRouteCount
	summaryQRouteSum
	summaryQRouteErrors
	summaryQRouteP95
	summaryQRouteBuckets
	summaryQTopErrors
	summaryQMemUsed
	summaryQMemLimit
	summaryQGoroutines
	summaryQSchedP99
	summaryQCacheHits
	summaryQCacheLookups
	summaryQCount
)

// summaryQueries returns the PromQL of every query for the window w, in
// PromQL duration syntax, reading cache operations from the series cache.
func summaryQueries(w, cache string) [summaryQCount]string {
	const (
		d    = summaryDurationSeries
		err5 = `{` + summaryStatusLabel + `=~"5.."}`
		rm   = summaryRouteLabel + ", " + summaryMethodLabel
	)
	inc := func(sel string) string { return "increase(" + sel + "[" + w + "])" }
	quantile := func(q, by string) string {
		return "histogram_quantile(" + q + ", sum by (" + by + ") (" + inc(d+"_bucket") + "))"
	}
	return [summaryQCount]string{
		summaryQTotal:        "sum(" + inc(d+"_count") + ")",
		summaryQErrors:       "sum(" + inc(d+"_count"+err5) + ")",
		summaryQDurationSum:  "sum(" + inc(d+"_sum") + ")",
		summaryQP50:          quantile("0.5", "le"),
		summaryQP90:          quantile("0.9", "le"),
		summaryQP95:          quantile("0.95", "le"),
		summaryQP99:          quantile("0.99", "le"),
		summaryQBuckets:      "sum by (le) (" + inc(d+"_bucket") + ")",
		summaryQSlow:         "sum(" + inc(summarySlowSeries) + ")",
		summaryQRouteCount:   "sum by (" + rm + ") (" + inc(d+"_count") + ")",
		summaryQRouteSum:     "sum by (" + rm + ") (" + inc(d+"_sum") + ")",
		summaryQRouteErrors:  "sum by (" + rm + ") (" + inc(d+"_count"+err5) + ")",
		summaryQRouteP95:     quantile("0.95", rm+", le"),
		summaryQRouteBuckets: "sum by (" + rm + ", le) (" + inc(d+"_bucket") + ")",
		summaryQTopErrors: "sum by (" + summaryStatusLabel + ", " + summaryErrorLabel + ", " + rm + ") (" +
			inc(d+"_count"+err5) + ")",
		summaryQMemUsed:    "sum(" + summaryMemUsedSeries + ")",
		summaryQMemLimit:   "max(" + summaryMemLimitSeries + ")",
		summaryQGoroutines: "sum(" + summaryGoroutineSeries + ")",
		summaryQSchedP99: "histogram_quantile(0.99, sum by (le) (" +
			"increase(" + summarySchedSeries + "_bucket[" + w + "])))",
		summaryQCacheHits: "sum by (" + summaryCacheLabel + ") (" +
			inc(cache+`{`+summaryResultLabel+`="hit"}`) + ")",
		summaryQCacheLookups: "sum by (" + summaryCacheLabel + ") (" +
			inc(cache+`{`+summaryResultLabel+`=~"hit|miss"}`) + ")",
	}
}

// summaryRun runs the queries at ts, at most summaryParallelism at once,
// and returns their vectors in the same order.
func summaryRun(ctx context.Context, q memory.Querier, exprs []string, ts time.Time) ([]memory.Vector, error) {
	vecs := make([]memory.Vector, len(exprs))
	errs := make([]error, len(exprs))
	sem := make(chan struct{}, summaryParallelism)
	var wg sync.WaitGroup
	for i, expr := range exprs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := ctx.Err(); err != nil {
				errs[i] = fmt.Errorf("query %s: %w", expr, err)
				return
			}
			res, err := q.Query(ctx, expr, ts)
			if err == nil {
				vecs[i], err = res.Vector()
			}
			if err != nil {
				errs[i] = fmt.Errorf("query %s: %w", expr, err)
			}
		})
	}
	wg.Wait()
	return vecs, errors.Join(errs...)
}

// summaryKey identifies a (route, method) pair.
type summaryKey struct{ route, method string }

// summaryBucket is one cumulative histogram bucket.
type summaryBucket struct{ upper, count float64 }

func summaryBuild(cfg config, window time.Duration, at time.Time, v []memory.Vector) Summary {
	s := Summary{
		WindowSeconds: window.Seconds(),
		GeneratedAt:   at.Round(0),
		TopRoutes:     []Route{},
		TopErrors:     []RouteError{},
	}
	s.TotalRequests = summaryOne(v[summaryQTotal])
	s.RequestsPerSecond = summaryFinite(s.TotalRequests / window.Seconds())
	s.RequestsPerMinute = summaryFinite(s.TotalRequests / window.Minutes())
	s.Errors = summaryOne(v[summaryQErrors])
	s.ErrorRate = summaryRatio(s.Errors, s.TotalRequests)
	s.SlowRequests = summaryOne(v[summaryQSlow])
	s.Latency = Latency{
		MeanSeconds: summaryRatio(summaryOne(v[summaryQDurationSum]), s.TotalRequests),
		P50Seconds:  summaryOne(v[summaryQP50]),
		P90Seconds:  summaryOne(v[summaryQP90]),
		P95Seconds:  summaryOne(v[summaryQP95]),
		P99Seconds:  summaryOne(v[summaryQP99]),
	}

	t := cfg.apdex.Seconds()
	s.Apdex = summaryApdex(summaryBuckets(v[summaryQBuckets], func(promql.Sample) summaryKey { return summaryKey{} })[summaryKey{}], t)

	// Routes.
	byRoute := func(smp promql.Sample) summaryKey {
		return summaryKey{smp.Metric.Get(summaryRouteLabel), smp.Metric.Get(summaryMethodLabel)}
	}
	sums := summaryByKey(v[summaryQRouteSum], byRoute)
	errs := summaryByKey(v[summaryQRouteErrors], byRoute)
	p95s := summaryByKey(v[summaryQRouteP95], byRoute)
	buckets := summaryBuckets(v[summaryQRouteBuckets], byRoute)
	for _, smp := range v[summaryQRouteCount] {
		n := summaryFinite(smp.F)
		if n <= 0 {
			continue
		}
		k := byRoute(smp)
		s.TopRoutes = append(s.TopRoutes, Route{
			Route:       k.route,
			Method:      k.method,
			Requests:    n,
			MeanSeconds: summaryRatio(sums[k], n),
			P95Seconds:  p95s[k],
			Errors:      errs[k],
			ErrorRate:   summaryRatio(errs[k], n),
			Apdex:       summaryApdex(buckets[k], t).Score,
		})
	}
	slices.SortFunc(s.TopRoutes, func(a, b Route) int {
		return cmp.Or(cmp.Compare(b.Requests, a.Requests), cmp.Compare(a.Route, b.Route), cmp.Compare(a.Method, b.Method))
	})
	s.TopRoutes = s.TopRoutes[:min(len(s.TopRoutes), cfg.topN)]

	// Errors.
	for _, smp := range v[summaryQTopErrors] {
		n := summaryFinite(smp.F)
		if n <= 0 {
			continue
		}
		status, _ := strconv.Atoi(smp.Metric.Get(summaryStatusLabel))
		s.TopErrors = append(s.TopErrors, RouteError{
			Status:    status,
			ErrorType: smp.Metric.Get(summaryErrorLabel),
			Method:    smp.Metric.Get(summaryMethodLabel),
			Route:     smp.Metric.Get(summaryRouteLabel),
			Count:     n,
		})
	}
	slices.SortFunc(s.TopErrors, func(a, b RouteError) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Status, b.Status),
			cmp.Compare(a.Route, b.Route), cmp.Compare(a.Method, b.Method), cmp.Compare(a.ErrorType, b.ErrorType))
	})
	s.TopErrors = s.TopErrors[:min(len(s.TopErrors), cfg.topN)]

	s.RuntimeHealth = Runtime{
		MemoryUsedBytes:            summaryOne(v[summaryQMemUsed]),
		MemoryLimitBytes:           summaryOne(v[summaryQMemLimit]),
		Goroutines:                 summaryOne(v[summaryQGoroutines]),
		SchedulerLatencyP99Seconds: summaryOne(v[summaryQSchedP99]),
	}
	s.CacheHitRatio = summaryCache(v[summaryQCacheHits], v[summaryQCacheLookups])
	return s
}

// summaryCache builds the cache hit ratios from the hits and the lookups by
// cache name.
func summaryCache(hits, lookups memory.Vector) CacheHitRatio {
	c := CacheHitRatio{Caches: []Cache{}}
	byName := make(map[string]float64, len(hits))
	for _, smp := range hits {
		byName[smp.Metric.Get(summaryCacheLabel)] = summaryFinite(smp.F)
	}
	for _, smp := range lookups {
		n := summaryFinite(smp.F)
		if n <= 0 {
			continue
		}
		name := smp.Metric.Get(summaryCacheLabel)
		h := byName[name]
		c.Hits += h
		c.Lookups += n
		c.Caches = append(c.Caches, Cache{Name: name, Ratio: summaryRatio(h, n), Hits: h, Lookups: n})
	}
	c.Ratio = summaryRatio(c.Hits, c.Lookups)
	slices.SortFunc(c.Caches, func(a, b Cache) int {
		return cmp.Or(cmp.Compare(b.Lookups, a.Lookups), cmp.Compare(a.Name, b.Name))
	})
	return c
}

// summaryFinite maps NaN and ±Inf, which JSON cannot encode, to 0.
func summaryFinite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

// summaryRatio is a / b, or 0 when b is 0.
func summaryRatio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return summaryFinite(a / b)
}

// summaryOne returns the value of a vector of at most one sample (an
// aggregation without grouping), 0 when it is empty.
func summaryOne(v memory.Vector) float64 {
	if len(v) == 0 {
		return 0
	}
	return summaryFinite(v[0].F)
}

func summaryByKey(v memory.Vector, key func(promql.Sample) summaryKey) map[summaryKey]float64 {
	m := make(map[summaryKey]float64, len(v))
	for _, smp := range v {
		m[key(smp)] = summaryFinite(smp.F)
	}
	return m
}

// summaryBuckets groups bucket samples by key, each group sorted by bound
// and made monotonic (as histogram_quantile does: increase of separate
// series can make a bucket's count dip below the previous one's).
func summaryBuckets(v memory.Vector, key func(promql.Sample) summaryKey) map[summaryKey][]summaryBucket {
	m := make(map[summaryKey][]summaryBucket)
	for _, smp := range v {
		upper, err := strconv.ParseFloat(smp.Metric.Get(summaryLeLabel), 64)
		if err != nil || math.IsNaN(upper) {
			continue
		}
		k := key(smp)
		m[k] = append(m[k], summaryBucket{upper: upper, count: summaryFinite(smp.F)})
	}
	for _, bs := range m {
		slices.SortFunc(bs, func(a, b summaryBucket) int { return cmp.Compare(a.upper, b.upper) })
		for i := 1; i < len(bs); i++ {
			bs[i].count = max(bs[i].count, bs[i-1].count)
		}
	}
	return m
}

// summaryApdex computes the Apdex score of a histogram's cumulative buckets
// with threshold t seconds.
func summaryApdex(bs []summaryBucket, t float64) Apdex {
	a := Apdex{ThresholdSeconds: t}
	if len(bs) == 0 || !math.IsInf(bs[len(bs)-1].upper, +1) {
		return a
	}
	total := bs[len(bs)-1].count
	sat, exactT := summaryCountAtOrBelow(bs, t)
	tol4, exact4T := summaryCountAtOrBelow(bs, 4*t)
	if total <= 0 {
		return a
	}
	a.Estimated = !exactT || !exact4T
	a.Total = total
	a.Satisfied = sat
	a.Tolerating = tol4 - sat
	a.Frustrated = total - tol4
	a.Score = summaryFinite((a.Satisfied + a.Tolerating/2) / total)
	return a
}

// summaryCountAtOrBelow returns how many observations of the cumulative
// buckets bs (sorted, ending with +Inf) are at most x, and whether that is
// exact (x is a bound). Otherwise the count is interpolated linearly inside
// the bucket that holds x, as histogram_quantile interpolates (the first
// bucket's lower bound is 0); above the highest finite bound it is that
// bound's count.
func summaryCountAtOrBelow(bs []summaryBucket, x float64) (float64, bool) {
	lower, below := 0.0, 0.0
	for i, b := range bs {
		switch {
		case b.upper == x:
			return b.count, true
		case b.upper < x:
			lower, below = b.upper, b.count
			continue
		case math.IsInf(b.upper, +1):
			return below, false
		case i == 0 && b.upper <= 0:
			return 0, false
		}
		return below + (b.count-below)*(x-lower)/(b.upper-lower), false
	}
	return below, false
}
