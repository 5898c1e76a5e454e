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
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	"github.com/vitalsgo/vitals/internal/otlptest"
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
	if got := do(http.MethodPost, "/v1/traces", "application/x-protobuf", body).StatusCode; got != http.StatusNotFound {
		t.Errorf("POST /v1/traces: status %d, want 404", got)
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
