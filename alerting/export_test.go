package alerting

import (
	"time"

	"github.com/vitalsgo/vitals/clock"
)

// NewSilences returns an empty set of silences on clk, as an Engine has.
func NewSilences(clk clock.Clock) *Silences { return newSilences(clk) }

// WithDispatchHook calls fn, synchronously, with every batch the engine
// hands to a route's queues; for tests.
func WithDispatchHook(fn func(now time.Time, batch []Alert)) Option {
	return optionFunc(func(cfg config) config {
		cfg.onDispatch = fn
		return cfg
	})
}
