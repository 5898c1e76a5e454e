package performance_test

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/vitalsgo/vitals/clock/clocktest"
	"github.com/vitalsgo/vitals/exporter/memory"
	"github.com/vitalsgo/vitals/performance"
)

// The summary of one minute of scripted traffic, read from the in-memory
// reader. In a service, instrument.Middleware records the requests and
// vitals.Start runs the reader; here a hand-moved clock and a histogram
// recorded like the middleware's stand in for them.
func ExampleSummarize() {
	ctx := context.Background()
	clk := &summaryClock{clocktest.New(time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC))}
	reader := memory.New(memory.WithClock(clk))
	mp := sdkmetric.NewMeterProvider(reader.MeterProviderOptions()...)
	defer func() { _ = mp.Shutdown(ctx) }()

	duration, err := mp.Meter("example").Float64Histogram("http.server.request.duration",
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10))
	if err != nil {
		fmt.Println(err)
		return
	}
	serve := func(method, route string, status int, seconds float64) {
		kvs := []attribute.KeyValue{
			attribute.String("http.request.method", method),
			attribute.Int("http.response.status_code", status),
			attribute.String("http.route", route),
			attribute.String("url.scheme", "https"),
		}
		if status >= 500 {
			kvs = append(kvs, attribute.String("error.type", fmt.Sprint(status)))
		}
		duration.Record(ctx, seconds, metric.WithAttributes(kvs...))
	}

	// Two batches of 10 requests, each followed by a collection 30 s later.
	for range 2 {
		for range 8 {
			serve("GET", "/orders/{id}", 200, 0.020)
		}
		serve("POST", "/orders", 201, 0.300)
		serve("POST", "/orders", 500, 1.500)
		clk.Advance(30 * time.Second)
		if err := reader.Collect(ctx); err != nil {
			fmt.Println(err)
			return
		}
	}

	// The last minute, at the reader's clock's time.
	s, err := performance.Summarize(ctx, reader, time.Minute,
		performance.WithApdexThreshold(250*time.Millisecond))
	if err != nil {
		fmt.Println(err)
		return
	}
	// Counts are exact integers (%v would show a fraction); p95 is an
	// estimate within 4.4 % (the true p95 is 1.5 s).
	fmt.Printf("%v requests (%.2f/s), error rate %.0f%%, p95 %.2fs, Apdex %.2f (%v/%v/%v)\n",
		s.TotalRequests, s.RequestsPerSecond, 100*s.ErrorRate, s.Latency.P95Seconds, s.Apdex.Score,
		s.Apdex.Satisfied, s.Apdex.Tolerating, s.Apdex.Frustrated)
	for _, r := range s.TopRoutes {
		fmt.Printf("%s %s: %v requests, mean %.3fs, errors %.0f%%\n",
			r.Method, r.Route, r.Requests, r.MeanSeconds, 100*r.ErrorRate)
	}
	for _, e := range s.TopErrors {
		fmt.Printf("error %d on %s %s: %v\n", e.Status, e.Method, e.Route, e.Count)
	}
	// Output:
	// 20 requests (0.33/s), error rate 10%, p95 1.51s, Apdex 0.85 (16/2/2)
	// GET /orders/{id}: 16 requests, mean 0.020s, errors 0%
	// POST /orders: 4 requests, mean 0.900s, errors 50%
	// error 500 on POST /orders: 2
}
