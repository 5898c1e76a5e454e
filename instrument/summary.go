package instrument

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

// Defaults of the performance summary.
const (
	// DefaultSummaryTopN is how many routes and errors a summary lists.
	DefaultSummaryTopN = 10
	// DefaultApdexThreshold is the Apdex target time T: a request is
	// satisfied when it takes at most T, tolerating when at most 4T.
	DefaultApdexThreshold = 500 * time.Millisecond
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

// Querier is what Summary reads: PromQL instant queries. The in-memory
// reader (*memory.Reader) satisfies it.
type Querier interface {
	Query(ctx context.Context, expr string, ts time.Time) (memory.Result, error)
}

var _ Querier = (*memory.Reader)(nil)

// PerformanceSummary is the state of a service over a window: its traffic,
// errors, latency, Apdex score, busiest routes, most frequent errors, Go
// runtime health and cache hit ratio. It is computed by Summary with PromQL
// over the series /metrics shows, and its JSON field names are stable.
//
// Counts are PromQL increase() over the window: increase extrapolates to
// the window's edges, so a count may be fractional, and a series that has a
// single sample in the window (it appeared in the last collection) adds
// nothing yet, as in Prometheus. Every float is finite: where PromQL answers
// NaN or ±Inf (a ratio or a quantile over no requests), the field is 0.
type PerformanceSummary struct {
	// WindowSeconds is the length of the window, in seconds.
	WindowSeconds float64 `json:"window_seconds"`
	// GeneratedAt is the time the queries were evaluated at: the end of the
	// window.
	GeneratedAt time.Time `json:"generated_at"`
	// TotalRequests is the number of requests served in the window.
	TotalRequests float64 `json:"total_requests"`
	// RequestsPerSecond is TotalRequests divided by the window in seconds.
	RequestsPerSecond float64 `json:"requests_per_second"`
	// RequestsPerMinute is TotalRequests divided by the window in minutes.
	RequestsPerMinute float64 `json:"requests_per_minute"`
	// Errors is the number of requests answered with a 5xx status,
	// recovered panics included. 4xx answers are the client's errors and
	// are not counted, as in the semantic conventions' error.type.
	Errors float64 `json:"errors"`
	// ErrorRate is Errors / TotalRequests, from 0 to 1; 0 without requests.
	ErrorRate float64 `json:"error_rate"`
	// SlowRequests is the number of requests slower than the middleware's
	// slow-request threshold.
	SlowRequests float64 `json:"slow_requests"`
	// Latency is the request duration: mean and percentiles.
	Latency LatencySummary `json:"latency"`
	// Apdex is the Apdex score of all requests.
	Apdex ApdexSummary `json:"apdex"`
	// TopRoutes are the busiest (route, method) pairs, most requests first,
	// then by route and method; at most the WithTopN limit. Never nil.
	TopRoutes []RouteSummary `json:"top_routes"`
	// TopErrors are the most frequent errors, grouped by status, error
	// type, method and route, most frequent first; at most the WithTopN
	// limit. Never nil.
	TopErrors []ErrorSummary `json:"top_errors"`
	// RuntimeHealth is the Go runtime's state at GeneratedAt.
	RuntimeHealth RuntimeHealth `json:"runtime_health"`
	// CacheHitRatio is the hit ratio of the cache lookups counted by
	// bizmetrics (app.cache.operations), overall and per cache.
	CacheHitRatio CacheHitRatioSummary `json:"cache_hit_ratio"`
}

// LatencySummary is the request duration over the window, in seconds.
// Percentiles are histogram_quantile estimates: linear interpolation inside
// the histogram bucket that holds the rank, so they are exact to within one
// bucket. A percentile in the +Inf bucket is the highest finite bound
// (10 s with the default buckets). All are 0 without requests.
type LatencySummary struct {
	// MeanSeconds is the sum of the durations divided by their count.
	MeanSeconds float64 `json:"mean_seconds"`
	// P50Seconds is the median.
	P50Seconds float64 `json:"p50_seconds"`
	// P90Seconds is the 90th percentile.
	P90Seconds float64 `json:"p90_seconds"`
	// P95Seconds is the 95th percentile.
	P95Seconds float64 `json:"p95_seconds"`
	// P99Seconds is the 99th percentile.
	P99Seconds float64 `json:"p99_seconds"`
}

// ApdexSummary is an Apdex score (https://www.apdex.org): the share of
// satisfied requests (duration ≤ T) plus half the share of tolerating ones
// (T < duration ≤ 4T); slower requests are frustrated. The score is about
// time only: a fast 5xx answer counts as satisfied (ErrorRate reports
// errors).
//
// The counts are read from the duration histogram's buckets. When T and 4T
// are both bucket bounds (T = 0.25 s, 4T = 1 s with the default buckets)
// the score is exact. When one is not (the default T = 0.5 s gives
// 4T = 2 s, between the 1 s and 2.5 s bounds), the count at or below it is
// interpolated linearly between the neighbouring bounds, as
// histogram_quantile does, and the score is an estimate: Estimated says so.
// Above the highest finite bound (10 s by default) nothing is interpolated:
// requests in the +Inf bucket count as slower than the threshold.
type ApdexSummary struct {
	// Score is (Satisfied + Tolerating/2) / Total, from 0 to 1; 0 without
	// requests (tell it apart from a bad score with Total).
	Score float64 `json:"score"`
	// ThresholdSeconds is T, in seconds.
	ThresholdSeconds float64 `json:"threshold_seconds"`
	// Satisfied is the number of requests that took at most T.
	Satisfied float64 `json:"satisfied"`
	// Tolerating is the number of requests that took more than T and at
	// most 4T.
	Tolerating float64 `json:"tolerating"`
	// Frustrated is the number of requests that took more than 4T.
	Frustrated float64 `json:"frustrated"`
	// Total is the number of requests.
	Total float64 `json:"total"`
	// Estimated is true when there are requests and T or 4T is not a
	// bound of the histogram's buckets, so that the counts above are
	// interpolated.
	Estimated bool `json:"estimated"`
}

// RouteSummary is one (route, method) pair over the window.
type RouteSummary struct {
	// Route is the route template (http.route), such as "/orders/{id}".
	Route string `json:"route"`
	// Method is the HTTP method (http.request.method).
	Method string `json:"method"`
	// Requests is the number of requests.
	Requests float64 `json:"requests"`
	// MeanSeconds is the mean duration, in seconds.
	MeanSeconds float64 `json:"mean_seconds"`
	// P95Seconds is the 95th percentile duration, in seconds
	// (histogram_quantile: exact to within one bucket).
	P95Seconds float64 `json:"p95_seconds"`
	// Errors is the number of 5xx answers.
	Errors float64 `json:"errors"`
	// ErrorRate is Errors / Requests, from 0 to 1.
	ErrorRate float64 `json:"error_rate"`
	// Apdex is the route's Apdex score with the summary's threshold
	// (estimated as ApdexSummary says when T or 4T is not a bucket bound).
	Apdex float64 `json:"apdex"`
}

// ErrorSummary is one kind of error over the window.
type ErrorSummary struct {
	// Status is the HTTP status code (http.response.status_code); 0 if the
	// label is not a number.
	Status int `json:"status"`
	// ErrorType is the error.type attribute: the status code as a string
	// for a 5xx answer, the panic value's type for a recovered panic.
	ErrorType string `json:"error_type"`
	// Method is the HTTP method.
	Method string `json:"method"`
	// Route is the route template.
	Route string `json:"route"`
	// Count is the number of such errors.
	Count float64 `json:"count"`
}

// RuntimeHealth is the Go runtime's state, from the runtime metrics.
type RuntimeHealth struct {
	// MemoryUsedBytes is the memory used by the Go runtime (go.memory.used:
	// stack and other), in bytes.
	MemoryUsedBytes float64 `json:"memory_used_bytes"`
	// MemoryLimitBytes is the Go runtime's soft memory limit (GOMEMLIMIT),
	// in bytes; 0 when there is none.
	MemoryLimitBytes float64 `json:"memory_limit_bytes"`
	// Goroutines is the number of live goroutines.
	Goroutines float64 `json:"goroutines"`
	// SchedulerLatencyP99Seconds is the 99th percentile of the time
	// goroutines spent runnable before running (go.schedule.duration) over
	// the window, in seconds: the Go analogue of an event loop's lag.
	SchedulerLatencyP99Seconds float64 `json:"scheduler_latency_p99_seconds"`
}

// CacheHitRatioSummary is the hit ratio of cache lookups over the window:
// hits / (hits + misses) of the cache operations counter that bizmetrics
// records (cache.result is hit or miss on lookups only). Counts are
// increase() over the window, as everywhere in the summary.
type CacheHitRatioSummary struct {
	// Ratio is Hits / Lookups of every cache, from 0 to 1; 0 without
	// lookups.
	Ratio float64 `json:"ratio"`
	// Hits is the number of lookups that found their key.
	Hits float64 `json:"hits"`
	// Lookups is the number of lookups: hits and misses.
	Lookups float64 `json:"lookups"`
	// Caches are the caches with lookups in the window, most lookups
	// first, then by name. Never nil.
	Caches []CacheSummary `json:"caches"`
}

// CacheSummary is the hit ratio of one cache over the window.
type CacheSummary struct {
	// Name is the cache's name (cache.name).
	Name string `json:"name"`
	// Ratio is Hits / Lookups, from 0 to 1.
	Ratio float64 `json:"ratio"`
	// Hits is the number of lookups that found their key.
	Hits float64 `json:"hits"`
	// Lookups is the number of lookups: hits and misses.
	Lookups float64 `json:"lookups"`
}

// SummaryOption configures Summary.
type SummaryOption interface {
	apply(summaryConfig) summaryConfig
}

type summaryConfig struct {
	topN        int
	apdex       time.Duration
	at          time.Time
	cacheSeries string
}

func newSummaryConfig(opts []SummaryOption) summaryConfig {
	c := summaryConfig{topN: DefaultSummaryTopN, apdex: DefaultApdexThreshold, cacheSeries: summaryCacheSeries}
	for _, o := range opts {
		c = o.apply(c)
	}
	return c
}

type summaryOptionFunc func(summaryConfig) summaryConfig

func (f summaryOptionFunc) apply(c summaryConfig) summaryConfig { return f(c) }

// WithTopN sets how many routes and errors the summary lists; 0 lists
// none. Negative values are ignored. By default, DefaultSummaryTopN (10).
func WithTopN(n int) SummaryOption {
	return summaryOptionFunc(func(c summaryConfig) summaryConfig {
		if n >= 0 {
			c.topN = n
		}
		return c
	})
}

// WithApdexThreshold sets the Apdex target time T: requests that take at
// most T are satisfied, at most 4T tolerating. Values of zero or less are
// ignored. By default, DefaultApdexThreshold (0.5 s).
func WithApdexThreshold(d time.Duration) SummaryOption {
	return summaryOptionFunc(func(c summaryConfig) summaryConfig {
		if d > 0 {
			c.apdex = d
		}
		return c
	})
}

// WithCacheSeries sets the counter the cache hit ratio is read from, named
// as on /metrics: bizmetrics with WithNamespace("shop") records
// shop_cache_operations_total. An empty name is ignored. By default,
// app_cache_operations_total, bizmetrics' default.
func WithCacheSeries(name string) SummaryOption {
	return summaryOptionFunc(func(c summaryConfig) summaryConfig {
		if name != "" {
			c.cacheSeries = name
		}
		return c
	})
}

// WithSummaryTime sets the time the summary is computed at: the end of the
// window. By default, the Querier's Now method if it has one (the memory
// reader's clock), else time.Now.
func WithSummaryTime(t time.Time) SummaryOption {
	return summaryOptionFunc(func(c summaryConfig) summaryConfig {
		c.at = t
		return c
	})
}

// Summary computes the performance summary of the window that ends now
// (see WithSummaryTime) with PromQL instant queries over q, the series the
// HTTP middleware, the runtime metrics and bizmetrics' cache counter
// record. docs/performance-summary.md lists the query behind every field.
//
// Missing series give zero values, not an error: an empty reader gives a
// summary of zeros. The window is rounded down to a millisecond and must be
// at least one. The queries run concurrently (a few at a time) and are
// bounded by ctx; if any fails, Summary returns the errors joined, each
// naming its query.
func Summary(ctx context.Context, q Querier, window time.Duration, opts ...SummaryOption) (PerformanceSummary, error) {
	if window < time.Millisecond {
		return PerformanceSummary{}, fmt.Errorf("instrument: summary window %v: must be at least 1ms", window)
	}
	if q == nil {
		return PerformanceSummary{}, errors.New("instrument: summary querier is nil")
	}
	cfg := newSummaryConfig(opts)
	at := cfg.at
	if at.IsZero() {
		if c, ok := q.(interface{ Now() time.Time }); ok {
			at = c.Now()
		} else {
			at = time.Now()
		}
	}
	window = window.Truncate(time.Millisecond)
	if err := ctx.Err(); err != nil {
		return PerformanceSummary{}, fmt.Errorf("instrument: summary: %w", err)
	}

	qs := summaryQueries(model.Duration(window).String(), cfg.cacheSeries)
	vecs, err := summaryRun(ctx, q, qs[:], at)
	if err != nil {
		return PerformanceSummary{}, fmt.Errorf("instrument: summary: %w", err)
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
func summaryRun(ctx context.Context, q Querier, exprs []string, ts time.Time) ([]memory.Vector, error) {
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
				vecs[i], err = summaryVector(res)
			}
			if err != nil {
				errs[i] = fmt.Errorf("query %s: %w", expr, err)
			}
		})
	}
	wg.Wait()
	return vecs, errors.Join(errs...)
}

// summaryVector returns the result as a vector: a scalar becomes a vector
// of one sample.
func summaryVector(res memory.Result) (memory.Vector, error) {
	switch v := res.Value.(type) {
	case memory.Vector:
		return v, nil
	case memory.Scalar:
		return memory.Vector{{T: v.T, F: v.V}}, nil
	case nil:
		return nil, nil
	default:
		return nil, fmt.Errorf("result is a %s, want a vector", res.Value.Type())
	}
}

// summaryKey identifies a (route, method) pair.
type summaryKey struct{ route, method string }

// summaryBucket is one cumulative histogram bucket.
type summaryBucket struct{ upper, count float64 }

func summaryBuild(cfg summaryConfig, window time.Duration, at time.Time, v []memory.Vector) PerformanceSummary {
	s := PerformanceSummary{
		WindowSeconds: window.Seconds(),
		GeneratedAt:   at.Round(0),
		TopRoutes:     []RouteSummary{},
		TopErrors:     []ErrorSummary{},
	}
	s.TotalRequests = summaryOne(v[summaryQTotal])
	s.RequestsPerSecond = summaryFinite(s.TotalRequests / window.Seconds())
	s.RequestsPerMinute = summaryFinite(s.TotalRequests / window.Minutes())
	s.Errors = summaryOne(v[summaryQErrors])
	s.ErrorRate = summaryRatio(s.Errors, s.TotalRequests)
	s.SlowRequests = summaryOne(v[summaryQSlow])
	s.Latency = LatencySummary{
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
		s.TopRoutes = append(s.TopRoutes, RouteSummary{
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
	slices.SortFunc(s.TopRoutes, func(a, b RouteSummary) int {
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
		s.TopErrors = append(s.TopErrors, ErrorSummary{
			Status:    status,
			ErrorType: smp.Metric.Get(summaryErrorLabel),
			Method:    smp.Metric.Get(summaryMethodLabel),
			Route:     smp.Metric.Get(summaryRouteLabel),
			Count:     n,
		})
	}
	slices.SortFunc(s.TopErrors, func(a, b ErrorSummary) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Status, b.Status),
			cmp.Compare(a.Route, b.Route), cmp.Compare(a.Method, b.Method), cmp.Compare(a.ErrorType, b.ErrorType))
	})
	s.TopErrors = s.TopErrors[:min(len(s.TopErrors), cfg.topN)]

	s.RuntimeHealth = RuntimeHealth{
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
func summaryCache(hits, lookups memory.Vector) CacheHitRatioSummary {
	c := CacheHitRatioSummary{Caches: []CacheSummary{}}
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
		c.Caches = append(c.Caches, CacheSummary{Name: name, Ratio: summaryRatio(h, n), Hits: h, Lookups: n})
	}
	c.Ratio = summaryRatio(c.Hits, c.Lookups)
	slices.SortFunc(c.Caches, func(a, b CacheSummary) int {
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
func summaryApdex(bs []summaryBucket, t float64) ApdexSummary {
	a := ApdexSummary{ThresholdSeconds: t}
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
