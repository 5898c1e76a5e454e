package bizmetrics

import (
	"fmt"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

func TestDBSpanName(t *testing.T) {
	for _, c := range []struct{ system, op, coll, want string }{
		{"sqlite", "SELECT", "orders", "SELECT orders"},
		{"sqlite", "CREATE", "", "CREATE"},
		{"sqlite", Overflow, "orders", "orders"},
		{"sqlite", "", "orders", "orders"},
		{"sqlite", Overflow, "", "sqlite"},
		{"sqlite", "", "", "sqlite"},
		{Overflow, "", "", Overflow},
	} {
		if got := dbSpanName(c.system, c.op, c.coll); got != c.want {
			t.Errorf("dbSpanName(%q, %q, %q) = %q, want %q", c.system, c.op, c.coll, got, c.want)
		}
	}
}

// TestDBSpanStartsCap checks that the span starts kept stop at the cap,
// and that keys past it still get theirs.
func TestDBSpanStartsCap(t *testing.T) {
	s := newDBSpanStarts(3)
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			for range 100 {
				k := dbKey{system: "", operation: "SELECT", collection: fmt.Sprint("t", i)}
				got := s.get(k)
				if want := "SELECT " + k.collection; got.name != want {
					t.Errorf("name %q, want %q", got.name, want)
				}
				cfg := trace.NewSpanStartConfig(got.attrs)
				attrs := cfg.Attributes()
				if len(attrs) != 3 || attrs[0].Value.AsString() != Overflow || attrs[2].Value.AsString() != k.collection {
					t.Errorf("attributes %v", attrs)
				}
			}
		})
	}
	wg.Wait()
	if n := len(s.m.snapshot()); n != 3 {
		t.Errorf("%d span starts kept, want 3", n)
	}
	if !s.full.Load() {
		t.Error("not full past the cap")
	}
}
