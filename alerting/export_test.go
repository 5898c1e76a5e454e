package alerting

import "time"

// WithDispatchHook calls fn, synchronously, with every batch the engine
// hands to a route's queues; for tests.
func WithDispatchHook(fn func(now time.Time, batch []Alert)) Option {
	return optionFunc(func(cfg config) config {
		cfg.onDispatch = fn
		return cfg
	})
}
