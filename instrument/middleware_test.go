package instrument_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/vitalsgo/vitals/clock/clocktest"
	"github.com/vitalsgo/vitals/exporter"
	"github.com/vitalsgo/vitals/instrument"
	"github.com/vitalsgo/vitals/internal/logtest"
)

// mwProvider returns a real provider with a Prometheus reader.
func mwProvider(t testing.TB) *exporter.MeterProvider {
	t.Helper()
	p, err := exporter.NewMeterProvider(context.Background(), exporter.MetricsConfig{ServiceName: "mw-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return p
}

// mwScrape returns the families on p's /metrics.
func mwScrape(t testing.TB, p *exporter.MeterProvider) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	p.PrometheusHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

func mwLabels(m *dto.Metric) map[string]string {
	l := map[string]string{}
	for _, p := range m.GetLabel() {
		l[p.GetName()] = p.GetValue()
	}
	return l
}

// mwDurations returns the request counts of the duration histogram by the
// value of one label.
func mwDurations(t testing.TB, p *exporter.MeterProvider, label string) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	for _, m := range mwScrape(t, p)["http_server_request_duration_seconds"].GetMetric() {
		if l := mwLabels(m); l["otel_scope_name"] == instrument.ScopeName {
			out[l[label]] += m.GetHistogram().GetSampleCount()
		}
	}
	return out
}

func mwDo(t testing.TB, h http.Handler, method, target string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func ok(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }

// copying is a middleware that copies the request, as many do.
func copying(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		type k struct{}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), k{}, 1)))
	})
}

func TestRouteTemplates(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", ok)
	mux.HandleFunc("POST /orders", ok)
	mux.HandleFunc("example.com/host/{x}", ok)
	mux.HandleFunc("/files/{path...}", ok)
	mux.HandleFunc("/products/{slug}", ok)

	tests := []struct {
		name string
		wrap func(http.Handler) http.Handler
		// want maps request target to the expected route.
		want map[string]string
	}{
		{"mux directly", func(h http.Handler) http.Handler { return h }, map[string]string{
			"GET /orders/42":                "/orders/{id}",
			"POST /orders":                  "/orders",
			"GET http://example.com/host/a": "/host/{x}",
			"GET /files/a/b/c.txt":          "/files/{path...}",
			"GET /products/espresso":        "/products/{slug}",
		}},
		{"copying middleware with Routes", func(h http.Handler) http.Handler { return copying(instrument.Routes(h)) }, map[string]string{
			"GET /orders/42":         "/orders/{id}",
			"GET /products/espresso": "/products/{slug}",
		}},
		// Without Routes, the pattern is lost on the copy: the normaliser
		// keeps cardinality bounded, but a slug is not recognised.
		{"copying middleware without Routes", copying, map[string]string{
			"GET /orders/42":         "/orders/{id}",
			"GET /products/espresso": "/products/espresso",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mwProvider(t)
			h := instrument.Middleware(tt.wrap(mux), instrument.WithMeterProvider(p))
			for target := range tt.want {
				method, url, _ := strings.Cut(target, " ")
				if rec := mwDo(t, h, method, url); rec.Code != http.StatusOK {
					t.Fatalf("%s: %d", target, rec.Code)
				}
			}
			got := mwDurations(t, p, "http_route")
			for target, route := range tt.want {
				if got[route] == 0 {
					t.Errorf("%s: route %q not recorded; got %v", target, route, got)
				}
			}
			if len(got) != len(tt.want) {
				t.Errorf("routes %v, want exactly %v", got, tt.want)
			}
		})
	}
}

func TestRouteFuncAndSetRoute(t *testing.T) {
	p := mwProvider(t)
	router := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/set/") {
			instrument.SetRoute(r.Context(), "/set/{name}")
		}
		ok(w, r)
	})
	h := instrument.Middleware(router, instrument.WithMeterProvider(p),
		instrument.WithRouteFunc(func(r *http.Request) string {
			if strings.HasPrefix(r.URL.Path, "/users/") {
				return "/users/{name}"
			}
			return ""
		}))
	mwDo(t, h, "GET", "/users/alice")
	mwDo(t, h, "GET", "/set/bob")
	mwDo(t, h, "GET", "/plain/7")
	got := mwDurations(t, p, "http_route")
	for _, want := range []string{"/users/{name}", "/set/{name}", "/plain/{id}"} {
		if got[want] != 1 {
			t.Errorf("route %q: %d requests; got %v", want, got[want], got)
		}
	}
}

func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"/", "/users/1", "/a/b/c/", "/x/9f1c2b6e-1d2a-4c3b-8f00-0123456789ab", "%zz/\x00", strings.Repeat("/ab", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got := instrument.NormalizePath(p)
		if !strings.HasPrefix(got, "/") {
			t.Fatalf("%q: %q does not start with /", p, got)
		}
		if len(got) > 12*(64+1)+len("/{rest}") {
			t.Fatalf("%q: %d bytes", p, len(got))
		}
		if strings.Contains(got, "@") {
			t.Fatalf("%q: %q keeps an e-mail address", p, got)
		}
		for i := 0; i < len(got); i++ {
			c := got[i]
			if c < 0x21 || c > 0x7e {
				t.Fatalf("%q: output %q has byte %#x", p, got, c)
			}
		}
		if again := instrument.NormalizePath(got); again != got && !strings.Contains(got, "{") {
			t.Fatalf("%q: not stable: %q then %q", p, got, again)
		}
	})
}

func TestRouteCardinalityIsCapped(t *testing.T) {
	p := mwProvider(t)
	const maxRoutes = 50
	h := instrument.Middleware(http.HandlerFunc(ok), instrument.WithMeterProvider(p), instrument.WithMaxRoutes(maxRoutes))
	notFound := instrument.Middleware(http.NotFoundHandler(), instrument.WithMeterProvider(p))
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		path := fmt.Sprintf("/%c%c%c/%c%c", 'a'+r.IntN(26), 'a'+r.IntN(26), 'a'+r.IntN(26), 'a'+r.IntN(26), 'a'+r.IntN(26))
		mwDo(t, h, "GET", path)
		if i%10 == 0 {
			mwDo(t, notFound, "GET", path)
		}
	}
	got := mwDurations(t, p, "http_route")
	if len(got) > maxRoutes+1 {
		t.Errorf("%d route values, want at most %d", len(got), maxRoutes+1)
	}
	var total uint64
	for _, n := range got {
		total += n
	}
	if total != 22000 {
		t.Errorf("%d requests recorded, want 22000: none may be lost past the cap", total)
	}
	if got[instrument.Overflow] < 2000 {
		t.Errorf("%d requests under %s, want at least the 2000 unmatched 404s", got[instrument.Overflow], instrument.Overflow)
	}
}

func TestRequestID(t *testing.T) {
	var seen string
	h := instrument.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = instrument.RequestID(r.Context())
		switch r.URL.Path {
		case "/panic":
			panic("boom")
		case "/missing":
			http.NotFound(w, r)
		}
	}), instrument.WithMeterProvider(mwProvider(t)), instrument.WithLogger(discard()))

	tests := []struct {
		in   string
		keep bool
	}{
		{"abc-123", true},
		{"01HZX3K8Q2:trace.7_x", true},
		{"550e8400-e29b-41d4-a716-446655440000", true},
		{"", false},
		{strings.Repeat("a", 65), false},
		{"has space", false},
		{"new\nline", false},
		{"<script>", false},
		{"naïve", false},
	}
	for _, path := range []string{"/", "/panic", "/missing"} {
		for _, tt := range tests {
			rec := mwDo(t, h, "GET", path, instrument.RequestIDHeader, tt.in)
			got := rec.Header().Get(instrument.RequestIDHeader)
			if tt.keep && got != tt.in {
				t.Errorf("%s %q: response ID %q, want it kept", path, tt.in, got)
			}
			if !tt.keep && (got == tt.in || len(got) != 16) {
				t.Errorf("%s %q: response ID %q, want a new 16-digit one", path, tt.in, got)
			}
			if seen != got {
				t.Errorf("%s: RequestID(ctx) = %q, header %q", path, seen, got)
			}
		}
	}
	a := mwDo(t, h, "GET", "/").Header().Get(instrument.RequestIDHeader)
	b := mwDo(t, h, "GET", "/").Header().Get(instrument.RequestIDHeader)
	if a == b {
		t.Errorf("two requests got the same new ID %q", a)
	}
	if instrument.RequestID(context.Background()) != "" {
		t.Error("RequestID outside the middleware is not empty")
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// stepClock returns start, then start+step, start+2*step, ... at each
// reading; safe for concurrent use.
type stepClock struct {
	*clocktest.Clock
	step time.Duration
}

func newStepClock(start time.Time, step time.Duration) *stepClock {
	return &stepClock{Clock: clocktest.New(start), step: step}
}

func (c *stepClock) Now() time.Time { return c.Advance(c.step).Add(-c.step) }

func TestSlowRequests(t *testing.T) {
	p := mwProvider(t)
	logger, logs := logtest.New()
	clk := newStepClock(time.Unix(0, 0), 1500*time.Millisecond)
	mux := http.NewServeMux()
	mux.HandleFunc("/reports/{id}", ok)
	mux.HandleFunc("/fast", ok)
	h := instrument.Middleware(mux, instrument.WithMeterProvider(p), instrument.WithClock(clk), instrument.WithLogger(logger),
		instrument.WithSlowThreshold(time.Second, map[string]time.Duration{"/reports/{id}": 2 * time.Second}))

	mwDo(t, h, "GET", "/fast?token=secret123")      // 1.5 s > 1 s: slow
	mwDo(t, h, "GET", "/reports/7?token=secret123") // 1.5 s < 2 s: not slow

	var slow float64
	for _, m := range mwScrape(t, p)["vitals_http_server_slow_requests_total"].GetMetric() {
		l := mwLabels(m)
		if l["http_route"] != "/fast" || l["http_request_method"] != "GET" {
			t.Errorf("slow request labels %v", l)
		}
		slow += m.GetCounter().GetValue()
	}
	if slow != 1 {
		t.Errorf("%v slow requests, want 1", slow)
	}
	out := logs.String()
	if logs.Lines() != 1 || !strings.Contains(out, "slow request") || !strings.Contains(out, "route=/fast") ||
		!strings.Contains(out, "status=200") || !strings.Contains(out, "duration=1.5s") || !strings.Contains(out, "request_id=") {
		t.Errorf("want one structured warning, got:\n%s", out)
	}
	if strings.Contains(out, "secret123") {
		t.Error("the query string reached the log")
	}
	// The duration recorded is the clock's.
	for _, m := range mwScrape(t, p)["http_server_request_duration_seconds"].GetMetric() {
		if s := m.GetHistogram().GetSampleSum(); s != 1.5 {
			t.Errorf("recorded %v s, want 1.5", s)
		}
	}
}

func TestPanicsAndErrors(t *testing.T) {
	p := mwProvider(t)
	logger, logs := logtest.New()
	var events []instrument.ErrorEvent
	mux := http.NewServeMux()
	mux.HandleFunc("/panic", func(http.ResponseWriter, *http.Request) { panic(errors.New("boom")) })
	mux.HandleFunc("/unavailable", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	mux.HandleFunc("/ok", ok)
	h := instrument.Middleware(mux, instrument.WithMeterProvider(p), instrument.WithLogger(logger),
		instrument.WithErrorHook(func(e instrument.ErrorEvent) { events = append(events, e) }))

	rec := mwDo(t, h, "GET", "/panic", "Authorization", "Bearer s3cret", "X-Trace", "t1")
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("panic answered %d, want 500", rec.Code)
	}
	if rec := mwDo(t, h, "GET", "/ok"); rec.Code != http.StatusOK {
		t.Errorf("after a panic the handler answers %d", rec.Code)
	}
	mwDo(t, h, "GET", "/unavailable")

	byType := map[string]string{}
	for _, m := range mwScrape(t, p)["http_server_request_duration_seconds"].GetMetric() {
		l := mwLabels(m)
		byType[l["http_route"]] = l["error_type"] + " " + l["http_response_status_code"]
	}
	want := map[string]string{"/panic": "*errors.errorString 500", "/unavailable": "503 503", "/ok": " 200"}
	for route, w := range want {
		if byType[route] != w {
			t.Errorf("%s: error_type and status %q, want %q", route, byType[route], w)
		}
	}
	if !strings.Contains(logs.String(), "panic serving request") || !strings.Contains(logs.String(), "boom") || !strings.Contains(logs.String(), "middleware_test.go") {
		t.Errorf("panic log lacks message or stack:\n%s", logs.String())
	}
	if len(events) != 2 {
		t.Fatalf("%d error events, want 2 (panic and 503)", len(events))
	}
	e := events[0]
	if e.Status != 500 || e.Route != "/panic" || e.Panic == nil || len(e.Stack) == 0 || e.RequestID == "" {
		t.Errorf("panic event %+v", e)
	}
	if got := e.Header.Get("Authorization"); got != instrument.Redacted {
		t.Errorf("Authorization in the event = %q", got)
	}
	if got := e.Header.Get("X-Trace"); got != "t1" {
		t.Errorf("X-Trace in the event = %q, want it kept", got)
	}
}

func TestWithoutPanicRecovery(t *testing.T) {
	p := mwProvider(t)
	h := instrument.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }),
		instrument.WithMeterProvider(p), instrument.WithoutPanicRecovery(), instrument.WithLogger(discard()))
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want the handler's panic", r)
			}
		}()
		mwDo(t, h, "GET", "/")
	}()
	if got := mwDurations(t, p, "error_type"); got["string"] != 1 {
		t.Errorf("the panicking request was not recorded: %v", got)
	}
}

func TestActiveRequests(t *testing.T) {
	p := mwProvider(t)
	entered, release := make(chan struct{}), make(chan struct{})
	h := instrument.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	}), instrument.WithMeterProvider(p))
	done := make(chan struct{})
	go func() { mwDo(t, h, "POST", "/slow"); close(done) }()
	<-entered
	active := func() float64 {
		for _, m := range mwScrape(t, p)["http_server_active_requests"].GetMetric() {
			if l := mwLabels(m); l["http_request_method"] == "POST" && l["url_scheme"] == "http" {
				return m.GetGauge().GetValue()
			}
		}
		return -1
	}
	if got := active(); got != 1 {
		t.Errorf("active requests during the request = %v, want 1", got)
	}
	close(release)
	<-done
	if got := active(); got != 0 {
		t.Errorf("active requests after = %v, want 0", got)
	}
}

func TestNoPersonalDataInMetrics(t *testing.T) {
	p := mwProvider(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/users/{name}", ok)
	h := instrument.Middleware(mux, instrument.WithMeterProvider(p))
	req := httptest.NewRequest("GET", "http://shop.example:8443/users/alice?email=a@b.c", nil)
	req.RemoteAddr = "203.0.113.7:5555"
	req.Header.Set("User-Agent", "secret-agent/1.0")
	h.ServeHTTP(httptest.NewRecorder(), req)
	var b strings.Builder
	for _, f := range mwScrape(t, p) {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				fmt.Fprintf(&b, "%s=%s ", l.GetName(), l.GetValue())
			}
		}
	}
	for _, leak := range []string{"203.0.113.7", "secret-agent", "a@b.c", "shop.example", "8443", "alice"} {
		if strings.Contains(b.String(), leak) {
			t.Errorf("metrics contain %q: %s", leak, b.String())
		}
	}
}

func TestServerAddressAndBodySizes(t *testing.T) {
	p := mwProvider(t)
	h := instrument.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "hello")
	}), instrument.WithMeterProvider(p), instrument.WithServerAddress(), instrument.WithBodySizes())
	req := httptest.NewRequest("POST", "http://api.example:8080/in", strings.NewReader("0123456789"))
	h.ServeHTTP(httptest.NewRecorder(), req)
	mfs := mwScrape(t, p)
	l := mwLabels(mfs["http_server_request_duration_seconds"].GetMetric()[0])
	if l["server_address"] != "api.example" || l["server_port"] != "8080" {
		t.Errorf("labels %v, want server_address and server_port", l)
	}
	if s := mfs["http_server_request_body_size_bytes"].GetMetric()[0].GetHistogram().GetSampleSum(); s != 10 {
		t.Errorf("request body size %v, want 10", s)
	}
	if s := mfs["http_server_response_body_size_bytes"].GetMetric()[0].GetHistogram().GetSampleSum(); s != 5 {
		t.Errorf("response body size %v, want 5", s)
	}
}

// TestSameMetricsAsOtelhttp serves one request through otelhttp and one
// through the middleware and compares what each puts on /metrics: names,
// types, bucket bounds and label names must be the same, except the labels
// Vitals drops by default (server_address, server_port) and the scope.
func TestSameMetricsAsOtelhttp(t *testing.T) {
	p := mwProvider(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", ok)
	viaOtel := otelhttp.NewHandler(mux, "", otelhttp.WithMeterProvider(p))
	viaVitals := instrument.Middleware(mux, instrument.WithMeterProvider(p))
	mwDo(t, viaOtel, "GET", "/orders/1")
	mwDo(t, viaVitals, "GET", "/orders/1")

	f := mwScrape(t, p)["http_server_request_duration_seconds"]
	if f == nil || f.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("no histogram http_server_request_duration_seconds")
	}
	series := map[string]*dto.Metric{}
	for _, m := range f.GetMetric() {
		series[mwLabels(m)["otel_scope_name"]] = m
	}
	o, v := series["go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"], series[instrument.ScopeName]
	if o == nil || v == nil {
		t.Fatalf("want one series from each; scopes: %v", slices.Collect(mapsKeys(series)))
	}
	ol, vl := mwLabels(o), mwLabels(v)
	for _, drop := range []string{"server_address", "server_port", "otel_scope_name"} {
		delete(ol, drop)
		delete(vl, drop)
	}
	if fmt.Sprint(ol) != fmt.Sprint(vl) {
		t.Errorf("labels differ:\notelhttp %v\nvitals   %v", ol, vl)
	}
	var ob, vb []float64
	for _, b := range o.GetHistogram().GetBucket() {
		ob = append(ob, b.GetUpperBound())
	}
	for _, b := range v.GetHistogram().GetBucket() {
		vb = append(vb, b.GetUpperBound())
	}
	if !slices.Equal(ob, vb) {
		t.Errorf("bucket bounds differ:\notelhttp %v\nvitals   %v", ob, vb)
	}
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestTracing(t *testing.T) {
	p := mwProvider(t)
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	logger, logs := logtest.New()
	traced := slog.New(instrument.LogHandler(logger.Handler()))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		traced.InfoContext(r.Context(), "handling")
		ok(w, r)
	})
	h := instrument.Middleware(mux, instrument.WithMeterProvider(p), instrument.WithTracerProvider(tp))
	rec := mwDo(t, h, "GET", "/orders/5", "Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	spans := sr.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	s := spans[0]
	if s.Name() != "GET /orders/{id}" || s.SpanContext().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("span %q in trace %s", s.Name(), s.SpanContext().TraceID())
	}
	out := logs.String()
	if !strings.Contains(out, "trace_id=4bf92f3577b34da6a3ce929d0e0e4736") || !strings.Contains(out, "request_id="+rec.Header().Get(instrument.RequestIDHeader)) {
		t.Errorf("log record lacks trace or request ID:\n%s", out)
	}
	if got := mwDurations(t, p, "http_route"); got["/orders/{id}"] != 1 {
		t.Errorf("with tracing on, metrics: %v", got)
	}
}

func TestMiddlewareConcurrentSafe(t *testing.T) {
	p := mwProvider(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /a/{id}", ok)
	mux.HandleFunc("GET /b", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) })
	h := instrument.Middleware(mux, instrument.WithMeterProvider(p))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				mwDo(t, h, "GET", fmt.Sprintf("/a/%d", g*1000+i))
				mwDo(t, h, "GET", "/b")
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			mwScrape(t, p)
		}
	})
	wg.Wait()
	got := mwDurations(t, p, "http_route")
	if got["/a/{id}"] != 1600 || got["/b"] != 1600 {
		t.Errorf("counts %v, want 1600 each", got)
	}
}

// TestServerAddressCapsPairs sends requests whose Host headers name one
// host on many ports and then many hosts: the cap bounds the
// (server.address, server.port) pairs, and a request past it is recorded
// as Overflow without a port, so a client cannot add series through the
// port any more than through the host.
func TestServerAddressCapsPairs(t *testing.T) {
	p := mwProvider(t)
	h := instrument.Middleware(http.HandlerFunc(ok), instrument.WithMeterProvider(p), instrument.WithServerAddress())
	const sent = 3 * instrument.DefaultMaxServerAddresses
	for i := range sent {
		req := httptest.NewRequest("GET", "/", nil)
		req.Host = fmt.Sprintf("api.example:%d", 1000+i)
		if i >= sent/2 {
			req.Host = fmt.Sprintf("h%d.example:8080", i)
		}
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	pairs := map[string]uint64{}
	for _, m := range mwScrape(t, p)["http_server_request_duration_seconds"].GetMetric() {
		l := mwLabels(m)
		pairs[l["server_address"]+" "+l["server_port"]] += m.GetHistogram().GetSampleCount()
	}
	if got, want := len(pairs), instrument.DefaultMaxServerAddresses+1; got != want {
		t.Errorf("%d (server_address, server_port) pairs recorded, want %d (the cap and the overflow)", got, want)
	}
	if n := pairs[instrument.Overflow+" "]; n != sent-instrument.DefaultMaxServerAddresses {
		t.Errorf("%d requests recorded as server_address=%s without a port, want %d; pairs %v", n, instrument.Overflow, sent-instrument.DefaultMaxServerAddresses, pairs)
	}
}
