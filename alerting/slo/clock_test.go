package slo_test

import (
	"time"

	"github.com/vitalsgo/vitals/clock/clocktest"
)

// engClock is the shared hand-moved clock, for the engine and the memory
// reader.
type engClock struct{ *clocktest.Clock }

func newEngClock(t time.Time) *engClock { return &engClock{clocktest.New(t)} }

func (c *engClock) set(t time.Time) { c.Set(t) }
