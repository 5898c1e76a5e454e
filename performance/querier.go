package performance

import (
	"context"
	"time"

	"github.com/vitalsgo/vitals/exporter/memory"
)

// Querier is what Summarize reads: PromQL instant queries, and the clock
// the window ends at by default. The in-memory reader (*memory.Reader)
// satisfies it.
type Querier interface {
	// Query evaluates the PromQL expression expr at ts.
	Query(ctx context.Context, expr string, ts time.Time) (memory.Result, error)
	// Now is the querier's current time: the end of the window unless
	// WithTime sets another.
	Now() time.Time
}

var _ Querier = (*memory.Reader)(nil)
