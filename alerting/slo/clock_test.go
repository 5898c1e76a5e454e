package slo_test

import (
	"sync"
	"time"
)

// engClock is a hand-moved clock for the engine and the memory reader.
type engClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *engClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *engClock) After(time.Duration) <-chan time.Time { return make(chan time.Time) }

func (c *engClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}
