package instrument_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/vitalsgo/vitals/instrument"
	"github.com/vitalsgo/vitals/internal/logtest"
)

// TestSkipRecording mounts monitoring routes that call SkipRecording in
// the same ServeMux as an application route: only the application route
// is recorded, slow or failing monitoring requests count nowhere, yet they
// get request IDs, their panics are recovered, and active requests stay
// balanced.
func TestSkipRecording(t *testing.T) {
	mp, reader := sdkProvider(t)
	logger, logs := logtest.New()
	clk := newStepClock(time.Unix(0, 0), 3*time.Second) // every request is slow
	var events []instrument.ErrorEvent
	entered, release := make(chan struct{}), make(chan struct{})

	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", ok)
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		instrument.SkipRecording(r.Context())
		ok(w, r)
	})
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, r *http.Request) {
		instrument.SkipRecording(r.Context())
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	mux.HandleFunc("GET /monitoring/panic", func(w http.ResponseWriter, r *http.Request) {
		instrument.SkipRecording(r.Context())
		panic("monitoring broke")
	})
	mux.HandleFunc("GET /monitoring/wait", func(w http.ResponseWriter, r *http.Request) {
		instrument.SkipRecording(r.Context())
		entered <- struct{}{}
		<-release
	})
	// One route: the skipped requests, served first, must not take it.
	h := instrument.Middleware(mux, instrument.WithMeterProvider(mp), instrument.WithClock(clk),
		instrument.WithLogger(logger), instrument.WithMaxRoutes(1),
		instrument.WithErrorHook(func(e instrument.ErrorEvent) { events = append(events, e) }))

	for _, tc := range []struct {
		target string
		status int
	}{
		{"/metrics", http.StatusOK},
		{"/livez", http.StatusServiceUnavailable},
		{"/monitoring/panic", http.StatusInternalServerError},
	} {
		rec := mwDo(t, h, http.MethodGet, tc.target)
		if rec.Code != tc.status {
			t.Errorf("%s: %d, want %d", tc.target, rec.Code, tc.status)
		}
		if rec.Header().Get(instrument.RequestIDHeader) == "" {
			t.Errorf("%s: no request ID", tc.target)
		}
	}
	done := make(chan struct{})
	go func() { mwDo(t, h, http.MethodGet, "/monitoring/wait"); close(done) }()
	<-entered
	if got := sdkSum(t, reader, instrument.MetricServerActiveRequests); got != 1 {
		t.Errorf("active requests during a skipped request = %d, want 1", got)
	}
	close(release)
	<-done
	if got := sdkSum(t, reader, instrument.MetricServerActiveRequests); got != 0 {
		t.Errorf("active requests after = %d, want 0", got)
	}
	mwDo(t, h, http.MethodGet, "/orders/7")

	if got := sdkRoutes(t, reader); len(got) != 1 || got["/orders/{id}"] != 1 {
		t.Errorf("routes %v, want only the application's /orders/{id}", got)
	}
	if got := sdkSum(t, reader, instrument.MetricServerSlowRequests); got != 1 {
		t.Errorf("%d slow requests, want 1: the application's", got)
	}
	if len(events) != 0 {
		t.Errorf("%d error events for skipped requests, want none", len(events))
	}
	out := logs.String()
	if n := strings.Count(out, "slow request"); n != 1 || !strings.Contains(out, "route=/orders/{id}") {
		t.Errorf("want one slow-request warning, the application's; got:\n%s", out)
	}
	if !strings.Contains(out, "panic serving request") || !strings.Contains(out, "monitoring broke") {
		t.Errorf("the skipped request's panic is not logged:\n%s", out)
	}
}

// TestSkipRecordingWithoutPanicRecovery checks that a skipped request's
// panic still reaches net/http when recovery is off.
func TestSkipRecordingWithoutPanicRecovery(t *testing.T) {
	mp, reader := sdkProvider(t)
	h := instrument.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		instrument.SkipRecording(r.Context())
		panic("boom")
	}), instrument.WithMeterProvider(mp), instrument.WithoutPanicRecovery(), instrument.WithLogger(discard()))
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want the handler's panic", r)
			}
		}()
		mwDo(t, h, http.MethodGet, "/")
	}()
	if got := sdkRoutes(t, reader); len(got) != 0 {
		t.Errorf("the skipped request was recorded: %v", got)
	}
	if got := sdkSum(t, reader, instrument.MetricServerActiveRequests); got != 0 {
		t.Errorf("active requests after the panic = %d, want 0", got)
	}
}

func TestSkipRecordingOutsideMiddleware(t *testing.T) {
	instrument.SkipRecording(context.Background()) // must not panic
	rec := httptest.NewRecorder()
	http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		instrument.SkipRecording(r.Context())
		ok(w, r)
	}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("status %d", rec.Code)
	}
}

// TestSkipRecordingAllocations checks that a skipped request costs no more
// allocations than a recorded one.
func TestSkipRecordingAllocations(t *testing.T) {
	mp, _ := sdkProvider(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", ok)
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		instrument.SkipRecording(r.Context())
		ok(w, r)
	})
	h := instrument.Middleware(mux, instrument.WithMeterProvider(mp))
	allocs := func(target string) float64 {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		w := &nopWriter{h: http.Header{}}
		return testing.AllocsPerRun(1000, func() {
			clear(w.h)
			h.ServeHTTP(w, req)
		})
	}
	if recorded, skipped := allocs("/orders/1"), allocs("/metrics"); skipped > recorded {
		t.Errorf("%v allocations per skipped request, more than a recorded one (%v)", skipped, recorded)
	}
}

// sdkSum returns the sum of one of the middleware's int64 counters.
func sdkSum(t *testing.T, r *sdkmetric.ManualReader, name string) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if sm.Scope.Name != instrument.ScopeName || m.Name != name {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				n += dp.Value
			}
		}
	}
	return n
}

// TestSkipRecordingSpan: a skipped request's sampled span is named by its
// route and carries its status, like any other, and an outer tracer's span
// is left alone when the middleware has no tracer.
func TestSkipRecordingSpan(t *testing.T) {
	tp, sr := clTracer(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, r *http.Request) {
		instrument.SkipRecording(r.Context())
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	h := instrument.Middleware(mux, instrument.WithTracerProvider(tp))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/livez", nil))
	spans := sr.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	attrs := map[string]string{}
	for _, kv := range spans[0].Attributes() {
		attrs[string(kv.Key)] = kv.Value.Emit()
	}
	if spans[0].Name() != "GET /livez" || attrs["http.route"] != "/livez" || attrs["http.response.status_code"] != "503" {
		t.Errorf("span %q with %v, want \"GET /livez\" with its route and status", spans[0].Name(), attrs)
	}
	// The request's Host has no port: the scheme's default, left out.
	if p, ok := attrs["server.port"]; ok {
		t.Errorf("server.port %s for a Host without a port, want none", p)
	}
	req := httptest.NewRequest(http.MethodGet, "/livez", nil)
	req.Host = "api.example:8080"
	h.ServeHTTP(httptest.NewRecorder(), req)
	var port string
	for _, kv := range sr.Ended()[1].Attributes() {
		if kv.Key == "server.port" {
			port = kv.Value.Emit()
		}
	}
	if port != "8080" {
		t.Errorf("server.port %q for Host api.example:8080", port)
	}

	// Without a tracer of its own, the middleware never touches the span
	// an outer middleware started.
	outer := tp.Tracer("outer")
	plain := instrument.Middleware(mux)
	ctx, span := outer.Start(context.Background(), "outer")
	plain.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/livez", nil).WithContext(ctx))
	span.End()
	if got := sr.Ended()[2].Name(); got != "outer" {
		t.Errorf("the outer span was renamed %q", got)
	}
}
