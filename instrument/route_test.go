package instrument_test

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/vitalsgo/vitals/instrument"
)

// sdkProvider returns an SDK provider read by hand.
func sdkProvider(t *testing.T) (*sdkmetric.MeterProvider, *sdkmetric.ManualReader) {
	t.Helper()
	r := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	t.Cleanup(func() { _ = mp.Shutdown(t.Context()) })
	return mp, r
}

// sdkRoutes collects r and returns the request counts of the duration
// histogram by http.route.
func sdkRoutes(t *testing.T, r *sdkmetric.ManualReader) map[string]uint64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != instrument.ScopeName {
			continue
		}
		for _, m := range sm.Metrics {
			if m.Name != instrument.MetricServerRequestDuration {
				continue
			}
			for _, dp := range m.Data.(metricdata.Histogram[float64]).DataPoints {
				route, _ := dp.Attributes.Value("http.route")
				out[route.AsString()] += dp.Count
			}
		}
	}
	return out
}

// randomHex returns n random hex digits.
func randomHex(rng *rand.Rand, n int) string {
	b := make([]byte, (n+1)/2)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return hex.EncodeToString(b)[:n]
}

// randomWord returns n random lower-case letters: a segment the normaliser
// keeps, the worst case for the route budget.
func randomWord(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(rng.IntN(26))
	}
	return string(b)
}

// TestRouteCapSurvivesWrongMethodFlood is the attack of one anonymous
// client: PUTs to a path registered only for GET and POST are 405s without
// a pattern. They used to be recorded with their normalised raw path
// (/orders/3fa9c01b27de: 12 hex digits were kept), 500 of them filled the
// route cap, and every real route became _OTHER.
func TestRouteCapSurvivesWrongMethodFlood(t *testing.T) {
	mp, reader := sdkProvider(t)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /orders/{id}", ok)
	mux.HandleFunc("GET /orders/{id}", ok)
	mux.HandleFunc("GET /health", ok)
	h := instrument.Middleware(mux, instrument.WithMeterProvider(mp))

	rng := rand.New(rand.NewPCG(3, 4))
	const flood = 520
	for range flood {
		if rec := mwDo(t, h, http.MethodPut, "/orders/"+randomHex(rng, 12)); rec.Code != http.StatusMethodNotAllowed {
			t.Fatalf("PUT answered %d, want 405", rec.Code)
		}
	}
	for i := range 3 {
		mwDo(t, h, http.MethodGet, fmt.Sprintf("/orders/%d", i))
		mwDo(t, h, http.MethodPost, "/orders/"+randomHex(rng, 12))
		mwDo(t, h, http.MethodGet, "/health")
	}

	got := sdkRoutes(t, reader)
	want := map[string]uint64{"/orders/{id}": 6, "/health": 3, instrument.Overflow: flood}
	var raw []string
	for route := range got {
		if want[route] == 0 {
			raw = append(raw, route)
		}
	}
	if len(raw) > 0 {
		slices.Sort(raw)
		t.Errorf("%d http.route values are not templates of the mux, such as %q", len(raw), raw[:min(3, len(raw))])
	}
	for route, n := range want {
		if got[route] != n {
			t.Errorf("http.route %q: %d requests, want %d", route, got[route], n)
		}
	}
}

// TestTemplatesSurviveSeriesFlood is the same attack through what still
// reaches the normaliser behind a ServeMux: paths it redirects (307, no
// pattern), sent with every method. 500 routes × 9 methods would be 4500
// series, past the SDK's limit of 2000 per instrument, and the real routes
// would go to its overflow series without a route; the normalised paths'
// budget counts series, so they stay under 500.
func TestTemplatesSurviveSeriesFlood(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithCardinalityLimit(2000))
	t.Cleanup(func() { _ = mp.Shutdown(t.Context()) })
	mux := http.NewServeMux()
	mux.HandleFunc("POST /orders/{id}", ok)
	mux.HandleFunc("GET /orders/{id}", ok)
	mux.HandleFunc("GET /health", ok)
	h := instrument.Middleware(mux, instrument.WithMeterProvider(mp))

	rng := rand.New(rand.NewPCG(7, 8))
	methods := []string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "BREW"}
	for range instrument.DefaultMaxRoutes + 100 {
		path := "/x/../" + randomWord(rng, 10) // kept by the normaliser
		for _, m := range methods {
			if rec := mwDo(t, h, m, path); rec.Code != http.StatusTemporaryRedirect {
				t.Fatalf("%s %s: %d, want a redirect", m, path, rec.Code)
			}
		}
	}
	mwDo(t, h, http.MethodGet, "/orders/1")
	mwDo(t, h, http.MethodPost, "/orders/2")
	mwDo(t, h, http.MethodGet, "/health")

	got := sdkRoutes(t, reader)
	if got["/orders/{id}"] != 2 || got["/health"] != 1 {
		t.Errorf("/orders/{id}: %d requests, /health: %d; want 2 and 1 (overflow series: %d requests)",
			got["/orders/{id}"], got["/health"], got[""])
	}
	series := sdkSeries(t, reader)
	if want := instrument.DefaultMaxRoutes + len(methods) + 3; series != want {
		t.Errorf("%d series, want %d: the normalised paths' budget, the overflow route with each method, and 3 templates", series, want)
	}
}

// sdkSeries collects r and returns the number of series of the duration
// histogram.
func sdkSeries(t *testing.T, r *sdkmetric.ManualReader) int {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if sm.Scope.Name == instrument.ScopeName && m.Name == instrument.MetricServerRequestDuration {
				n += len(m.Data.(metricdata.Histogram[float64]).DataPoints)
			}
		}
	}
	return n
}

// TestTemplatesHaveTheirOwnBudget floods a service with paths the
// normaliser keeps (plain words, the worst case) and then serves routes
// whose templates the application gives: the templates are recorded as
// themselves, and the normalised paths never take more than their budget.
func TestTemplatesHaveTheirOwnBudget(t *testing.T) {
	const maxRoutes = 20
	rng := rand.New(rand.NewPCG(5, 6))
	mp, reader := sdkProvider(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /mux/{n}", ok)
	h := instrument.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/set/"):
			instrument.SetRoute(r.Context(), "/set/"+r.URL.Path[len("/set/"):len("/set/")+1]+"/{rest}")
		case strings.HasPrefix(r.URL.Path, "/mux/"):
			mux.ServeHTTP(w, r)
			return
		}
		ok(w, r)
	}), instrument.WithMeterProvider(mp), instrument.WithMaxRoutes(maxRoutes),
		instrument.WithRouteFunc(func(r *http.Request) string {
			if strings.HasPrefix(r.URL.Path, "/fn/") {
				return "/fn/{x}"
			}
			return ""
		}))

	for range 10 * maxRoutes {
		mwDo(t, h, http.MethodGet, "/"+randomWord(rng, 10)+"/"+randomWord(rng, 10))
	}
	// maxRoutes templates: /mux/{n}, /fn/{x} and 18 from SetRoute.
	mwDo(t, h, http.MethodGet, "/mux/1")
	mwDo(t, h, http.MethodGet, "/fn/abc")
	for i := range maxRoutes - 2 {
		mwDo(t, h, http.MethodGet, fmt.Sprintf("/set/%c/x", 'a'+i))
	}
	// One template too many.
	mwDo(t, h, http.MethodGet, "/set/z/x")

	got := sdkRoutes(t, reader)
	var templates, paths int
	for route := range got {
		switch {
		case route == instrument.Overflow:
		case strings.HasPrefix(route, "/mux/") || strings.HasPrefix(route, "/fn/") || strings.HasPrefix(route, "/set/"):
			templates++
		default:
			paths++
		}
	}
	if paths != maxRoutes {
		t.Errorf("%d normalised paths recorded, want the budget of %d", paths, maxRoutes)
	}
	if templates != maxRoutes {
		t.Errorf("%d templates recorded, want the budget of %d: %v", templates, maxRoutes, got)
	}
	for _, route := range []string{"/mux/{n}", "/fn/{x}", "/set/a/{rest}", "/set/r/{rest}"} {
		if got[route] != 1 {
			t.Errorf("template %q: %d requests, want 1", route, got[route])
		}
	}
	if n := got[instrument.Overflow]; n != 9*maxRoutes+1 {
		t.Errorf("%d requests as %s, want %d: the paths past their budget and the last template", n, instrument.Overflow, 9*maxRoutes+1)
	}
}

// TestUnmatchedRequestsAreOverflow checks that 404 and 405 answers without
// a pattern never record their path, whatever the router.
func TestUnmatchedRequestsAreOverflow(t *testing.T) {
	mp, reader := sdkProvider(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", ok)
	plain := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	})
	viaMux := instrument.Middleware(mux, instrument.WithMeterProvider(mp))
	viaPlain := instrument.Middleware(plain, instrument.WithMeterProvider(mp))
	for _, tc := range []struct {
		h              http.Handler
		method, target string
		status         int
	}{
		{viaMux, http.MethodDelete, "/items/word", http.StatusMethodNotAllowed},
		{viaMux, http.MethodGet, "/nothing/here", http.StatusNotFound},
		{viaPlain, http.MethodPatch, "/things/word", http.StatusMethodNotAllowed},
	} {
		if rec := mwDo(t, tc.h, tc.method, tc.target); rec.Code != tc.status {
			t.Fatalf("%s %s: %d, want %d", tc.method, tc.target, rec.Code, tc.status)
		}
	}
	mwDo(t, viaPlain, http.MethodGet, "/things/word")
	got := sdkRoutes(t, reader)
	want := map[string]uint64{instrument.Overflow: 3, "/things/word": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("routes %v, want %v", got, want)
	}
}

func TestNormalizePath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "/"},
		{"/", "/"},
		{"/trailing/", "/trailing/"},
		{"//double//slash", "/double/slash"},
		{"/users/123/orders/9f1c2b6e-1d2a-4c3b-8f00-0123456789ab", "/users/{id}/orders/{uuid}"},
		{"/" + strings.Repeat("x", 100), "/{token}"},
		{strings.Repeat("/s", 20), strings.Repeat("/s", 12) + "/{rest}"},
		{"/a/{b}", "/a/{value}"},
		{"/search/%F0%9F%98%80", "/search/{value}"},
		{"/café", "/{value}"},

		// Words, versions and file names are kept.
		{"/api/v1/orders", "/api/v1/orders"},
		{"/v2/checkout", "/v2/checkout"},
		{"/apis/apps/v1beta1/deployments", "/apis/apps/v1beta1/deployments"},
		{"/v2alpha1", "/v2alpha1"},
		{"/v10", "/v10"},
		{"/V3/beta", "/V3/beta"},
		{"/v1beta", "/v1beta"},
		{"/v1234567", "/{token}"},
		{"/v1beta12345", "/{token}"},
		{"/static/favicon.ico", "/static/favicon.ico"},
		{"/assets/jquery-3.6.0.min.js", "/assets/jquery-3.6.0.min.js"},
		{"/products/espresso-beans", "/products/espresso-beans"},
		{"/facade/decade/cafe/beef/added", "/facade/decade/cafe/beef/added"},
		{"/oauth2/callback", "/oauth2/callback"},
		{"/oauth2callback", "/oauth2callback"},
		{"/sha256/base64/utf8/x509/md5", "/sha256/base64/utf8/x509/md5"},
		{"/i18n/l10n/a11y/k8s/e2e/b2b/2fa", "/i18n/l10n/a11y/k8s/e2e/b2b/2fa"},
		{"/x86_64/amd64/ipv6/http2/mp4/1080p", "/x86_64/amd64/ipv6/http2/mp4/1080p"},
		{"/rfc3339/iso8601/es2015/covid19", "/rfc3339/iso8601/es2015/covid19"},
		{"/ab12/a1b2", "/ab12/a1b2"}, // too short to tell from a word
		{"/.well-known/openid-configuration", "/.well-known/openid-configuration"},

		// Numbers, with or without separators.
		{"/orders/42", "/orders/{id}"},
		{"/reports/2024-01-15", "/reports/{id}"},
		{"/hosts/10.0.0.1", "/hosts/{id}"},
		{"/calls/555-0100", "/calls/{id}"},
		// Hex with a digit, of any length from 6.
		{"/orders/3fa9c01b27de", "/orders/{id}"},
		{"/c/abc123", "/c/{id}"},
		{"/commits/1a2b3c4", "/commits/{id}"},
		{"/objects/507f1f77bcf86cd799439011", "/objects/{id}"},
		{"/C0FFEE", "/{id}"},
		{"/blobs/deadbeefdeadbeefdeadbeef00", "/blobs/{token}"},
		{"/blobs/da39a3ee5e6b4b0d3255bfef95601890afd80709", "/blobs/{token}"},
		{"/blobs/deadbeefdeadbeef", "/blobs/{token}"},
		// UUIDs.
		{"/u/9F1C2B6E-1D2A-4C3B-8F00-0123456789AB", "/u/{uuid}"},
		// Tokens: letters and digits mixed.
		{"/s/a1b2c3d4", "/s/{id}"}, // hex
		{"/s/a1b2c3x4", "/s/{token}"},
		{"/s/k3j9x2m1", "/s/{token}"},
		{"/ulid/01ARZ3NDEKTSV4RRFFQ69G5FAV", "/ulid/{token}"},
		{"/ulid/01arz3ndektsv4rrffq69g5fav", "/ulid/{token}"},
		{"/nano/V1StGXR8_Z5jdHi6B-myT", "/nano/{token}"},
		{"/nano/kLmPqRsT7u", "/nano/{token}"},
		{"/short/XK9PQRTZ", "/short/{token}"},
		{"/reset/eyJhbGciOiJIUzI1NiJ9abc123XYZ", "/reset/{token}"},
		{"/invoices/INV12345", "/invoices/{token}"},
		{"/products/espresso-beans-1234", "/products/{token}"},
		{"/assets/app.3f9a2b1c.js", "/assets/{token}"},
		// E-mail addresses.
		{"/users/alice@example.com/orders", "/users/{email}/orders"},
		{"/u/@handle", "/u/{email}"},
	}
	for _, tt := range tests {
		if got := instrument.NormalizePath(tt.in); got != tt.want {
			t.Errorf("NormalizePath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
