package clock

import "time"

// Clock tells the time and waits. Components take one (WithClock) so that
// tests control time; by default they use System.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// After returns a channel that receives the time once d has passed.
	After(d time.Duration) <-chan time.Time
	// AfterFunc calls f in its own goroutine once d has passed. stop
	// cancels the call and reports whether it did (false once f started).
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// System is the wall clock: time.Now, time.After and time.AfterFunc.
type System struct{}

var _ Clock = System{}

// Now returns time.Now().
func (System) Now() time.Time { return time.Now() }

// After returns time.After(d).
func (System) After(d time.Duration) <-chan time.Time { return time.After(d) }

// AfterFunc calls f after d with time.AfterFunc; stop is the timer's Stop.
func (System) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

// Since returns the time elapsed on c since t: for System, time.Since,
// which reads only the monotonic clock (time.Now reads the wall clock too,
// about half its cost).
func Since(c Clock, t time.Time) time.Duration {
	if _, ok := c.(System); ok {
		return time.Since(t)
	}
	return c.Now().Sub(t)
}

// Or returns c, or System when c is nil: the default of every WithClock.
func Or(c Clock) Clock {
	if c == nil {
		return System{}
	}
	return c
}
