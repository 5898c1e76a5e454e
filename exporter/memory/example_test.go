package memory_test

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/vitalsgo/vitals/exporter/memory"
)

// fixed is a clock that stands still: its timers never fire.
type fixed time.Time

func (f fixed) Now() time.Time                                   { return time.Time(f) }
func (fixed) After(time.Duration) <-chan time.Time               { return nil }
func (fixed) AfterFunc(time.Duration, func()) (stop func() bool) { return func() bool { return true } }

// PromQL over what a MeterProvider recorded, in process.
func ExampleReader_Query() {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	r := memory.New(memory.WithClock(fixed(now)))
	mp := sdkmetric.NewMeterProvider(r.MeterProviderOptions()...)
	defer mp.Shutdown(ctx)

	orders, _ := mp.Meter("shop").Int64Counter("orders")
	orders.Add(ctx, 3, metric.WithAttributes(attribute.String("currency", "EUR")))
	orders.Add(ctx, 1, metric.WithAttributes(attribute.String("currency", "USD")))
	if err := r.Collect(ctx); err != nil { // Run does this every interval
		fmt.Println(err)
		return
	}

	res, err := r.Query(ctx, `sum(orders_total)`, now)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Value.(memory.Vector)[0].F)
	// Output: 4
}
