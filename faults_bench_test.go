package vitals_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/vitalsgo/vitals"
	"github.com/vitalsgo/vitals/exporter"
	"github.com/vitalsgo/vitals/internal/otlptest"
)

// BenchmarkCollectorFault measures the latency of requests through a real
// loopback server wrapped in Vitals' middleware while the OTLP collector
// fails, against the same service without an OTLP exporter. One request in
// ten answers 500, which makes a log record. With an endpoint, metrics,
// traces (every request sampled) and logs (OTEL_LOGS_EXPORTER=otlp) go to
// the collector; without one, the same spans and records are made and
// dropped (providers whose exporters discard them), so that only the
// collector's state differs. Exports run every 100 ms with a 250 ms OTLP
// timeout, so a 3 s run sees dozens of exports (or about ten hung ones).
// It reports the median and 99th percentile latency of one request, the
// request rate and the garbage collector's cycles a second (runs are
// comparable only at a like pace); the question it answers is whether a
// failing collector slows the service down.
//
//	go test -run '^$' -bench CollectorFault -benchtime 3s -count 3 .
func BenchmarkCollectorFault(b *testing.B) {
	faults := []struct {
		name string
		// endpoint returns the OTLP endpoint to push to, "" for none.
		endpoint func(b *testing.B) string
	}{
		{"no-exporter", func(*testing.B) string { return "" }},
		{"accepting", receiverWith(otlptest.Accept)},
		{"down", func(b *testing.B) string { return "http://" + closedAddr(b) }},
		{"unavailable-503", receiverWith(otlptest.Unavailable)},
		{"hanging", receiverWith(otlptest.Hang)},
	}
	// At Shutdown the SDK's periodic reader may report a "context canceled"
	// collect to OTel's global error handler, whose default prints it to
	// stderr, in the middle of a result line; the benchmark measures
	// latency, and the fault tests hold what is logged.
	prev := otel.GetErrorHandler()
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {}))
	b.Cleanup(func() { otel.SetErrorHandler(prev) })
	for _, f := range faults {
		b.Run(f.name, func(b *testing.B) {
			vitals.CleanEnv(b)
			b.Setenv(exporter.EnvMetricExportInterval, faultExportInterval)
			b.Setenv(exporter.EnvTimeout, faultOTLPTimeout)
			b.Setenv(exporter.EnvHeaders, faultHeaders)
			if ep := f.endpoint(b); ep != "" {
				b.Setenv(exporter.EnvEndpoint, ep)
				b.Setenv(exporter.EnvLogsExporter, "otlp")
			}
			opts := []vitals.Option{vitals.WithLogger(slog.New(slog.DiscardHandler))}
			if ep := os.Getenv(exporter.EnvEndpoint); ep == "" {
				tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discardSpans{}))
				lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(discardRecords{})))
				b.Cleanup(func() {
					_ = tp.Shutdown(context.Background())
					_ = lp.Shutdown(context.Background())
				})
				opts = append(opts, vitals.WithTracerProvider(tp), vitals.WithLoggerProvider(lp))
			}
			v, err := vitals.Start(b.Context(), opts...)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = v.Shutdown(ctx)
			})
			ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == failPath {
					http.Error(w, "failed", http.StatusInternalServerError)
					return
				}
				_, _ = io.WriteString(w, "ok")
			})
			srv := httptest.NewServer(v.Middleware(ok))
			client, closeIdle := keepAliveClient()
			b.Cleanup(func() {
				closeIdle()
				srv.Close()
			})
			metrics := httptest.NewServer(v.Handler())
			b.Cleanup(metrics.Close)

			for range 200 { // warm up the connection and the middleware
				if err := getStatus(client, srv.URL, http.StatusOK); err != nil {
					b.Fatal(err)
				}
			}
			lat := make([]time.Duration, 0, 1<<16)
			var gc0, gc1 runtime.MemStats
			runtime.ReadMemStats(&gc0)
			start := time.Now()
			for i := 0; b.Loop(); i++ {
				url, want := srv.URL, http.StatusOK
				if i%10 == 9 {
					url, want = srv.URL+failPath, http.StatusInternalServerError
				}
				t0 := time.Now()
				if err := getStatus(client, url, want); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			elapsed := time.Since(start)
			b.StopTimer()
			runtime.ReadMemStats(&gc1)

			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
			b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
			b.ReportMetric(float64(gc1.NumGC-gc0.NumGC)/elapsed.Seconds(), "gc/s")
			if f.name != "no-exporter" {
				b.ReportMetric(exportsTotal(b, metrics.URL, "failed"), "failed-exports")
				b.ReportMetric(exportsTotal(b, metrics.URL, "sent"), "ok-exports")
			}
		})
	}
}

// receiverWith returns an endpoint function starting an OTLP/HTTP receiver
// that answers with behavior and keeps nothing: the receiver shares the
// benchmark's process, and the hundreds of megabytes a keeping receiver
// holds after a run would slow the garbage collector's pace for the
// requests measured (8 cycles a second instead of 45), flattering the runs
// whose receiver gets telemetry.
func receiverWith(behavior otlptest.Behavior) func(*testing.B) string {
	return func(b *testing.B) string {
		rcv := otlptest.NewHTTP(b)
		rcv.Discard()
		rcv.SetBehavior(behavior)
		return rcv.Endpoint()
	}
}

// discardRecords is a log exporter that drops what it is given.
type discardRecords struct{}

func (discardRecords) Export(context.Context, []sdklog.Record) error { return nil }
func (discardRecords) Shutdown(context.Context) error                { return nil }
func (discardRecords) ForceFlush(context.Context) error              { return nil }

// discardSpans is a span exporter that drops what it is given.
type discardSpans struct{}

func (discardSpans) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardSpans) Shutdown(context.Context) error                             { return nil }
