package vitals_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/vitalsgo/vitals"
	"github.com/vitalsgo/vitals/exporter"
	"github.com/vitalsgo/vitals/instrument"
	"github.com/vitalsgo/vitals/internal/logtest"
	"github.com/vitalsgo/vitals/internal/otlptest"
)

// The remote parent of the requests sent with a traceparent header.
const (
	traceTestTraceID  = "4bf92f3577b34da6a3ce929d0e0e4736"
	traceTestParentID = "00f067aa0ba902b7"
	traceTestService  = "traces-test"
)

// traceparent returns a W3C traceparent header naming the remote parent
// traceTestTraceID/traceTestParentID with the given trace flags ("01":
// sampled, "00": not sampled).
func traceparent(flags string) string {
	return "00-" + traceTestTraceID + "-" + traceTestParentID + "-" + flags
}

// traceEnv blanks every OTEL_* variable Start reads, metrics and traces,
// then sets kv (name, value, name, value...) for the duration of t.
func traceEnv(t *testing.T, kv ...string) {
	t.Helper()
	vitals.CleanEnv(t)
	for _, name := range []string{
		exporter.EnvTracesExporter, exporter.EnvTracesEndpoint, exporter.EnvTracesProtocol,
		exporter.EnvTracesHeaders, exporter.EnvTracesTimeout, exporter.EnvTracesInsecure,
		exporter.EnvTracesCompression, exporter.EnvTracesSampler, exporter.EnvTracesSamplerArg,
		exporter.EnvBSPScheduleDelay, exporter.EnvBSPExportTimeout, exporter.EnvBSPMaxQueueSize,
		exporter.EnvBSPMaxExportBatch,
	} {
		t.Setenv(name, "")
	}
	if len(kv)%2 != 0 {
		t.Fatalf("traceEnv: odd number of arguments %q", kv)
	}
	for i := 0; i < len(kv); i += 2 {
		t.Setenv(kv[i], kv[i+1])
	}
}

// tracedService is a Vitals started from the environment and an HTTP
// service on 127.0.0.1 wrapped in its middleware, with the routes
// "GET /orders/{id}" (200) and "GET /fail" (500).
type tracedService struct {
	v      *vitals.Vitals
	url    string
	client *http.Client
	logs   *logtest.Buffer
}

func startTraced(t *testing.T, opts ...vitals.Option) *tracedService {
	t.Helper()
	logger, logs := logtest.New()
	opts = append([]vitals.Option{vitals.WithLogger(logger), vitals.WithServiceName(traceTestService), vitals.WithoutRuntime()}, opts...)
	v, err := vitals.Start(t.Context(), opts...)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	// Cleanups run last first: Vitals shuts down before the receiver
	// (made by the caller before) closes.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = v.Shutdown(ctx)
	})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "order "+r.PathValue("id"))
	})
	mux.HandleFunc("GET /fail", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "failed", http.StatusInternalServerError)
	})
	srv := httptest.NewServer(v.Middleware(mux)) // on 127.0.0.1
	t.Cleanup(srv.Close)
	return &tracedService{v: v, url: srv.URL, client: srv.Client(), logs: logs}
}

// get requests path with the traceparent header tp, unless empty, and
// checks the status.
func (s *tracedService) get(t *testing.T, path, tp string, want int) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tp != "" {
		req.Header.Set("Traceparent", tp)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("GET %s: status %d, want %d", path, resp.StatusCode, want)
	}
}

// shutdown shuts Vitals down, flushing the spans and the metrics, and
// fails the test on an error.
func (s *tracedService) shutdown(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := s.v.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v\nlogs:\n%s", err, s.logs.String())
	}
}

// spanNames lists spans for failure messages.
func spanNames(spans []otlptest.Span) []string {
	var names []string
	for _, s := range spans {
		names = append(names, fmt.Sprintf("%q trace=%s parent=%s", s.Name(), s.TraceID(), s.ParentSpanID()))
	}
	return names
}

// checkMetricsArrived fails t unless rcv received the request duration
// histogram: the metrics pipeline to the same endpoint works.
func checkMetricsArrived(t *testing.T, rcv *otlptest.Receiver) {
	t.Helper()
	if ms := otlptest.FindMetric(rcv.Requests(), instrument.MetricServerRequestDuration); len(ms) == 0 {
		t.Errorf("no %s metric reached the receiver; metrics received: %q", instrument.MetricServerRequestDuration, otlptest.MetricNames(rcv.Requests()))
	}
}

// TestTracesFromEnv starts Vitals with only an OTLP endpoint in the
// environment, over both protocols: the middleware's server spans reach the
// collector, named after the route, joined to the caller's trace (or root
// spans without a traceparent), with the HTTP attributes, the service's
// resource, and status ERROR for a 5xx.
func TestTracesFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name   string
		newRcv func(testing.TB) *otlptest.Receiver
		env    func(*otlptest.Receiver) []string
	}{
		{"http", otlptest.NewHTTP, func(r *otlptest.Receiver) []string {
			return []string{exporter.EnvEndpoint, r.Endpoint()}
		}},
		{"grpc", otlptest.NewGRPC, func(r *otlptest.Receiver) []string {
			return []string{exporter.EnvEndpoint, "http://" + r.Addr(), exporter.EnvProtocol, "grpc"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rcv := tc.newRcv(t)
			traceEnv(t, tc.env(rcv)...)
			s := startTraced(t)

			s.get(t, "/orders/42", traceparent("01"), http.StatusOK)
			s.get(t, "/fail", "", http.StatusInternalServerError)
			s.get(t, "/orders/7", "", http.StatusOK)
			s.shutdown(t) // flushes the spans

			spans := rcv.Spans()
			if len(spans) != 3 {
				t.Fatalf("received %d spans, want 3 (one per request): %q\nlogs:\n%s", len(spans), spanNames(spans), s.logs.String())
			}
			for _, sp := range spans {
				if !sp.Accepted {
					t.Errorf("span %q in a refused export", sp.Name())
				}
				if got := sp.Span.GetKind(); got != tracepb.Span_SPAN_KIND_SERVER {
					t.Errorf("span %q: kind %v, want SERVER", sp.Name(), got)
				}
				if got := sp.ResourceAttributes()["service.name"]; got != traceTestService {
					t.Errorf("span %q: resource service.name = %q, want %q", sp.Name(), got, traceTestService)
				}
				if len(sp.SpanID()) != 16 || sp.SpanID() == "0000000000000000" {
					t.Errorf("span %q: invalid span ID %q", sp.Name(), sp.SpanID())
				}
			}

			orders := otlptest.FindSpans(rcv.TraceRequests(), "GET /orders/{id}")
			if len(orders) != 2 {
				t.Fatalf("%d spans named \"GET /orders/{id}\", want 2: %q", len(orders), spanNames(spans))
			}
			child, root := orders[0], orders[1]
			if child.TraceID() != traceTestTraceID {
				child, root = root, child
			}
			if got := child.TraceID(); got != traceTestTraceID {
				t.Errorf("span of the request with a traceparent: trace ID %s, want %s", got, traceTestTraceID)
			}
			if got := child.ParentSpanID(); got != traceTestParentID {
				t.Errorf("span of the request with a traceparent: parent span ID %q, want %s", got, traceTestParentID)
			}
			attrs := child.Attributes()
			for k, want := range map[string]string{
				"http.route":                "/orders/{id}",
				"http.request.method":       "GET",
				"http.response.status_code": "200",
			} {
				if got := attrs[k]; got != want {
					t.Errorf("span attribute %s = %q, want %q (attributes %v)", k, got, want, attrs)
				}
			}
			if got := child.Span.GetStatus().GetCode(); got == tracepb.Status_STATUS_CODE_ERROR {
				t.Errorf("200 span: status %v, want not ERROR", got)
			}

			if got := root.ParentSpanID(); got != "" {
				t.Errorf("span of a request without traceparent: parent span ID %q, want none (a root span)", got)
			}
			if got := root.TraceID(); got == traceTestTraceID || len(got) != 32 || got == strings.Repeat("0", 32) {
				t.Errorf("span of a request without traceparent: trace ID %q, want a new valid one", got)
			}

			fail := otlptest.FindSpans(rcv.TraceRequests(), "GET /fail")
			if len(fail) != 1 {
				t.Fatalf("%d spans named \"GET /fail\", want 1: %q", len(fail), spanNames(spans))
			}
			if got := fail[0].Span.GetStatus().GetCode(); got != tracepb.Status_STATUS_CODE_ERROR {
				t.Errorf("500 span: status %v, want ERROR", got)
			}
			for k, want := range map[string]string{"http.route": "/fail", "http.response.status_code": "500"} {
				if got := fail[0].Attributes()[k]; got != want {
					t.Errorf("500 span: attribute %s = %q, want %q", k, got, want)
				}
			}
			if got := fail[0].ParentSpanID(); got != "" {
				t.Errorf("500 span: parent span ID %q, want a root span", got)
			}
			checkMetricsArrived(t, rcv)
		})
	}
}

// TestTracesExporterNone: OTEL_TRACES_EXPORTER=none turns tracing off even
// with an OTLP endpoint set, which metrics still use.
func TestTracesExporterNone(t *testing.T) {
	rcv := otlptest.NewHTTP(t)
	traceEnv(t, exporter.EnvEndpoint, rcv.Endpoint(), exporter.EnvTracesExporter, "none")
	s := startTraced(t)

	tp := s.v.TracerProvider()
	if tp == nil {
		t.Fatal("TracerProvider() = nil, want a no-op provider")
	}
	_, span := tp.Tracer("test").Start(t.Context(), "mine")
	if span.IsRecording() {
		t.Error("a span of TracerProvider() is recording with OTEL_TRACES_EXPORTER=none")
	}
	span.End()

	s.get(t, "/orders/42", traceparent("01"), http.StatusOK)
	s.get(t, "/orders/7", "", http.StatusOK)
	s.shutdown(t)

	if n, spans := rcv.TraceAttempts(), rcv.Spans(); n != 0 || len(spans) != 0 {
		t.Errorf("%d traces exports, spans %q; want none with OTEL_TRACES_EXPORTER=none", n, spanNames(spans))
	}
	checkMetricsArrived(t, rcv)
}

// TestTracesSampler checks OTEL_TRACES_SAMPLER: samplers that drop every
// trace send no span, and parentbased_always_off follows a sampled parent.
func TestTracesSampler(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
		// spans is the number of spans expected; a span that arrives is
		// the child of the traceparent request.
		spans int
	}{
		{"always_off", []string{exporter.EnvTracesSampler, "always_off"}, 0},
		{"traceidratio=0", []string{exporter.EnvTracesSampler, "traceidratio", exporter.EnvTracesSamplerArg, "0"}, 0},
		{"parentbased_always_off", []string{exporter.EnvTracesSampler, "parentbased_always_off"}, 1},
		// The control: the default sampler keeps both.
		{"default", nil, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rcv := otlptest.NewHTTP(t)
			traceEnv(t, append([]string{exporter.EnvEndpoint, rcv.Endpoint()}, tc.env...)...)
			s := startTraced(t)
			s.get(t, "/orders/42", traceparent("01"), http.StatusOK)
			s.get(t, "/orders/7", "", http.StatusOK)
			s.shutdown(t)

			spans := rcv.Spans()
			if len(spans) != tc.spans {
				t.Fatalf("received %d spans, want %d: %q", len(spans), tc.spans, spanNames(spans))
			}
			if tc.spans == 1 {
				if sp := spans[0]; sp.TraceID() != traceTestTraceID || sp.ParentSpanID() != traceTestParentID || sp.Name() != "GET /orders/{id}" {
					t.Errorf("span %q trace %s parent %s, want \"GET /orders/{id}\" trace %s parent %s",
						sp.Name(), sp.TraceID(), sp.ParentSpanID(), traceTestTraceID, traceTestParentID)
				}
			}
			if tc.spans == 0 {
				if n := rcv.TraceAttempts(); n != 0 {
					t.Errorf("%d traces exports with no sampled span, want 0", n)
				}
			}
			checkMetricsArrived(t, rcv)
		})
	}
}

// TestTracesBadEnv checks that an invalid traces variable stops Start with
// an error naming it.
func TestTracesBadEnv(t *testing.T) {
	for _, tc := range []struct {
		name string // the variable the error must name
		env  []string
	}{
		{exporter.EnvTracesExporter, []string{exporter.EnvTracesExporter, "zipkin"}},
		{exporter.EnvTracesSampler, []string{exporter.EnvTracesSampler, "sometimes"}},
		{exporter.EnvTracesSamplerArg, []string{exporter.EnvTracesSampler, "traceidratio", exporter.EnvTracesSamplerArg, "2"}},
		{exporter.EnvBSPMaxQueueSize, []string{exporter.EnvBSPMaxQueueSize, "-1"}},
		{exporter.EnvTracesEndpoint, []string{exporter.EnvTracesEndpoint, "ftp://x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rcv := otlptest.NewHTTP(t)
			traceEnv(t, append([]string{exporter.EnvEndpoint, rcv.Endpoint()}, tc.env...)...)
			v, err := vitals.Start(t.Context(), vitals.WithoutRuntime())
			if err == nil {
				_ = v.Shutdown(context.Background())
				t.Fatalf("Start with %q succeeded, want an error naming %s", tc.env, tc.name)
			}
			if v != nil {
				t.Errorf("Start returned a Vitals with its error %v", err)
			}
			if !strings.Contains(err.Error(), tc.name+"=") {
				t.Errorf("Start with %q: error %q does not name %s", tc.env, err, tc.name)
			}
		})
	}
}

// TestTracesUserProviderWins: WithTracerProvider wins over an OTLP endpoint
// in the environment: the middleware's spans go to the user's provider and
// none to the collector.
func TestTracesUserProviderWins(t *testing.T) {
	rcv := otlptest.NewHTTP(t)
	traceEnv(t, exporter.EnvEndpoint, rcv.Endpoint())
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	s := startTraced(t, vitals.WithTracerProvider(tp))
	if got := s.v.TracerProvider(); got != tp {
		t.Errorf("TracerProvider() = %T %p, want the provider given (%p)", got, got, tp)
	}

	s.get(t, "/orders/42", traceparent("01"), http.StatusOK)
	s.shutdown(t)

	ended := rec.Ended()
	if len(ended) != 1 {
		t.Fatalf("the user's provider recorded %d spans, want 1", len(ended))
	}
	sp := ended[0]
	if sp.Name() != "GET /orders/{id}" || sp.SpanContext().TraceID().String() != traceTestTraceID || sp.Parent().SpanID().String() != traceTestParentID {
		t.Errorf("user's span %q trace %s parent %s, want \"GET /orders/{id}\" trace %s parent %s",
			sp.Name(), sp.SpanContext().TraceID(), sp.Parent().SpanID(), traceTestTraceID, traceTestParentID)
	}
	if n, spans := rcv.TraceAttempts(), rcv.Spans(); n != 0 || len(spans) != 0 {
		t.Errorf("%d traces exports reached the collector, spans %q; want none", n, spanNames(spans))
	}
	checkMetricsArrived(t, rcv)
}

// exemplarRE matches an OpenMetrics histogram bucket of the request
// duration with an exemplar, capturing the exemplar's labels. Label values
// may hold braces (http_route="/orders/{id}").
var exemplarRE = regexp.MustCompile(`(?m)^http_server_request_duration_seconds_bucket\{.*\} \S+ # \{([^{}]*)\} \S+`)

// TestTracesExemplars: with tracing from the environment, the request
// duration histogram on /metrics (OpenMetrics) carries an exemplar of the
// sampled request, with the trace and span IDs of its server span.
func TestTracesExemplars(t *testing.T) {
	rcv := otlptest.NewHTTP(t)
	traceEnv(t, exporter.EnvEndpoint, rcv.Endpoint())
	s := startTraced(t)
	s.get(t, "/orders/42", traceparent("01"), http.StatusOK)

	metrics := httptest.NewServer(s.v.Handler())
	t.Cleanup(metrics.Close)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, metrics.URL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/openmetrics-text; version=1.0.0")
	// The in-memory history keeps the exemplar too, for Prometheus'
	// query_exemplars.
	if err := s.v.Memory().Collect(t.Context()); err != nil {
		t.Fatal(err)
	}
	qe, err := metrics.Client().Get(metrics.URL + "/monitoring/prometheus/api/v1/query_exemplars?query=" + url.QueryEscape("http_server_request_duration_seconds_bucket"))
	if err != nil {
		t.Fatal(err)
	}
	qeBody, _ := io.ReadAll(qe.Body)
	qe.Body.Close()
	resp, err := metrics.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "application/openmetrics-text") {
		t.Fatalf("/metrics: status %d, Content-Type %q; want 200 OpenMetrics", resp.StatusCode, ct)
	}

	s.shutdown(t)
	spans := otlptest.FindSpans(rcv.TraceRequests(), "GET /orders/{id}")
	if len(spans) != 1 || spans[0].TraceID() != traceTestTraceID {
		t.Fatalf("spans %q, want one \"GET /orders/{id}\" in trace %s", spanNames(rcv.Spans()), traceTestTraceID)
	}
	wantLabels := map[string]string{"trace_id": spans[0].TraceID(), "span_id": spans[0].SpanID()}

	var exemplars []string
	for _, m := range exemplarRE.FindAllStringSubmatch(string(body), -1) {
		exemplars = append(exemplars, m[1])
	}
	if len(exemplars) == 0 {
		var lines []string
		for l := range strings.Lines(string(body)) {
			if strings.HasPrefix(l, "http_server_request_duration_seconds") {
				lines = append(lines, l)
			}
		}
		t.Fatalf("no exemplar on http_server_request_duration_seconds buckets; its lines:\n%s", strings.Join(lines, ""))
	}
	found := slices.ContainsFunc(exemplars, func(labels string) bool {
		for k, v := range wantLabels {
			if !strings.Contains(labels, k+`="`+v+`"`) {
				return false
			}
		}
		return true
	})
	if !found {
		t.Errorf("no exemplar with %v; exemplars: %q", wantLabels, exemplars)
	}
	var qr struct {
		Status string `json:"status"`
		Data   []struct {
			SeriesLabels map[string]string `json:"seriesLabels"`
			Exemplars    []struct {
				Labels map[string]string `json:"labels"`
				Value  string            `json:"value"`
			} `json:"exemplars"`
		} `json:"data"`
	}
	if err := json.Unmarshal(qeBody, &qr); err != nil || qr.Status != "success" {
		t.Fatalf("query_exemplars: %v %s", err, qeBody)
	}
	inMemory := false
	for _, s := range qr.Data {
		for _, e := range s.Exemplars {
			inMemory = inMemory || (s.SeriesLabels["http_route"] == "/orders/{id}" && e.Labels["trace_id"] == wantLabels["trace_id"] && e.Labels["span_id"] == wantLabels["span_id"])
		}
	}
	if !inMemory {
		t.Errorf("query_exemplars has no exemplar of the span %v:\n%s", wantLabels, qeBody)
	}
}

// TestWithTraceURLChecked: Start refuses a trace URL the dashboard could
// not link with, naming the option.
func TestWithTraceURLChecked(t *testing.T) {
	vitals.CleanEnv(t)
	v, err := vitals.Start(t.Context(), vitals.WithTraceURL("javascript:alert(1)//{trace_id}"))
	if err == nil {
		_ = v.Shutdown(t.Context())
		t.Fatal("Start accepted a javascript: trace URL")
	}
	if !strings.Contains(err.Error(), "WithTraceURL") {
		t.Errorf("error %v does not name WithTraceURL", err)
	}
}
