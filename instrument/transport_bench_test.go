package instrument_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/vitalsgo/vitals/instrument"
)

// benchTransport is one client transport the benchmarks compare.
type benchTransport struct {
	name string
	rt   http.RoundTripper
}

// benchTransports returns the variants compared, all around base and with
// the same SDK meter provider (one manual reader) and SDK tracer provider.
func benchTransports(tb testing.TB, base http.RoundTripper) []benchTransport {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	tp := sdktrace.NewTracerProvider()
	tb.Cleanup(func() {
		_ = mp.Shutdown(context.Background())
		_ = tp.Shutdown(context.Background())
	})
	return []benchTransport{
		{"bare", base},
		{"vitals", instrument.Transport(base, instrument.WithMeterProvider(mp))},
		{"otelhttp", otelhttp.NewTransport(base, otelhttp.WithMeterProvider(mp), otelhttp.WithTracerProvider(tracenoop.NewTracerProvider()))},
		{"vitals_with_sdk_tracing", instrument.Transport(base, instrument.WithMeterProvider(mp), instrument.WithTracerProvider(tp))},
		{"otelhttp_with_sdk_tracing", otelhttp.NewTransport(base, otelhttp.WithMeterProvider(mp), otelhttp.WithTracerProvider(tp))},
		// The other design: spans by otelhttp (its metrics switched off)
		// around Vitals' metrics, as the server side does.
		{"vitals_metrics_otelhttp_spans", otelhttp.NewTransport(
			instrument.Transport(base, instrument.WithMeterProvider(mp)),
			otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()), otelhttp.WithTracerProvider(tp))},
	}
}

// BenchmarkTransport measures the instrumentation alone: the base answers
// in-process with a fresh copy of one response, so that the figures are
// not the network's.
func BenchmarkTransport(b *testing.B) {
	base := &copyingBase{resp: http.Response{StatusCode: 200, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{}}}
	for _, tc := range benchTransports(b, base) {
		b.Run(tc.name, func(b *testing.B) {
			req, err := http.NewRequest(http.MethodGet, "http://127.0.0.1:8080/orders/42", nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				resp, err := tc.rt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				_ = resp.Body.Close()
			}
		})
	}
}

// copyingBase answers every request with a copy of resp and an empty body
// that is not http.NoBody, as a response with a body would be: what the
// instrumentation wraps, it wraps here too.
type copyingBase struct{ resp http.Response }

func (c *copyingBase) RoundTrip(r *http.Request) (*http.Response, error) {
	resp := new(http.Response)
	*resp = c.resp
	resp.Request = r
	resp.Body = emptyBody{}
	return resp, nil
}

type emptyBody struct{}

func (emptyBody) Read([]byte) (int, error) { return 0, io.EOF }
func (emptyBody) Close() error             { return nil }

// BenchmarkTransportLoopback sends GET requests one after the other on one
// keep-alive connection to a real server on 127.0.0.1, reading and closing
// each response body.
func BenchmarkTransportLoopback(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	base := &http.Transport{MaxIdleConnsPerHost: 1}
	defer base.CloseIdleConnections()
	for _, tc := range benchTransports(b, base) {
		b.Run(tc.name, func(b *testing.B) {
			client := &http.Client{Transport: tc.rt}
			req, err := http.NewRequest(http.MethodGet, srv.URL+"/orders/42", nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
		})
	}
}
