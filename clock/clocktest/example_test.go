package clocktest_test

import (
	"fmt"
	"time"

	"github.com/vitalsgo/vitals/clock/clocktest"
)

// A manual clock fires what became due when the test moves it, in order of
// time, and never otherwise.
func ExampleClock_Advance() {
	clk := clocktest.New(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	done := make(chan string, 2)
	clk.AfterFunc(2*time.Second, func() { done <- "2s timer" })
	clk.AfterFunc(time.Second, func() { done <- "1s timer" })
	fmt.Println("pending:", clk.Pending())

	clk.Advance(1500 * time.Millisecond)
	fmt.Println(<-done)
	clk.Advance(time.Second)
	fmt.Println(<-done)
	fmt.Println("pending:", clk.Pending())
	// Output:
	// pending: 2
	// 1s timer
	// 2s timer
	// pending: 0
}
