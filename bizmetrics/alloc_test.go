package bizmetrics_test

import (
	"errors"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/vitalsgo/vitals/bizmetrics"
)

// allocCases returns the recordings whose allocations are held: bound
// handles must allocate nothing, unbound calls at most once. Each has run
// once before, so that its handle exists.
func allocCases(t *testing.T) (bound, unbound map[string]func()) {
	e := newEnv(t, bizmetrics.WithCacheDuration())
	m := e.m
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	eur, err := m.Orders("EUR")
	must(err)
	web, err := m.Registrations("web")
	must(err)
	sessions, err := m.CacheOperations("sessions")
	must(err)
	counter, err := m.Counter("jobs", "{job}", "")
	must(err)
	fcounter, err := m.FloatCounter("weight", "kg", "")
	must(err)
	updown, err := m.UpDownCounter("carts", "{cart}", "")
	must(err)
	gauge, err := m.Gauge("stock", "{item}", "")
	must(err)
	hist, err := m.Histogram("render", "s", "")
	must(err)
	queue := attribute.String("queue", "mail")
	jobs := counter.Bind(queue)
	weight := fcounter.Bind(queue)
	carts := updown.Bind(queue)
	stock := gauge.Bind(queue)
	render := hist.Bind(queue)
	dbop, err := m.DBOperations("sqlite", "SELECT", "orders")
	if err != nil {
		t.Fatal(err)
	}
	errFail := errors.New("fail")

	bound = map[string]func(){
		"BoundCounter.Add":       func() { jobs.Add(ctx, 1) },
		"BoundFloatCounter.Add":  func() { weight.Add(ctx, 0.5) },
		"BoundUpDownCounter.Add": func() { carts.Add(ctx, -1) },
		"BoundGauge.Set":         func() { stock.Set(ctx, 3) },
		"BoundHistogram.Record":  func() { render.Record(ctx, 0.2) },
		"Orders.Record":          func() { _ = eur.Record(ctx, 42.5) },
		"registrations Add":      func() { web.Add(ctx, 1) },
		"Cache.Hit":              func() { sessions.Hit(ctx) },
		"Cache.Record":           func() { sessions.Record(ctx, bizmetrics.CacheGet, bizmetrics.CacheMiss, time.Millisecond) },
		"DBOperation.Record":     func() { dbop.Record(ctx, time.Millisecond, nil) },
		"DBOperation.Do":         func() { _ = dbop.Do(ctx, func() error { return nil }) },
	}
	unbound = map[string]func(){
		"Order":                   func() { _ = m.Order(ctx, "EUR", 42.5) },
		"Registration":            func() { _ = m.Registration(ctx, "web") },
		"APICall":                 func() { _ = m.APICall(ctx, "createOrder") },
		"CountCache":              func() { _ = m.CountCache(ctx, "sessions", bizmetrics.CacheGet, bizmetrics.CacheHit) },
		"Counter.Add attrs":       func() { counter.Add(ctx, 1, attribute.String("queue", "mail"), attribute.Int("shard", 3)) },
		"Histogram.Record attrs":  func() { hist.Record(ctx, 0.2, attribute.String("queue", "mail")) },
		"Time/Stop":               func() { tm := m.Time(ctx, "checkout", attribute.String("step", "pay")); tm.Stop() },
		"RecordDB":                func() { m.RecordDB(ctx, "sqlite", "SELECT", "orders", time.Millisecond, nil) },
		"RecordDB failed (known)": func() { m.RecordDB(ctx, "sqlite", "SELECT", "orders", time.Millisecond, errFail) },
		"DB":                      func() { _ = m.DB(ctx, "sqlite", "INSERT", "orders", func() error { return nil }) },
	}
	for _, f := range bound {
		f()
	}
	for _, f := range unbound {
		f()
	}
	return bound, unbound
}

// TestAllocations holds the zero-allocation claims of docs/benchmarks.md.
func TestAllocations(t *testing.T) {
	bound, unbound := allocCases(t)
	for name, f := range bound {
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s: %v allocations, want 0", name, n)
		}
	}
	for name, f := range unbound {
		if n := testing.AllocsPerRun(1000, f); n > 1 {
			t.Errorf("%s: %v allocations, want at most 1", name, n)
		} else if n != 0 {
			t.Logf("%s: %v allocations", name, n)
		}
	}
}
