package clocktest

import (
	"slices"
	"sync"
	"time"

	"github.com/vitalsgo/vitals/clock"
)

// Clock is a clock.Clock moved by hand. The zero value is not usable; use
// New. It is safe for concurrent use.
type Clock struct {
	mu      sync.Mutex
	changed *sync.Cond // broadcast when timers are added or removed
	now     time.Time
	seq     int
	timers  []*timer
}

type timer struct {
	at  time.Time
	seq int // creation order, to fire timers due at one time in order
	ch  chan time.Time
	f   func()
}

var _ clock.Clock = (*Clock)(nil)

// New returns a clock at t; a zero t means 2023-11-14T22:13:20Z.
func New(t time.Time) *Clock {
	if t.IsZero() {
		t = time.Unix(1_700_000_000, 0)
	}
	c := &Clock{now: t}
	c.changed = sync.NewCond(&c.mu)
	return c
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that receives the clock's time once it has been
// advanced by d. A d <= 0 fires at once.
func (c *Clock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.add(&timer{ch: ch}, d)
	return ch
}

// AfterFunc calls f in its own goroutine once the clock has been advanced by
// d. A d <= 0 calls it at once. stop removes a pending call and reports
// whether it did.
func (c *Clock) AfterFunc(d time.Duration, f func()) func() bool {
	t := &timer{f: f}
	c.add(t, d)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		i := slices.Index(c.timers, t)
		if i < 0 {
			return false
		}
		c.timers = slices.Delete(c.timers, i, i+1)
		c.changed.Broadcast()
		return true
	}
}

func (c *Clock) add(t *timer, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t.at = c.now.Add(d)
	if d <= 0 {
		fire(t, c.now)
		return
	}
	c.seq++
	t.seq = c.seq
	c.timers = append(c.timers, t)
	c.changed.Broadcast()
}

func fire(t *timer, now time.Time) {
	if t.f != nil {
		go t.f()
		return
	}
	t.ch <- now
}

// Advance moves the clock forward by d, fires every timer due by then, and
// returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.now.Add(d)
	c.set(t)
	return t
}

// Set moves the clock to t (backwards too) and fires every timer due by then.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.set(t)
}

func (c *Clock) set(t time.Time) {
	c.now = t
	var due, kept []*timer
	for _, tm := range c.timers {
		if tm.at.After(t) {
			kept = append(kept, tm)
		} else {
			due = append(due, tm)
		}
	}
	if len(due) == 0 {
		return
	}
	c.timers = kept
	slices.SortFunc(due, func(a, b *timer) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.seq - b.seq
	})
	for _, tm := range due {
		fire(tm, t)
	}
	c.changed.Broadcast()
}

// Pending returns the number of timers and AfterFunc calls not yet fired or
// stopped.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// BlockUntil waits until at least n timers or AfterFunc calls are pending:
// a goroutine under test has parked on the clock.
func (c *Clock) BlockUntil(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.timers) < n {
		c.changed.Wait()
	}
}
