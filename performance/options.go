package performance

import "time"

// Defaults of the performance summary.
const (
	// DefaultTopN is how many routes and errors a summary lists.
	DefaultTopN = 10
	// DefaultApdexThreshold is the Apdex target time T: a request is
	// satisfied when it takes at most T, tolerating when at most 4T.
	DefaultApdexThreshold = 500 * time.Millisecond
)

// Option configures Summarize.
type Option interface {
	apply(config) config
}

type config struct {
	topN        int
	apdex       time.Duration
	at          time.Time
	cacheSeries string
}

func newConfig(opts []Option) config {
	c := config{topN: DefaultTopN, apdex: DefaultApdexThreshold, cacheSeries: summaryCacheSeries}
	for _, o := range opts {
		c = o.apply(c)
	}
	return c
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

// WithTopN sets how many routes and errors the summary lists; 0 lists
// none. Negative values are ignored. By default, DefaultTopN (10).
func WithTopN(n int) Option {
	return optionFunc(func(c config) config {
		if n >= 0 {
			c.topN = n
		}
		return c
	})
}

// WithApdexThreshold sets the Apdex target time T: requests that take at
// most T are satisfied, at most 4T tolerating. Values of zero or less are
// ignored. By default, DefaultApdexThreshold (0.5 s).
func WithApdexThreshold(d time.Duration) Option {
	return optionFunc(func(c config) config {
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
func WithCacheSeries(name string) Option {
	return optionFunc(func(c config) config {
		if name != "" {
			c.cacheSeries = name
		}
		return c
	})
}

// WithTime sets the time the summary is computed at: the end of the
// window. By default, the evaluator's Now (the memory reader's clock).
func WithTime(t time.Time) Option {
	return optionFunc(func(c config) config {
		c.at = t
		return c
	})
}
