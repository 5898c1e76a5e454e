package memory

import (
	"context"
	"time"
)

// RunTicks is Run with the ticker replaced by tick, for tests.
func (r *Reader) RunTicks(ctx context.Context, tick <-chan time.Time) error {
	return r.run(ctx, tick)
}
