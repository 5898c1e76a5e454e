package bizmetrics_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vitalsgo/vitals/bizmetrics"
)

// codeError is a driver error with a low-cardinality class.
type codeError struct{ code string }

func (e *codeError) Error() string     { return "failed for customer alice@example.com: " + e.code }
func (e *codeError) ErrorType() string { return e.code }

type plainError struct{}

func (plainError) Error() string { return "plain" }

func TestErrorType(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{sql.ErrNoRows, ""},
		{fmt.Errorf("find order: %w", sql.ErrNoRows), ""},
		{&codeError{"23505"}, "23505"},
		{fmt.Errorf("insert: %w", &codeError{"40001"}), "40001"},
		{&codeError{""}, "*bizmetrics_test.codeError"},
		{context.DeadlineExceeded, "context.DeadlineExceeded"},
		{fmt.Errorf("query: %w", context.Canceled), "context.Canceled"},
		{driver.ErrBadConn, "driver.ErrBadConn"},
		{errors.New("secret text"), "*errors.errorString"},
		{fmt.Errorf("a: %w", fmt.Errorf("b: %w", plainError{})), "bizmetrics_test.plainError"},
		{errors.Join(plainError{}, plainError{}), "*errors.joinError"},
	} {
		if got := bizmetrics.ErrorType(tt.err); got != tt.want {
			t.Errorf("ErrorType(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestDB(t *testing.T) {
	clk := newClock()
	clk.step = time.Millisecond // every timed operation takes 1 ms
	e := newEnv(t, bizmetrics.WithClock(clk))
	ctx := t.Context()
	errDup := &codeError{"23505"}

	calls := 0
	run := func(err error) func() error {
		return func() error {
			calls++
			return err
		}
	}
	if err := e.m.DB(ctx, "sqlite", "SELECT", "orders", run(nil)); err != nil {
		t.Fatal(err)
	}
	if err := e.m.DB(ctx, "sqlite", "SELECT", "orders", run(sql.ErrNoRows)); err != sql.ErrNoRows {
		t.Errorf("DB returned %v, want fn's error unchanged", err)
	}
	if err := e.m.DB(ctx, "sqlite", "INSERT", "orders", run(errDup)); err != errDup {
		t.Errorf("DB returned %v, want fn's error unchanged", err)
	}
	e.m.RecordDB(ctx, "postgresql", "UPDATE", "", 250*time.Millisecond, nil)
	op, err := e.m.DBOperations("sqlite", "DELETE", "carts")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][2]string{{"", "DELETE"}, {"sqlite", ""}} {
		if _, err := e.m.DBOperations(bad[0], bad[1], "carts"); !errors.Is(err, bizmetrics.ErrEmptyName) {
			t.Errorf("DBOperations(%q, %q) = %v, want ErrEmptyName", bad[0], bad[1], err)
		}
	}
	if err := op.Do(ctx, run(nil)); err != nil {
		t.Fatal(err)
	}
	op.Record(ctx, 2*time.Second, context.DeadlineExceeded)
	if calls != 4 {
		t.Errorf("fn ran %d times, want 4", calls)
	}

	got := e.scrape(t)
	const d = "db_client_operation_duration_seconds"
	for s, want := range map[string]float64{
		d + `_count{db_collection_name="orders",db_operation_name="SELECT",db_system_name="sqlite"}`:                                      2,
		d + `_sum{db_collection_name="orders",db_operation_name="SELECT",db_system_name="sqlite"}`:                                        0.002,
		d + `_count{db_collection_name="orders",db_operation_name="INSERT",db_system_name="sqlite",error_type="23505"}`:                   1,
		d + `_count{db_operation_name="UPDATE",db_system_name="postgresql"}`:                                                              1,
		d + `_sum{db_operation_name="UPDATE",db_system_name="postgresql"}`:                                                                0.25,
		d + `_count{db_collection_name="carts",db_operation_name="DELETE",db_system_name="sqlite"}`:                                       1,
		d + `_count{db_collection_name="carts",db_operation_name="DELETE",db_system_name="sqlite",error_type="context.DeadlineExceeded"}`: 1,
		d + `_sum{db_collection_name="carts",db_operation_name="DELETE",db_system_name="sqlite",error_type="context.DeadlineExceeded"}`:   2,
		// The semantic conventions' buckets: 1 ms is in le="0.001".
		d + `_bucket{db_collection_name="orders",db_operation_name="SELECT",db_system_name="sqlite",le="0.001"}`: 2,
		d + `_bucket{db_operation_name="UPDATE",db_system_name="postgresql",le="0.1"}`:                           0,
		d + `_bucket{db_operation_name="UPDATE",db_system_name="postgresql",le="0.5"}`:                           1,
	} {
		if v, ok := got[s]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", s, v, ok, want)
		}
	}
	if n := countPrefix(got, d+"_count"); n != 5 {
		t.Errorf("%d database series, want 5", n)
	}
}

func TestDBCaps(t *testing.T) {
	e := newEnv(t, bizmetrics.WithMaxDBOperations(1), bizmetrics.WithMaxDBCollections(1))
	ctx := t.Context()
	for _, k := range [][3]string{
		{"sqlite", "SELECT", "orders"},
		{"sqlite", "INSERT", "orders"}, // operation past the cap
		{"sqlite", "SELECT", "users"},  // collection past the cap
		{"mysql", "SELECT", "orders"},  // system past the cap
		{"", "SELECT", "orders"},       // no system
		{"sqlite", "", ""},             // no operation, no collection
		{"sqlite", "_OTHER", "orders"}, // the overflow value itself
	} {
		e.m.RecordDB(ctx, k[0], k[1], k[2], time.Millisecond, nil)
	}
	// 25 error classes: 20 kept, 5 as _OTHER.
	for i := range 25 {
		e.m.RecordDB(ctx, "sqlite", "SELECT", "orders", time.Millisecond, &codeError{"E" + strconv.Itoa(i)})
	}
	got := e.scrape(t)
	const d = "db_client_operation_duration_seconds_count"
	for s, want := range map[string]float64{
		d + `{db_collection_name="orders",db_operation_name="SELECT",db_system_name="sqlite"}`: 1,
		d + `{db_collection_name="orders",db_operation_name="_OTHER",db_system_name="sqlite"}`: 2,
		d + `{db_collection_name="_OTHER",db_operation_name="SELECT",db_system_name="sqlite"}`: 1,
		d + `{db_collection_name="orders",db_operation_name="SELECT",db_system_name="_OTHER"}`: 2,
		d + `{db_system_name="sqlite"}`: 1,
		d + `{db_collection_name="orders",db_operation_name="SELECT",db_system_name="sqlite",error_type="E0"}`:     1,
		d + `{db_collection_name="orders",db_operation_name="SELECT",db_system_name="sqlite",error_type="E19"}`:    1,
		d + `{db_collection_name="orders",db_operation_name="SELECT",db_system_name="sqlite",error_type="_OTHER"}`: 5,
	} {
		if got[s] != want {
			t.Errorf("%s = %v, want %v", s, got[s], want)
		}
	}
	if n := countPrefix(got, d); n != 5+21 {
		t.Errorf("%d database series, want 26", n)
	}
}

// TestDBAttributeSetsBound checks that past the histogram's regular sets
// (WithMaxAttributeSets less an overflow set for each operation and the
// SDK's), a new combination is recorded in its operation's overflow set.
func TestDBAttributeSetsBound(t *testing.T) {
	// 8 sets: 1 for the SDK, 4 for the overflow sets of SELECT, INSERT,
	// _OTHER and none, 3 regular.
	e := newEnv(t, bizmetrics.WithMaxAttributeSets(8), bizmetrics.WithMaxDBOperations(2))
	ctx := t.Context()
	for range 3 {
		for _, coll := range []string{"a", "b", "c", "d", "e"} {
			e.m.RecordDB(ctx, "sqlite", "SELECT", coll, time.Millisecond, nil)
		}
	}
	e.m.RecordDB(ctx, "sqlite", "INSERT", "a", time.Millisecond, nil)
	got := e.scrape(t)
	want := map[string]float64{
		`db_client_operation_duration_seconds_count{db_collection_name="a",db_operation_name="SELECT",db_system_name="sqlite"}`:      3,
		`db_client_operation_duration_seconds_count{db_collection_name="b",db_operation_name="SELECT",db_system_name="sqlite"}`:      3,
		`db_client_operation_duration_seconds_count{db_collection_name="c",db_operation_name="SELECT",db_system_name="sqlite"}`:      3,
		`db_client_operation_duration_seconds_count{db_operation_name="SELECT",db_system_name="_OTHER",otel_metric_overflow="true"}`: 6,
		`db_client_operation_duration_seconds_count{db_operation_name="INSERT",db_system_name="_OTHER",otel_metric_overflow="true"}`: 1,
	}
	n := 0
	for s, v := range got {
		if strings.HasPrefix(s, "db_client_operation_duration_seconds_count") {
			n++
			if want[s] != v {
				t.Errorf("%s = %v, want %v", s, v, want[s])
			}
		}
	}
	if n != len(want) {
		t.Errorf("%d series, want %d: %v", n, len(want), got)
	}
}

// TestDBOperationsShareTheSDKLimit records more combinations than the SDK
// keeps for the histogram, concurrently: none reaches the SDK's overflow
// set, which has no db.operation.name, so sum by (db_operation_name) is
// exact.
func TestDBOperationsShareTheSDKLimit(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	const ops, extraOps, colls = bizmetrics.DefaultMaxDBOperations, 5, 60
	var wg sync.WaitGroup
	for i := range ops + extraOps {
		wg.Go(func() {
			for j := range colls {
				e.m.RecordDB(ctx, "sqlite", fmt.Sprint("OP", i), fmt.Sprint("t", j), time.Millisecond, nil)
			}
		})
	}
	wg.Wait()
	checkSharesSDKLimit(t, e.scrape(t), "db_client_operation_duration_seconds", "db_operation_name", ops, extraOps, colls)
}
