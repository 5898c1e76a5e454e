package clocktest_test

import (
	"testing"
	"time"

	"github.com/vitalsgo/vitals/clock/clocktest"
)

func TestAdvanceFiresDueTimersInOrder(t *testing.T) {
	c := clocktest.New(time.Time{})
	t0 := c.Now()
	late := c.After(2 * time.Second)
	order := make(chan string, 2)
	stopEarly := c.AfterFunc(time.Second, func() { order <- "early" })
	stopped := c.AfterFunc(time.Second, func() { order <- "stopped" })
	if !stopped() || c.Pending() != 2 {
		t.Fatalf("stop of a pending call: pending %d", c.Pending())
	}
	c.Advance(999 * time.Millisecond)
	select {
	case <-late:
		t.Fatal("fired early")
	default:
	}
	c.Advance(time.Millisecond)
	if got := <-order; got != "early" {
		t.Errorf("fired %q", got)
	}
	if stopEarly() {
		t.Error("stop after firing reported true")
	}
	if got := c.Advance(time.Second); !got.Equal(t0.Add(2 * time.Second)) {
		t.Errorf("Advance returned %v", got)
	}
	if got := <-late; !got.Equal(t0.Add(2 * time.Second)) {
		t.Errorf("After delivered %v", got)
	}
	if c.Pending() != 0 {
		t.Errorf("pending %d", c.Pending())
	}
}

func TestBlockUntil(t *testing.T) {
	c := clocktest.New(time.Unix(0, 0))
	got := make(chan time.Time)
	go func() { got <- <-c.After(time.Minute) }()
	c.BlockUntil(1)
	c.Advance(time.Minute)
	if v := <-got; !v.Equal(time.Unix(60, 0)) {
		t.Errorf("got %v", v)
	}
	select {
	case <-c.After(0):
	default:
		t.Error("After(0) did not fire at once")
	}
}
