package memory

import (
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql"
)

// TestSubqueryStepsMatchEngine holds the step count of the subquery guard
// to the engine's own grid: count_over_time of vector(1) over a subquery
// returns one sample per step the engine evaluated.
func TestSubqueryStepsMatchEngine(t *testing.T) {
	r := New(WithInterval(7 * time.Second))
	for _, ts := range []time.Time{
		time.UnixMilli(1_700_000_040_000), // on a minute
		time.UnixMilli(1_700_000_041_123), // off every grid
	} {
		for _, sub := range []string{
			"[1m:1s]", "[1h:1m]", "[5m:7s]", "[10s:1m]", "[90s:]", "[1m:1s] offset 17s",
			"[1m:1s] offset -3s", "[30d:1h]", "[1h:1m] @ 1700000000",
		} {
			expr := "count_over_time(vector(1)" + sub + ")"
			q, err := r.engine.NewInstantQuery(t.Context(), r, nil, expr, ts)
			if err != nil {
				t.Fatal(err)
			}
			got, over := r.subquerySteps(q.Statement())
			res := q.Exec(t.Context())
			q.Close()
			if res.Err != nil || over != nil {
				t.Fatalf("%s: %v, over %v", expr, res.Err, over)
			}
			var want int64
			if v := res.Value.(promql.Vector); len(v) == 1 {
				want = int64(v[0].F)
			}
			if got != want {
				t.Errorf("%s at %d: counted %d steps, the engine evaluated %d", expr, ts.UnixMilli(), got, want)
			}
		}
	}
}

// TestSubqueryStepsNestedAndRange checks what the engine's grid implies
// beyond a single instant subquery: a nested subquery runs once over its
// parent's range widened by its own, a subquery in a range query over the
// whole range, and one pinned with @ only once.
func TestSubqueryStepsNestedAndRange(t *testing.T) {
	r := New()
	ts := time.Unix(1_700_000_040, 0) // on a minute
	count := func(expr string, start, end time.Time, step time.Duration) int64 {
		t.Helper()
		var q promql.Query
		var err error
		if step == 0 {
			q, err = r.engine.NewInstantQuery(t.Context(), r, nil, expr, start)
		} else {
			q, err = r.engine.NewRangeQuery(t.Context(), r, nil, expr, start, end, step)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		n, _ := r.subquerySteps(q.Statement())
		return n
	}
	for _, tc := range []struct {
		expr       string
		start, end time.Time
		step       time.Duration
		want       int64
	}{
		// Outer: a day of minutes. Inner: from the outer's first step
		// (ts-1d+1m) back one hour, to ts, in seconds.
		{"max_over_time(max_over_time(vector(1)[1h:1s])[1d:1m])", ts, ts, 0,
			1440 + (24*3600 - 60 + 3600 - 1) + 1},
		// A range query of 11 steps a minute apart widens the subquery
		// by 10 minutes.
		{"max_over_time(vector(1)[1h:1s])", ts, ts.Add(10 * time.Minute), time.Minute, 3600 + 600},
		// Pinned with @: evaluated once whatever the range.
		{"max_over_time(vector(1)[1h:1s] @ 1700000040)", ts, ts.Add(10 * time.Minute), time.Minute, 3600},
		{"sum(rate(x[5m]))", ts, ts, 0, 0},
	} {
		if got := count(tc.expr, tc.start, tc.end, tc.step); got != tc.want {
			t.Errorf("%s over %v..%v step %v: %d steps, want %d", tc.expr, tc.start, tc.end, tc.step, got, tc.want)
		}
	}
}
