package promconv_test

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/trace"

	"github.com/vitalsgo/vitals/internal/promconv"
)

func TestServeThroughPromhttp(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(
		sdkmetric.WithReader(reader),
		sdkmetric.WithResource(resource.NewSchemaless(attribute.String("service.name", "web"))),
	)
	shutdown(t, mp)
	ctx := context.Background()
	sampled := trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		SpanID:     trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8},
		TraceFlags: trace.FlagsSampled,
	}))
	meter := mp.Meter("example.com/web")
	requests, err := meter.Int64Counter("http.requests", metric.WithDescription("Requests."))
	if err != nil {
		t.Fatal(err)
	}
	requests.Add(sampled, 3, metric.WithAttributes(attribute.String("http.route", "/a")))
	requests.Add(ctx, 4, metric.WithAttributes(attribute.String("http.route", "/b")))
	latency, err := meter.Float64Histogram("http.latency", metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.1, 1))
	if err != nil {
		t.Fatal(err)
	}
	latency.Record(ctx, 0.05)
	latency.Record(ctx, 0.5)
	latency.Record(ctx, 5)
	inflight, err := meter.Int64UpDownCounter("http.inflight")
	if err != nil {
		t.Fatal(err)
	}
	inflight.Add(ctx, 2)

	srv := httptest.NewServer(promhttp.HandlerFor(promconv.NewGatherer(reader, nil), promhttp.HandlerOpts{EnableOpenMetrics: true}))
	t.Cleanup(srv.Close)

	tests := []struct {
		name           string
		accept         string
		acceptEncoding string
		wantType       string
		wantEncoding   string
	}{
		{name: "text", wantType: "text/plain"},
		{name: "text gzip", acceptEncoding: "gzip", wantType: "text/plain", wantEncoding: "gzip"},
		{name: "openmetrics", accept: "application/openmetrics-text; version=1.0.0", wantType: "application/openmetrics-text"},
		{name: "openmetrics gzip", accept: "application/openmetrics-text; version=1.0.0", acceptEncoding: "gzip",
			wantType: "application/openmetrics-text", wantEncoding: "gzip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.accept != "" {
				req.Header.Set("Accept", tt.accept)
			}
			if tt.acceptEncoding != "" {
				// Set explicitly, so the transport does not decompress.
				req.Header.Set("Accept-Encoding", tt.acceptEncoding)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b, _ := io.ReadAll(resp.Body)
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			if got := resp.Header.Get("Content-Type"); !strings.HasPrefix(got, tt.wantType) {
				t.Errorf("Content-Type %q, want %s", got, tt.wantType)
			}
			if got := resp.Header.Get("Content-Encoding"); got != tt.wantEncoding {
				t.Errorf("Content-Encoding %q, want %q", got, tt.wantEncoding)
			}
			var body io.Reader = resp.Body
			if tt.wantEncoding == "gzip" {
				zr, err := gzip.NewReader(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				body = zr
			}
			b, err := io.ReadAll(body)
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(tt.wantType, "application/openmetrics-text") {
				checkOpenMetrics(t, string(b))
			} else {
				checkText(t, string(b))
			}
		})
	}
}

func checkText(t *testing.T, body string) {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing:\n%s\n%v", body, err)
	}
	value := func(family string, want map[string]string) *dto.Metric {
		t.Helper()
		mf := mfs[family]
		if mf == nil {
			t.Errorf("family %s missing in:\n%s", family, body)
			return nil
		}
	next:
		for _, m := range mf.Metric {
			for k, v := range want {
				if got, _ := label(m, k); got != v {
					continue next
				}
			}
			return m
		}
		t.Errorf("no %s series with %v in:\n%s", family, want, body)
		return nil
	}
	scope := "example.com/web"
	if m := value("http_requests_total", map[string]string{"http_route": "/a", "otel_scope_name": scope}); m != nil {
		if got, want := m.GetCounter().GetValue(), 3.0; got != want {
			t.Errorf("http_requests_total{/a} = %g, want %g", got, want)
		}
	}
	if m := value("http_requests_total", map[string]string{"http_route": "/b", "otel_scope_name": scope}); m != nil {
		if got, want := m.GetCounter().GetValue(), 4.0; got != want {
			t.Errorf("http_requests_total{/b} = %g, want %g", got, want)
		}
	}
	if got, want := mfs["http_requests_total"].GetHelp(), "Requests."; got != want {
		t.Errorf("help %q, want %q", got, want)
	}
	if m := value("http_inflight", map[string]string{"otel_scope_name": scope}); m != nil {
		if got, want := m.GetGauge().GetValue(), 2.0; got != want {
			t.Errorf("http_inflight = %g, want %g", got, want)
		}
	}
	if m := value("target_info", map[string]string{"service_name": "web"}); m != nil {
		if got, want := m.GetGauge().GetValue(), 1.0; got != want {
			t.Errorf("target_info = %g, want %g", got, want)
		}
	}
	if m := value("http_latency_seconds", map[string]string{"otel_scope_name": scope}); m != nil {
		h := m.GetHistogram()
		if got, want := h.GetSampleCount(), uint64(3); got != want {
			t.Errorf("count %d, want %d", got, want)
		}
		if got, want := h.GetSampleSum(), 5.55; got != want {
			t.Errorf("sum %g, want %g", got, want)
		}
		var got []string
		for _, b := range h.Bucket {
			got = append(got, model.FloatString(b.GetUpperBound()).String()+":"+model.FloatString(b.GetCumulativeCount()).String())
		}
		if g, w := strings.Join(got, " "), "0.1:1 1:2 +Inf:3"; g != w {
			t.Errorf("buckets %s, want %s", g, w)
		}
	}
}

func checkOpenMetrics(t *testing.T, body string) {
	t.Helper()
	for _, want := range []string{
		"# TYPE http_requests counter\n",
		"# HELP http_requests Requests.\n",
		`http_requests_total{http_route="/a",otel_scope_name="example.com/web"} 3.0 # {span_id="0102030405060708",trace_id="0102030405060708090a0b0c0d0e0f10"} 3.0 `,
		`http_requests_total{http_route="/b",otel_scope_name="example.com/web"} 4.0` + "\n",
		"# TYPE http_latency_seconds histogram\n",
		`http_latency_seconds_bucket{otel_scope_name="example.com/web",le="+Inf"} 3` + "\n",
		`http_inflight{otel_scope_name="example.com/web"} 2.0` + "\n",
		`target_info{service_name="web"} 1.0` + "\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("OpenMetrics body lacks %q:\n%s", want, body)
		}
	}
	if !strings.HasSuffix(body, "# EOF\n") {
		t.Errorf("OpenMetrics body does not end with # EOF:\n%s", body)
	}
}
