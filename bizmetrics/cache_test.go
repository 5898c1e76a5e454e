package bizmetrics_test

import (
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/vitalsgo/vitals/bizmetrics"
	"github.com/vitalsgo/vitals/performance"
)

func TestCache(t *testing.T) {
	e := newEnv(t, bizmetrics.WithCacheDuration(), bizmetrics.WithMaxCacheNames(2))
	ctx := t.Context()
	sessions, err := e.m.CacheOperations("sessions")
	if err != nil {
		t.Fatal(err)
	}
	products, err := e.m.CacheOperations("products")
	if err != nil {
		t.Fatal(err)
	}
	// Bound caches report hits and misses at 0 from the start.
	got := e.scrape(t)
	for _, s := range []string{
		`app_cache_operations_total{cache_name="products",cache_operation="get",cache_result="hit"}`,
		`app_cache_operations_total{cache_name="products",cache_operation="get",cache_result="miss"}`,
	} {
		if v, ok := got[s]; !ok || v != 0 {
			t.Errorf("%s = %v (present %v), want 0", s, v, ok)
		}
	}

	for range 3 {
		sessions.Hit(ctx)
	}
	sessions.Miss(ctx)
	sessions.Set(ctx)
	sessions.Delete(ctx)
	sessions.Record(ctx, bizmetrics.CacheGet, bizmetrics.CacheHit, 2*time.Millisecond)
	products.Miss(ctx)
	if err := e.m.CountCache(ctx, "products", bizmetrics.CacheDelete, bizmetrics.CacheMiss); err != nil {
		t.Fatal(err)
	}
	// Past the cap of 2 names.
	if err := e.m.CountCache(ctx, "users", bizmetrics.CacheGet, bizmetrics.CacheHit); err != nil {
		t.Fatal(err)
	}
	users, err := e.m.CacheOperations("users")
	if err != nil {
		t.Fatal(err)
	}
	if users.Name() != bizmetrics.Overflow {
		t.Errorf("users.Name() = %q past the cap, want %q", users.Name(), bizmetrics.Overflow)
	}

	before := e.scrape(t)
	for s, want := range map[string]float64{
		`app_cache_operations_total{cache_name="sessions",cache_operation="get",cache_result="hit"}`:     4,
		`app_cache_operations_total{cache_name="sessions",cache_operation="get",cache_result="miss"}`:    1,
		`app_cache_operations_total{cache_name="sessions",cache_operation="set"}`:                        1,
		`app_cache_operations_total{cache_name="sessions",cache_operation="delete"}`:                     1,
		`app_cache_operations_total{cache_name="products",cache_operation="get",cache_result="hit"}`:     0,
		`app_cache_operations_total{cache_name="products",cache_operation="get",cache_result="miss"}`:    1,
		`app_cache_operations_total{cache_name="products",cache_operation="delete",cache_result="miss"}`: 1,
		`app_cache_operations_total{cache_name="_OTHER",cache_operation="get",cache_result="hit"}`:       1,
		`app_cache_operations_total{cache_name="_OTHER",cache_operation="get",cache_result="miss"}`:      0,
		// Only Record records a duration.
		`app_cache_operation_duration_seconds_count{cache_name="sessions",cache_operation="get",cache_result="hit"}`: 1,
		`app_cache_operation_duration_seconds_sum{cache_name="sessions",cache_operation="get",cache_result="hit"}`:   0.002,
	} {
		if v, ok := before[s]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", s, v, ok, want)
		}
	}
	if n := countPrefix(before, "app_cache_operations_total"); n != 9 {
		t.Errorf("%d cache series, want 9", n)
	}

	// Invalid input: errors, and nothing changes.
	for _, tt := range []struct {
		name string
		op   bizmetrics.CacheOperation
		res  bizmetrics.CacheResult
		want error
	}{
		{"", bizmetrics.CacheGet, bizmetrics.CacheHit, bizmetrics.ErrEmptyName},
		{"sessions", bizmetrics.CacheOperationUnknown, bizmetrics.CacheHit, bizmetrics.ErrInvalidCacheOperation},
		{"sessions", bizmetrics.CacheOperation(9), bizmetrics.CacheHit, bizmetrics.ErrInvalidCacheOperation},
		{"sessions", bizmetrics.CacheGet, bizmetrics.CacheResult(7), bizmetrics.ErrInvalidCacheOperation},
	} {
		if err := e.m.CountCache(ctx, tt.name, tt.op, tt.res); !errors.Is(err, tt.want) {
			t.Errorf("CountCache(%q, %v, %v) = %v, want %v", tt.name, tt.op, tt.res, err, tt.want)
		}
	}
	if c, err := e.m.CacheOperations(""); c != nil || !errors.Is(err, bizmetrics.ErrEmptyName) {
		t.Errorf("Cache(\"\") = %v, %v; want nil, ErrEmptyName", c, err)
	}
	sessions.Count(ctx, bizmetrics.CacheOperationUnknown, bizmetrics.CacheResultNone)
	sessions.Record(ctx, bizmetrics.CacheSet, bizmetrics.CacheResult(3), time.Second)
	var nilCache *bizmetrics.Cache
	nilCache.Hit(ctx)
	if after := e.scrape(t); !maps.Equal(after, before) {
		t.Errorf("invalid cache operations changed the metrics:\nbefore %v\nafter  %v", before, after)
	}
}

func TestCacheStrings(t *testing.T) {
	for op, want := range map[bizmetrics.CacheOperation]string{
		bizmetrics.CacheOperationUnknown: "unknown", bizmetrics.CacheGet: "get", bizmetrics.CacheSet: "set",
		bizmetrics.CacheDelete: "delete", bizmetrics.CacheOperation(42): "unknown",
	} {
		if got := op.String(); got != want {
			t.Errorf("CacheOperation(%d).String() = %q, want %q", op, got, want)
		}
	}
	for res, want := range map[bizmetrics.CacheResult]string{
		bizmetrics.CacheResultNone: "none", bizmetrics.CacheHit: "hit", bizmetrics.CacheMiss: "miss",
		bizmetrics.CacheResult(42): "unknown",
	} {
		if got := res.String(); got != want {
			t.Errorf("CacheResult(%d).String() = %q, want %q", res, got, want)
		}
	}
}

// TestCacheHitRatio checks the documented PromQL and the performance
// summary's cacheHitRatio over the memory reader.
func TestCacheHitRatio(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	sessions, err := e.m.CacheOperations("sessions")
	if err != nil {
		t.Fatal(err)
	}
	products, err := e.m.CacheOperations("products")
	if err != nil {
		t.Fatal(err)
	}
	e.collect(t) // hits and misses at 0
	for range 2 {
		for range 6 {
			sessions.Hit(ctx)
		}
		for range 2 {
			sessions.Miss(ctx)
		}
		sessions.Set(ctx)
		for range 3 {
			products.Hit(ctx)
			products.Miss(ctx)
		}
		e.collect(t)
	}

	// The documented expression, over the 30 s that hold the three
	// collections: increase is exact since the series start at 0.
	const ratio = `sum by (cache_name) (rate(app_cache_operations_total{cache_result="hit"}[30s]))
  / sum by (cache_name) (rate(app_cache_operations_total{cache_result=~"hit|miss"}[30s]))`
	got := e.query(t, ratio)
	for s, want := range map[string]float64{
		`{cache_name="sessions"}`: 0.75,
		`{cache_name="products"}`: 0.5,
	} {
		if !approx(got[s], want) {
			t.Errorf("hit ratio %s = %v, want %v (all: %v)", s, got[s], want, got)
		}
	}

	s, err := performance.Summarize(ctx, e.mem, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := s.CacheHitRatio
	if c.Ratio != 18.0/28 || c.Hits != 18 || c.Lookups != 28 {
		t.Errorf("summary cacheHitRatio = %+v, want 18 hits of 28 lookups", c)
	}
	want := []performance.CacheRatio{
		{Name: "sessions", Ratio: 0.75, Hits: 12, Lookups: 16},
		{Name: "products", Ratio: 0.5, Hits: 6, Lookups: 12},
	}
	if len(c.Caches) != len(want) {
		t.Fatalf("summary caches = %+v, want %+v", c.Caches, want)
	}
	for i := range want {
		if c.Caches[i] != want[i] {
			t.Errorf("summary caches[%d] = %+v, want %+v", i, c.Caches[i], want[i])
		}
	}

	// Another namespace: the summary reads its series when told.
	e2 := newEnv(t, bizmetrics.WithNamespace("shop"))
	c2, err := e2.m.CacheOperations("sessions")
	if err != nil {
		t.Fatal(err)
	}
	e2.collect(t)
	c2.Hit(ctx)
	c2.Miss(ctx)
	e2.collect(t)
	s2, err := performance.Summarize(ctx, e2.mem, 20*time.Second, performance.WithCacheSeries("shop_cache_operations_total"))
	if err != nil {
		t.Fatal(err)
	}
	if s2.CacheHitRatio.Ratio != 0.5 || s2.CacheHitRatio.Lookups != 2 {
		t.Errorf("summary of namespace shop: %+v, want 1 hit of 2", s2.CacheHitRatio)
	}
}
