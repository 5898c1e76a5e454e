package monitoring

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func startForAPI(t *testing.T, opts ...envOption) *env {
	t.Helper()
	return newEnv(t, opts...)
}

func getJSON(t *testing.T, h http.Handler, method, path, token string) (int, http.Header, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var body map[string]any
	if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, rec.Body.String())
		}
	}
	return rec.Code, rec.Header(), body
}

func TestMonitoringEndpoints(t *testing.T) {
	v := startForAPI(t, withAdminToken("tok"))
	c, _ := v.Meter("shop").Int64Counter("orders")
	c.Add(t.Context(), 3)
	if err := v.Memory().Collect(t.Context()); err != nil {
		t.Fatal(err)
	}
	h := v.Handler()

	code, hdr, body := getJSON(t, h, "GET", "/monitoring/api/performance?window=5m", "")
	if code != 200 || hdr.Get("Content-Type") != "application/json" || body["windowSeconds"] != 300.0 {
		t.Errorf("performance: %d %v", code, body)
	}
	for _, bad := range []string{"abc", "-5m", "0s", "48h"} {
		code, _, body := getJSON(t, h, "GET", "/monitoring/api/performance?window="+bad, "")
		if code != 400 || body["errorType"] != "bad_data" || !strings.Contains(body["error"].(string), "'window'") {
			t.Errorf("window=%s: %d %v", bad, code, body)
		}
	}

	code, _, body = getJSON(t, h, "GET", "/monitoring/api/metrics?match=orders_total", "")
	series, _ := body["series"].([]any)
	if code != 200 || len(series) != 1 || series[0].(map[string]any)["value"] != 3.0 || series[0].(map[string]any)["name"] != "orders_total" {
		t.Errorf("metrics: %d %v", code, body)
	}
	// Without match, every series: orders_total and the memory reader's own.
	if code, _, body := getJSON(t, h, "GET", "/monitoring/api/metrics", ""); code != 200 || len(body["series"].([]any)) < 2 ||
		!strings.Contains(fmt.Sprint(body["series"]), "orders_total") {
		t.Errorf("all metrics: %d, %d series", code, len(body["series"].([]any)))
	}
	for _, bad := range []string{"rate(x[1m])", "{__name__=~", "sum(orders_total)"} {
		code, _, body := getJSON(t, h, "GET", "/monitoring/api/metrics?match="+urlEncode(bad), "")
		if code != 400 || !strings.Contains(body["error"].(string), "'match'") {
			t.Errorf("match=%s: %d %v", bad, code, body)
		}
	}

	code, _, body = getJSON(t, h, "GET", "/monitoring/api/system", "")
	if code != 200 || body["goVersion"] == nil || body["goVersion"] == "" || body["gomaxprocs"].(float64) < 1 || body["pid"].(float64) < 1 || body["goroutines"].(float64) < 1 {
		t.Errorf("system: %d %v", code, body)
	}

	code, hdr, body = getJSON(t, h, "GET", "/monitoring/api/export", "")
	if code != 200 || !strings.Contains(hdr.Get("Content-Disposition"), "attachment") {
		t.Errorf("export: %d %v", code, hdr)
	}
	for _, k := range []string{"system", "health", "alerts", "performance", "series"} {
		if body[k] == nil {
			t.Errorf("export lacks %s", k)
		}
	}

	if code, hdr, _ := getJSON(t, h, "DELETE", "/monitoring/api/health", ""); code != http.StatusMethodNotAllowed || !strings.Contains(hdr.Get("Allow"), "GET") {
		t.Errorf("DELETE health: %d %v", code, hdr)
	}
	if code, _, body := getJSON(t, h, "GET", "/monitoring/api/nope", ""); code != 404 || body["errorType"] != "not_found" {
		t.Errorf("unknown endpoint: %d %v", code, body)
	}
}

func urlEncode(s string) string {
	return strings.NewReplacer("{", "%7B", "}", "%7D", "[", "%5B", "]", "%5D", "(", "%28", ")", "%29", "~", "%7E", "=", "%3D").Replace(s)
}

func TestProtectedReads(t *testing.T) {
	v := startForAPI(t, withAdminToken("tok"), withProtectedReads())
	h := v.Handler()
	for _, path := range []string{"/monitoring/api/health", "/monitoring/api/alerts", "/monitoring/api/query?query=up", "/monitoring/api/system", "/monitoring/api/export", "/monitoring/api/performance"} {
		if code, _, _ := getJSON(t, h, "GET", path, ""); code != http.StatusUnauthorized {
			t.Errorf("%s without a token: %d", path, code)
		}
		if code, _, _ := getJSON(t, h, "GET", path, "tok"); code != http.StatusOK {
			t.Errorf("%s with the token: %d", path, code)
		}
	}
	// Scrapers and probes stay open.
	for _, path := range []string{"/metrics", "/livez"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != http.StatusOK {
			t.Errorf("%s: %d", path, rec.Code)
		}
	}
}

func TestMountedUnderAPrefix(t *testing.T) {
	v := startForAPI(t)
	mux := http.NewServeMux()
	mux.Handle("/admin/", http.StripPrefix("/admin", v.Handler()))
	for _, path := range []string{"/admin/metrics", "/admin/readyz", "/admin/monitoring/api/system"} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != http.StatusOK {
			t.Errorf("%s: %d", path, rec.Code)
		}
	}
}
