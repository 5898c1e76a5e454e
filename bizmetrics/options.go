package bizmetrics

import (
	"context"
	"go.opentelemetry.io/otel/metric"
	"slices"

	"go.opentelemetry.io/otel/trace"

	"github.com/vitalsgo/vitals/clock"
)

// Defaults of the options.
const (
	// DefaultNamespace prefixes the names of the application's metrics:
	// app.orders.placed, app_orders_placed_total on /metrics.
	DefaultNamespace = "app"
	// DefaultMaxSources is the number of distinct registration.source
	// values kept.
	DefaultMaxSources = 50
	// DefaultMaxCacheNames is the number of distinct cache.name values kept.
	DefaultMaxCacheNames = 20
	// DefaultMaxAPIOperations is the number of distinct api.operation
	// values kept.
	DefaultMaxAPIOperations = 200
	// DefaultMaxTimerNames is the number of distinct timer.name values kept.
	DefaultMaxTimerNames = 100
	// DefaultMaxDBOperations is the number of distinct db.operation.name
	// values kept, and separately of db.system.name values.
	DefaultMaxDBOperations = 50
	// DefaultMaxDBCollections is the number of distinct db.collection.name
	// values kept.
	DefaultMaxDBCollections = 200
	// DefaultMaxAttributeSets is the number of distinct attribute sets kept
	// per custom instrument and per timer name, and for the database
	// histogram as a whole.
	DefaultMaxAttributeSets = 2000
)

// defaultAmountBoundaries spans one to a hundred thousand units of a currency
// in 1-2-5 steps, so that order amounts in EUR as in JPY land in buckets
// that tell them apart.
var defaultAmountBoundaries = [...]float64{0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000}

// DefaultAmountBoundaries returns the default explicit bucket boundaries of
// the order amount histogram, in units of the order's currency: 0, then 1
// to 100 000 in 1-2-5 steps.
func DefaultAmountBoundaries() []float64 {
	b := defaultAmountBoundaries
	return b[:]
}

// Option configures New.
type Option interface {
	apply(config) config
}

type config struct {
	namespace        string
	clock            clock.Clock
	usersFunc        func(context.Context) (int64, error)
	cacheDuration    bool
	amountBoundaries []float64
	maxSources       int
	maxCaches        int
	maxAPIOps        int
	maxTimers        int
	maxDBOps         int
	maxDBColls       int
	maxSets          int
	tracer           trace.TracerProvider // nil: no spans, no cache events
	mp               metric.MeterProvider // nil: the global provider
}

func newConfig(opts []Option) config {
	c := config{
		namespace:        DefaultNamespace,
		clock:            clock.System{},
		amountBoundaries: DefaultAmountBoundaries(),
		maxSources:       DefaultMaxSources,
		maxCaches:        DefaultMaxCacheNames,
		maxAPIOps:        DefaultMaxAPIOperations,
		maxTimers:        DefaultMaxTimerNames,
		maxDBOps:         DefaultMaxDBOperations,
		maxDBColls:       DefaultMaxDBCollections,
		maxSets:          DefaultMaxAttributeSets,
	}
	for _, o := range opts {
		c = o.apply(c)
	}
	return c
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

// WithNamespace sets the prefix of the application's metric names:
// WithNamespace("shop") gives shop.orders.placed (shop_orders_placed_total
// on /metrics). It must be lower-case letters and digits, starting with a
// letter, in words joined by single underscores; New rejects anything else.
// The database histogram keeps its semantic-convention name
// db.client.operation.duration whatever the namespace. By default,
// DefaultNamespace ("app").
func WithNamespace(ns string) Option {
	return optionFunc(func(c config) config {
		c.namespace = ns
		return c
	})
}

// WithClock sets the clock that times Time, DB and the database/sql
// wrapper. By default, the system clock.
func WithClock(clk clock.Clock) Option {
	return optionFunc(func(c config) config {
		if clk != nil {
			c.clock = clk
		}
		return c
	})
}

// WithMeterProvider sets the provider the business metrics are recorded
// with. By default (or with nil), the OTel global provider,
// otel.GetMeterProvider(); vitals.Start passes its own.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c config) config {
		c.mp = mp
		return c
	})
}

// WithTracerProvider turns tracing on with tp: the database/sql wrapper
// (WrapConnector, WrapDriver) makes a client span of every operation it
// records, and the cache methods add an event to the recording span in
// their context (the package doc's Tracing has the details). By default,
// and with a nil tp, tracing is off and costs nothing.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c config) config {
		c.tracer = tp
		return c
	})
}

// WithUsersFunc makes the users gauge observe fn at each collection
// instead of reporting the value given to SetUsers. An error from fn skips
// the observation and goes to the OTel error handler. By default, the gauge
// reports the last SetUsers value, and nothing before the first.
func WithUsersFunc(fn func(context.Context) (int64, error)) Option {
	return optionFunc(func(c config) config {
		c.usersFunc = fn
		return c
	})
}

// WithCacheDuration also records the duration of the cache operations
// given to Cache.Record in a histogram
// (<namespace>.cache.operation.duration, seconds). By default, cache
// operations are only counted.
func WithCacheDuration() Option {
	return optionFunc(func(c config) config {
		c.cacheDuration = true
		return c
	})
}

// WithAmountBoundaries sets the explicit bucket boundaries of the order amount
// histogram, in units of the order's currency. An empty list is ignored.
// By default, DefaultAmountBoundaries().
func WithAmountBoundaries(bounds ...float64) Option {
	return optionFunc(func(c config) config {
		if len(bounds) > 0 {
			c.amountBoundaries = slices.Clone(bounds)
		}
		return c
	})
}

// WithMaxSources caps the distinct registration.source values; further
// sources are counted under Overflow. Values of zero or less are ignored.
// By default, DefaultMaxSources (50).
func WithMaxSources(n int) Option {
	return optionFunc(func(c config) config {
		if n > 0 {
			c.maxSources = n
		}
		return c
	})
}

// WithMaxCacheNames caps the distinct cache.name values; further caches are
// counted under Overflow. Values of zero or less are ignored. By default,
// DefaultMaxCacheNames (20).
func WithMaxCacheNames(n int) Option {
	return optionFunc(func(c config) config {
		if n > 0 {
			c.maxCaches = n
		}
		return c
	})
}

// WithMaxAPIOperations caps the distinct api.operation values; further
// operations are counted under Overflow. Values of zero or less are
// ignored. By default, DefaultMaxAPIOperations (200).
func WithMaxAPIOperations(n int) Option {
	return optionFunc(func(c config) config {
		if n > 0 {
			c.maxAPIOps = n
		}
		return c
	})
}

// WithMaxTimerNames caps the distinct timer.name values; further timers are
// recorded under Overflow. Values of zero or less are ignored. By default,
// DefaultMaxTimerNames (100).
func WithMaxTimerNames(n int) Option {
	return optionFunc(func(c config) config {
		if n > 0 {
			c.maxTimers = n
		}
		return c
	})
}

// WithMaxDBOperations caps the distinct db.operation.name values, and
// separately the db.system.name values; further values are recorded as
// Overflow. Values of zero or less are ignored. By default,
// DefaultMaxDBOperations (50).
func WithMaxDBOperations(n int) Option {
	return optionFunc(func(c config) config {
		if n > 0 {
			c.maxDBOps = n
		}
		return c
	})
}

// WithMaxDBCollections caps the distinct db.collection.name values; further
// collections are recorded as Overflow. Values of zero or less are ignored.
// By default, DefaultMaxDBCollections (200).
func WithMaxDBCollections(n int) Option {
	return optionFunc(func(c config) config {
		if n > 0 {
			c.maxDBColls = n
		}
		return c
	})
}

// WithMaxAttributeSets caps at n the distinct attribute sets of each custom
// instrument, of the timer histogram and of the database histogram, so that
// each stays within the exporter's cardinality limit when that is n too:
// further sets are recorded with otel.metric.overflow=true, as the SDK
// folds sets past its limit (the package doc's Cardinality says how the
// timer and database histograms keep every name's count exact). Values of
// zero or less are ignored. By default, DefaultMaxAttributeSets (2000, the
// exporter's default cardinality limit).
func WithMaxAttributeSets(n int) Option {
	return optionFunc(func(c config) config {
		if n > 0 {
			c.maxSets = n
		}
		return c
	})
}
