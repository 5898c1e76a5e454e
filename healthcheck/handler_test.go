package healthcheck_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/vitalsgo/vitals/exporter"
	"github.com/vitalsgo/vitals/healthcheck"
)

func serve(t *testing.T, h http.Handler, target string, hdr ...string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var body map[string]any
	if strings.HasPrefix(rec.Header().Get("Content-Type"), healthcheck.ContentType) {
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("body %q: %v", rec.Body.String(), err)
		}
	}
	return rec, body
}

func adminOnly(r *http.Request) bool { return r.Header.Get("Authorization") == "Bearer admin" }

func newHTTPRegistry(t *testing.T) *healthcheck.Registry {
	r := newRegistry(t)
	must(t, r.Register("db", healthcheck.ResultFunc(func(context.Context) healthcheck.Result {
		return healthcheck.Result{Status: healthcheck.StatusPass, ObservedValue: 3.5, ObservedUnit: "ms"}
	}), healthcheck.WithComponentType("datastore"), healthcheck.WithMeasurement("responseTime")))
	must(t, r.Register("cache", failWith("dial tcp 10.1.2.3:6379: connection refused"), healthcheck.WithoutCritical()))
	must(t, r.Register("alive", healthcheck.CheckFunc(pass), healthcheck.WithKinds(healthcheck.Liveness)))
	return r
}

func TestHandlerBodyFollowsTheDraft(t *testing.T) {
	r := newHTTPRegistry(t)
	h := healthcheck.Handler(r, healthcheck.Readiness, healthcheck.WithAuthorizer(adminOnly),
		healthcheck.WithServiceInfo(healthcheck.ServiceInfo{Version: "1", ReleaseID: "1.2.3", ServiceID: "shop-7f9c", Description: "the shop"}))

	rec, body := serve(t, h, "/readyz", "Authorization", "Bearer admin")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != healthcheck.ContentType || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("code %d, headers %v", rec.Code, rec.Header())
	}
	for k, want := range map[string]string{"status": "warn", "version": "1", "releaseId": "1.2.3", "serviceId": "shop-7f9c", "description": "the shop"} {
		if body[k] != want {
			t.Errorf("%s = %v, want %q", k, body[k], want)
		}
	}
	checks := body["checks"].(map[string]any)
	if len(checks) != 2 {
		t.Fatalf("checks %v, want db:responseTime and cache", checks)
	}
	db := checks["db:responseTime"].([]any)[0].(map[string]any)
	if db["componentType"] != "datastore" || db["observedValue"] != 3.5 || db["observedUnit"] != "ms" || db["status"] != "pass" {
		t.Errorf("db entry %v", db)
	}
	if _, err := time.Parse(time.RFC3339Nano, db["time"].(string)); err != nil {
		t.Errorf("time %v: %v", db["time"], err)
	}
	cache := checks["cache"].([]any)[0].(map[string]any)
	if cache["status"] != "fail" || !strings.Contains(cache["output"].(string), "connection refused") {
		t.Errorf("cache entry %v", cache)
	}
}

func TestHandlerHidesDetailsFromUnauthorizedCallers(t *testing.T) {
	r := newHTTPRegistry(t)
	h := healthcheck.Handler(r, healthcheck.Readiness, healthcheck.WithAuthorizer(adminOnly),
		healthcheck.WithServiceInfo(healthcheck.ServiceInfo{Version: "1", ReleaseID: "1.2.3", ServiceID: "shop-7f9c", Description: "the shop"}))
	for _, hdr := range [][]string{nil, {"Authorization", "Bearer guess"}} {
		rec, body := serve(t, h, "/readyz", hdr...)
		raw := rec.Body.String()
		for _, secret := range []string{"10.1.2.3", "connection refused", "3.5", "ms", "datastore", "1.2.3", "shop-7f9c", "time"} {
			if strings.Contains(raw, secret) {
				t.Errorf("unauthorized body shows %q: %s", secret, raw)
			}
		}
		checks := body["checks"].(map[string]any)
		if len(checks) != 2 || checks["cache"].([]any)[0].(map[string]any)["status"] != "fail" {
			t.Errorf("names and statuses should remain: %s", raw)
		}
	}
	// With no authorizer at all, nobody sees details.
	rec, _ := serve(t, healthcheck.Handler(r, healthcheck.Readiness), "/readyz", "Authorization", "Bearer admin")
	if strings.Contains(rec.Body.String(), "10.1.2.3") {
		t.Errorf("details without an authorizer: %s", rec.Body.String())
	}
}

func TestHandlerStatusCodesVerboseExclude(t *testing.T) {
	r := newRegistry(t)
	must(t, r.Register("db", failWith("down")))
	must(t, r.Register("disk", warnWith("80% full"), healthcheck.WithoutCritical()))
	h := healthcheck.Handler(r, healthcheck.Readiness, healthcheck.WithAuthorizer(adminOnly))

	if rec, body := serve(t, h, "/readyz"); rec.Code != http.StatusServiceUnavailable || body["status"] != "fail" {
		t.Errorf("with a critical failure: %d %v", rec.Code, body)
	}
	if rec, body := serve(t, h, "/readyz?exclude=db"); rec.Code != http.StatusOK || body["status"] != "warn" {
		t.Errorf("excluding db: %d %v", rec.Code, body)
	}
	if rec, _ := serve(t, h, "/readyz?exclude=db,disk"); rec.Code != http.StatusOK {
		t.Errorf("excluding both: %d", rec.Code)
	}
	rec, _ := serve(t, h, "/readyz?verbose")
	want := "[-]db failed: reason withheld\n[+]disk warn: reason withheld\nreadyz check failed\n"
	if rec.Code != http.StatusServiceUnavailable || rec.Body.String() != want {
		t.Errorf("verbose: %d %q, want %q", rec.Code, rec.Body.String(), want)
	}
	rec, _ = serve(t, h, "/readyz?verbose", "Authorization", "Bearer admin")
	if !strings.Contains(rec.Body.String(), "[-]db failed: down") {
		t.Errorf("authorized verbose: %q", rec.Body.String())
	}
	req := httptest.NewRequest(http.MethodPost, "/readyz", nil)
	post := httptest.NewRecorder()
	h.ServeHTTP(post, req)
	if post.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", post.Code)
	}
	// No checks: pass with no check list.
	empty := newRegistry(t)
	if rec, body := serve(t, healthcheck.Handler(empty, healthcheck.Liveness), "/livez"); rec.Code != 200 || body["status"] != "pass" || body["checks"] != nil {
		t.Errorf("no checks: %d %v", rec.Code, body)
	}
}

func TestChecksAsMetrics(t *testing.T) {
	p, err := exporter.NewMeterProvider(t.Context(), exporter.MetricsConfig{})
	must(t, err)
	defer p.Shutdown(context.Background())
	r := newRegistry(t, healthcheck.WithMeterProvider(p))
	must(t, r.Register("db", failWith("down")))
	must(t, r.Register("disk", healthcheck.CheckFunc(pass), healthcheck.WithoutCritical()))
	r.Check(t.Context(), healthcheck.Readiness)
	r.Check(t.Context(), healthcheck.Readiness)

	rec := httptest.NewRecorder()
	p.PrometheusHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(rec.Body)
	must(t, err)
	labels := func(m *dto.Metric) map[string]string {
		l := map[string]string{}
		for _, p := range m.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		return l
	}
	current := map[string]string{}
	for _, m := range mfs["vitals_healthcheck_status"].GetMetric() {
		if l := labels(m); m.GetGauge().GetValue() == 1 {
			current[l["check"]] = l["status"] + "/" + l["critical"]
		}
	}
	if current["db"] != "fail/true" || current["disk"] != "pass/false" {
		t.Errorf("current statuses %v", current)
	}
	for _, m := range mfs["vitals_healthcheck_failures_total"].GetMetric() {
		if l := labels(m); l["check"] == "db" && m.GetCounter().GetValue() != 2 {
			t.Errorf("db failures %v, want 2", m.GetCounter().GetValue())
		}
	}
	var runs uint64
	for _, m := range mfs["vitals_healthcheck_duration_seconds"].GetMetric() {
		runs += m.GetHistogram().GetSampleCount()
	}
	if runs != 4 {
		t.Errorf("%d runs timed, want 4", runs)
	}
}
