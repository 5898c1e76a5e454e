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

// Summarize computes the Summary of the window that ends now (see WithTime)
// with PromQL instant queries over q; docs/performance-summary.md lists the
// query behind every field. Missing series give zeros, not an error. window
// is rounded down to a millisecond and must be at least 1ms; keep it within
// the reader's retention, or a series whose value at the window's start was
// dropped counts from its creation. The queries run a few at a time,
// bounded by ctx; if any fails, Summarize returns the errors joined, each
// naming its query.
func Summarize(ctx context.Context, q memory.Evaluator, window time.Duration, opts ...Option) (Summary, error) {
	if window < time.Millisecond {
		return Summary{}, fmt.Errorf("performance: summary window %v: must be at least 1ms", window)
	}
	if q == nil {
		return Summary{}, errors.New("performance: Summarize was given a nil Evaluator")
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

	qs := summaryQueries(model.Duration(window).String(), cfg.cacheSeries, cfg.apdex.Seconds())
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
	summaryQApdexCount
	summaryQApdexT
	summaryQApdex4T
	summaryQSlow
	summaryQRouteCount
	summaryQRouteSum
	summaryQRouteErrors
	summaryQRouteP95
	summaryQRouteApdexT
	summaryQRouteApdex4T
	summaryQTopErrors
	summaryQMemUsed
	summaryQMemLimit
	summaryQGoroutines
	summaryQSchedP99
	summaryQCacheHits
	summaryQCacheLookups
	summaryQCount
)

// summaryDelta returns the PromQL of the exact change over the window w
// (in PromQL duration syntax) of the cumulative series sel, summed by the
// labels by ("" sums everything into one sample):
//
//	sum by (by) (sel) - (sum by (by) (sel offset w) or sum by (by) (sel) * 0)
//
// It is the value at the last collection at or before the evaluation time
// minus the value at the last collection at or before w earlier, with no
// extrapolation: an integer for a count. A group that had no series then
// counts from zero (in-process counters start at 0 and never reset), and so
// does a series born in the window inside a group that had others, as the
// start's sum simply lacks it. sel may be a counter, a classic bucket
// series or a native histogram: for those, the difference is a histogram
// and "* 0" a zero histogram.
func summaryDelta(sel, by, w string) string {
	agg := "sum("
	if by != "" {
		agg = "sum by (" + by + ") ("
	}
	end := agg + sel + ")"
	return end + " - (" + agg + sel + " offset " + w + ") or " + end + " * 0)"
}

// summaryQueries returns the PromQL of every query for the window w, in
// PromQL duration syntax, reading cache operations from the series cache
// and scoring Apdex with the threshold t seconds.
func summaryQueries(w, cache string, t float64) [summaryQCount]string {
	const (
		d    = summaryDurationSeries
		err5 = `{` + summaryStatusLabel + `=~"5.."}`
		rm   = summaryRouteLabel + ", " + summaryMethodLabel
	)
	delta := func(sel, by string) string { return summaryDelta(sel, by, w) }
	// The native histogram series of the duration: no suffix.
	native := func(by string) string { return delta(d, by) }
	quantile := func(q, by string) string {
		return "histogram_quantile(" + q + ", " + native(by) + ")"
	}
	fraction := func(upper float64, by string) string {
		return "histogram_fraction(0, " + strconv.FormatFloat(upper, 'g', -1, 64) + ", " + native(by) + ")"
	}
	return [summaryQCount]string{
		summaryQTotal:        delta(d+"_count", ""),
		summaryQErrors:       delta(d+"_count"+err5, ""),
		summaryQDurationSum:  delta(d+"_sum", ""),
		summaryQP50:          quantile("0.5", ""),
		summaryQP90:          quantile("0.9", ""),
		summaryQP95:          quantile("0.95", ""),
		summaryQP99:          quantile("0.99", ""),
		summaryQApdexCount:   "histogram_count(" + native("") + ")",
		summaryQApdexT:       fraction(t, ""),
		summaryQApdex4T:      fraction(4*t, ""),
		summaryQSlow:         delta(summarySlowSeries, ""),
		summaryQRouteCount:   delta(d+"_count", rm),
		summaryQRouteSum:     delta(d+"_sum", rm),
		summaryQRouteErrors:  delta(d+"_count"+err5, rm),
		summaryQRouteP95:     quantile("0.95", rm),
		summaryQRouteApdexT:  fraction(t, rm),
		summaryQRouteApdex4T: fraction(4*t, rm),
		summaryQTopErrors: delta(d+"_count"+err5,
			summaryStatusLabel+", "+summaryErrorLabel+", "+rm),
		summaryQMemUsed:    "sum(" + summaryMemUsedSeries + ")",
		summaryQMemLimit:   "max(" + summaryMemLimitSeries + ")",
		summaryQGoroutines: "sum(" + summaryGoroutineSeries + ")",
		// The runtime's own buckets: only contrib's runtime producer
		// reports this histogram, and it has no native form.
		summaryQSchedP99:     "histogram_quantile(0.99, " + delta(summarySchedSeries+"_bucket", summaryLeLabel) + ")",
		summaryQCacheHits:    delta(cache+`{`+summaryResultLabel+`="hit"}`, summaryCacheLabel),
		summaryQCacheLookups: delta(cache+`{`+summaryResultLabel+`=~"hit|miss"}`, summaryCacheLabel),
	}
}

// summaryRun runs the queries at ts, at most summaryParallelism at once,
// and returns their vectors in the same order.
func summaryRun(ctx context.Context, q memory.Evaluator, exprs []string, ts time.Time) ([]memory.Vector, error) {
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

func summaryBuild(cfg config, window time.Duration, at time.Time, v []memory.Vector) Summary {
	s := Summary{
		WindowSeconds: window.Seconds(),
		GeneratedAt:   at.Round(0),
		TopRoutes:     []Route{},
		TopErrors:     []RouteError{},
	}
	s.TotalRequests = summaryCount(summaryOne(v[summaryQTotal]))
	total := float64(s.TotalRequests)
	s.RequestsPerSecond = summaryFinite(total / window.Seconds())
	s.RequestsPerMinute = summaryFinite(total / window.Minutes())
	s.Errors = summaryCount(summaryOne(v[summaryQErrors]))
	s.ErrorRate = summaryRatio(float64(s.Errors), total)
	s.SlowRequests = summaryCount(summaryOne(v[summaryQSlow]))
	s.Latency = Latency{
		MeanSeconds: summaryRatio(summaryOne(v[summaryQDurationSum]), total),
		P50Seconds:  summaryOne(v[summaryQP50]),
		P90Seconds:  summaryOne(v[summaryQP90]),
		P95Seconds:  summaryOne(v[summaryQP95]),
		P99Seconds:  summaryOne(v[summaryQP99]),
	}

	s.Apdex = summaryApdex(cfg.apdex.Seconds(), summaryOne(v[summaryQApdexCount]),
		summaryOne(v[summaryQApdexT]), summaryOne(v[summaryQApdex4T]))

	// Routes.
	byRoute := func(smp promql.Sample) summaryKey {
		return summaryKey{smp.Metric.Get(summaryRouteLabel), smp.Metric.Get(summaryMethodLabel)}
	}
	sums := summaryByKey(v[summaryQRouteSum], byRoute)
	errs := summaryByKey(v[summaryQRouteErrors], byRoute)
	p95s := summaryByKey(v[summaryQRouteP95], byRoute)
	fracT := summaryByKey(v[summaryQRouteApdexT], byRoute)
	frac4T := summaryByKey(v[summaryQRouteApdex4T], byRoute)
	for _, smp := range v[summaryQRouteCount] {
		n := summaryCount(smp.F)
		if n <= 0 {
			continue
		}
		k := byRoute(smp)
		e := summaryCount(errs[k])
		s.TopRoutes = append(s.TopRoutes, Route{
			Route:       k.route,
			Method:      k.method,
			Requests:    n,
			MeanSeconds: summaryRatio(sums[k], float64(n)),
			P95Seconds:  p95s[k],
			Errors:      e,
			ErrorRate:   summaryRatio(float64(e), float64(n)),
			ApdexScore:  summaryApdexScore(fracT[k], frac4T[k]),
		})
	}
	slices.SortFunc(s.TopRoutes, func(a, b Route) int {
		return cmp.Or(cmp.Compare(b.Requests, a.Requests), cmp.Compare(a.Route, b.Route), cmp.Compare(a.Method, b.Method))
	})
	s.TopRoutes = s.TopRoutes[:min(len(s.TopRoutes), cfg.topN)]

	// Errors.
	for _, smp := range v[summaryQTopErrors] {
		n := summaryCount(smp.F)
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

	s.RuntimeHealth = RuntimeHealth{
		MemoryUsedBytes:            summaryOne(v[summaryQMemUsed]),
		MemoryLimitBytes:           summaryOne(v[summaryQMemLimit]),
		Goroutines:                 summaryCount(summaryOne(v[summaryQGoroutines])),
		SchedulerLatencyP99Seconds: summaryOne(v[summaryQSchedP99]),
	}
	s.CacheHitRatio = summaryCache(v[summaryQCacheHits], v[summaryQCacheLookups])
	return s
}

// summaryCache builds the cache hit ratios from the hits and the lookups by
// cache name.
func summaryCache(hits, lookups memory.Vector) CacheHitRatio {
	c := CacheHitRatio{Caches: []CacheRatio{}}
	byName := make(map[string]int64, len(hits))
	for _, smp := range hits {
		byName[smp.Metric.Get(summaryCacheLabel)] = summaryCount(smp.F)
	}
	for _, smp := range lookups {
		n := summaryCount(smp.F)
		if n <= 0 {
			continue
		}
		name := smp.Metric.Get(summaryCacheLabel)
		h := byName[name]
		c.Hits += h
		c.Lookups += n
		c.Caches = append(c.Caches, CacheRatio{Name: name, Ratio: summaryRatio(float64(h), float64(n)), Hits: h, Lookups: n})
	}
	c.Ratio = summaryRatio(float64(c.Hits), float64(c.Lookups))
	slices.SortFunc(c.Caches, func(a, b CacheRatio) int {
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

// summaryCount rounds a count that PromQL gives as a float to the integer it
// is (NaN and ±Inf are 0).
func summaryCount(f float64) int64 {
	return int64(math.Round(summaryFinite(f)))
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

// summaryApdex computes the Apdex of threshold t seconds from the number
// of requests in the window (the native histogram's count) and the
// fractions of them at most t and at most 4t (histogram_fraction). The
// counts at or below t and 4t are rounded to integers, so that the three
// counts are integers that add up to Total; the score is from the
// fractions.
func summaryApdex(t, total, fracT, frac4T float64) Apdex {
	a := Apdex{ThresholdSeconds: t}
	total = math.Round(total)
	if total <= 0 {
		return a
	}
	fracT, frac4T = summaryClamp01(fracT), summaryClamp01(frac4T)
	frac4T = max(frac4T, fracT)
	atT, at4T := int64(math.Round(fracT*total)), int64(math.Round(frac4T*total))
	a.Total = int64(total)
	a.Satisfied = atT
	a.Tolerating = at4T - atT
	a.Frustrated = a.Total - at4T
	a.Score = summaryApdexScore(fracT, frac4T)
	return a
}

// summaryApdexScore is the Apdex score of the fractions of requests at most
// T and at most 4T: satisfied plus half the tolerating, (f(T) + f(4T)) / 2.
func summaryApdexScore(fracT, frac4T float64) float64 {
	fracT, frac4T = summaryClamp01(fracT), summaryClamp01(frac4T)
	return (fracT + max(frac4T, fracT)) / 2
}

// summaryClamp01 bounds a fraction to [0, 1] (NaN, a fraction of no
// requests, is 0).
func summaryClamp01(f float64) float64 {
	return min(max(summaryFinite(f), 0), 1)
}
