// Package performance answers "how is the service doing?" for a recent
// window: traffic, errors, latency, an Apdex score, the busiest routes, the
// most frequent errors, the Go runtime's health and the cache hit ratio.
//
// # Entry point
//
// Summarize runs PromQL instant queries through a memory.Querier (the in-memory
// reader, *memory.Reader, is one) over the series /metrics shows: those the
// instrument middleware and runtime metrics record, and bizmetrics' cache
// counter. Every number can therefore be reproduced in Grafana against a
// Prometheus that scrapes the service; docs/performance-summary.md lists the
// query behind every field.
//
// # Defaults
//
// The window ends at the querier's Now unless WithTime sets another time.
// The summary lists DefaultTopN (10) routes and errors (WithTopN), scores
// Apdex with DefaultApdexThreshold (0.5 s; WithApdexThreshold) and reads
// cache lookups from app_cache_operations_total (WithCacheSeries).
//
// # Accuracy
//
// Counts are increase() over the window, with Prometheus' extrapolation, so
// they may be fractional. Percentiles are histogram_quantile estimates,
// exact to within one bucket. Every float is finite: NaN and ±Inf become 0.
// The JSON field names of Summary are stable.
//
// # Concurrency
//
// Summarize is safe for concurrent use; it runs its queries a few at a time
// and honours ctx.
//
// This package links the PromQL engine; instrument, bizmetrics and
// healthcheck do not.
package performance
