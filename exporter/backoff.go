package exporter

import (
	"sync"
	"time"

	"github.com/vitalsgo/vitals/clock"
)

// After a failed span or log export, the batches of the next
// exportBackoffMin are dropped without an attempt; each further failure
// doubles the wait, up to exportBackoffMax, and a success ends it. A
// collector that is down refuses a connection at once, so without this
// the batch processor encodes every batch in full only to fail (30 times
// a second at 17 000 sampled requests a second): CPU taken from the
// requests, for spans that are lost either way. At most exportBackoffMax of
// them are lost after the collector is back, as many as the batch
// processor's own delay (OTEL_BSP_SCHEDULE_DELAY, 5 s) holds.
const (
	exportBackoffMin = 500 * time.Millisecond
	exportBackoffMax = 5 * time.Second
)

// exportBackoff holds span and log exports back after a failure.
type exportBackoff struct {
	clock clock.Clock
	mu    sync.Mutex
	until time.Time     // no attempt before
	wait  time.Duration // the next failure's wait; 0 after a success
}

// allow reports whether an export may be attempted now.
func (b *exportBackoff) allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.until.IsZero() || !clock.Or(b.clock).Now().Before(b.until)
}

// done records an attempt's outcome and returns how long exports are held
// back after it (0 after a success).
func (b *exportBackoff) done(err error) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err == nil {
		b.until, b.wait = time.Time{}, 0
		return 0
	}
	b.wait = min(max(2*b.wait, exportBackoffMin), exportBackoffMax)
	b.until = clock.Or(b.clock).Now().Add(b.wait)
	return b.wait
}
