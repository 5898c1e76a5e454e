package clock_test

import (
	"testing"
	"time"

	"github.com/vitalsgo/vitals/clock"
	"github.com/vitalsgo/vitals/clock/clocktest"
)

// TestSince: the system clock's elapsed time, and an injected clock's.
func TestSince(t *testing.T) {
	start := time.Now().Add(-time.Hour)
	if d := clock.Since(clock.System{}, start); d < time.Hour || d > 2*time.Hour {
		t.Errorf("System: %v since an hour ago", d)
	}
	c := clocktest.New(time.Unix(1_700_000_000, 0))
	t0 := c.Now()
	c.Advance(1500 * time.Millisecond)
	if d := clock.Since(c, t0); d != 1500*time.Millisecond {
		t.Errorf("injected clock: %v, want 1.5s", d)
	}
}
