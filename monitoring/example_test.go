package monitoring_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
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
		Health:     health,
		History:    mem,
		Authorizer: monitoring.BearerToken("s3cret"),
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

// Prometheus' HTTP API v1 under PrometheusAPIPath: what Grafana's
// Prometheus data source, promtool and client libraries call, with
// http://HOST/monitoring/prometheus as their base URL.
func ExampleHandler_prometheusAPI() {
	ctx := context.Background()
	mem := memory.New()
	mp := sdkmetric.NewMeterProvider(mem.MeterProviderOptions()...)
	defer mp.Shutdown(ctx)
	health, err := healthcheck.New()
	if err != nil {
		panic(err)
	}
	defer health.Shutdown(ctx)
	h, err := monitoring.New(monitoring.Config{Health: health, History: mem})
	if err != nil {
		panic(err)
	}

	orders, _ := mp.Meter("shop").Int64Counter("orders", metric.WithDescription("Orders placed."))
	orders.Add(ctx, 3, metric.WithAttributes(attribute.String("currency", "EUR")))
	if err := mem.Collect(ctx); err != nil {
		panic(err)
	}
	for _, path := range []string{
		"/api/v1/label/currency/values",
		"/api/v1/metadata?metric=orders",
		"/api/v1/series?match[]=orders_total",
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, monitoring.PrometheusAPIPath+path, nil))
		fmt.Print(rec.Body.String())
	}
	// Output:
	// {"status":"success","data":["EUR"]}
	// {"status":"success","data":{"orders":[{"type":"counter","help":"Orders placed.","unit":""}]}}
	// {"status":"success","data":[{"__name__":"orders_total","currency":"EUR","otel_scope_name":"shop"}]}
}
