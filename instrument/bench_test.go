package instrument_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/vitalsgo/vitals/exporter"
	"github.com/vitalsgo/vitals/exporter/memory"
	"github.com/vitalsgo/vitals/instrument"
)

// benchHandlers returns the handlers compared by the benchmarks, all around
// the same ServeMux with one trivial route.
func benchHandlers(tb testing.TB) []struct {
	name string
	h    http.Handler
} {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })

	p := mwProvider(tb) // one Prometheus reader
	mem := memory.New()
	pm, err := exporter.New(context.Background(), exporter.Config{}, exporter.WithReader(mem.SDKReader()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = pm.Shutdown(context.Background()) })

	reg := prometheus.NewRegistry()
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "http_request_duration_seconds", Buckets: prometheus.DefBuckets}, []string{"code", "method"})
	cnt := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total"}, []string{"code", "method"})
	reg.MustRegister(dur, cnt)

	tp := sdktrace.NewTracerProvider()
	tb.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	return []struct {
		name string
		h    http.Handler
	}{
		{"bare", mux},
		{"promhttp", promhttp.InstrumentHandlerDuration(dur, promhttp.InstrumentHandlerCounter(cnt, mux))},
		{"otelhttp", otelhttp.NewHandler(mux, "", otelhttp.WithMeterProvider(p), otelhttp.WithTracerProvider(tracenoop.NewTracerProvider()))},
		{"vitals", instrument.Middleware(mux, instrument.WithMeterProvider(p))},
		{"vitals_with_memory_reader", instrument.Middleware(mux, instrument.WithMeterProvider(pm))},
		{"vitals_with_sdk_tracing", instrument.Middleware(mux, instrument.WithMeterProvider(p), instrument.WithTracerProvider(tp))},
	}
}

// BenchmarkMiddleware serves a trivial handler in-process: one request and
// one recorder per operation, the same for every variant.
func BenchmarkMiddleware(b *testing.B) {
	for _, tc := range benchHandlers(b) {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, "/orders/42", nil)
				tc.h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}

// BenchmarkLoopback serves the handlers on a real server on 127.0.0.1 and
// reports requests per second with two clients in parallel, keep-alive on.
func BenchmarkLoopback(b *testing.B) {
	for _, tc := range benchHandlers(b) {
		if tc.name == "vitals_with_memory_reader" || tc.name == "vitals_with_sdk_tracing" {
			continue
		}
		b.Run(tc.name, func(b *testing.B) {
			srv := httptest.NewServer(tc.h)
			defer srv.Close()
			tr := &http.Transport{MaxIdleConnsPerHost: 16}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr}
			url := srv.URL + "/orders/42"
			b.SetParallelism(2)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Get(url)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}

// TestMiddlewareAllocations keeps the middleware's allocations over a bare
// handler within the budget of 4.
func TestMiddlewareAllocations(t *testing.T) {
	hs := benchHandlers(t)
	allocs := func(h http.Handler) float64 {
		return testing.AllocsPerRun(200, func() {
			req := httptest.NewRequest(http.MethodGet, "/orders/42", nil)
			h.ServeHTTP(httptest.NewRecorder(), req)
		})
	}
	bare := allocs(hs[0].h)
	for _, tc := range hs {
		if tc.name != "vitals" && tc.name != "vitals_with_memory_reader" {
			continue
		}
		if got := allocs(tc.h); got-bare > 4 {
			t.Errorf("%s: %v allocations per request over bare (%v), want at most 4", tc.name, got-bare, bare)
		}
	}
}
