package bizmetrics_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"modernc.org/sqlite"

	"github.com/vitalsgo/vitals/bizmetrics"
	"github.com/vitalsgo/vitals/exporter"
	"github.com/vitalsgo/vitals/exporter/memory"
)

// Business metrics on the exporter's provider, as /metrics serves them.
// Note the revenue, counted in cents, against the amount histogram's sum
// of float64s.
func Example() {
	ctx := context.Background()
	p, err := exporter.NewMeterProvider(ctx, exporter.MetricsConfig{ServiceName: "shop"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = p.Shutdown(ctx) }()
	m, err := bizmetrics.New(bizmetrics.WithMeterProvider(p))
	if err != nil {
		fmt.Println(err)
		return
	}

	_ = m.Order(ctx, "EUR", 42.50)
	_ = m.Order(ctx, "EUR", 19.99)
	_ = m.Order(ctx, "JPY", 1500)
	err = m.Order(ctx, "EUR", -5)
	fmt.Println(err)
	_ = m.Registration(ctx, "web")
	m.SetUsers(ctx, 1234)

	srv := httptest.NewServer(p.PrometheusHandler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := strings.Replace(sc.Text(), `,otel_scope_name="github.com/vitalsgo/vitals/bizmetrics"`, "", 1)
		line = strings.Replace(line, `otel_scope_name="github.com/vitalsgo/vitals/bizmetrics",`, "", 1)
		line = strings.Replace(line, `{otel_scope_name="github.com/vitalsgo/vitals/bizmetrics"}`, "", 1)
		if strings.HasPrefix(line, "app_") && !strings.Contains(line, "_bucket") {
			lines = append(lines, line)
		}
	}
	sort.Strings(lines)
	fmt.Println(strings.Join(lines, "\n"))
	// Output:
	// bizmetrics: order amount -5 EUR: amount must be finite, at least 0 and below 2^53 minor units
	// app_order_amount_count{currency="EUR"} 2
	// app_order_amount_count{currency="JPY"} 1
	// app_order_amount_sum{currency="EUR"} 62.489999999999995
	// app_order_amount_sum{currency="JPY"} 1500
	// app_orders_placed_total{currency="EUR"} 2
	// app_orders_placed_total{currency="JPY"} 1
	// app_orders_rejected_total{error_type="invalid_amount"} 1
	// app_orders_rejected_total{error_type="invalid_currency"} 0
	// app_registrations_total{registration_source="web"} 1
	// app_revenue_total{currency="EUR"} 62.49
	// app_revenue_total{currency="JPY"} 1500
	// app_users 1234
}

// A bound handle for the hot path: the currency is checked once, and each
// order costs two atomic adds and one histogram recording.
func ExampleMetrics_Orders() {
	mp := sdkmetric.NewMeterProvider()
	defer func() { _ = mp.Shutdown(context.Background()) }()
	m, err := bizmetrics.New(bizmetrics.WithMeterProvider(mp))
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := m.Orders("EURO"); err != nil {
		fmt.Println(err)
	}
	eur, err := m.Orders("EUR")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, amount := range []float64{42.50, 19.99} {
		if err := eur.Record(context.Background(), amount); err != nil {
			fmt.Println(err)
		}
	}
	exp, _ := bizmetrics.CurrencyExponent("KWD")
	fmt.Println("KWD has", exp, "decimals")
	// Output:
	// bizmetrics: currency "EURO": not an active ISO 4217 currency code
	// KWD has 3 decimals
}

// The database/sql wrapper with SQLite: every statement is timed, named by
// its first keyword and first table.
func ExampleWrapConnector() {
	ctx := context.Background()
	reader := memory.New()
	mp := sdkmetric.NewMeterProvider(reader.MeterProviderOptions()...)
	defer func() { _ = mp.Shutdown(ctx) }()
	m, err := bizmetrics.New(bizmetrics.WithMeterProvider(mp))
	if err != nil {
		fmt.Println(err)
		return
	}

	c, err := sqlite.NewConnector("file::memory:")
	if err != nil {
		fmt.Println(err)
		return
	}
	db := sql.OpenDB(bizmetrics.WrapConnector(c, m, "sqlite"))
	defer db.Close()
	db.SetMaxOpenConns(1) // one in-memory database

	_, _ = db.ExecContext(ctx, `CREATE TABLE orders (id INTEGER PRIMARY KEY, email TEXT UNIQUE)`)
	_, _ = db.ExecContext(ctx, `INSERT INTO orders (email) VALUES (?)`, "alice@example.com")
	_, err = db.ExecContext(ctx, `INSERT INTO orders (email) VALUES (?)`, "alice@example.com")
	fmt.Println("duplicate:", err != nil)
	var n int
	_ = db.QueryRowContext(ctx, `SELECT count(*) FROM orders`).Scan(&n)

	if err := reader.Collect(ctx); err != nil {
		fmt.Println(err)
		return
	}
	res, err := reader.Query(ctx, `db_client_operation_duration_seconds_count`, reader.Now())
	if err != nil {
		fmt.Println(err)
		return
	}
	var lines []string
	for _, s := range res.Value.(memory.Vector) {
		lines = append(lines, fmt.Sprintf("%s %s %s %s: %v", s.Metric.Get("db_system_name"),
			s.Metric.Get("db_operation_name"), s.Metric.Get("db_collection_name"), s.Metric.Get("error_type"), s.F))
	}
	sort.Strings(lines)
	fmt.Println(strings.Join(lines, "\n"))
	// Output:
	// duplicate: true
	// sqlite CREATE  : 1
	// sqlite INSERT orders *sqlite.Error: 1
	// sqlite INSERT orders : 1
	// sqlite SELECT orders : 1
}

// Database spans and cache events with tracing on: each statement is a
// client span of the request's span, with the metric's attributes and
// never the statement's arguments; each cache operation is an event on
// the request's span.
func ExampleWithTracerProvider() {
	ctx := context.Background()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer func() { _ = tp.Shutdown(ctx) }()
	mp := sdkmetric.NewMeterProvider()
	defer func() { _ = mp.Shutdown(ctx) }()
	m, err := bizmetrics.New(bizmetrics.WithMeterProvider(mp), bizmetrics.WithTracerProvider(tp))
	if err != nil {
		fmt.Println(err)
		return
	}

	c, err := sqlite.NewConnector("file::memory:")
	if err != nil {
		fmt.Println(err)
		return
	}
	db := sql.OpenDB(bizmetrics.WrapConnector(c, m, "sqlite"))
	defer db.Close()
	db.SetMaxOpenConns(1) // one in-memory database
	sessions, err := m.CacheOperations("sessions")
	if err != nil {
		fmt.Println(err)
		return
	}

	ctx, request := tp.Tracer("shop").Start(ctx, "POST /orders")
	sessions.Hit(ctx)
	_, _ = db.ExecContext(ctx, `CREATE TABLE orders (id INTEGER PRIMARY KEY, email TEXT UNIQUE)`)
	_, _ = db.ExecContext(ctx, `INSERT INTO orders (email) VALUES (?)`, "alice@example.com")
	_, _ = db.ExecContext(ctx, `INSERT INTO orders (email) VALUES (?)`, "alice@example.com")
	request.End()

	for _, s := range spans.Ended() {
		fmt.Printf("%s (%s)", s.Name(), s.SpanKind())
		if s.Parent().SpanID() == request.SpanContext().SpanID() {
			fmt.Print(" in POST /orders")
		}
		for _, kv := range s.Attributes() {
			fmt.Printf(" %s=%s", kv.Key, kv.Value.Emit())
		}
		if s.Status().Code != codes.Unset {
			fmt.Printf(" status=%s", s.Status().Code)
		}
		fmt.Println()
		for _, e := range s.Events() {
			fmt.Print("  event ", e.Name)
			for _, kv := range e.Attributes {
				fmt.Printf(" %s=%s", kv.Key, kv.Value.Emit())
			}
			fmt.Println()
		}
	}
	// Output:
	// CREATE (client) in POST /orders db.system.name=sqlite db.operation.name=CREATE
	// INSERT orders (client) in POST /orders db.system.name=sqlite db.operation.name=INSERT db.collection.name=orders
	// INSERT orders (client) in POST /orders db.system.name=sqlite db.operation.name=INSERT db.collection.name=orders error.type=*sqlite.Error status=Error
	//   event exception exception.type=*sqlite.Error
	// POST /orders (internal)
	//   event cache.get cache.name=sessions cache.operation=get cache.result=hit
}

// A cache's hit ratio, with the PromQL expression the package documents,
// over the in-memory reader with a clock moved by hand.
func ExampleMetrics_CacheOperations() {
	ctx := context.Background()
	clk := newClock()
	reader := memory.New(memory.WithClock(clk))
	mp := sdkmetric.NewMeterProvider(reader.MeterProviderOptions()...)
	defer func() { _ = mp.Shutdown(ctx) }()
	m, err := bizmetrics.New(bizmetrics.WithMeterProvider(mp))
	if err != nil {
		fmt.Println(err)
		return
	}
	sessions, err := m.CacheOperations("sessions")
	if err != nil {
		fmt.Println(err)
		return
	}

	_ = reader.Collect(ctx) // hits and misses at 0
	for i := range 20 {
		if i%4 == 0 {
			sessions.Miss(ctx)
			sessions.Set(ctx)
		} else {
			sessions.Hit(ctx)
		}
	}
	clk.Advance(10 * time.Second)
	_ = reader.Collect(ctx)

	res, err := reader.Query(ctx, `
	  sum by (cache_name) (increase(app_cache_operations_total{cache_result="hit"}[1m]))
	/ sum by (cache_name) (increase(app_cache_operations_total{cache_result=~"hit|miss"}[1m]))`, clk.Now())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range res.Value.(memory.Vector) {
		fmt.Printf("%s: %.2f\n", s.Metric.Get("cache_name"), s.F)
	}
	// Output:
	// sessions: 0.75
}

// Timing an operation; the clock is moved by hand so that the output is
// fixed.
func ExampleMetrics_Time() {
	clk := newClock()
	clk.step = 250 * time.Millisecond
	mp := sdkmetric.NewMeterProvider()
	defer func() { _ = mp.Shutdown(context.Background()) }()
	m, err := bizmetrics.New(bizmetrics.WithMeterProvider(mp), bizmetrics.WithClock(clk))
	if err != nil {
		fmt.Println(err)
		return
	}

	t := m.Time(context.Background(), "checkout", attribute.String("payment", "card"))
	// ... the checkout ...
	fmt.Println(t.Stop())
	// Output:
	// 250ms
}

// Timing a function's whole body with defer.
func ExampleMetrics_Time_defer() {
	mp := sdkmetric.NewMeterProvider()
	defer func() { _ = mp.Shutdown(context.Background()) }()
	m, err := bizmetrics.New(bizmetrics.WithMeterProvider(mp))
	if err != nil {
		fmt.Println(err)
		return
	}
	checkout := func(ctx context.Context) {
		defer m.Time(ctx, "checkout").Stop()
		// ... the checkout ...
	}
	checkout(context.Background())
	fmt.Println("timed")
	// Output:
	// timed
}

// Custom instruments for what the typed set does not cover.
func ExampleMetrics_Counter() {
	ctx := context.Background()
	r := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	defer func() { _ = mp.Shutdown(ctx) }()
	m, err := bizmetrics.New(bizmetrics.WithMeterProvider(mp), bizmetrics.WithNamespace("shop"))
	if err != nil {
		fmt.Println(err)
		return
	}
	emails, err := m.Counter("emails.sent", "{email}", "Emails sent.")
	if err != nil {
		fmt.Println(err)
		return
	}
	welcome := emails.Bind(attribute.String("kind", "welcome")) // for a hot path
	welcome.Add(ctx, 1)
	emails.Add(ctx, 2, attribute.String("kind", "welcome")) // the same series

	_, err = m.Counter("", "", "")
	fmt.Println(err)
	// Output:
	// bizmetrics: instrument name: empty name
}
