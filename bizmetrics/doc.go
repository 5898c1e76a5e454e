// Package bizmetrics records typed business metrics — orders and revenue,
// registrations and users, database and cache operations, API usage,
// timers and custom instruments — as ordinary OpenTelemetry metrics, at the
// cost of an atomic add on the hot path.
//
// # Use
//
// New takes the application's MeterProvider (vitals.Start's, or any other)
// as an option, as every constructor of the module does:
//
//	m, err := bizmetrics.New(bizmetrics.WithMeterProvider(mp))
//	err = m.Order(ctx, "EUR", 42.50)          // count, amount, revenue
//	err = m.Registration(ctx, "web")
//	err = m.DB(ctx, "sqlite", "SELECT", "orders", func() error { ... })
//	defer m.Time(ctx, "checkout").Stop()
//
// For hot paths, get a handle once, with the attributes bound, and record
// on it. Each getter is named for the events its handle counts, in the
// plural, and returns it with an error for a bad attribute value: Orders(currency), Registrations(source),
// APICalls(operation), CacheOperations(name), DBOperations(system,
// operation, collection).
//
//	eur, err := m.Orders("EUR")
//	sessions, err := m.CacheOperations("sessions")
//	...
//	err = eur.Record(ctx, 42.50)
//	sessions.Hit(ctx)
//
// The database/sql wrapper times every statement without the caller timing
// anything: sql.OpenDB(bizmetrics.WrapConnector(connector, m, "sqlite")).
//
// # Metrics
//
// Names are OTel names under a namespace (WithNamespace, default "app"),
// units UCUM as OTel writes them; docs/metrics.md lists each as /metrics
// shows it.
//
//	app.orders.placed          {order}          counter    currency
//	app.orders.rejected        {order}          counter    error.type (invalid_currency, invalid_amount)
//	app.order.amount           {currency_unit}  histogram  currency (buckets: DefaultAmountBoundaries)
//	app.revenue                {currency_unit}  counter    currency
//	app.registrations          {registration}   counter    registration.source
//	app.users                  {user}           gauge
//	app.cache.operations       {operation}      counter    cache.name, cache.operation, cache.result
//	app.cache.operation.duration  s             histogram  as above (WithCacheDuration)
//	app.api.calls              {call}           counter    api.operation
//	app.timer.duration         s                histogram  timer.name and the timer's attributes
//	db.client.operation.duration  s             histogram  db.system.name, db.operation.name,
//	                                                       db.collection.name, error.type
//	app.<name> of Counter, FloatCounter, UpDownCounter, Gauge, Histogram: the unit and attributes given
//
// The database histogram is the semantic conventions' metric, named and
// bucketed as they say (0.001 to 10 s), whatever the namespace.
//
// # Orders and money
//
// Currencies are ISO 4217 codes, checked against the active codes with a
// minor unit (CurrencyExponent): "EUR", not "eur" or "EURO". Revenue is
// counted in integers of the currency's minor unit (cents for EUR, yen for
// JPY, fils for KWD), the amount rounded to it, and reported as that count
// divided by 10^exponent, so totals are exact to the minor unit however
// many goroutines add to them: 640 000 orders of 19.99 EUR sum to
// 12 793 600 EUR exactly, where adding float64s would not. The amount
// histogram records the amounts as given; its _sum is a float64 sum. A
// negative, NaN or infinite amount, or an unknown currency, is returned as
// an error (ErrInvalidAmount, ErrInvalidCurrency), counted in
// app.orders.rejected, and recorded nowhere else.
//
// # Cache hit ratio
//
// There is no semantic convention for caches; following the leaning of its
// maintainers, operations are one counter with attributes rather than a
// metric per result: cache.operation is get, set or delete, and lookups
// carry cache.result hit or miss. Hits and misses of a cache are reported
// from the moment it is bound, at 0, so that a cache that never hit shows
// a ratio of 0 rather than nothing. The hit ratio, per cache, is one
// PromQL expression:
//
//	sum by (cache_name) (rate(app_cache_operations_total{cache_result="hit"}[5m]))
//	  / sum by (cache_name) (rate(app_cache_operations_total{cache_result=~"hit|miss"}[5m]))
//
// performance.Summarize reports it (cacheHitRatio), reading
// app_cache_operations_total unless performance.WithCacheSeries names the
// series of another namespace.
//
// # The database/sql wrapper
//
// WrapConnector and WrapDriver record the duration of the driver's Exec or
// Query call: for a query, until the driver returns the rows, not while
// they are read. A Prepare that fails is recorded as a failed operation;
// one that succeeds is not (its executions are). Begin, Commit and Rollback
// are not recorded. A statement whose first keyword is unknown is recorded
// with db.operation.name _OTHER; ContextWithCollection sets
// db.collection.name instead of the table parsed from the statement. Every
// optional driver interface (contexts, named value checks, session reset,
// ping, validity) is passed through; driver-specific methods reached with
// sql.Conn.Raw are on the driver connection returned by the wrapper's
// Unwrap() driver.Conn method.
//
// # Cardinality
//
// Every attribute value is an enum or a capped set, never an ID, a query
// text or a personal datum. Free-form values are capped per attribute:
// registration.source at 50 distinct values (WithMaxSources), cache.name
// at 20 (WithMaxCacheNames), api.operation at 200 (WithMaxAPIOperations),
// timer.name at 100 (WithMaxTimerNames), db.operation.name and
// db.system.name at 50 each (WithMaxDBOperations), db.collection.name at
// 200 (WithMaxDBCollections) and error.type at 20. Values past a cap, and
// an empty timer name or db.system.name, are recorded as Overflow
// ("_OTHER", the semantic conventions' token, also used by instrument for
// routes), so totals stay right. The attribute sets
// of each custom instrument are capped at 2000 (WithMaxAttributeSets);
// further sets are recorded with otel.metric.overflow=true, as the SDK
// does past its own limit, which still applies on top. The timer names
// share those 2000 sets, as the SDK counts them for the whole histogram,
// less an overflow set for each name (and _OTHER) and the SDK's own: a
// name's sets past that are recorded with its timer.name and
// otel.metric.overflow=true, so that the count of every name stays exact.
// The database histogram shares them the same way: its combinations of
// system, operation, collection and error type get 2000 sets less one
// overflow set for each operation (the 50, _OTHER and none) and the SDK's;
// further combinations are recorded with their db.operation.name,
// db.system.name _OTHER and otel.metric.overflow=true, so that the count of
// every operation stays exact.
//
// The database/sql wrapper takes db.operation.name from the statement's
// first keyword and db.collection.name from the first table it names when
// that is a plain identifier; string literals are skipped, so neither the
// statement's text nor its arguments, which can carry personal data, ever
// become attributes.
//
// error.type (ErrorType) is a class of the error, never its message: ""
// for nil and for sql.ErrNoRows (the query succeeded, with no rows); else
// the value of err's ErrorType() string method, if it has one;
// "context.DeadlineExceeded", "context.Canceled" or "driver.ErrBadConn"
// when err is or wraps one of those; the first non-empty ErrorType() in
// err's chain; else the Go type of err, as fmt's %T prints it, after
// unwrapping fmt.Errorf's %w wrappers ("*sqlite.Error", "*pq.Error",
// "*errors.errorString").
//
// # Tracing
//
// With WithTracerProvider (vitals.Start passes its tracer provider when
// tracing is on), the database/sql wrapper makes a client span of every
// operation it records, a child of the span in the operation's context (a
// root span without one), timed exactly as the histogram's recording, which
// is made in the span's context. It is named as the semantic conventions
// name database spans ("SELECT orders"; the operation or the collection
// alone, such as "CREATE"; else db.system.name) and carries the metric's
// attributes: db.system.name, db.operation.name, db.collection.name when
// known, and error.type. server.address and server.port, which the wrapper
// does not know, are left out. A failure sets the status Error and adds an
// exception event with exception.type only: neither the error's message,
// nor the statement's text, nor its arguments are ever recorded. The span
// is made once the driver has returned, so the driver sees the caller's
// context, not the span. Cache operations are events ("cache.get",
// "cache.set" or "cache.delete", with cache.name, cache.operation and, for
// lookups, cache.result) on the recording span in their context, not spans
// of their own: a lookup takes less time than a span costs, and a span per
// lookup would bury the request's trace. DB, RecordDB and DBOperation make
// no spans. A Timer's Stop records with a background context, so that
// trace-based exemplars (off by default in Vitals) are not linked to the
// span active at Time. Without the
// option, nothing is traced and recording costs what it does without
// tracing.
//
// # Cost
//
// Counters, up-down counters and gauges behind handles are atomics (a
// compare-and-swap loop for floats), which the package reports through
// OTel observable instruments whose callbacks read every live handle at
// collection time. They remain ordinary OTel metrics on every reader —
// Prometheus, OTLP with either temporality, the memory reader — and only
// recording is cheap: an atomic add, as cheap as client_golang's cached
// child, instead of the SDK's synchronous measurement, which costs over ten
// times more with a pre-built attribute set, and about forty times more
// with four allocations when attributes are passed per call. Histograms
// (order amounts, durations) are the SDK's synchronous instruments,
// recorded with attribute sets and option slices built once: they cost
// what the SDK costs. Bound handles allocate
// nothing; unbound calls find their handle in a copy-on-write map keyed by
// the attribute values, without locking or allocating once it exists
// (custom instruments: up to 8 attributes). docs/benchmarks.md has the
// figures. Handles live as long as the Metrics: they are never removed,
// which the caps above bound.
//
// # Defaults
//
// With no options: the namespace "app"; the caps above; order amounts in
// the buckets of DefaultAmountBoundaries (0, then 1 to 100 000 in 1-2-5
// steps, in units of the currency); cache operations counted but not
// timed (WithCacheDuration times them); no users gauge until SetUsers or
// WithUsersFunc; the system clock for Time, DB and the database/sql
// wrapper (WithClock); no spans and no span events (WithTracerProvider).
//
// # Concurrency
//
// Metrics and every handle are safe for concurrent use. A Timer is a value
// for one goroutine. Create one Metrics per meter provider and namespace:
// two would report the same series twice.
package bizmetrics
