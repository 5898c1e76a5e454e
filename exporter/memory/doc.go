// Package memory is the in-memory reader: it keeps the recent history of
// every metric of a MeterProvider in a bounded time-series store and answers
// PromQL over it with the Prometheus engine itself
// (github.com/prometheus/prometheus/promql), so that an expression that works
// in Grafana against a Prometheus scraping the service works in-process, with
// the same answer.
//
// # Use
//
//	r := memory.New()
//	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.SDKReader()))
//	go r.Run(ctx) // collects every 10 s until ctx is done
//	res, err := r.Query(ctx, `sum by (http_route) (rate(http_server_request_duration_seconds_count[5m]))`, time.Now())
//
// vitals.Start does all of this and serves the queries on
// /monitoring/api/query and /monitoring/api/query_range.
//
// # Series
//
// Each collection is converted by the same code as /metrics, so series have
// exactly the names and labels a Prometheus scrape would store: counters
// with _total, units as suffixes, histograms as _bucket (with le, formatted
// as Prometheus stores it: "0.005", "1.0", "+Inf"), _sum and _count, and
// target_info. Prometheus adds job and instance when it scrapes; the reader
// has no target, so it does not. When a series stops being reported it is
// marked stale at the next collection, as Prometheus marks series that
// disappear from a scrape, so instant queries stop returning it at once.
// Exponential histograms keep their +Inf bucket, _sum and _count only.
//
// # Bounds
//
// Memory is bounded by construction. The store keeps at most
// retention/interval + 2 collections (default 1 h at 10 s: 362), one 8-byte
// value per series per collection: collection times are kept once, not per
// sample. At most WithMaxSeries series (default 20 000) are held; samples of
// further series are dropped and counted (Stats, and the metric
// vitals.memory.samples.dropped) until series that have not been reported
// for a retention window are removed, which happens at every collection.
// Each query is bounded by a timeout and a sample limit (WithQueryLimits).
//
// # Time
//
// Collect stamps samples with the reader's clock (WithClock), and Run is the
// only goroutine, owned by its caller, so tests drive time by hand. Run is
// the reader's lifecycle: it ends when its context does or when the
// MeterProvider shuts the reader down.
//
// # Concurrency
//
// A Reader is safe for concurrent use: collections are serialised, and a
// query copies the samples it selects under a read lock, so evaluation never
// races with a collection.
package memory
