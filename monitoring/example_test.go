package monitoring_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/vitalsgo/vitals/exporter/memory"
	"github.com/vitalsgo/vitals/healthcheck"
	"github.com/vitalsgo/vitals/monitoring"
)

// A handler built without vitals.Start, over a memory reader and a health
// registry of one's own: PromQL over what the provider records, health
// probes, and the routes it serves.
func ExampleNew() {
	ctx := context.Background()
	mem := memory.New()
	mp := sdkmetric.NewMeterProvider(mem.MeterProviderOptions()...)
	defer mp.Shutdown(ctx)
	health, err := healthcheck.New()
	if err != nil {
		panic(err)
	}
	defer health.Shutdown(ctx)

	h, err := monitoring.New(monitoring.Config{
		Health:    health,
		History:   mem,
		Authorize: monitoring.BearerToken("s3cret"),
	})
	if err != nil {
		panic(err)
	}

	orders, _ := mp.Meter("shop").Int64Counter("orders")
	orders.Add(ctx, 3)
	if err := mem.Collect(ctx); err != nil {
		panic(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/monitoring/api/query?query=orders_total", nil))
	fmt.Println(rec.Code, strings.Contains(rec.Body.String(), `"value":[`) && strings.Contains(rec.Body.String(), `"3"`))

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	fmt.Println(rec.Code)

	for _, r := range h.Routes()[:4] {
		fmt.Println(r)
	}
	// Output:
	// 200 true
	// 200
	// GET /metrics
	// /livez
	// /readyz
	// /healthz
}
