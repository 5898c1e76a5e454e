package memory

import (
	"log/slog"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/vitalsgo/vitals/clock"
)

// Option configures New.
type Option interface {
	apply(config) config
}

type config struct {
	interval     time.Duration
	retention    time.Duration
	maxSeries    int
	clock        clock.Clock
	logger       *slog.Logger
	queryTimeout time.Duration
	maxSamples   int
	lookback     time.Duration
	producers    []sdkmetric.Producer
	maxExemplars int
}

func newConfig(opts []Option) config {
	c := config{
		interval:     DefaultInterval,
		retention:    DefaultRetention,
		maxSeries:    DefaultMaxSeries,
		clock:        clock.System{},
		logger:       slog.Default(),
		queryTimeout: DefaultQueryTimeout,
		maxSamples:   DefaultMaxSamples,
		maxExemplars: DefaultMaxExemplars,
		lookback:     DefaultLookbackDelta,
	}
	for _, o := range opts {
		c = o.apply(c)
	}
	if c.retention < c.interval {
		c.retention = c.interval
	}
	return c
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

// WithMaxExemplars sets how many exemplars the reader keeps (Exemplars):
// the newest n across every series. Zero or less keeps none. By default,
// DefaultMaxExemplars. They take 80 bytes each, allocated at the first
// exemplar (800 KB for 10 000): a reader that is given none, without
// traces, takes nothing.
func WithMaxExemplars(n int) Option {
	return optionFunc(func(c config) config {
		c.maxExemplars = n
		return c
	})
}

// WithInterval sets the time between two collections of Run. Values of zero
// or less are ignored. By default, DefaultInterval (10 s).
func WithInterval(d time.Duration) Option {
	return optionFunc(func(c config) config {
		if d > 0 {
			c.interval = d
		}
		return c
	})
}

// WithRetention sets how long samples are kept. Samples are stored in
// chunks of up to 240 (40 minutes at the default interval; at most a
// quarter of the retention), and a chunk is dropped once its newest sample
// is older than the retention, so queries may see up to one chunk more.
// Values shorter than the interval are raised to it. By default,
// DefaultRetention (6 h): about 1.5 bytes per float sample, so 6 h of
// 10 000 series take about 40 MB.
func WithRetention(d time.Duration) Option {
	return optionFunc(func(c config) config {
		if d > 0 {
			c.retention = d
		}
		return c
	})
}

// WithMaxSeries bounds the number of series held; samples of further
// series are dropped and counted until older series expire. Values of zero
// or less are ignored. By default, DefaultMaxSeries (20 000).
func WithMaxSeries(n int) Option {
	return optionFunc(func(c config) config {
		if n > 0 {
			c.maxSeries = n
		}
		return c
	})
}

// WithClock sets the clock that stamps collections. By default, the system
// clock.
func WithClock(clk clock.Clock) Option {
	return optionFunc(func(c config) config {
		if clk != nil {
			c.clock = clk
		}
		return c
	})
}

// WithLogger sets the logger for failed collections in Run (rate-limited)
// and for the query engine. By default, slog.Default().
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c config) config {
		if l != nil {
			c.logger = l
		}
		return c
	})
}

// WithQueryLimits bounds each query: its run time and the number of samples
// it may hold in memory at once. Values of zero or less keep the default.
// By default, DefaultQueryTimeout (10 s) and DefaultMaxSamples (5 000 000).
func WithQueryLimits(timeout time.Duration, maxSamples int) Option {
	return optionFunc(func(c config) config {
		if timeout > 0 {
			c.queryTimeout = timeout
		}
		if maxSamples > 0 {
			c.maxSamples = maxSamples
		}
		return c
	})
}

// WithLookbackDelta sets how far back an instant selector looks for a
// sample, as Prometheus' --query.lookback-delta. By default,
// DefaultLookbackDelta (5 min), Prometheus' default.
func WithLookbackDelta(d time.Duration) Option {
	return optionFunc(func(c config) config {
		if d > 0 {
			c.lookback = d
		}
		return c
	})
}

// WithProducer registers p, a source of metrics aggregated elsewhere (such
// as instrument.RuntimeProducer's scheduler latency histogram), on the
// reader: every collection stores what p produces next to what the
// MeterProvider's instruments recorded. It is the in-memory counterpart of
// exporter.WithProducer, which does not reach readers passed with
// exporter.WithReader. A nil p is ignored. By default, the reader has no
// producers.
func WithProducer(p sdkmetric.Producer) Option {
	return optionFunc(func(c config) config {
		if p != nil {
			c.producers = append(c.producers, p)
		}
		return c
	})
}
