package alerting_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/clock/clocktest"
	"github.com/vitalsgo/vitals/exporter/memory"
)

// An engine over the in-memory reader: a rule file's group, evaluated at
// times the test chooses, with a route whose notifier prints what it gets.
// The alert is pending until its for has passed, then fires and is
// notified.
func ExampleNew() {
	clk := clocktest.New(time.Unix(1_700_000_000, 0))
	mem := memory.New(memory.WithClock(clk))
	mp := sdkmetric.NewMeterProvider(mem.MeterProviderOptions()...)
	defer func() { _ = mp.Shutdown(context.Background()) }()
	queue, _ := mp.Meter("example").Int64Gauge("jobs.queued")

	groups, err := alerting.ParseRules([]byte(`
groups:
  - name: jobs
    rules:
      - alert: JobsPilingUp
        expr: jobs_queued > 100
        for: 1m
        labels: {severity: warning}
        annotations: {summary: "{{ $value }} jobs queued"}
`), "jobs.yml")
	if err != nil {
		fmt.Println(err)
		return
	}
	show := alerting.NotifierFunc(func(_ context.Context, alerts []alerting.Alert) error {
		for _, a := range alerts {
			fmt.Println("notified:", a.Name(), a.State, a.Annotations["summary"])
		}
		return nil
	})
	eng, err := alerting.New(mem, groups, alerting.WithClock(clk),
		alerting.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		alerting.WithRoutes(alerting.Route{Name: "print", Notifiers: []alerting.Notifier{show}, GroupWait: -1}))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = eng.Shutdown(context.Background()) }()

	queue.Record(context.Background(), 250)
	for range 4 { // every 30 s, the default interval
		_ = mem.Collect(context.Background())
		_ = eng.Eval(context.Background(), clk.Now())
		for _, a := range eng.Alerts() {
			fmt.Println(clk.Now().Sub(time.Unix(1_700_000_000, 0)), a.Name(), a.State)
		}
		clk.Advance(30 * time.Second)
	}
	// Output:
	// 0s JobsPilingUp pending
	// 30s JobsPilingUp pending
	// notified: JobsPilingUp firing 250 jobs queued
	// 1m0s JobsPilingUp firing
	// 1m30s JobsPilingUp firing
}
