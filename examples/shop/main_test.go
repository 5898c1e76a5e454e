package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vitalsgo/vitals/internal/logtest"
)

func TestShopServesAndRecordsOrders(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_METRICS_EXPORTER", "")
	ctx, cancel := context.WithCancel(t.Context())
	var out logtest.Buffer
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-admin-token", "t0k"}, &out, func(a string) { addrc <- a })
	}()
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("run ended early: %v", err)
	}

	post := func(body string) int {
		resp, err := http.Post(base+"/orders", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post(`{"product_id":1,"quantity":2,"currency":"EUR"}`); got != http.StatusCreated {
		t.Errorf("valid order: status %d", got)
	}
	for _, bad := range []string{`{"product_id":9,"quantity":1,"currency":"EUR"}`, `{"product_id":1,"quantity":0,"currency":"EUR"}`, `{"product_id":1,"quantity":1,"currency":"euro"}`, `not json`} {
		if got := post(bad); got != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", bad, got)
		}
	}
	resp, err := http.Get(base + "/products/2")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /products/2: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()

	resp, err = http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`shop_orders_placed_total{currency="EUR",otel_scope_name="github.com/vitalsgo/vitals/bizmetrics"} 1`,
		`target_info{`,
		`service_name="shop"`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s:\n%s", want, body)
		}
	}

	// The in-memory reader answers PromQL once it has collected.
	resp, err = http.Get(base + "/monitoring/api/query?query=" + "shop_orders_placed_total")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("query API: %s", resp.Status)
	}

	// Users, orders by ID, the cache and the database are all instrumented.
	postUser := func(body string) int {
		resp, err := http.Post(base+"/users", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for body, want := range map[string]int{
		`{"email":"ada@example.com","source":"web"}`: http.StatusCreated,
		`{"email":"not-an-email","source":"web"}`:    http.StatusBadRequest,
		`{"email":"bob@example.com","source":"fax"}`: http.StatusBadRequest,
	} {
		if got := postUser(body); got != want {
			t.Errorf("POST /users %s: %d, want %d", body, got, want)
		}
	}
	if got := postUser(`{"email":"ada@example.com","source":"mobile"}`); got != http.StatusConflict {
		t.Errorf("a repeated email: %d, want 409", got)
	}
	for path, want := range map[string]int{"/orders/1": 200, "/orders/999": 404, "/orders/x": 400, "/products/2": 200, "/products/99": 404} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	resp, err = http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`shop_registrations_total{otel_scope_name="github.com/vitalsgo/vitals/bizmetrics",registration_source="web"} 1`,
		`cache_name="products",cache_operation="get",cache_result="hit"`,
		`cache_name="products",cache_operation="get",cache_result="miss"`,
		`db_client_operation_duration_seconds_count{db_collection_name="orders",db_operation_name="INSERT",db_system_name="sqlite"`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	resp, err = http.Get(base + "/readyz?verbose")
	if err != nil {
		t.Fatal(err)
	}
	ready, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(ready), "[+]sqlite ok") {
		t.Errorf("/readyz: %d %s", resp.StatusCode, ready)
	}

	// The default rules are loaded, and the scripted fault needs the token.
	resp, err = http.Get(base + "/monitoring/api/rules")
	if err != nil {
		t.Fatal(err)
	}
	rules, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(rules), "HighErrorRate") {
		t.Errorf("default rules not loaded: %s", rules)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/admin/fault?duration=1m", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("fault without the token: %v %v", resp.StatusCode, err)
	}
	req.Header.Set("Authorization", "Bearer t0k")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("fault with the token: %v %v", resp.StatusCode, err)
	}
	if got := post(`{"product_id":1,"quantity":1,"currency":"EUR"}`); got != http.StatusServiceUnavailable {
		t.Errorf("order during the fault: %d, want 503", got)
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
	for _, url := range []string{"/products", "/orders", "/metrics"} {
		if !strings.Contains(out.String(), base+url) {
			t.Errorf("output does not print %s:\n%s", base+url, out.String())
		}
	}
}

func TestLoadGenerator(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_METRICS_EXPORTER", "")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out logtest.Buffer
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-rules", "", "-load", "-rate", "200", "-duration", "1500ms"}, &out, func(a string) { addrc <- a })
	}()
	base := "http://" + <-addrc
	// Wait for the generator to finish (it prints a last line).
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if !out.WaitFor(wctx, "load: done") {
		t.Fatalf("the load generator did not finish:\n%s", out.String())
	}
	resp, err := http.Get(base + "/monitoring/api/metrics?match=" + url.QueryEscape(`{__name__="http_server_request_duration_seconds_count"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	m, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(m.Body)
	m.Body.Close()
	for _, want := range []string{`http_route="/orders"`, `http_route="/products/{id}"`, `http_response_status_code="404"`, `http_response_status_code="400"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("after the load, /metrics lacks %s", want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}
