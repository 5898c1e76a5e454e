package performance

import "time"

// Summary is the state of a service over a window: its traffic,
// errors, latency, Apdex score, busiest routes, most frequent errors, Go
// runtime health and cache hit ratio. It is computed by Summarize with PromQL
// over the series /metrics shows, and its JSON field names are stable.
//
// Counts are PromQL increase() over the window: increase extrapolates to
// the window's edges, so a count may be fractional, and a series that has a
// single sample in the window (it appeared in the last collection) adds
// nothing yet, as in Prometheus. Every float is finite: where PromQL answers
// NaN or ±Inf (a ratio or a quantile over no requests), the field is 0.
type Summary struct {
	// WindowSeconds is the length of the window, in seconds.
	WindowSeconds float64 `json:"windowSeconds"`
	// GeneratedAt is the time the queries were evaluated at: the end of the
	// window.
	GeneratedAt time.Time `json:"generatedAt"`
	// TotalRequests is the number of requests served in the window.
	TotalRequests float64 `json:"totalRequests"`
	// RequestsPerSecond is TotalRequests divided by the window in seconds.
	RequestsPerSecond float64 `json:"requestsPerSecond"`
	// RequestsPerMinute is TotalRequests divided by the window in minutes.
	RequestsPerMinute float64 `json:"requestsPerMinute"`
	// Errors is the number of requests answered with a 5xx status,
	// recovered panics included. 4xx answers are the client's errors and
	// are not counted, as in the semantic conventions' error.type.
	Errors float64 `json:"errors"`
	// ErrorRate is Errors / TotalRequests, from 0 to 1; 0 without requests.
	ErrorRate float64 `json:"errorRate"`
	// SlowRequests is the number of requests slower than the middleware's
	// slow-request threshold.
	SlowRequests float64 `json:"slowRequests"`
	// Latency is the request duration: mean and percentiles.
	Latency Latency `json:"latency"`
	// Apdex is the Apdex score of all requests.
	Apdex Apdex `json:"apdex"`
	// TopRoutes are the busiest (route, method) pairs, most requests first,
	// then by route and method; at most the WithTopN limit. Never nil.
	TopRoutes []Route `json:"topRoutes"`
	// TopErrors are the most frequent errors, grouped by status, error
	// type, method and route, most frequent first; at most the WithTopN
	// limit. Never nil.
	TopErrors []RouteError `json:"topErrors"`
	// RuntimeHealth is the Go runtime's state at GeneratedAt.
	RuntimeHealth Runtime `json:"runtimeHealth"`
	// CacheHitRatio is the hit ratio of the cache lookups counted by
	// bizmetrics (app.cache.operations), overall and per cache.
	CacheHitRatio CacheHitRatio `json:"cacheHitRatio"`
}

// Latency is the request duration over the window, in seconds.
// Percentiles are histogram_quantile estimates: linear interpolation inside
// the histogram bucket that holds the rank, so they are exact to within one
// bucket. A percentile in the +Inf bucket is the highest finite bound
// (10 s with the default buckets). All are 0 without requests.
type Latency struct {
	// MeanSeconds is the sum of the durations divided by their count.
	MeanSeconds float64 `json:"meanSeconds"`
	// P50Seconds is the median.
	P50Seconds float64 `json:"p50Seconds"`
	// P90Seconds is the 90th percentile.
	P90Seconds float64 `json:"p90Seconds"`
	// P95Seconds is the 95th percentile.
	P95Seconds float64 `json:"p95Seconds"`
	// P99Seconds is the 99th percentile.
	P99Seconds float64 `json:"p99Seconds"`
}

// Apdex is an Apdex score (https://www.apdex.org): the share of
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
type Apdex struct {
	// Score is (Satisfied + Tolerating/2) / Total, from 0 to 1; 0 without
	// requests (tell it apart from a bad score with Total).
	Score float64 `json:"score"`
	// ThresholdSeconds is T, in seconds.
	ThresholdSeconds float64 `json:"thresholdSeconds"`
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

// Route is one (route, method) pair over the window.
type Route struct {
	// Route is the route template (http.route), such as "/orders/{id}".
	Route string `json:"route"`
	// Method is the HTTP method (http.request.method).
	Method string `json:"method"`
	// Requests is the number of requests.
	Requests float64 `json:"requests"`
	// MeanSeconds is the mean duration, in seconds.
	MeanSeconds float64 `json:"meanSeconds"`
	// P95Seconds is the 95th percentile duration, in seconds
	// (histogram_quantile: exact to within one bucket).
	P95Seconds float64 `json:"p95Seconds"`
	// Errors is the number of 5xx answers.
	Errors float64 `json:"errors"`
	// ErrorRate is Errors / Requests, from 0 to 1.
	ErrorRate float64 `json:"errorRate"`
	// Apdex is the route's Apdex score with the summary's threshold
	// (estimated as Apdex says when T or 4T is not a bucket bound).
	Apdex float64 `json:"apdex"`
}

// RouteError is one kind of error on one route over the window: a status
// and error type answered by a (route, method) pair.
type RouteError struct {
	// Status is the HTTP status code (http.response.status_code); 0 if the
	// label is not a number.
	Status int `json:"status"`
	// ErrorType is the error.type attribute: the status code as a string
	// for a 5xx answer, the panic value's type for a recovered panic.
	ErrorType string `json:"errorType"`
	// Method is the HTTP method.
	Method string `json:"method"`
	// Route is the route template.
	Route string `json:"route"`
	// Count is the number of such errors.
	Count float64 `json:"count"`
}

// Runtime is the Go runtime's state, from the runtime metrics.
type Runtime struct {
	// MemoryUsedBytes is the memory used by the Go runtime (go.memory.used:
	// stack and other), in bytes.
	MemoryUsedBytes float64 `json:"memoryUsedBytes"`
	// MemoryLimitBytes is the Go runtime's soft memory limit (GOMEMLIMIT),
	// in bytes; 0 when there is none.
	MemoryLimitBytes float64 `json:"memoryLimitBytes"`
	// Goroutines is the number of live goroutines.
	Goroutines float64 `json:"goroutines"`
	// SchedulerLatencyP99Seconds is the 99th percentile of the time
	// goroutines spent runnable before running (go.schedule.duration) over
	// the window, in seconds: the Go analogue of an event loop's lag.
	SchedulerLatencyP99Seconds float64 `json:"schedulerLatencyP99Seconds"`
}

// CacheHitRatio is the hit ratio of cache lookups over the window:
// hits / (hits + misses) of the cache operations counter that bizmetrics
// records (cache.result is hit or miss on lookups only). Counts are
// increase() over the window, as everywhere in the summary.
type CacheHitRatio struct {
	// Ratio is Hits / Lookups of every cache, from 0 to 1; 0 without
	// lookups.
	Ratio float64 `json:"ratio"`
	// Hits is the number of lookups that found their key.
	Hits float64 `json:"hits"`
	// Lookups is the number of lookups: hits and misses.
	Lookups float64 `json:"lookups"`
	// Caches are the caches with lookups in the window, most lookups
	// first, then by name. Never nil.
	Caches []Cache `json:"caches"`
}

// Cache is the hit ratio of one cache over the window.
type Cache struct {
	// Name is the cache's name (cache.name).
	Name string `json:"name"`
	// Ratio is Hits / Lookups, from 0 to 1.
	Ratio float64 `json:"ratio"`
	// Hits is the number of lookups that found their key.
	Hits float64 `json:"hits"`
	// Lookups is the number of lookups: hits and misses.
	Lookups float64 `json:"lookups"`
}
