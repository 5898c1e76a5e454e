package bizmetrics_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/vitalsgo/vitals/bizmetrics"
	"github.com/vitalsgo/vitals/clock/clocktest"
)

// newTracing returns a real tracer provider that samples every span, and
// the recorder of its ended spans.
func newTracing(t testing.TB, opts ...sdktrace.TracerProviderOption) (*sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(append([]sdktrace.TracerProviderOption{sdktrace.WithSpanProcessor(rec)}, opts...)...)
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, rec
}

// growingClock advances by one more millisecond at every Now (1 ms, then
// 2 ms, ...), so that no two timed operations take the same time.
type growingClock struct {
	*clocktest.Clock
	n atomic.Int64
}

func newGrowingClock() *growingClock {
	return &growingClock{Clock: clocktest.New(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))}
}

func (c *growingClock) Now() time.Time {
	return c.Advance(time.Duration(c.n.Add(1)) * time.Millisecond)
}

// spanText returns everything a span carries that could hold a value of
// the statement: its name, status, attributes, events and links.
func spanText(s sdktrace.ReadOnlySpan) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %v %q", s.Name(), s.Status().Code, s.Status().Description)
	for _, kv := range s.Attributes() {
		fmt.Fprintf(&b, " %s=%s", kv.Key, kv.Value.Emit())
	}
	for _, e := range s.Events() {
		fmt.Fprintf(&b, " event %s", e.Name)
		for _, kv := range e.Attributes {
			fmt.Fprintf(&b, " %s=%s", kv.Key, kv.Value.Emit())
		}
	}
	for _, l := range s.Links() {
		for _, kv := range l.Attributes {
			fmt.Fprintf(&b, " link %s=%s", kv.Key, kv.Value.Emit())
		}
	}
	return b.String()
}

// attrMap returns the attributes as strings, by key.
func attrMap(kvs []attribute.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}

// dbSeriesOf returns the database histogram's series of a span's
// attributes, as dbSeries keys it.
func dbSeriesOf(s sdktrace.ReadOnlySpan) string {
	labels := map[string]string{}
	for k, v := range attrMap(s.Attributes()) {
		labels[strings.ReplaceAll(k, ".", "_")] = v
	}
	return series("", labels)
}

// dbSums returns the sum of every db.client.operation.duration series,
// keyed by its labels.
func dbSums(got map[string]float64) map[string]float64 {
	out := map[string]float64{}
	const prefix = "db_client_operation_duration_seconds_sum"
	for s, v := range got {
		if rest, ok := strings.CutPrefix(s, prefix); ok {
			out[rest] = v
		}
	}
	return out
}

// secret is an argument value that must appear in no span.
const secret = "zq-secret-4711@example.com"

func TestWrapConnectorSpans(t *testing.T) {
	tp, rec := newTracing(t)
	e := newEnv(t, bizmetrics.WithClock(newGrowingClock()), bizmetrics.WithTracerProvider(tp))
	db := openSQLite(t, e.m)
	ctx, parent := tp.Tracer("test").Start(t.Context(), "request")

	mustExec := func(ctx context.Context, q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	mustExec(ctx, `CREATE TABLE orders (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, amount REAL)`)
	mustExec(ctx, `INSERT INTO orders (email, amount) VALUES (?, ?)`, secret, 4711.93)
	// A constraint violation.
	if _, err := db.ExecContext(ctx, `INSERT INTO orders (email, amount) VALUES (?, ?)`, secret, 4711.93); err == nil {
		t.Fatal("duplicate insert: no error")
	}
	// A query, and one without rows, which is no failure.
	rows, err := db.QueryContext(ctx, `SELECT id, amount FROM orders WHERE email = ?`, secret)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `SELECT amount FROM orders WHERE email = ?`, "nobody-4711").Scan(new(float64)); err != sql.ErrNoRows {
		t.Fatalf("QueryRow: %v, want sql.ErrNoRows", err)
	}
	// A syntax error, with a literal in the statement.
	if _, err := db.ExecContext(ctx, `SELEC * FROM orders WHERE email = 'literal-4711'`); err == nil {
		t.Fatal("syntax error: no error")
	}
	// A prepared statement, and a Prepare that fails.
	stmt, err := db.PrepareContext(ctx, `UPDATE orders SET amount = ? WHERE email = ?`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stmt.ExecContext(ctx, 4711.5, secret); err != nil {
		t.Fatal(err)
	}
	if err := stmt.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.PrepareContext(ctx, `DELETE FROM nowhere`); err == nil {
		t.Fatal("prepare on a missing table: no error")
	}
	// A transaction.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM orders WHERE email = ?`, secret); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	// The caller's collection, also when the operation is unknown.
	if err := db.QueryRowContext(bizmetrics.ContextWithCollection(ctx, "order_report"), `SELECT count(*) FROM orders`).Scan(new(int)); err != nil {
		t.Fatal(err)
	}
	mustExec(bizmetrics.ContextWithCollection(ctx, "orders"), `VACUUM`)
	if _, err := db.ExecContext(bizmetrics.ContextWithCollection(ctx, "orders"), `NOTAKEYWORD orders`); err == nil {
		t.Fatal("unknown statement: no error")
	}
	parent.End()
	// Without a span in the context, a root span.
	mustExec(context.Background(), `DELETE FROM orders`)

	type want struct {
		name   string
		attrs  map[string]string
		failed bool
		root   bool
	}
	db1 := func(op, coll string) map[string]string {
		m := map[string]string{"db.system.name": "sqlite", "db.operation.name": op}
		if coll != "" {
			m["db.collection.name"] = coll
		}
		return m
	}
	failed := func(m map[string]string) map[string]string {
		m["error.type"] = "*sqlite.Error"
		return m
	}
	wants := []want{
		{name: "CREATE", attrs: db1("CREATE", "")},
		{name: "INSERT orders", attrs: db1("INSERT", "orders")},
		{name: "INSERT orders", attrs: failed(db1("INSERT", "orders")), failed: true},
		{name: "SELECT orders", attrs: db1("SELECT", "orders")},
		{name: "SELECT orders", attrs: db1("SELECT", "orders")},
		{name: "sqlite", attrs: failed(db1("_OTHER", "")), failed: true},
		{name: "UPDATE orders", attrs: db1("UPDATE", "orders")},
		{name: "DELETE nowhere", attrs: failed(db1("DELETE", "nowhere")), failed: true},
		{name: "DELETE orders", attrs: db1("DELETE", "orders")},
		{name: "SELECT order_report", attrs: db1("SELECT", "order_report")},
		{name: "VACUUM orders", attrs: db1("VACUUM", "orders")},
		{name: "orders", attrs: failed(db1("_OTHER", "orders")), failed: true},
		{name: "DELETE orders", attrs: db1("DELETE", "orders"), root: true},
	}
	var spans []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.SpanContext().SpanID() != parent.SpanContext().SpanID() {
			spans = append(spans, s)
		}
	}
	if len(spans) != len(wants) {
		for _, s := range spans {
			t.Log(spanText(s))
		}
		t.Fatalf("%d database spans, want %d", len(spans), len(wants))
	}
	durations := map[string]time.Duration{}
	counts := map[string]float64{}
	for i, s := range spans {
		w := wants[i]
		if s.Name() != w.name {
			t.Errorf("span %d: name %q, want %q", i, s.Name(), w.name)
		}
		if s.SpanKind() != trace.SpanKindClient {
			t.Errorf("%s: kind %v, want client", s.Name(), s.SpanKind())
		}
		if s.InstrumentationScope().Name != bizmetrics.ScopeName {
			t.Errorf("%s: scope %q, want %q", s.Name(), s.InstrumentationScope().Name, bizmetrics.ScopeName)
		}
		switch {
		case w.root && s.Parent().IsValid():
			t.Errorf("%s: parent %v, want none", s.Name(), s.Parent().SpanID())
		case !w.root && (s.Parent().SpanID() != parent.SpanContext().SpanID() || s.SpanContext().TraceID() != parent.SpanContext().TraceID()):
			t.Errorf("%s: parent %v in trace %v, want the request span %v in %v", s.Name(),
				s.Parent().SpanID(), s.SpanContext().TraceID(), parent.SpanContext().SpanID(), parent.SpanContext().TraceID())
		}
		if got := attrMap(s.Attributes()); fmt.Sprint(got) != fmt.Sprint(w.attrs) {
			t.Errorf("%s: attributes %v, want %v", s.Name(), got, w.attrs)
		}
		if w.failed {
			if s.Status().Code != codes.Error || s.Status().Description != "" {
				t.Errorf("%s: status %v %q, want Error without a description", s.Name(), s.Status().Code, s.Status().Description)
			}
			ev := s.Events()
			if len(ev) != 1 || ev[0].Name != "exception" {
				t.Errorf("%s: events %v, want one exception", s.Name(), ev)
			} else {
				if got := attrMap(ev[0].Attributes); fmt.Sprint(got) != fmt.Sprint(map[string]string{"exception.type": "*sqlite.Error"}) {
					t.Errorf("%s: exception attributes %v, want exception.type only", s.Name(), got)
				}
				if !ev[0].Time.Equal(s.EndTime()) {
					t.Errorf("%s: exception at %v, want the end %v", s.Name(), ev[0].Time, s.EndTime())
				}
			}
		} else if s.Status().Code != codes.Unset || len(s.Events()) != 0 {
			t.Errorf("%s: status %v, events %v; want Unset, none", s.Name(), s.Status().Code, s.Events())
		}
		for _, leak := range []string{"4711", "example.com", "literal", "nobody", "SELEC ", "?", "UNIQUE"} {
			if text := spanText(s); strings.Contains(text, leak) {
				t.Errorf("span %s carries %q from the statement or the error: %s", s.Name(), leak, text)
			}
		}
		key := dbSeriesOf(s)
		durations[key] += s.EndTime().Sub(s.StartTime())
		counts[key]++
	}

	// The spans are the operations the histogram recorded, each as long
	// as its recording.
	got := e.scrape(t)
	series, sums := dbSeries(got), dbSums(got)
	if len(series) != len(counts) {
		t.Errorf("%d db series, %d kinds of span: %v, %v", len(series), len(counts), series, counts)
	}
	for key, n := range counts {
		if series[key] != n {
			t.Errorf("db series %s: count %v, %v spans", key, series[key], n)
		}
		if !approx(sums[key], durations[key].Seconds()) {
			t.Errorf("db series %s: sum %v s, spans %v", key, sums[key], durations[key])
		}
	}
}

// TestWrapConnectorSpanExemplar checks that the duration is recorded in
// the span's context: its exemplar points to the database span, not to
// the request's.
func TestWrapConnectorSpanExemplar(t *testing.T) {
	tp, rec := newTracing(t)
	r := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r), sdkmetric.WithExemplarFilter(exemplar.TraceBasedFilter))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	m, err := bizmetrics.New(bizmetrics.WithMeterProvider(mp), bizmetrics.WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	db := openSQLite(t, m)
	ctx, parent := tp.Tracer("test").Start(t.Context(), "request")
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (id INTEGER)`); err != nil {
		t.Fatal(err)
	}
	parent.End()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	var ex []metricdata.Exemplar[float64]
	for _, sm := range rm.ScopeMetrics {
		for _, md := range sm.Metrics {
			if h, ok := md.Data.(metricdata.Histogram[float64]); ok && md.Name == bizmetrics.MetricDBDuration {
				for _, dp := range h.DataPoints {
					ex = append(ex, dp.Exemplars...)
				}
			}
		}
	}
	spans := rec.Ended()
	if len(ex) != 1 || len(spans) != 2 {
		t.Fatalf("%d exemplars, %d spans; want 1 and 2", len(ex), len(spans))
	}
	if id := spans[0].SpanContext().SpanID(); trace.SpanID(ex[0].SpanID) != id {
		t.Errorf("exemplar of span %x, want the database span %v", ex[0].SpanID, id)
	}
}

// leakyDriver fails every statement with an error that quotes its first
// argument, as MySQL's "Duplicate entry '...' for key" does.
type leakyDriver struct{}

type leakyConn struct{}

type leakyError struct{ msg string }

func (e *leakyError) Error() string { return e.msg }

func (leakyConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("no prepare") }
func (leakyConn) Close() error                        { return nil }
func (leakyConn) Begin() (driver.Tx, error)           { return nil, errors.New("no transactions") }
func (leakyConn) ExecContext(_ context.Context, _ string, args []driver.NamedValue) (driver.Result, error) {
	return nil, fmt.Errorf("exec: %w", &leakyError{fmt.Sprintf("Duplicate entry '%v' for key 'email'", args[0].Value)})
}

func (leakyDriver) Connect(context.Context) (driver.Conn, error) { return leakyConn{}, nil }
func (leakyDriver) Driver() driver.Driver                        { return nil }

// TestWrapConnectorSpanErrorMessage checks that an error message quoting
// an argument reaches neither the span nor its exception event.
func TestWrapConnectorSpanErrorMessage(t *testing.T) {
	tp, rec := newTracing(t)
	e := newEnv(t, bizmetrics.WithTracerProvider(tp))
	db := sql.OpenDB(bizmetrics.WrapConnector(leakyDriver{}, e.m, "mysql"))
	defer db.Close()
	ctx, parent := tp.Tracer("test").Start(t.Context(), "request")
	if _, err := db.ExecContext(ctx, `INSERT INTO users (email) VALUES (?)`, secret); err == nil || !strings.Contains(err.Error(), secret) {
		t.Fatalf("exec: %v, want an error quoting the argument", err)
	}
	parent.End()
	spans := rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want the insert's and the request's", len(spans))
	}
	s := spans[0]
	if s.Name() != "INSERT users" || s.Status().Code != codes.Error {
		t.Errorf("span %s, status %v; want INSERT users, Error", s.Name(), s.Status().Code)
	}
	text := spanText(s)
	if !strings.Contains(text, "exception.type=*bizmetrics_test.leakyError") || !strings.Contains(text, "error.type=*bizmetrics_test.leakyError") {
		t.Errorf("span %s: no error.type and exception.type of the unwrapped error", text)
	}
	for _, leak := range []string{"4711", "example.com", "Duplicate", "exception.message"} {
		if strings.Contains(text, leak) {
			t.Errorf("span carries %q: %s", leak, text)
		}
	}
}

func TestCacheSpanEvents(t *testing.T) {
	tp, rec := newTracing(t)
	e := newEnv(t, bizmetrics.WithTracerProvider(tp), bizmetrics.WithCacheDuration())
	sessions, err := e.m.CacheOperations("sessions")
	if err != nil {
		t.Fatal(err)
	}
	ctx, span := tp.Tracer("test").Start(t.Context(), "request")
	sessions.Hit(ctx)
	sessions.Miss(ctx)
	sessions.Set(ctx)
	sessions.Delete(ctx)
	sessions.Record(ctx, bizmetrics.CacheGet, bizmetrics.CacheHit, time.Millisecond)
	if err := e.m.CountCache(ctx, "products", bizmetrics.CacheDelete, bizmetrics.CacheMiss); err != nil {
		t.Fatal(err)
	}
	sessions.Count(ctx, bizmetrics.CacheOperationUnknown, bizmetrics.CacheHit) // refused, no event
	// No span, and a span that is not recording: counted, no event.
	sessions.Hit(t.Context())
	unsampled, _ := newTracing(t, sdktrace.WithSampler(sdktrace.NeverSample()))
	uctx, uspan := unsampled.Tracer("test").Start(t.Context(), "unsampled")
	sessions.Hit(uctx)
	uspan.End()
	span.End()

	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want the request's only: cache operations are events", len(spans))
	}
	var got []string
	for _, ev := range spans[0].Events() {
		got = append(got, ev.Name+" "+fmt.Sprint(attrMap(ev.Attributes)))
	}
	want := []string{
		"cache.get map[cache.name:sessions cache.operation:get cache.result:hit]",
		"cache.get map[cache.name:sessions cache.operation:get cache.result:miss]",
		"cache.set map[cache.name:sessions cache.operation:set]",
		"cache.delete map[cache.name:sessions cache.operation:delete]",
		"cache.get map[cache.name:sessions cache.operation:get cache.result:hit]",
		"cache.delete map[cache.name:products cache.operation:delete cache.result:miss]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	s := `app_cache_operations_total{cache_name="sessions",cache_operation="get",cache_result="hit"}`
	if v := e.scrape(t)[s]; v != 4 {
		t.Errorf("%s = %v, want 4", s, v)
	}
}

// TestWithoutTracerProvider checks that without the option, or with a nil
// provider after one, the wrapper makes no spans and caches add no events,
// even with a recording span in the context.
func TestWithoutTracerProvider(t *testing.T) {
	tp, rec := newTracing(t)
	for name, opts := range map[string][]bizmetrics.Option{
		"absent": nil,
		"nil":    {bizmetrics.WithTracerProvider(tp), bizmetrics.WithTracerProvider(nil)},
	} {
		t.Run(name, func(t *testing.T) {
			rec.Reset()
			e := newEnv(t, opts...)
			db := openSQLite(t, e.m)
			sessions, err := e.m.CacheOperations("sessions")
			if err != nil {
				t.Fatal(err)
			}
			ctx, span := tp.Tracer("test").Start(t.Context(), "request")
			if _, err := db.ExecContext(ctx, `CREATE TABLE t (id INTEGER)`); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, `SELEC 1`); err == nil {
				t.Fatal("syntax error: no error")
			}
			sessions.Hit(ctx)
			span.End()
			spans := rec.Ended()
			if len(spans) != 1 || len(spans[0].Events()) != 0 || spans[0].Status().Code != codes.Unset {
				for _, s := range spans {
					t.Log(spanText(s))
				}
				t.Fatalf("%d spans, want the request's alone, untouched", len(spans))
			}
			if n := len(dbSeries(e.scrape(t))); n != 2 {
				t.Errorf("%d db series, want 2", n)
			}
		})
	}
}

// nopDriver returns from every Exec at once, to time the wrapper alone.
type nopDriver struct{}

type nopConn struct{}

var nopResult driver.Result = driver.RowsAffected(1)

func (nopConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("no prepare") }
func (nopConn) Close() error                        { return nil }
func (nopConn) Begin() (driver.Tx, error)           { return nil, errors.New("no transactions") }
func (nopConn) ExecContext(context.Context, string, []driver.NamedValue) (driver.Result, error) {
	return nopResult, nil
}

func (nopDriver) Connect(context.Context) (driver.Conn, error) { return nopConn{}, nil }
func (nopDriver) Driver() driver.Driver                        { return nil }

// wrappedExec returns the ExecContext of a wrapped nopConn.
func wrappedExec(t testing.TB, m *bizmetrics.Metrics) driver.ExecerContext {
	t.Helper()
	c, err := bizmetrics.WrapConnector(nopDriver{}, m, "nop").Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c.(driver.ExecerContext)
}

// TestTracingAllocations holds the cost of tracing when it is off or the
// context has nothing to trace into: the wrapper allocates nothing of its
// own without WithTracerProvider, and a cache operation allocates nothing
// without a recording span.
func TestTracingAllocations(t *testing.T) {
	ctx := t.Context()
	args := []driver.NamedValue{{Ordinal: 1, Value: int64(1)}}
	exec := wrappedExec(t, newEnv(t).m)
	tp, _ := newTracing(t)
	traced := newEnv(t, bizmetrics.WithTracerProvider(tp))
	sessions, err := traced.m.CacheOperations("sessions")
	if err != nil {
		t.Fatal(err)
	}
	unsampled, _ := newTracing(t, sdktrace.WithSampler(sdktrace.NeverSample()))
	uctx, uspan := unsampled.Tracer("test").Start(ctx, "unsampled")
	defer uspan.End()
	for name, f := range map[string]func(){
		"wrapped ExecContext, untraced": func() { _, _ = exec.ExecContext(ctx, `UPDATE stock SET n = ?`, args) },
		"Cache.Hit traced, no span":     func() { sessions.Hit(ctx) },
		"Cache.Hit traced, unsampled":   func() { sessions.Hit(uctx) },
	} {
		f()
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s: %v allocations, want 0", name, n)
		}
	}
}

// discardProcessor drops every span, for benchmarks.
type discardProcessor struct{}

func (discardProcessor) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (discardProcessor) OnEnd(sdktrace.ReadOnlySpan)                     {}
func (discardProcessor) Shutdown(context.Context) error                  { return nil }
func (discardProcessor) ForceFlush(context.Context) error                { return nil }

// BenchmarkWrapperExec times the wrapper's own work around a driver that
// returns at once: untraced, traced into a sampled span, and traced into
// an unsampled one.
func BenchmarkWrapperExec(b *testing.B) {
	ctx := context.Background()
	args := []driver.NamedValue{{Ordinal: 1, Value: int64(1)}}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(discardProcessor{}))
	unsampled := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(discardProcessor{}),
		sdktrace.WithSampler(sdktrace.NeverSample()))
	b.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = unsampled.Shutdown(context.Background())
	})
	sctx, sspan := tp.Tracer("bench").Start(ctx, "request")
	defer sspan.End()
	uctx, uspan := unsampled.Tracer("bench").Start(ctx, "request")
	defer uspan.End()
	for _, c := range []struct {
		name string
		ctx  context.Context
		opts []bizmetrics.Option
	}{
		{"untraced", sctx, nil},
		{"traced_sampled", sctx, []bizmetrics.Option{bizmetrics.WithTracerProvider(tp)}},
		{"traced_unsampled", uctx, []bizmetrics.Option{bizmetrics.WithTracerProvider(unsampled)}},
	} {
		b.Run(c.name, func(b *testing.B) {
			exec := wrappedExec(b, newEnv(b, c.opts...).m)
			_, _ = exec.ExecContext(c.ctx, `UPDATE stock SET n = ?`, args)
			b.ReportAllocs()
			for b.Loop() {
				_, _ = exec.ExecContext(c.ctx, `UPDATE stock SET n = ?`, args)
			}
		})
	}
}

// BenchmarkCacheHitTraced times Cache.Hit with tracing on: without a
// recording span it costs what it does untraced; with one, the SDK's
// event.
func BenchmarkCacheHitTraced(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(discardProcessor{}))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	e := newEnv(b, bizmetrics.WithTracerProvider(tp))
	sessions, err := e.m.CacheOperations("sessions")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	sctx, span := tp.Tracer("bench").Start(ctx, "request")
	defer span.End()
	for name, ctx := range map[string]context.Context{"no_span": ctx, "recording_span": sctx} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sessions.Hit(ctx)
			}
		})
	}
}
