package performance

import "time"

// Summary is the state of a service over a window, computed by Summarize:
// traffic, errors, latency, Apdex score, busiest routes, most frequent
// errors, Go runtime health and cache hit ratio. Its JSON field names are
// stable. Counts, and the rates, ratios and means derived from them, are
// exact; percentiles and Apdex counts are estimates from histograms (see
// Latency, Apdex and RuntimeHealth). Every float is finite: where PromQL
// answers NaN or ±Inf, the field is 0. The package documentation
// ("Accuracy") says how the window is aligned and which figure is which.
type Summary struct {
	// WindowSeconds is the length of the window, in seconds.
	WindowSeconds float64 `json:"windowSeconds"`
	// GeneratedAt is the time the queries were evaluated at: the end of the
	// window.
	GeneratedAt time.Time `json:"generatedAt"`
	// TotalRequests is the number of requests served in the window: an
	// exact integer.
	TotalRequests int64 `json:"totalRequests"`
	// RequestsPerSecond is TotalRequests divided by the window in seconds.
	RequestsPerSecond float64 `json:"requestsPerSecond"`
	// RequestsPerMinute is TotalRequests divided by the window in minutes.
	RequestsPerMinute float64 `json:"requestsPerMinute"`
	// Errors is the number of requests answered with a 5xx status,
	// recovered panics included. 4xx answers are the client's errors and
	// are not counted, as in the semantic conventions' error.type. An exact
	// integer.
	Errors int64 `json:"errors"`
	// ErrorRate is Errors / TotalRequests, from 0 to 1; 0 without requests.
	ErrorRate float64 `json:"errorRate"`
	// SlowRequests is the number of requests slower than the middleware's
	// slow-request threshold: an exact integer.
	SlowRequests int64 `json:"slowRequests"`
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
	RuntimeHealth RuntimeHealth `json:"runtimeHealth"`
	// CacheHitRatio is the hit ratio of the cache lookups counted by
	// bizmetrics (app.cache.operations), overall and per cache.
	CacheHitRatio CacheHitRatio `json:"cacheHitRatio"`
}

// Latency is the request duration over the window, in seconds. All are 0
// without requests. The mean is exact; the percentiles are
// histogram_quantile estimates from the native duration histogram, within
// 4.4 % of the true value (see the package doc's Accuracy and
// docs/performance-summary.md, Percentiles).
type Latency struct {
	// MeanSeconds is the sum of the durations divided by their count:
	// exact, up to floating-point rounding.
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
// errors). The counts are integers that add up to Total, read from the
// native duration histogram; how exact they are is in the package doc's
// Accuracy and docs/performance-summary.md, Apdex.
type Apdex struct {
	// Score is (f(T) + f(4T)) / 2, where f(x) is histogram_fraction(0, x):
	// the share of satisfied requests plus half the share of tolerating
	// ones, (Satisfied + Tolerating/2) / Total before the counts are
	// rounded. From 0 to 1; 0 without requests (tell it apart from a bad
	// score with Total).
	Score float64 `json:"score"`
	// ThresholdSeconds is T, in seconds.
	ThresholdSeconds float64 `json:"thresholdSeconds"`
	// Satisfied is the number of requests that took at most T.
	Satisfied int64 `json:"satisfied"`
	// Tolerating is the number of requests that took more than T and at
	// most 4T.
	Tolerating int64 `json:"tolerating"`
	// Frustrated is the number of requests that took more than 4T.
	Frustrated int64 `json:"frustrated"`
	// Total is the number of requests in the native histogram
	// (histogram_count): exact, and equal to TotalRequests but for requests
	// recorded while a collection was under way (see
	// docs/performance-summary.md).
	Total int64 `json:"total"`
}

// Route is one (route, method) pair over the window.
type Route struct {
	// Route is the route template (http.route), such as "/orders/{id}".
	Route string `json:"route"`
	// Method is the HTTP method (http.request.method).
	Method string `json:"method"`
	// Requests is the number of requests: an exact integer.
	Requests int64 `json:"requests"`
	// MeanSeconds is the mean duration, in seconds (exact).
	MeanSeconds float64 `json:"meanSeconds"`
	// P95Seconds is the 95th percentile duration, in seconds: an estimate
	// from the route's native histogram, within 4.4 % (see Latency).
	P95Seconds float64 `json:"p95Seconds"`
	// Errors is the number of 5xx answers: an exact integer.
	Errors int64 `json:"errors"`
	// ErrorRate is Errors / Requests, from 0 to 1.
	ErrorRate float64 `json:"errorRate"`
	// ApdexScore is the route's Apdex score with the summary's threshold,
	// (f(T) + f(4T)) / 2 over the route's native histogram: exact or
	// within the bound Apdex states.
	ApdexScore float64 `json:"apdexScore"`
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
	// Count is the number of such errors: an exact integer.
	Count int64 `json:"count"`
}

// RuntimeHealth is the Go runtime's state, from the runtime metrics.
type RuntimeHealth struct {
	// MemoryUsedBytes is the memory used by the Go runtime (go.memory.used:
	// stack and other), in bytes.
	MemoryUsedBytes float64 `json:"memoryUsedBytes"`
	// MemoryLimitBytes is the Go runtime's soft memory limit (GOMEMLIMIT),
	// in bytes; 0 when there is none.
	MemoryLimitBytes float64 `json:"memoryLimitBytes"`
	// Goroutines is the number of live goroutines.
	Goroutines int64 `json:"goroutines"`
	// SchedulerLatencyP99Seconds is the 99th percentile of the time
	// goroutines spent runnable before running (go.schedule.duration) over
	// the window, in seconds: the Go analogue of an event loop's lag. It
	// is histogram_quantile over the Go runtime's own buckets (the classic
	// go_schedule_duration_seconds_bucket series; it has no native form):
	// four per doubling, so the estimate, interpolated linearly inside the
	// bucket, is within 25 % of the true value (128 ns below 512 ns).
	SchedulerLatencyP99Seconds float64 `json:"schedulerLatencyP99Seconds"`
}

// CacheHitRatio is the hit ratio of cache lookups over the window:
// hits / (hits + misses) of the cache operations counter that bizmetrics
// records (cache.result is hit or miss on lookups only). Counts are exact
// integers over the window, as everywhere in the summary.
type CacheHitRatio struct {
	// Ratio is Hits / Lookups of every cache, from 0 to 1; 0 without
	// lookups.
	Ratio float64 `json:"ratio"`
	// Hits is the number of lookups that found their key.
	Hits int64 `json:"hits"`
	// Lookups is the number of lookups: hits and misses.
	Lookups int64 `json:"lookups"`
	// Caches are the caches with lookups in the window, most lookups
	// first, then by name. Never nil.
	Caches []CacheRatio `json:"caches"`
}

// CacheRatio is the hit ratio of one cache over the window.
type CacheRatio struct {
	// Name is the cache's name (cache.name).
	Name string `json:"name"`
	// Ratio is Hits / Lookups, from 0 to 1.
	Ratio float64 `json:"ratio"`
	// Hits is the number of lookups that found their key.
	Hits int64 `json:"hits"`
	// Lookups is the number of lookups: hits and misses.
	Lookups int64 `json:"lookups"`
}
