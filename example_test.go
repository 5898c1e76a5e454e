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
