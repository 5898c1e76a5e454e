// Package performance answers "how is the service doing?" for a recent
// window: traffic, errors, latency, an Apdex score, the busiest routes, the
// most frequent errors, the Go runtime's health and the cache hit ratio.
//
// # Entry point
//
// Summarize runs PromQL instant queries through a memory.Evaluator (the in-memory
// reader, *memory.Reader, is one) over the series /metrics shows: those the
// instrument middleware and runtime metrics record, and bizmetrics' cache
// counter. Every number can therefore be reproduced in Grafana against a
// Prometheus that scrapes the service; docs/performance-summary.md lists the
// query behind every field.
//
// # Defaults
//
// The window ends at the evaluator's Now unless WithTime sets another time.
// The summary lists DefaultTopN (10) routes and errors (WithTopN), scores
// Apdex with DefaultApdexThreshold (0.5 s; WithApdexThreshold) and reads
// cache lookups from app_cache_operations_total (WithCacheSeries).
//
// # Accuracy
//
// The window is aligned on the reader's collections: it holds the events
// after the last collection at or before its start (the summary's
// GeneratedAt − WindowSeconds), up to the last collection at or before its
// end (GeneratedAt). At a regular collection interval that divides the
// window, that is exactly WindowSeconds long. The start's values must still
// be held: keep the window within the reader's retention
// (memory.DefaultRetention by default).
//
//   - Every count (TotalRequests, Errors, SlowRequests, the Apdex total,
//     the routes' Requests and Errors, the errors' Count, the caches' Hits
//     and Lookups) is exact: an integer, the difference of the cumulative
//     counter at the window's two ends, with no extrapolation, a series
//     born inside the window counting from zero. The rates and ratios
//     derived from them, and the mean durations (the difference of the
//     duration sums over the difference of the counts), are exact too, up
//     to floating-point rounding.
//   - Request percentiles (Latency, Route) are histogram_quantile estimates
//     from the native (base-2 exponential) duration histogram the in-memory
//     reader keeps, within 4.4 % of the true value for durations spanning up
//     to 2^25 (10 µs to 60 s).
//   - Apdex counts come from histogram_fraction over the same histogram:
//     exact unless T or 4T shares a bucket with some requests, and then off
//     by at most that bucket's requests; always exact when T is a power of
//     two, such as the default 0.5 s.
//   - The scheduler latency percentile is an estimate within the Go
//     runtime's own buckets: see Runtime.
//
// docs/performance-summary.md explains these bounds (sections Percentiles
// and Apdex).
//
// Every float is finite: NaN and ±Inf (a ratio or a quantile over no
// requests) become 0. The JSON field names of Summary are stable.
//
// # Concurrency
//
// Summarize is safe for concurrent use; it runs its queries a few at a time
// and honours ctx.
//
// This package links the PromQL engine; instrument, bizmetrics and
// healthcheck do not.
package performance
