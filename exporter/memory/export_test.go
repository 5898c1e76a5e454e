package memory

import (
	"context"
	"time"
)

// RunTicks is Run with the ticker replaced by tick, for tests.
func (r *Reader) RunTicks(ctx context.Context, tick <-chan time.Time) error {
	return r.run(ctx, tick)
}

// SnapshotLockHeld copies every store that Snapshot writes as Snapshot
// does and returns the longest time it held a store's read lock: the
// longest a collection or an append can wait for Snapshot.
func (r *Reader) SnapshotLockHeld() time.Duration {
	var longest time.Duration
	for _, ns := range r.snapshotStores() {
		start := time.Now()
		_ = copyStore(ns.st)
		longest = max(longest, time.Since(start))
	}
	return longest
}
