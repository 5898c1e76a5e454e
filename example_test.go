package vitals_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/vitalsgo/vitals"
)

func ExampleStart() {
	ctx := context.Background()
	// Start reads the OTEL_* variables; options win over them.
	v, err := vitals.Start(ctx, vitals.WithServiceName("shop"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer v.Shutdown(ctx)

	orders, _ := v.Meter("example.com/shop").Int64Counter("shop.orders", metric.WithUnit("{order}"))
	orders.Add(ctx, 1, metric.WithAttributes(attribute.String("currency", "EUR")))

	srv := httptest.NewServer(v.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "shop_orders") {
			fmt.Println(sc.Text())
		}
	}
	// Output:
	// shop_orders_total{currency="EUR",otel_scope_name="example.com/shop"} 1
}

// Mounting: the handler at "/" of the service's mux, beside the service's
// own routes, and the whole mux in Middleware. Requests the handler serves
// (the scrape below) are not counted as the service's traffic.
func ExampleVitals_Handler() {
	ctx := context.Background()
	v, err := vitals.Start(ctx, vitals.WithServiceName("shop"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer v.Shutdown(ctx)

	mux := http.NewServeMux()
	mux.HandleFunc("POST /orders", func(http.ResponseWriter, *http.Request) {})
	mux.Handle("/", v.Handler())
	srv := httptest.NewServer(v.Middleware(mux))
	defer srv.Close()

	for _, path := range []string{"/livez", "/monitoring/"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Println(path, resp.StatusCode)
	}
	resp, err := http.Post(srv.URL+"/orders", "application/json", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	resp, err = http.Get(srv.URL + "/metrics")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "http_server_request_duration_seconds_count") {
			fmt.Println(sc.Text()[strings.Index(sc.Text(), "http_route="):])
		}
	}
	// Output:
	// /livez 200
	// /monitoring/ 200
	// http_route="/orders",network_protocol_name="http",network_protocol_version="1.1",otel_scope_name="github.com/vitalsgo/vitals/instrument",url_scheme="http"} 1
}
