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
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
	pm, err := exporter.NewMeterProvider(context.Background(), exporter.MetricsConfig{}, exporter.WithReader(mem.SDKReaders()...),
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

// loopbackConns is how many keep-alive connections drive each server:
// enough to keep both cores busy.
const loopbackConns = 16

// loopbackSlice is how long each server is loaded at a time.
const loopbackSlice = 50 * time.Millisecond

// loopbackTarget is one handler's server and what its slices measured.
type loopbackTarget struct {
	name    string
	url     string
	client  *http.Client        // Go's client (get == nil)
	conns   []*bufio.ReadWriter // the minimal client's connections
	reqs    int64
	took    time.Duration
	mallocs uint64
}

// loopback serves each handler on a real server on 127.0.0.1 and loads the
// servers in turn, loopbackSlice each, in a rotating order, until the
// benchmark time is spent: every server sees the same machine, so that a
// drift of the shared cores (a neighbour, a frequency change) moves all of
// them rather than whichever ran at that moment, as separate sub-benchmarks
// would. It reports each handler's requests per second ("bare-req/s") and
// allocations per request, server and client ("bare-allocs/req").
func loopback(b *testing.B, handlers []benchHandler, get func(*bufio.ReadWriter) error) {
	var targets []*loopbackTarget
	for _, tc := range handlers {
		if tc.name == "vitals_with_memory_reader" || tc.name == "vitals_with_sdk_tracing" {
			continue
		}
		srv := httptest.NewServer(tc.h)
		b.Cleanup(srv.Close)
		t := &loopbackTarget{name: tc.name, url: srv.URL + "/orders/42"}
		if get == nil {
			tr := &http.Transport{MaxIdleConnsPerHost: loopbackConns}
			b.Cleanup(tr.CloseIdleConnections)
			t.client = &http.Client{Transport: tr}
		} else {
			for range loopbackConns {
				conn, err := net.Dial("tcp", srv.Listener.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { conn.Close() })
				t.conns = append(t.conns, bufio.NewReadWriter(bufio.NewReader(conn), bufio.NewWriter(conn)))
			}
		}
		targets = append(targets, t)
	}
	one := func(t *loopbackTarget, i int) error {
		if get != nil {
			return get(t.conns[i])
		}
		resp, err := t.client.Get(t.url)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.Body.Close()
	}
	slice := func(t *loopbackTarget) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		var n atomic.Int64
		start := time.Now()
		deadline := start.Add(loopbackSlice)
		var wg sync.WaitGroup
		for i := range loopbackConns {
			wg.Go(func() {
				for time.Now().Before(deadline) {
					if err := one(t, i); err != nil {
						b.Error(err)
						return
					}
					n.Add(1)
				}
			})
		}
		wg.Wait()
		t.took += time.Since(start)
		t.reqs += n.Load()
		runtime.ReadMemStats(&after)
		t.mallocs += after.Mallocs - before.Mallocs
	}
	for _, t := range targets { // warm up connections, pools and caches
		slice(t)
		t.reqs, t.took, t.mallocs = 0, 0, 0
	}
	for round := 0; b.Loop(); round++ {
		for i := range targets {
			slice(targets[(round+i)%len(targets)])
		}
	}
	for _, t := range targets {
		b.ReportMetric(float64(t.reqs)/t.took.Seconds(), t.name+"-req/s")
		b.ReportMetric(float64(t.mallocs)/float64(max(t.reqs, 1)), t.name+"-allocs/req")
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
