package instrument_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
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

// benchHandler is one variant the benchmarks compare.
type benchHandler struct {
	name string
	h    http.Handler
}

// benchHandlers returns the handlers compared by the benchmarks, all around
// the same ServeMux with one trivial route.
func benchHandlers(tb testing.TB) []benchHandler {
	return benchHandlersOf(tb, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
}

// benchHandlersOf is benchHandlers around handler.
func benchHandlersOf(tb testing.TB, handler http.HandlerFunc) []benchHandler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", handler)

	p := mwProvider(tb) // one Prometheus reader
	// As vitals.Start builds it: /metrics shares the memory reader's
	// aggregations, which add native histograms.
	mem := memory.New()
	pm, err := exporter.New(context.Background(), exporter.Config{}, exporter.WithReader(mem.SDKReaders()...),
		exporter.WithPrometheusReaders(mem.ClassicReader(), mem.NativeReader()))
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

	return []benchHandler{
		{"bare", mux},
		{"promhttp", promhttp.InstrumentHandlerDuration(dur, promhttp.InstrumentHandlerCounter(cnt, mux))},
		{"otelhttp", otelhttp.NewHandler(mux, "", otelhttp.WithMeterProvider(p), otelhttp.WithTracerProvider(tracenoop.NewTracerProvider()))},
		{"vitals", instrument.Middleware(mux, instrument.WithMeterProvider(p))},
		{"vitals_with_memory_reader", instrument.Middleware(mux, instrument.WithMeterProvider(pm))},
		{"vitals_with_sdk_tracing", instrument.Middleware(mux, instrument.WithMeterProvider(p), instrument.WithTracerProvider(tp))},
	}
}

// BenchmarkMiddleware serves a trivial handler in-process: the same request
// each time and a minimal ResponseWriter whose header map is cleared, so
// that the figures are the instrumentation's cost and not the test
// harness's (httptest.NewRequest and NewRecorder alone cost several times a
// trivial handler).
func BenchmarkMiddleware(b *testing.B) {
	for _, tc := range benchHandlers(b) {
		b.Run(tc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/orders/42", nil)
			w := &nopWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				tc.h.ServeHTTP(w, req)
			}
		})
	}
}

// nopWriter is the cheapest ResponseWriter: it keeps headers and discards
// the rest.
type nopWriter struct{ h http.Header }

func (n *nopWriter) Header() http.Header         { return n.h }
func (n *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (n *nopWriter) WriteHeader(int)             {}

// BenchmarkLoopback serves the handlers on a real server on 127.0.0.1 and
// reports requests per second from 16 keep-alive connections driven by a
// minimal HTTP/1.1 client (as a load generator such as wrk would be), so
// that the figure is the server's throughput, not the Go client's header
// parsing, which shares the same two cores here.
func BenchmarkLoopback(b *testing.B) {
	loopback(b, benchHandlers(b), rawGet)
}

// BenchmarkLoopbackGoClient is BenchmarkLoopback with net/http's client.
// The client runs on the same cores and parses every response header into
// maps, so each extra response header (X-Request-Id) costs throughput here
// that a remote client pays on its own machine.
func BenchmarkLoopbackGoClient(b *testing.B) {
	loopback(b, benchHandlers(b), nil)
}

// BenchmarkLoopbackContentType is BenchmarkLoopback with a handler that
// sets its Content-Type, as most handlers do. A handler that touches its
// header map before writing makes net/http clone that map for the
// response (3 allocations), which the middleware does when it sets
// X-Request-Id: here the bare handler pays that too, so that the
// difference is the middleware's own cost in a real service.
func BenchmarkLoopbackContentType(b *testing.B) {
	loopback(b, benchHandlersOf(b, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok")
	}), rawGet)
}

func loopback(b *testing.B, handlers []benchHandler, get func(*bufio.ReadWriter) error) {
	for _, tc := range handlers {
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
			b.SetParallelism(8) // 16 connections: enough to keep both cores busy
			b.RunParallel(func(pb *testing.PB) {
				var rw *bufio.ReadWriter
				if get != nil {
					conn, err := net.Dial("tcp", srv.Listener.Addr().String())
					if err != nil {
						b.Error(err)
						return
					}
					defer conn.Close()
					rw = bufio.NewReadWriter(bufio.NewReader(conn), bufio.NewWriter(conn))
				}
				for pb.Next() {
					if get != nil {
						if err := get(rw); err != nil {
							b.Error(err)
							return
						}
						continue
					}
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

var rawRequest = []byte("GET /orders/42 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")

// rawGet sends one request on a keep-alive connection and reads the
// response: the status line and headers up to the blank line, then
// Content-Length bytes of body.
func rawGet(rw *bufio.ReadWriter) error {
	if _, err := rw.Write(rawRequest); err != nil {
		return err
	}
	if err := rw.Flush(); err != nil {
		return err
	}
	length := -1
	for first := true; ; first = false {
		line, err := rw.ReadSlice('\n')
		if err != nil {
			return err
		}
		if first && !bytes.HasPrefix(line, []byte("HTTP/1.1 200")) {
			return fmt.Errorf("status line %q", line)
		}
		if len(line) <= 2 {
			break
		}
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
			length, err = strconv.Atoi(string(bytes.TrimSpace(v)))
			if err != nil {
				return err
			}
		}
	}
	if length < 0 {
		return fmt.Errorf("no Content-Length")
	}
	_, err := rw.Discard(length)
	return err
}

// TestMiddlewareAllocations keeps the middleware's allocations over a bare
// handler within the budget of 4.
func TestMiddlewareAllocations(t *testing.T) {
	hs := benchHandlers(t)
	allocs := func(h http.Handler) float64 {
		req := httptest.NewRequest(http.MethodGet, "/orders/42", nil)
		w := &nopWriter{h: http.Header{}}
		return testing.AllocsPerRun(1000, func() {
			clear(w.h)
			h.ServeHTTP(w, req)
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

// discardSpans is a span exporter that drops what it is given: the batch
// processor's work is measured, not a collector's.
type discardSpans struct{}

func (discardSpans) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardSpans) Shutdown(context.Context) error                             { return nil }

// BenchmarkMiddlewareTracing compares the middleware with tracing on, at
// 10 % and 100 % sampling (an SDK tracer provider with a batch processor,
// as vitals.Start builds one), with otelhttp given the same meter and
// tracer providers; "off" is each without a tracer provider. The anchor is
// the bare mux.
func BenchmarkMiddlewareTracing(b *testing.B) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	p := mwProvider(b)
	variants := []struct {
		name    string
		sampler sdktrace.Sampler
	}{
		{"off", nil},
		{"sampled_10pct", sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0.1))},
		{"sampled_100pct", sdktrace.ParentBased(sdktrace.AlwaysSample())},
	}
	handlers := []benchHandler{{"bare", mux}}
	for _, v := range variants {
		if v.sampler == nil {
			handlers = append(handlers,
				benchHandler{"otelhttp/" + v.name, otelhttp.NewHandler(mux, "", otelhttp.WithMeterProvider(p), otelhttp.WithTracerProvider(tracenoop.NewTracerProvider()))},
				benchHandler{"vitals/" + v.name, instrument.Middleware(mux, instrument.WithMeterProvider(p))})
			continue
		}
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(v.sampler), sdktrace.WithBatcher(discardSpans{}))
		b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		handlers = append(handlers,
			benchHandler{"otelhttp/" + v.name, otelhttp.NewHandler(mux, "", otelhttp.WithMeterProvider(p), otelhttp.WithTracerProvider(tp))},
			benchHandler{"vitals/" + v.name, instrument.Middleware(mux, instrument.WithMeterProvider(p), instrument.WithTracerProvider(tp))})
	}
	for _, tc := range handlers {
		b.Run(tc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/orders/42", nil)
			w := &nopWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				tc.h.ServeHTTP(w, req)
			}
		})
	}
}
