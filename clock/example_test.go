package clock_test

import (
	"fmt"
	"time"

	"github.com/vitalsgo/vitals/clock"
	"github.com/vitalsgo/vitals/clock/clocktest"
)

// Since measures on the clock it is given: on the system clock, the
// monotonic time elapsed; on a manual clock, the time the test moved.
func ExampleSince() {
	clk := clocktest.New(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	start := clk.Now()
	clk.Advance(1500 * time.Millisecond)
	fmt.Println(clock.Since(clk, start))
	// Output: 1.5s
}
