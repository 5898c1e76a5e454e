package vitals_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/vitalsgo/vitals"
	"github.com/vitalsgo/vitals/exporter/memory"
)

// TestHandlerRequestsAreNotTraffic: with the whole mux wrapped in
// Middleware, as the quickstart does, scrapes, probes and the dashboard's
// polling are not the application's requests, so the summary and the
// default rules do not see them; WithCountHandlerRequests records them.
func TestHandlerRequestsAreNotTraffic(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []vitals.Option
		want []string
	}{
		// An unknown path reaches the handler mounted at "/": it is the
		// service's 404, recorded as a request that matched no route.
		{"default", nil, []string{"/orders", "_OTHER"}},
		{"counted", []vitals.Option{vitals.WithCountHandlerRequests()}, []string{"/livez", "/metrics", "/monitoring/api/health", "/monitoring/api/performance", "/monitoring/{$}", "/orders", "/readyz", "_OTHER"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vitals.CleanEnv(t)
			v, err := vitals.Start(t.Context(), tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer v.Shutdown(t.Context())
			mux := http.NewServeMux()
			mux.HandleFunc("POST /orders", func(http.ResponseWriter, *http.Request) {})
			mux.Handle("/", v.Handler())
			srv := httptest.NewServer(v.Middleware(mux))
			defer srv.Close()
			for _, path := range []string{"/metrics", "/livez", "/readyz", "/monitoring/", "/monitoring/api/performance", "/monitoring/api/health", "/wp-login.php"} {
				resp, err := http.Get(srv.URL + path)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			resp, err := http.Post(srv.URL+"/orders", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()

			if err := v.Memory().Collect(t.Context()); err != nil {
				t.Fatal(err)
			}
			res, err := v.Memory().Query(t.Context(), `sum by (http_route) (http_server_request_duration_seconds_count)`, v.Memory().Now())
			if err != nil {
				t.Fatal(err)
			}
			var routes []string
			for _, s := range res.Value.(memory.Vector) {
				routes = append(routes, s.Metric.Get("http_route"))
			}
			slices.Sort(routes)
			if !slices.Equal(routes, tc.want) {
				t.Errorf("routes recorded %v, want %v", routes, tc.want)
			}
		})
	}
}
