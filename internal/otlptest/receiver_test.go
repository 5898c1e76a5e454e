package otlptest_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"runtime"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	"github.com/vitalsgo/vitals/internal/otlptest"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// transport builds a receiver and a real OTLP exporter pointed at it. Retries
// are disabled so that each flush makes exactly one export attempt.
type transport struct {
	name        string
	newReceiver func(testing.TB) *otlptest.Receiver
	receiverAt  func(testing.TB, string) *otlptest.Receiver
	newExporter func(ctx context.Context, r *otlptest.Receiver, timeout time.Duration) (sdkmetric.Exporter, error)
}

func transports() []transport {
	headers := map[string]string{"x-test": "1"}
	return []transport{
		{"grpc", otlptest.NewGRPC, otlptest.NewGRPCAt, func(ctx context.Context, r *otlptest.Receiver, timeout time.Duration) (sdkmetric.Exporter, error) {
			return otlpmetricgrpc.New(ctx,
				otlpmetricgrpc.WithEndpoint(r.Endpoint()),
				otlpmetricgrpc.WithInsecure(),
				otlpmetricgrpc.WithHeaders(headers),
				otlpmetricgrpc.WithCompressor("gzip"),
				otlpmetricgrpc.WithTimeout(timeout),
				otlpmetricgrpc.WithRetry(otlpmetricgrpc.RetryConfig{Enabled: false}))
		}},
		{"http", otlptest.NewHTTP, otlptest.NewHTTPAt, func(ctx context.Context, r *otlptest.Receiver, timeout time.Duration) (sdkmetric.Exporter, error) {
			return otlpmetrichttp.New(ctx,
				otlpmetrichttp.WithEndpointURL(r.Endpoint()+"/v1/metrics"),
				otlpmetrichttp.WithHeaders(headers),
				otlpmetrichttp.WithCompression(otlpmetrichttp.GzipCompression),
				otlpmetrichttp.WithTimeout(timeout),
				otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig{Enabled: false}))
		}},
	}
}

// setup starts a receiver and a MeterProvider exporting to it, records
// counter=3 and returns both. The provider is shut down by t.Cleanup, before
// the receiver is closed.
func setup(t *testing.T, tr transport, timeout time.Duration) (*otlptest.Receiver, *sdkmetric.MeterProvider) {
	t.Helper()
	r := tr.newReceiver(t)
	exp, err := tr.newExporter(t.Context(), r, timeout)
	if err != nil {
		t.Fatalf("new exporter: %v", err)
	}
	mp := sdkmetric.NewMeterProvider(
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))),
		sdkmetric.WithResource(resource.NewSchemaless(
			attribute.String("service.name", "otlptest-test"),
			attribute.Int("pid", 42),
			attribute.Bool("debug", true),
		)),
	)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r.SetBehavior(otlptest.Accept)
		// The final export fails if the test closed the receiver; only the
		// release of the provider's resources matters here.
		_ = mp.Shutdown(ctx)
	})
	ctr, err := mp.Meter("otlptest").Int64Counter("requests_total")
	if err != nil {
		t.Fatalf("counter: %v", err)
	}
	ctr.Add(t.Context(), 3)
	return r, mp
}

func TestExport(t *testing.T) {
	for _, tr := range transports() {
		t.Run(tr.name, func(t *testing.T) {
			r, mp := setup(t, tr, 10*time.Second)
			if err := mp.ForceFlush(t.Context()); err != nil {
				t.Fatalf("ForceFlush: %v", err)
			}

			reqs := r.Requests()
			if len(reqs) != 1 {
				t.Fatalf("got %d requests, want 1", len(reqs))
			}
			req := reqs[0]
			if !req.Accepted || req.Behavior != otlptest.Accept {
				t.Errorf("Accepted, Behavior = %v, %v; want true, Accept", req.Accepted, req.Behavior)
			}
			if got := req.Header["X-Test"]; !slices.Equal(got, []string{"1"}) {
				t.Errorf(`Header["X-Test"] = %q, want ["1"]`, got)
			}
			attrs := req.ResourceAttributes()
			for k, want := range map[string]string{"service.name": "otlptest-test", "pid": "42", "debug": "true"} {
				if got := attrs[k]; got != want {
					t.Errorf("resource attribute %q = %q, want %q", k, got, want)
				}
			}
			if got, want := otlptest.MetricNames(reqs), []string{"requests_total"}; !slices.Equal(got, want) {
				t.Errorf("MetricNames = %q, want %q", got, want)
			}
			ms := otlptest.FindMetric(reqs, "requests_total")
			if len(ms) != 1 {
				t.Fatalf("FindMetric found %d metrics, want 1", len(ms))
			}
			if dps := ms[0].GetSum().GetDataPoints(); len(dps) != 1 || dps[0].GetAsInt() != 3 {
				t.Errorf("data points = %v, want one with value 3", dps)
			}
			if got := r.Attempts(); got != 1 {
				t.Errorf("Attempts = %d, want 1", got)
			}
		})
	}
}

func TestReset(t *testing.T) {
	for _, tr := range transports() {
		t.Run(tr.name, func(t *testing.T) {
			r, mp := setup(t, tr, 10*time.Second)
			if err := mp.ForceFlush(t.Context()); err != nil {
				t.Fatalf("ForceFlush: %v", err)
			}
			r.Reset()
			if got := len(r.Requests()); got != 0 {
				t.Errorf("after Reset: %d requests, want 0", got)
			}
			if err := mp.ForceFlush(t.Context()); err != nil {
				t.Fatalf("ForceFlush: %v", err)
			}
			if got := len(r.Requests()); got != 1 {
				t.Errorf("after Reset and an export: %d requests, want 1", got)
			}
			if got := r.Attempts(); got != 2 {
				t.Errorf("Attempts = %d, want 2", got)
			}
		})
	}
}

func TestDiscard(t *testing.T) {
	for _, tr := range transports() {
		t.Run(tr.name, func(t *testing.T) {
			r, mp := setup(t, tr, 10*time.Second)
			r.Discard()
			// The export succeeds: the receiver answers as it would have.
			if err := mp.ForceFlush(t.Context()); err != nil {
				t.Fatalf("ForceFlush: %v", err)
			}
			if got := len(r.Requests()); got != 0 {
				t.Errorf("after Discard: %d requests kept, want 0", got)
			}
			if got := r.Attempts(); got != 1 {
				t.Errorf("Attempts = %d, want 1", got)
			}
			// Behaviors still apply.
			r.SetBehavior(otlptest.Unavailable)
			if err := mp.ForceFlush(t.Context()); err == nil {
				t.Error("ForceFlush succeeded against an Unavailable receiver that discards")
			}
			if got := r.Attempts(); got != 2 {
				t.Errorf("Attempts = %d, want 2", got)
			}
		})
	}
}

func TestUnavailable(t *testing.T) {
	for _, tr := range transports() {
		t.Run(tr.name, func(t *testing.T) {
			r, mp := setup(t, tr, 10*time.Second)
			r.SetBehavior(otlptest.Unavailable)
			if err := mp.ForceFlush(t.Context()); err == nil {
				t.Fatal("ForceFlush succeeded, want error")
			}
			reqs := r.Requests()
			if len(reqs) != 1 {
				t.Fatalf("got %d requests, want 1", len(reqs))
			}
			if reqs[0].Accepted || reqs[0].Behavior != otlptest.Unavailable {
				t.Errorf("Accepted, Behavior = %v, %v; want false, Unavailable", reqs[0].Accepted, reqs[0].Behavior)
			}
			if got := r.Attempts(); got != 1 {
				t.Errorf("Attempts = %d, want 1", got)
			}
		})
	}
}

func TestHangTimesOut(t *testing.T) {
	for _, tr := range transports() {
		t.Run(tr.name, func(t *testing.T) {
			r, mp := setup(t, tr, 100*time.Millisecond)
			r.SetBehavior(otlptest.Hang)
			if err := mp.ForceFlush(t.Context()); err == nil {
				t.Fatal("ForceFlush succeeded, want error")
			}
			if err := t.Context().Err(); err != nil {
				t.Fatalf("test context done (%v): the exporter timeout did not end the export", err)
			}
			reqs := r.Requests()
			if len(reqs) != 1 || reqs[0].Behavior != otlptest.Hang || reqs[0].Accepted {
				t.Errorf("requests = %+v, want one unaccepted Hang request", reqs)
			}
		})
	}
}

func TestCloseReleasesHungRequest(t *testing.T) {
	for _, tr := range transports() {
		t.Run(tr.name, func(t *testing.T) {
			r, mp := setup(t, tr, time.Minute)
			r.SetBehavior(otlptest.Hang)
			errc := make(chan error, 1)
			go func() { errc <- mp.ForceFlush(t.Context()) }()

			hung := func(reqs []otlptest.Request) bool { return len(reqs) > 0 }
			if err := r.Wait(t.Context(), hung); err != nil {
				t.Fatalf("Wait: %v", err)
			}
			start := time.Now()
			r.Close()
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Close took %v with a hung request", d)
			}
			if err := <-errc; err == nil {
				t.Error("ForceFlush succeeded, want error after Close")
			}
			r.Close() // idempotent
		})
	}
}

// TestComesBackAtSameAddress closes a receiver and starts another on its
// address: the exporter, still pointed there, reaches the new one.
func TestComesBackAtSameAddress(t *testing.T) {
	for _, tr := range transports() {
		t.Run(tr.name, func(t *testing.T) {
			r, mp := setup(t, tr, 5*time.Second)
			r.Close()
			if err := mp.ForceFlush(t.Context()); err == nil {
				t.Fatal("ForceFlush to a closed receiver succeeded")
			}
			back := tr.receiverAt(t, r.Addr())
			if back.Addr() != r.Addr() || back.Endpoint() != r.Endpoint() {
				t.Fatalf("new receiver at %q (%q), want %q (%q)", back.Addr(), back.Endpoint(), r.Addr(), r.Endpoint())
			}
			accepted := func(reqs []otlptest.Request) bool {
				return slices.ContainsFunc(reqs, func(r otlptest.Request) bool { return r.Accepted })
			}
			// gRPC reconnects with a backoff: flush until an export lands.
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			for ctx.Err() == nil && !accepted(back.Requests()) {
				_ = mp.ForceFlush(ctx)
			}
			if !accepted(back.Requests()) {
				t.Fatalf("no export reached the receiver started again at %s", r.Addr())
			}
		})
	}
}

func TestAtRejectsOtherHosts(t *testing.T) {
	ft := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		otlptest.NewHTTPAt(ft, "0.0.0.0:0")
	}()
	<-done
	if !ft.failed {
		t.Error("NewHTTPAt listened on 0.0.0.0")
	}
}

// fatalRecorder records Fatalf instead of failing the test.
type fatalRecorder struct {
	testing.TB
	failed bool
}

func (f *fatalRecorder) Fatalf(string, ...any) {
	f.failed = true
	runtime.Goexit()
}

func TestWaitContextDone(t *testing.T) {
	r := otlptest.NewGRPC(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	never := func([]otlptest.Request) bool { return false }
	if err := r.Wait(ctx, never); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait = %v, want context.Canceled", err)
	}
	always := func([]otlptest.Request) bool { return true }
	if err := r.Wait(ctx, always); err != nil {
		t.Errorf("Wait with satisfied condition = %v, want nil", err)
	}
}

func TestHTTPProtocol(t *testing.T) {
	r := otlptest.NewHTTP(t)
	tp := &http.Transport{}
	defer tp.CloseIdleConnections()
	client := &http.Client{Transport: tp}

	body, err := proto.Marshal(&colmetricpb.ExportMetricsServiceRequest{
		ResourceMetrics: []*metricpb.ResourceMetrics{{
			Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{
				Key:   "tags",
				Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{{Value: &commonpb.AnyValue_StringValue{StringValue: "a"}}, {Value: &commonpb.AnyValue_DoubleValue{DoubleValue: 1.5}}}}}},
			}}},
			ScopeMetrics: []*metricpb.ScopeMetrics{{Metrics: []*metricpb.Metric{{Name: "b"}, {Name: "a"}, {Name: "b"}}}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}

	do := func(method, path, contentType string, body []byte) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, r.Endpoint()+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if body != nil && body[0] == 0x1f { // gzip magic
			req.Header.Set("Content-Encoding", "gzip")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}

	if got := do(http.MethodGet, "/v1/metrics", "", nil).StatusCode; got != http.StatusMethodNotAllowed {
		t.Errorf("GET /v1/metrics: status %d, want 405", got)
	}
	if got := do(http.MethodPost, "/v1/profiles", "application/x-protobuf", body).StatusCode; got != http.StatusNotFound {
		t.Errorf("POST /v1/profiles: status %d, want 404", got)
	}
	if got := do(http.MethodPost, "/v1/metrics", "application/json", body).StatusCode; got != http.StatusUnsupportedMediaType {
		t.Errorf("POST JSON: status %d, want 415", got)
	}

	resp := do(http.MethodPost, "/v1/metrics", "application/x-protobuf", gz.Bytes())
	if resp.StatusCode != http.StatusOK {
		t.Errorf("POST gzip: status %d, want 200", resp.StatusCode)
	}
	if got := resp.Header.Get("Content-Type"); got != "application/x-protobuf" {
		t.Errorf("response Content-Type = %q, want application/x-protobuf", got)
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := proto.Unmarshal(data, new(colmetricpb.ExportMetricsServiceResponse)); err != nil {
		t.Errorf("response body: %v", err)
	}

	r.SetBehavior(otlptest.Unavailable)
	resp = do(http.MethodPost, "/v1/metrics", "application/x-protobuf", body)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("Unavailable: status %d, want 503", resp.StatusCode)
	}
	if got := resp.Header.Get("Retry-After"); got != "1" {
		t.Errorf("Unavailable: Retry-After = %q, want 1", got)
	}

	if got := r.Attempts(); got != 3 { // 415, 200, 503
		t.Errorf("Attempts = %d, want 3", got)
	}
	if got := r.TraceAttempts(); got != 0 {
		t.Errorf("TraceAttempts = %d after metrics exports only, want 0", got)
	}
	reqs := r.Requests()
	if len(reqs) != 2 || !reqs[0].Accepted || reqs[1].Accepted {
		t.Fatalf("requests = %+v, want one accepted then one refused", reqs)
	}
	if got := reqs[0].ResourceAttributes()["tags"]; got != "[a,1.5]" {
		t.Errorf(`resource attribute "tags" = %q, want "[a,1.5]"`, got)
	}
	if got, want := otlptest.MetricNames(reqs), []string{"a", "b"}; !slices.Equal(got, want) {
		t.Errorf("MetricNames = %q, want %q", got, want)
	}
	if got := len(otlptest.FindMetric(reqs, "b")); got != 4 {
		t.Errorf("FindMetric(b) found %d, want 4", got)
	}
}

func TestBehaviorString(t *testing.T) {
	for b, want := range map[otlptest.Behavior]string{
		otlptest.Accept: "Accept", otlptest.Unavailable: "Unavailable", otlptest.Hang: "Hang", 7: "Behavior(7)",
	} {
		if got := b.String(); got != want {
			t.Errorf("Behavior(%d).String() = %q, want %q", int(b), got, want)
		}
	}
}

// traceTransport builds a receiver and a real OTLP span exporter pointed at
// it. Retries are disabled so that each export makes exactly one attempt.
type traceTransport struct {
	name        string
	newReceiver func(testing.TB) *otlptest.Receiver
	newExporter func(ctx context.Context, r *otlptest.Receiver, timeout time.Duration) (sdktrace.SpanExporter, error)
}

func traceTransports() []traceTransport {
	headers := map[string]string{"x-test": "1"}
	return []traceTransport{
		{"grpc", otlptest.NewGRPC, func(ctx context.Context, r *otlptest.Receiver, timeout time.Duration) (sdktrace.SpanExporter, error) {
			return otlptracegrpc.New(ctx,
				otlptracegrpc.WithEndpoint(r.Endpoint()),
				otlptracegrpc.WithInsecure(),
				otlptracegrpc.WithHeaders(headers),
				otlptracegrpc.WithCompressor("gzip"),
				otlptracegrpc.WithTimeout(timeout),
				otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}))
		}},
		{"http", otlptest.NewHTTP, func(ctx context.Context, r *otlptest.Receiver, timeout time.Duration) (sdktrace.SpanExporter, error) {
			return otlptracehttp.New(ctx,
				otlptracehttp.WithEndpointURL(r.Endpoint()+"/v1/traces"),
				otlptracehttp.WithHeaders(headers),
				otlptracehttp.WithCompression(otlptracehttp.GzipCompression),
				otlptracehttp.WithTimeout(timeout),
				otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}))
		}},
	}
}

// Trace context of the spans setupTraces makes: the server span's remote
// parent.
var (
	testTraceID  = trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	testParentID = trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}
)

// setupTraces starts a receiver and a span exporter to it, and returns them
// with two ended spans to export: a server span "GET /orders/{id}", child of
// a remote parent (testTraceID, testParentID), and its internal child span
// "db". The exporter is shut down by t.Cleanup, before the receiver is
// closed.
func setupTraces(t *testing.T, tr traceTransport, timeout time.Duration) (*otlptest.Receiver, sdktrace.SpanExporter, []sdktrace.ReadOnlySpan) {
	t.Helper()
	r := tr.newReceiver(t)
	exp, err := tr.newExporter(t.Context(), r, timeout)
	if err != nil {
		t.Fatalf("new exporter: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r.SetBehavior(otlptest.Accept)
		_ = exp.Shutdown(ctx)
	})
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(rec),
		sdktrace.WithResource(resource.NewSchemaless(
			attribute.String("service.name", "otlptest-test"),
			attribute.Int("pid", 42),
		)),
	)
	defer func() { _ = tp.Shutdown(context.Background()) }()
	parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: testTraceID, SpanID: testParentID, TraceFlags: trace.FlagsSampled, Remote: true})
	ctx := trace.ContextWithRemoteSpanContext(t.Context(), parent)
	ctx, server := tp.Tracer("otlptest").Start(ctx, "GET /orders/{id}",
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.route", "/orders/{id}"), attribute.Int("http.response.status_code", 500)))
	_, db := tp.Tracer("otlptest").Start(ctx, "db")
	db.End()
	server.SetStatus(codes.Error, "")
	server.End()
	spans := rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("recorded %d spans, want 2", len(spans))
	}
	return r, exp, spans
}

func TestTraceExport(t *testing.T) {
	for _, tr := range traceTransports() {
		t.Run(tr.name, func(t *testing.T) {
			r, exp, spans := setupTraces(t, tr, 10*time.Second)
			if err := exp.ExportSpans(t.Context(), spans); err != nil {
				t.Fatalf("ExportSpans: %v", err)
			}

			reqs := r.TraceRequests()
			if len(reqs) != 1 {
				t.Fatalf("got %d trace requests, want 1", len(reqs))
			}
			req := reqs[0]
			if !req.Accepted || req.Behavior != otlptest.Accept {
				t.Errorf("Accepted, Behavior = %v, %v; want true, Accept", req.Accepted, req.Behavior)
			}
			if got := req.Header["X-Test"]; !slices.Equal(got, []string{"1"}) {
				t.Errorf(`Header["X-Test"] = %q, want ["1"]`, got)
			}
			if got := req.ResourceAttributes()["service.name"]; got != "otlptest-test" {
				t.Errorf("resource attribute service.name = %q, want otlptest-test", got)
			}
			if got, want := otlptest.SpanNames(reqs), []string{"GET /orders/{id}", "db"}; !slices.Equal(got, want) {
				t.Errorf("SpanNames = %q, want %q", got, want)
			}

			found := otlptest.FindSpans(reqs, "GET /orders/{id}")
			if len(found) != 1 {
				t.Fatalf("FindSpans found %d server spans, want 1", len(found))
			}
			server := found[0]
			if !server.Accepted {
				t.Error("server span: Accepted = false")
			}
			if got := server.Span.GetKind(); got != tracepb.Span_SPAN_KIND_SERVER {
				t.Errorf("server span kind = %v, want SERVER", got)
			}
			if got := server.Span.GetStatus().GetCode(); got != tracepb.Status_STATUS_CODE_ERROR {
				t.Errorf("server span status = %v, want ERROR", got)
			}
			if got, want := server.TraceID(), testTraceID.String(); got != want {
				t.Errorf("server span TraceID = %q, want %q", got, want)
			}
			if got, want := server.ParentSpanID(), testParentID.String(); got != want {
				t.Errorf("server span ParentSpanID = %q, want %q", got, want)
			}
			if got, want := server.SpanID(), spans[1].SpanContext().SpanID().String(); got != want {
				t.Errorf("server span SpanID = %q, want %q", got, want)
			}
			attrs := server.Attributes()
			for k, want := range map[string]string{"http.route": "/orders/{id}", "http.response.status_code": "500"} {
				if got := attrs[k]; got != want {
					t.Errorf("server span attribute %q = %q, want %q", k, got, want)
				}
			}
			for k, want := range map[string]string{"service.name": "otlptest-test", "pid": "42"} {
				if got := server.ResourceAttributes()[k]; got != want {
					t.Errorf("server span resource attribute %q = %q, want %q", k, got, want)
				}
			}
			if got := server.Scope.GetName(); got != "otlptest" {
				t.Errorf("server span scope = %q, want otlptest", got)
			}

			db := otlptest.FindSpans(reqs, "db")
			if len(db) != 1 {
				t.Fatalf("FindSpans found %d db spans, want 1", len(db))
			}
			if db[0].ParentSpanID() != server.SpanID() || db[0].TraceID() != server.TraceID() {
				t.Errorf("db span: trace %s parent %s, want trace %s parent %s", db[0].TraceID(), db[0].ParentSpanID(), server.TraceID(), server.SpanID())
			}
			if got := db[0].Span.GetKind(); got != tracepb.Span_SPAN_KIND_INTERNAL {
				t.Errorf("db span kind = %v, want INTERNAL", got)
			}
			if got := len(r.Spans()); got != 2 {
				t.Errorf("Spans() returned %d spans, want 2", got)
			}
			if got := r.TraceAttempts(); got != 1 {
				t.Errorf("TraceAttempts = %d, want 1", got)
			}
			if got, n := r.Attempts(), len(r.Requests()); got != 0 || n != 0 {
				t.Errorf("metrics: Attempts = %d, %d requests after a traces export; want 0, 0", got, n)
			}
		})
	}
}

// TestMetricsAndTracesApart sends metrics and traces to one receiver: each
// is recorded on its own side, and Reset forgets both.
func TestMetricsAndTracesApart(t *testing.T) {
	for i, tr := range traceTransports() {
		t.Run(tr.name, func(t *testing.T) {
			mtr := transports()[i]
			if mtr.name != tr.name {
				t.Fatalf("transports out of step: %s, %s", mtr.name, tr.name)
			}
			r, exp, spans := setupTraces(t, tr, 10*time.Second)
			mexp, err := mtr.newExporter(t.Context(), r, 10*time.Second)
			if err != nil {
				t.Fatalf("new metric exporter: %v", err)
			}
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(mexp, sdkmetric.WithInterval(time.Hour))))
			t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
			ctr, err := mp.Meter("otlptest").Int64Counter("requests_total")
			if err != nil {
				t.Fatal(err)
			}
			ctr.Add(t.Context(), 1)

			if err := exp.ExportSpans(t.Context(), spans); err != nil {
				t.Fatalf("ExportSpans: %v", err)
			}
			if err := mp.ForceFlush(t.Context()); err != nil {
				t.Fatalf("ForceFlush: %v", err)
			}
			if err := exp.ExportSpans(t.Context(), spans[:1]); err != nil {
				t.Fatalf("ExportSpans: %v", err)
			}
			if n, m := len(r.TraceRequests()), r.TraceAttempts(); n != 2 || m != 2 {
				t.Errorf("%d trace requests, %d trace attempts; want 2, 2", n, m)
			}
			if n, m := len(r.Requests()), r.Attempts(); n != 1 || m != 1 {
				t.Errorf("%d metrics requests, %d attempts; want 1, 1", n, m)
			}
			if got, want := otlptest.MetricNames(r.Requests()), []string{"requests_total"}; !slices.Equal(got, want) {
				t.Errorf("MetricNames = %q, want %q", got, want)
			}
			if got := len(r.Spans()); got != 3 {
				t.Errorf("Spans() returned %d spans, want 3", got)
			}

			r.Reset()
			if n, m := len(r.TraceRequests()), len(r.Requests()); n != 0 || m != 0 {
				t.Errorf("after Reset: %d trace requests, %d metrics requests; want 0, 0", n, m)
			}
			if n, m := r.TraceAttempts(), r.Attempts(); n != 2 || m != 1 {
				t.Errorf("after Reset: TraceAttempts, Attempts = %d, %d; want 2, 1", n, m)
			}
		})
	}
}

func TestTraceUnavailable(t *testing.T) {
	for _, tr := range traceTransports() {
		t.Run(tr.name, func(t *testing.T) {
			r, exp, spans := setupTraces(t, tr, 10*time.Second)
			r.SetBehavior(otlptest.Unavailable)
			if err := exp.ExportSpans(t.Context(), spans); err == nil {
				t.Fatal("ExportSpans succeeded, want error")
			}
			reqs := r.TraceRequests()
			if len(reqs) != 1 {
				t.Fatalf("got %d trace requests, want 1", len(reqs))
			}
			if reqs[0].Accepted || reqs[0].Behavior != otlptest.Unavailable {
				t.Errorf("Accepted, Behavior = %v, %v; want false, Unavailable", reqs[0].Accepted, reqs[0].Behavior)
			}
			for _, s := range r.Spans() {
				if s.Accepted {
					t.Errorf("span %q: Accepted = true in a refused request", s.Name())
				}
			}
			if got := r.TraceAttempts(); got != 1 {
				t.Errorf("TraceAttempts = %d, want 1", got)
			}

			r.SetBehavior(otlptest.Accept)
			if err := exp.ExportSpans(t.Context(), spans); err != nil {
				t.Fatalf("ExportSpans after Accept: %v", err)
			}
			if reqs := r.TraceRequests(); len(reqs) != 2 || !reqs[1].Accepted {
				t.Errorf("trace requests = %+v, want the second accepted", reqs)
			}
		})
	}
}

func TestTraceHangTimesOut(t *testing.T) {
	for _, tr := range traceTransports() {
		t.Run(tr.name, func(t *testing.T) {
			r, exp, spans := setupTraces(t, tr, 100*time.Millisecond)
			r.SetBehavior(otlptest.Hang)
			if err := exp.ExportSpans(t.Context(), spans); err == nil {
				t.Fatal("ExportSpans succeeded, want error")
			}
			if err := t.Context().Err(); err != nil {
				t.Fatalf("test context done (%v): the exporter timeout did not end the export", err)
			}
			reqs := r.TraceRequests()
			if len(reqs) != 1 || reqs[0].Behavior != otlptest.Hang || reqs[0].Accepted {
				t.Errorf("trace requests = %+v, want one unaccepted Hang request", reqs)
			}
		})
	}
}

func TestCloseReleasesHungTraceExport(t *testing.T) {
	for _, tr := range traceTransports() {
		t.Run(tr.name, func(t *testing.T) {
			r, exp, spans := setupTraces(t, tr, time.Minute)
			r.SetBehavior(otlptest.Hang)
			errc := make(chan error, 1)
			go func() { errc <- exp.ExportSpans(t.Context(), spans) }()

			hung := func(spans []otlptest.Span) bool { return len(spans) == 2 }
			if err := r.WaitSpans(t.Context(), hung); err != nil {
				t.Fatalf("WaitSpans: %v", err)
			}
			start := time.Now()
			r.Close()
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Close took %v with a hung traces export", d)
			}
			if err := <-errc; err == nil {
				t.Error("ExportSpans succeeded, want error after Close")
			}
		})
	}
}

func TestWaitTracesContextDone(t *testing.T) {
	r := otlptest.NewHTTP(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := r.WaitTraces(ctx, func([]otlptest.TraceRequest) bool { return false }); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitTraces = %v, want context.Canceled", err)
	}
	if err := r.WaitSpans(ctx, func([]otlptest.Span) bool { return false }); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitSpans = %v, want context.Canceled", err)
	}
	if err := r.WaitTraces(ctx, func([]otlptest.TraceRequest) bool { return true }); err != nil {
		t.Errorf("WaitTraces with satisfied condition = %v, want nil", err)
	}
}

func TestHTTPTracesProtocol(t *testing.T) {
	r := otlptest.NewHTTP(t)
	tp := &http.Transport{}
	defer tp.CloseIdleConnections()
	client := &http.Client{Transport: tp}

	body, err := proto.Marshal(&coltracepb.ExportTraceServiceRequest{
		ResourceSpans: []*tracepb.ResourceSpans{{
			Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{
				Key: "service.name", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "raw"}},
			}}},
			ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{
				{Name: "b", TraceId: testTraceID[:], SpanId: []byte{1, 2, 3, 4, 5, 6, 7, 8}},
				{Name: "a", TraceId: testTraceID[:], SpanId: []byte{1, 2, 3, 4, 5, 6, 7, 9}, ParentSpanId: []byte{1, 2, 3, 4, 5, 6, 7, 8}},
			}}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}

	do := func(method, contentType, encoding string, body []byte) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, r.Endpoint()+"/v1/traces", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if encoding != "" {
			req.Header.Set("Content-Encoding", encoding)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}

	if got := do(http.MethodGet, "", "", nil).StatusCode; got != http.StatusMethodNotAllowed {
		t.Errorf("GET /v1/traces: status %d, want 405", got)
	}
	if got := do(http.MethodPost, "application/json", "", body).StatusCode; got != http.StatusUnsupportedMediaType {
		t.Errorf("POST JSON: status %d, want 415", got)
	}
	if got := do(http.MethodPost, "application/x-protobuf", "gzip", body).StatusCode; got != http.StatusBadRequest {
		t.Errorf("POST a plain body as gzip: status %d, want 400", got)
	}

	resp := do(http.MethodPost, "application/x-protobuf", "gzip", gz.Bytes())
	if resp.StatusCode != http.StatusOK {
		t.Errorf("POST gzip: status %d, want 200", resp.StatusCode)
	}
	if got := resp.Header.Get("Content-Type"); got != "application/x-protobuf" {
		t.Errorf("response Content-Type = %q, want application/x-protobuf", got)
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := proto.Unmarshal(data, new(coltracepb.ExportTraceServiceResponse)); err != nil {
		t.Errorf("response body: %v", err)
	}

	if got := do(http.MethodPost, "application/x-protobuf", "", body).StatusCode; got != http.StatusOK {
		t.Errorf("POST identity: status %d, want 200", got)
	}

	r.SetBehavior(otlptest.Unavailable)
	resp = do(http.MethodPost, "application/x-protobuf", "", body)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("Unavailable: status %d, want 503", resp.StatusCode)
	}
	if got := resp.Header.Get("Retry-After"); got != "1" {
		t.Errorf("Unavailable: Retry-After = %q, want 1", got)
	}

	if got := r.TraceAttempts(); got != 5 { // 415, 400, 200, 200, 503
		t.Errorf("TraceAttempts = %d, want 5", got)
	}
	if got := r.Attempts(); got != 0 {
		t.Errorf("Attempts = %d after traces exports only, want 0", got)
	}
	reqs := r.TraceRequests()
	if len(reqs) != 3 || !reqs[0].Accepted || !reqs[1].Accepted || reqs[2].Accepted {
		t.Fatalf("trace requests = %+v, want two accepted then one refused", reqs)
	}
	if got := reqs[0].ResourceAttributes()["service.name"]; got != "raw" {
		t.Errorf(`resource attribute "service.name" = %q, want "raw"`, got)
	}
	if got, want := otlptest.SpanNames(reqs), []string{"a", "b"}; !slices.Equal(got, want) {
		t.Errorf("SpanNames = %q, want %q", got, want)
	}
	a := otlptest.FindSpans(reqs, "a")
	if len(a) != 3 {
		t.Fatalf("FindSpans(a) found %d, want 3", len(a))
	}
	if got := a[0].ParentSpanID(); got != "0102030405060708" {
		t.Errorf("span a: ParentSpanID = %q, want 0102030405060708", got)
	}
	if b := otlptest.FindSpans(reqs, "b"); b[0].ParentSpanID() != "" || b[0].SpanID() != "0102030405060708" {
		t.Errorf("span b: ParentSpanID, SpanID = %q, %q; want \"\", 0102030405060708", b[0].ParentSpanID(), b[0].SpanID())
	}
	if !a[0].Accepted || !a[1].Accepted || a[2].Accepted {
		t.Errorf("span a: Accepted = %v, %v, %v; want true, true, false", a[0].Accepted, a[1].Accepted, a[2].Accepted)
	}
}

// TestLogExport sends a log record over each transport: it is recorded with
// its body, trace context and attributes, on the logs side only, and an
// unavailable receiver refuses it.
func TestLogExport(t *testing.T) {
	for _, tc := range []struct {
		name        string
		newReceiver func(testing.TB) *otlptest.Receiver
		newExporter func(ctx context.Context, r *otlptest.Receiver) (sdklog.Exporter, error)
	}{
		{"grpc", otlptest.NewGRPC, func(ctx context.Context, r *otlptest.Receiver) (sdklog.Exporter, error) {
			return otlploggrpc.New(ctx, otlploggrpc.WithEndpoint(r.Endpoint()), otlploggrpc.WithInsecure(),
				otlploggrpc.WithRetry(otlploggrpc.RetryConfig{Enabled: false}))
		}},
		{"http", otlptest.NewHTTP, func(ctx context.Context, r *otlptest.Receiver) (sdklog.Exporter, error) {
			return otlploghttp.New(ctx, otlploghttp.WithEndpointURL(r.Endpoint()+"/v1/logs"),
				otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: false}))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.newReceiver(t)
			exp, err := tc.newExporter(t.Context(), r)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = exp.Shutdown(context.Background()) })
			lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)))
			t.Cleanup(func() { _ = lp.Shutdown(context.Background()) })
			ctx := trace.ContextWithSpanContext(t.Context(), trace.NewSpanContext(trace.SpanContextConfig{
				TraceID: testTraceID, SpanID: testParentID, TraceFlags: trace.FlagsSampled}))
			var rec otellog.Record
			rec.SetBody(attribute.StringValue("server error"))
			rec.AddAttributes(attribute.Int("http.response.status_code", 503))
			lp.Logger("otlptest").Emit(ctx, rec)

			recs := otlptest.LogRecords(r.LogRequests())
			if len(recs) != 1 || r.LogAttempts() != 1 {
				t.Fatalf("%d records in %d attempts, want 1 in 1", len(recs), r.LogAttempts())
			}
			got := recs[0]
			if got.Body() != "server error" || got.TraceID() != testTraceID.String() || got.SpanID() != testParentID.String() ||
				got.Attributes()["http.response.status_code"] != "503" || !got.Accepted {
				t.Errorf("record: body %q trace %s span %s attributes %v accepted %v", got.Body(), got.TraceID(), got.SpanID(), got.Attributes(), got.Accepted)
			}
			if len(r.Requests()) != 0 || len(r.TraceRequests()) != 0 {
				t.Errorf("a logs export was recorded as metrics or traces")
			}

			r.SetBehavior(otlptest.Unavailable)
			lp.Logger("otlptest").Emit(ctx, rec)
			if recs := otlptest.LogRecords(r.LogRequests()); len(recs) != 2 || recs[1].Accepted {
				t.Errorf("unavailable: %d records, the last accepted: %v; want 2, refused", len(recs), len(recs) == 2 && recs[1].Accepted)
			}
			r.Reset()
			if len(r.LogRequests()) != 0 || r.LogAttempts() != 2 {
				t.Errorf("after Reset: %d requests, %d attempts; want 0, 2", len(r.LogRequests()), r.LogAttempts())
			}
		})
	}
}
