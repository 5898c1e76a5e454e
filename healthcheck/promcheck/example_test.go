package promcheck_test

import (
	"context"
	"fmt"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/vitalsgo/vitals/exporter/memory"
	"github.com/vitalsgo/vitals/healthcheck/promcheck"
)

// A check that warns when the error ratio recorded by the service is above
// 1% and fails above 5%.
func ExampleThreshold() {
	ctx := context.Background()
	reader := memory.New(memory.WithClock(fixedClock(time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC))))
	mp := sdkmetric.NewMeterProvider(reader.MeterProviderOptions()...)
	defer func() { _ = mp.Shutdown(ctx) }()
	ratio, err := mp.Meter("example").Float64Gauge("error.ratio")
	if err != nil {
		fmt.Println(err)
		return
	}
	ratio.Record(ctx, 0.03)
	if err := reader.Collect(ctx); err != nil {
		fmt.Println(err)
		return
	}

	res := promcheck.Threshold(reader, `error_ratio`, 0.01, 0.05).Check(ctx)
	fmt.Println(res.Status, res.Output)
	// Output:
	// warn error_ratio = 0.03
}
