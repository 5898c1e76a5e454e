package monitoring

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/vitalsgo/vitals/alerting/slo"
	"github.com/vitalsgo/vitals/exporter/memory"
	"github.com/vitalsgo/vitals/healthcheck"
	"github.com/vitalsgo/vitals/instrument"
)

// TestNewRefusesIncompleteConfig: a handler without a health registry, or
// with SLOs and no querier to compute them, is an error, not a handler
// that panics on its first request.
func TestNewRefusesIncompleteConfig(t *testing.T) {
	health, err := healthcheck.New(healthcheck.WithLogger(discard))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = health.Shutdown(t.Context()) })
	if _, err := New(Config{}); err == nil {
		t.Error("New accepted a Config without Health")
	}
	if _, err := New(Config{Health: health, SLOs: []slo.SLO{slo.HTTPAvailability("a", 99, "")}}); err == nil {
		t.Error("New accepted SLOs without a History")
	}
}

// TestRoutesFollowConfig: the routes registered are those the Config
// provides for, and Routes returns a copy.
func TestRoutesFollowConfig(t *testing.T) {
	health, err := healthcheck.New(healthcheck.WithLogger(discard))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = health.Shutdown(t.Context()) })
	bare, err := New(Config{Health: health})
	if err != nil {
		t.Fatal(err)
	}
	withHistory, err := New(Config{Health: health, History: memory.New(memory.WithLogger(discard))})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		h    *Handler
		want bool
	}{{bare, false}, {withHistory, true}} {
		routes := tc.h.Routes()
		if got := slices.Contains(routes, "GET /monitoring/api/query"); got != tc.want {
			t.Errorf("query route registered: %v, want %v (%v)", got, tc.want, routes)
		}
		if slices.Contains(routes, "GET /monitoring/api/alerts") {
			t.Errorf("alert routes without an engine: %v", routes)
		}
		routes[0] = "changed"
		if tc.h.Routes()[0] == "changed" {
			t.Error("Routes returns the handler's own slice")
		}
	}
	rec := httptest.NewRecorder()
	bare.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("/metrics without Config.Metrics: %d", rec.Code)
	}
}

// TestOwnRequestsAreNotRecorded: inside an instrument.Middleware, the
// handler's own requests are skipped unless CountHandlerRequests, and a path it
// does not serve is recorded under the overflow route.
func TestOwnRequestsAreNotRecorded(t *testing.T) {
	for _, tc := range []struct {
		count bool
		want  []string
	}{
		{false, []string{"/orders", instrument.Overflow}},
		{true, []string{"/livez", "/metrics", "/monitoring/api/health", "/orders", instrument.Overflow}},
	} {
		v := newEnv(t, withMemory(memory.WithInterval(time.Hour)), func(c *envConfig) { c.cfg.CountHandlerRequests = tc.count })
		mux := http.NewServeMux()
		mux.HandleFunc("GET /orders", func(http.ResponseWriter, *http.Request) {})
		mux.Handle("/", v.Handler())
		h := instrument.Middleware(mux, instrument.WithMeterProvider(v.provider), instrument.WithLogger(discard))
		for _, path := range []string{"/metrics", "/livez", "/monitoring/api/health", "/orders", "/wp-login.php"} {
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
		}
		if err := v.mem.Collect(t.Context()); err != nil {
			t.Fatal(err)
		}
		res, err := v.mem.Query(t.Context(), `sum by (http_route) (http_server_request_duration_seconds_count)`, v.mem.Now())
		if err != nil {
			t.Fatal(err)
		}
		var routes []string
		for _, s := range res.Value.(memory.Vector) {
			routes = append(routes, s.Metric.Get("http_route"))
		}
		slices.Sort(routes)
		if !slices.Equal(routes, tc.want) {
			t.Errorf("CountHandlerRequests %v: routes recorded %v, want %v", tc.count, routes, tc.want)
		}
	}
}
