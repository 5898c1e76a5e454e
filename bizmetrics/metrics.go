package bizmetrics

import (
	"context"
	"errors"
	"fmt"
	"github.com/vitalsgo/vitals/internal/buckets"
	"go.opentelemetry.io/otel"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/vitalsgo/vitals/clock"
)

// ScopeName is the instrumentation scope of the package's metrics and
// spans: New takes its meter and tracer of this name from the providers
// given (WithMeterProvider, WithTracerProvider).
const ScopeName = "github.com/vitalsgo/vitals/bizmetrics"

// The metrics Metrics records, by their OpenTelemetry names after the
// namespace and a dot (app.orders.placed by default); MetricDBDuration is
// not namespaced. On /metrics they are app_orders_placed_total,
// app_orders_rejected_total, app_order_amount, app_revenue_total,
// app_registrations_total, app_users, app_cache_operations_total,
// app_cache_operation_duration_seconds, app_api_calls_total,
// app_timer_duration_seconds and db_client_operation_duration_seconds.
const (
	MetricOrdersPlaced    = "orders.placed"                // counter: orders recorded
	MetricOrdersRejected  = "orders.rejected"              // counter: orders refused as invalid
	MetricOrderAmount     = "order.amount"                 // histogram: order amounts
	MetricRevenue         = "revenue"                      // counter: revenue, exact to the minor unit
	MetricRegistrations   = "registrations"                // counter: registrations
	MetricUsers           = "users"                        // gauge: users (SetUsers, WithUsersFunc)
	MetricCacheOperations = "cache.operations"             // counter: cache gets, sets and deletes
	MetricCacheDuration   = "cache.operation.duration"     // histogram: cache operation durations
	MetricAPICalls        = "api.calls"                    // counter: API calls
	MetricTimerDuration   = "timer.duration"               // histogram: Time's durations
	MetricDBDuration      = "db.client.operation.duration" // histogram: database operation durations
)

// Attribute keys of the business metrics. The database histogram uses the
// semantic conventions' keys (db.system.name, db.operation.name,
// db.collection.name, error.type).
const (
	keyCurrency     = attribute.Key("currency")
	keyErrorType    = attribute.Key("error.type")
	keySource       = attribute.Key("registration.source")
	keyCacheName    = attribute.Key("cache.name")
	keyCacheOp      = attribute.Key("cache.operation")
	keyCacheResult  = attribute.Key("cache.result")
	keyAPIOperation = attribute.Key("api.operation")
	keyTimerName    = attribute.Key("timer.name")
)

// Errors returned for invalid input, to test with errors.Is. The errors
// returned wrap them with the input at fault.
var (
	// ErrInvalidCurrency is returned for a currency that is not an active
	// ISO 4217 code with a minor unit, in upper case (see
	// CurrencyExponent).
	ErrInvalidCurrency = errors.New("not an active ISO 4217 currency code")
	// ErrInvalidAmount is returned for an amount that is negative, NaN,
	// infinite, or too large to be counted exactly in the currency's minor
	// unit (2^53 minor units).
	ErrInvalidAmount = errors.New("amount must be finite, at least 0 and below 2^53 minor units")
	// ErrEmptyName is returned when a name the metric needs (a
	// registration source, a cache name, an API operation, a database
	// system or operation, an instrument name) is empty.
	ErrEmptyName = errors.New("empty name")
	// ErrInvalidCacheOperation is returned for a cache operation other than
	// CacheGet, CacheSet or CacheDelete, or a cache result out of range.
	ErrInvalidCacheOperation = errors.New("invalid cache operation or result")
)

// Namespace returns the namespace of the application's metrics ("app" by
// default): the prefix of their names on /metrics.
func (m *Metrics) Namespace() string { return m.ns }

// validNamespace reports whether ns is lower-case letters and digits,
// starting with a letter, in words joined by single underscores: a prefix
// that stays the same on /metrics.
func validNamespace(ns string) bool {
	if ns == "" || ns[0] < 'a' || ns[0] > 'z' || ns[len(ns)-1] == '_' {
		return false
	}
	for i := 0; i < len(ns); i++ {
		switch c := ns[i]; {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '_' && ns[i-1] != '_':
		default:
			return false
		}
	}
	return true
}

// Metrics records typed business metrics through one OTel meter. Create it
// with New, once per meter provider and namespace; it is safe for
// concurrent use.
type Metrics struct {
	meter metric.Meter
	ns    string
	clock clock.Clock
	cfg   config

	// Orders.
	placed    metric.Int64ObservableCounter
	rejected  metric.Int64ObservableCounter
	revenue   metric.Float64ObservableCounter
	amount    metric.Float64Histogram
	orders    *keyed[Orders]
	rejectedN [2]BoundCounter // invalid_currency, invalid_amount

	// Registrations, users, API calls.
	registrations metric.Int64ObservableCounter
	sources       *keyed[BoundCounter]
	users         metric.Int64ObservableGauge
	usersN        atomic.Int64
	usersSet      atomic.Bool
	apiCalls      metric.Int64ObservableCounter
	apiOps        *keyed[BoundCounter]

	// Cache.
	cacheOps      metric.Int64ObservableCounter
	cacheDuration metric.Float64Histogram // nil without WithCacheDuration
	caches        *keyed[Cache]

	// Timers and the database.
	timer  metric.Float64Histogram
	timers *keyed[table[BoundHistogram]]
	db     *dbMetrics

	// tracer makes the database/sql wrapper's spans; nil without
	// WithTracerProvider, and then caches add no span events either.
	tracer  trace.Tracer
	dbSpans *dbSpanStarts // with tracer

	customMu sync.Mutex
	custom   map[string]any // full name → *Counter, *Histogram, ...
}

// rejection reasons, the error.type of orders.rejected.
const (
	rejectedCurrency = iota
	rejectedAmount
)

var rejectionReasons = [...]string{"invalid_currency", "invalid_amount"}

// New creates the business metrics' instruments with the meter provider
// (WithMeterProvider) and registers the callback that reports the counters
// and gauges at each collection. Create one Metrics per provider and
// namespace: a second one would report the same series twice.
func New(opts ...Option) (*Metrics, error) {
	cfg := newConfig(opts)
	mp := cfg.mp
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	meter := mp.Meter(ScopeName)
	if !validNamespace(cfg.namespace) {
		return nil, fmt.Errorf("bizmetrics: namespace %q: want lower-case letters and digits in words joined by single underscores", cfg.namespace)
	}
	m := &Metrics{meter: meter, ns: cfg.namespace, clock: cfg.clock, cfg: cfg, custom: map[string]any{}}
	if cfg.tracer != nil {
		m.tracer = cfg.tracer.Tracer(ScopeName, trace.WithSchemaURL(semconv.SchemaURL))
		m.dbSpans = newDBSpanStarts(cfg.maxSets)
	}
	if err := m.instruments(); err != nil {
		return nil, fmt.Errorf("bizmetrics: %w", err)
	}

	m.orders = newKeyed(len(currencyExponents), m.newOrders)
	for i, reason := range rejectionReasons {
		m.rejectedN[i].obs = observeOpts(keyErrorType.String(reason))
	}
	m.sources = newKeyed(cfg.maxSources, func(v string) *BoundCounter {
		return &BoundCounter{obs: observeOpts(keySource.String(v))}
	})
	m.apiOps = newKeyed(cfg.maxAPIOps, func(v string) *BoundCounter {
		return &BoundCounter{obs: observeOpts(keyAPIOperation.String(v))}
	})
	m.caches = newKeyed(cfg.maxCaches, m.newCache)
	// Every timer name is one more table of the same histogram, which the
	// SDK caps at maxSets sets as a whole (one of them its own overflow
	// set): the names share what is left once each, _OTHER included, has
	// its overflow set, so that no set of a name is folded into the SDK's
	// overflow set without timer.name and sum by (timer_name) stays exact.
	timerSets := newSetBudget(cfg.maxSets - 1 - (cfg.maxTimers + 1))
	m.timers = newKeyed(cfg.maxTimers, func(v string) *table[BoundHistogram] {
		t := newTable(cfg.maxSets, []attribute.KeyValue{keyTimerName.String(v)}, func(set attribute.Set) *BoundHistogram {
			return newBoundHistogram(m.timer, set)
		})
		t.budget = timerSets
		return t
	})

	if _, err := meter.RegisterCallback(m.observe,
		m.placed, m.rejected, m.revenue, m.registrations, m.users, m.apiCalls, m.cacheOps); err != nil {
		return nil, fmt.Errorf("bizmetrics: %w", err)
	}
	return m, nil
}

// name returns the full OTel name of one of the application's metrics.
func (m *Metrics) name(n string) string { return m.ns + "." + n }

func (m *Metrics) instruments() error {
	var err error
	mt := m.meter
	if m.placed, err = mt.Int64ObservableCounter(m.name(MetricOrdersPlaced),
		metric.WithUnit("{order}"),
		metric.WithDescription("Orders placed, by currency.")); err != nil {
		return err
	}
	if m.rejected, err = mt.Int64ObservableCounter(m.name(MetricOrdersRejected),
		metric.WithUnit("{order}"),
		metric.WithDescription("Orders rejected as invalid (unknown currency, negative, NaN or infinite amount) and not recorded.")); err != nil {
		return err
	}
	if m.revenue, err = mt.Float64ObservableCounter(m.name(MetricRevenue),
		metric.WithUnit("{currency_unit}"),
		metric.WithDescription("Revenue of the orders placed, in units of the currency attribute, exact to its minor unit.")); err != nil {
		return err
	}
	if m.amount, err = mt.Float64Histogram(m.name(MetricOrderAmount),
		metric.WithUnit("{currency_unit}"),
		metric.WithDescription("Amounts of the orders placed, in units of the currency attribute."),
		metric.WithExplicitBucketBoundaries(m.cfg.amountBoundaries...)); err != nil {
		return err
	}
	if m.registrations, err = mt.Int64ObservableCounter(m.name(MetricRegistrations),
		metric.WithUnit("{registration}"),
		metric.WithDescription("User registrations, by source.")); err != nil {
		return err
	}
	if m.users, err = mt.Int64ObservableGauge(m.name(MetricUsers),
		metric.WithUnit("{user}"),
		metric.WithDescription("Total number of users.")); err != nil {
		return err
	}
	if m.apiCalls, err = mt.Int64ObservableCounter(m.name(MetricAPICalls),
		metric.WithUnit("{call}"),
		metric.WithDescription("API calls, by logical operation.")); err != nil {
		return err
	}
	if m.cacheOps, err = mt.Int64ObservableCounter(m.name(MetricCacheOperations),
		metric.WithUnit("{operation}"),
		metric.WithDescription("Cache operations, by cache, operation and result (hit or miss for lookups).")); err != nil {
		return err
	}
	if m.cfg.cacheDuration {
		if m.cacheDuration, err = mt.Float64Histogram(m.name(MetricCacheDuration),
			metric.WithUnit("s"),
			metric.WithDescription("Duration of cache operations."),
			metric.WithExplicitBucketBoundaries(cacheDurationBuckets...)); err != nil {
			return err
		}
	}
	if m.timer, err = mt.Float64Histogram(m.name(MetricTimerDuration),
		metric.WithUnit("s"),
		metric.WithDescription("Duration of operations timed with Time, by timer name."),
		metric.WithExplicitBucketBoundaries(timerBuckets...)); err != nil {
		return err
	}
	m.db, err = newDBMetrics(mt, m.cfg)
	return err
}

// cacheDurationBuckets suit in-process and networked caches: 10 µs to 1 s.
var cacheDurationBuckets = []float64{0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1}

// timerBuckets are the semantic conventions' HTTP duration buckets.
var timerBuckets = buckets.Seconds()

// observe reports every live handle of the counters and gauges.
func (m *Metrics) observe(ctx context.Context, o metric.Observer) error {
	m.orders.each(func(h *Orders) {
		o.ObserveInt64(m.placed, h.n.placed.Load(), h.obs...)
		o.ObserveFloat64(m.revenue, float64(h.n.minor.Load())/pow10[h.exp], h.obs...)
	})
	for i := range m.rejectedN {
		o.ObserveInt64(m.rejected, m.rejectedN[i].v.Load(), m.rejectedN[i].obs...)
	}
	m.sources.each(func(h *BoundCounter) { o.ObserveInt64(m.registrations, h.v.Load(), h.obs...) })
	m.apiOps.each(func(h *BoundCounter) { o.ObserveInt64(m.apiCalls, h.v.Load(), h.obs...) })
	m.caches.each(func(c *Cache) { c.observe(o, m.cacheOps) })
	if fn := m.cfg.usersFunc; fn != nil {
		n, err := fn(ctx)
		if err != nil {
			return fmt.Errorf("bizmetrics: users: %w", err)
		}
		o.ObserveInt64(m.users, n)
	} else if m.usersSet.Load() {
		o.ObserveInt64(m.users, m.usersN.Load())
	}
	return nil
}

// observeOpts returns the observe options of one attribute set, built once.
func observeOpts(kvs ...attribute.KeyValue) []metric.ObserveOption {
	return []metric.ObserveOption{metric.WithAttributeSet(attribute.NewSet(kvs...))}
}

// Registration counts one user registration from source (web, mobile, api,
// ...), a free-form value capped by WithMaxSources: sources past the cap
// are counted under Overflow. An empty source is counted nowhere and
// returns an error wrapping ErrEmptyName.
func (m *Metrics) Registration(ctx context.Context, source string) error {
	if source == "" {
		return fmt.Errorf("bizmetrics: registration source: %w", ErrEmptyName)
	}
	m.sources.get(source).Add(ctx, 1)
	return nil
}

// Registrations returns the registration counter of source, for hot
// paths: Add(ctx, 1) on it costs an atomic add. Sources past the cap share
// the Overflow counter. An empty source returns an error wrapping
// ErrEmptyName.
func (m *Metrics) Registrations(source string) (*BoundCounter, error) {
	if source == "" {
		return nil, fmt.Errorf("bizmetrics: registration source: %w", ErrEmptyName)
	}
	return m.sources.get(source), nil
}

// SetUsers sets the total number of users the users gauge reports, unless
// WithUsersFunc gave a callback.
func (m *Metrics) SetUsers(_ context.Context, n int64) {
	m.usersN.Store(n)
	if !m.usersSet.Load() {
		m.usersSet.Store(true)
	}
}

// APICall counts one call of a logical API operation (a GraphQL or RPC
// operation, "checkout" on a route that serves several), capped by
// WithMaxAPIOperations: operations past the cap are counted under
// Overflow. An empty operation is counted nowhere and returns an error
// wrapping ErrEmptyName.
func (m *Metrics) APICall(ctx context.Context, operation string) error {
	if operation == "" {
		return fmt.Errorf("bizmetrics: API operation: %w", ErrEmptyName)
	}
	m.apiOps.get(operation).Add(ctx, 1)
	return nil
}

// APICalls returns the call counter of a logical API operation, for hot paths.
// Operations past the cap share the Overflow counter. An empty operation
// returns an error wrapping ErrEmptyName.
func (m *Metrics) APICalls(operation string) (*BoundCounter, error) {
	if operation == "" {
		return nil, fmt.Errorf("bizmetrics: API operation: %w", ErrEmptyName)
	}
	return m.apiOps.get(operation), nil
}
