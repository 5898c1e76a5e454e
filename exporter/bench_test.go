package exporter

import (
	"context"
	"strconv"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// BenchmarkCounterAdd measures one synchronous Add with a pre-built attribute
// set, against the number of readers: each reader is one more aggregation.
func BenchmarkCounterAdd(b *testing.B) {
	for _, readers := range []int{1, 2, 3} {
		b.Run("readers="+strconv.Itoa(readers), func(b *testing.B) {
			var opts []sdkmetric.Option
			for range readers {
				opts = append(opts, sdkmetric.WithReader(sdkmetric.NewManualReader()))
			}
			mp := sdkmetric.NewMeterProvider(append(opts, sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter))...)
			b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
			c, _ := mp.Meter("bench").Int64Counter("hits")
			// A pre-built option slice: passing one option value instead
			// costs a 16-byte allocation per call for the variadic slice.
			addOpts := []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("route", "/orders"), attribute.Int("status", 200)))}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				c.Add(ctx, 1, addOpts...)
			}
		})
	}
}

// BenchmarkCollectExemplars measures one Collect of 10 000 counter series
// with exemplars off (the Vitals default) and on.
func BenchmarkCollectExemplars(b *testing.B) {
	for _, tc := range []struct {
		name   string
		filter exemplar.Filter
	}{{"off", exemplar.AlwaysOffFilter}, {"on", exemplar.AlwaysOnFilter}} {
		b.Run(tc.name, func(b *testing.B) {
			r := sdkmetric.NewManualReader()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r), sdkmetric.WithExemplarFilter(tc.filter), sdkmetric.WithCardinalityLimit(0))
			b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
			c, _ := mp.Meter("bench").Int64Counter("hits")
			ctx := context.Background()
			for i := range 10000 {
				c.Add(ctx, 1, metric.WithAttributes(attribute.String("route", "r"+strconv.Itoa(i))))
			}
			var rm metricdata.ResourceMetrics
			b.ReportAllocs()
			for b.Loop() {
				if err := r.Collect(ctx, &rm); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
