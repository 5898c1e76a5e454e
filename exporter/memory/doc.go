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
//	mp := sdkmetric.NewMeterProvider(r.MeterProviderOptions()...)
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
// target_info; the series up is 1 at every collection, as a Prometheus
// scrape records for its target. Prometheus adds job and instance when it
// scrapes; the reader has no target, so it does not. When a series stops
// being reported it is marked stale at the next collection, as Prometheus
// marks series that disappear from a scrape, so instant queries stop
// returning it at once.
//
// # Native histograms
//
// Beside the classic series, every histogram is also kept as a Prometheus
// native histogram named without suffix (http_server_request_duration_seconds),
// aggregated by a second SDK reader as a base-2 exponential histogram of up
// to 400 buckets: buckets at most 4.4 % wide for values spanning up to 2^25
// (10 µs to 60 s), so histogram_quantile over it is within 4.4 % of the
// true percentile at any latency, where the classic buckets (the first one
// is 0 to 5 ms) put the median of a 400 µs service at 2.5 ms. The engine
// answers histogram_quantile, histogram_count, histogram_sum,
// histogram_fraction, rate and arithmetic over them. The classic series stay
// exactly as /metrics shows them, so portable rule files keep working.
//
// # Exact windows
//
// In-process counters never reset and start at zero, so the number of
// events in a window is exactly the cumulative value at its end minus the
// value at its start, a series born inside the window counting from zero:
//
//	sum(x) - (sum(x offset 15m) or sum(x) * 0)
//
// It works for native histograms as well (histogram minus histogram), and
// is what the performance summary uses. increase(x[15m]) extrapolates to
// the window's edges and loses what a series counted before its first
// sample; both are right for a Prometheus scraping a fleet, not for one
// process counting its own events.
//
// # Bounds
//
// Memory is bounded by construction. Samples are stored in Prometheus' own
// chunk encodings (github.com/prometheus/prometheus/tsdb/chunkenc): XOR
// chunks for floats, about 1.5 bytes a sample at a regular interval (as
// Prometheus aligns scrapes, a collection up to 1 % of the interval late is
// stamped on the interval's grid, so a timestamp costs a bit), and
// histogram chunks for native histograms. Chunks older than the retention (default 6 h) are dropped
// whole. At most WithMaxSeries series (default 20 000) are held; samples of
// further series are dropped and counted (Stats, and the metric
// vitals.memory.samples.dropped) until series that have not been reported
// for a retention window are removed, which happens at every collection.
// Each query is bounded by a timeout and a sample limit (WithQueryLimits).
//
// # Time
//
// Collect stamps samples with the reader's clock (WithClock), and Run, the
// only goroutine, owned by its caller, waits on that clock, so tests drive
// time by hand. Run ends when its context does, when Shutdown is called,
// or when the MeterProvider shuts the reader down.
//
// # Snapshots
//
// SaveState writes the history (the collector's series and those of every
// named appender, NewNamedAppender) in a compact binary format that keeps
// the chunks as they are, about the size of the chunks themselves; LoadState
// loads it into a new reader before its first collection, so that a
// restart loses only the samples of its downtime. Unnamed appenders are not
// written. SaveState holds a store's read lock only to copy its bookkeeping
// and the chunk being appended to (closed chunks never change and are
// shared), and encodes and writes outside it, so collections, appends and
// queries go on meanwhile; each store is copied at one point in time, but
// two stores may be copied between two of their appends. The payload has no
// checksum of its own: vitals.Start keeps it, with a checksum and
// StateVersion, in its state directory (vitals.WithStateDir).
//
// LoadState skips the named appenders of the snapshot absent now; named
// appenders absent from the snapshot start empty, as unnamed appenders
// always do. It applies today's retention and series limit, not the
// snapshot's: samples older than the retention, counted back from the
// reader's clock, are dropped (whole chunks, as at every collection), and
// beyond the series limit the series reported longest ago are dropped,
// their samples counted as dropped (Stats.Dropped). A snapshot whose newest
// sample is after the reader's clock is refused, as collections could not
// append after it. It checks everything it reads (every length bounded,
// every chunk decoded, every time in order): a truncated or corrupt
// snapshot is an error that leaves the reader empty. Afterwards queries see
// the history from before, with a gap for the time the process was down;
// the next collection appends after it, and marks the series that it no
// longer reports stale, as usual.
//
// # Concurrency
//
// A Reader is safe for concurrent use: collections are serialised, and a
// query takes the chunks it selects under a read lock (sharing the closed
// ones, which never change, and copying the one being appended to), so
// evaluation never races with a collection.
package memory
