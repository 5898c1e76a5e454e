package exporter

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/goleak"

	"github.com/vitalsgo/vitals/clock/clocktest"
	"github.com/vitalsgo/vitals/internal/logtest"
	"github.com/vitalsgo/vitals/internal/otlptest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// scrape GETs url and parses the text exposition.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

func labelsOf(m *dto.Metric) map[string]string {
	l := make(map[string]string)
	for _, lp := range m.GetLabel() {
		l[lp.GetName()] = lp.GetValue()
	}
	return l
}

func newTestProvider(t *testing.T, cfg MetricsConfig, opts ...Option) *MeterProvider {
	t.Helper()
	p, err := NewMeterProvider(t.Context(), cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = p.Shutdown(ctx)
	})
	return p
}

func TestPrometheusEndpoint(t *testing.T) {
	p := newTestProvider(t, MetricsConfig{ServiceName: "shop", ServiceVersion: "1.2.3"})
	m := p.Meter("example.com/shop", metric.WithInstrumentationVersion("v0.1.0"))
	orders, err := m.Int64Counter("shop.orders", metric.WithUnit("{order}"), metric.WithDescription("Orders placed."))
	if err != nil {
		t.Fatal(err)
	}
	latency, err := m.Float64Histogram("shop.checkout.duration", metric.WithUnit("s"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	orders.Add(ctx, 2, metric.WithAttributes(attribute.String("currency", "EUR")))
	orders.Add(ctx, 1, metric.WithAttributes(attribute.String("currency", "USD")))
	for _, v := range []float64{0.004, 0.03, 0.2, 3} {
		latency.Record(ctx, v)
	}

	srv := httptest.NewServer(p.PrometheusHandler())
	defer srv.Close()
	mfs := scrape(t, srv.URL)

	fam := mfs["shop_orders_total"]
	if fam == nil {
		t.Fatalf("shop_orders_total missing; families: %v", keys(mfs))
	}
	if fam.GetType() != dto.MetricType_COUNTER || fam.GetHelp() != "Orders placed." {
		t.Errorf("shop_orders_total: type %v help %q", fam.GetType(), fam.GetHelp())
	}
	got := map[string]float64{}
	for _, s := range fam.GetMetric() {
		l := labelsOf(s)
		if l["otel_scope_name"] != "example.com/shop" {
			t.Errorf("otel_scope_name = %q", l["otel_scope_name"])
		}
		if _, ok := l["otel_scope_version"]; ok {
			t.Error("otel_scope_version should not be a label")
		}
		got[l["currency"]] = s.GetCounter().GetValue()
	}
	if got["EUR"] != 2 || got["USD"] != 1 {
		t.Errorf("order counts = %v", got)
	}

	h := mfs["shop_checkout_duration_seconds"]
	if h == nil || h.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("shop_checkout_duration_seconds missing or not a histogram: %v", h)
	}
	hist := h.GetMetric()[0].GetHistogram()
	if hist.GetSampleCount() != 4 || hist.GetSampleSum() != 3.234 {
		t.Errorf("count %d sum %v, want 4 and 3.234", hist.GetSampleCount(), hist.GetSampleSum())
	}
	var bounds []float64
	for _, b := range hist.GetBucket() {
		bounds = append(bounds, b.GetUpperBound())
	}
	// Parsed text includes the +Inf bucket.
	if len(bounds) < len(SecondsBoundaries()) || !slices.Equal(bounds[:len(SecondsBoundaries())], SecondsBoundaries()) {
		t.Errorf("bucket bounds = %v, want the seconds boundaries %v", bounds, SecondsBoundaries())
	}
	if c := hist.GetBucket()[0].GetCumulativeCount(); c != 1 {
		t.Errorf("le=0.005 bucket = %d, want 1", c)
	}

	ti := mfs["target_info"]
	if ti == nil {
		t.Fatal("target_info missing")
	}
	tl := labelsOf(ti.GetMetric()[0])
	if tl["service_name"] != "shop" || tl["service_version"] != "1.2.3" || tl["service_instance_id"] == "" || tl["telemetry_sdk_language"] != "go" {
		t.Errorf("target_info labels = %v", tl)
	}
	for _, private := range []string{"process_owner", "process_command_args", "process_executable_path"} {
		if _, ok := tl[private]; ok {
			t.Errorf("target_info exposes %s", private)
		}
	}
}

func TestPrometheusFormats(t *testing.T) {
	p := newTestProvider(t, MetricsConfig{})
	c, _ := p.Meter("t").Int64Counter("hits")
	c.Add(t.Context(), 5)
	srv := httptest.NewServer(p.PrometheusHandler())
	defer srv.Close()

	get := func(accept, encoding string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		if encoding != "" {
			req.Header.Set("Accept-Encoding", encoding)
		}
		// Disable the transport's own transparent gzip to see the raw body.
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r io.Reader = resp.Body
		if resp.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			r = zr
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(b)
	}

	resp, body := get("", "")
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") || !strings.Contains(body, "hits_total") {
		t.Errorf("text format: content type %q body %q", ct, body)
	}
	resp, body = get("application/openmetrics-text; version=1.0.0", "")
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text") || !strings.HasSuffix(body, "# EOF\n") {
		t.Errorf("OpenMetrics: content type %q body %q", ct, body)
	}
	resp, body = get("", "gzip")
	if resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(body, `hits_total{otel_scope_name="t"} 5`) {
		t.Errorf("gzip: encoding %q body %q", resp.Header.Get("Content-Encoding"), body)
	}
}

func keys[M ~map[string]V, V any](m M) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func TestSecondsBoundariesRespectAdvice(t *testing.T) {
	p := newTestProvider(t, MetricsConfig{})
	m := p.Meter("t")
	advised, _ := m.Float64Histogram("advised", metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(1, 2))
	millis, _ := m.Float64Histogram("millis", metric.WithUnit("ms"))
	advised.Record(t.Context(), 1.5)
	millis.Record(t.Context(), 7)
	srv := httptest.NewServer(p.PrometheusHandler())
	defer srv.Close()
	mfs := scrape(t, srv.URL)

	if n := len(mfs["advised_seconds"].GetMetric()[0].GetHistogram().GetBucket()); n != 3 {
		t.Errorf("advised histogram has %d buckets, want 3 (1, 2, +Inf)", n)
	}
	// A millisecond histogram keeps the SDK's default (millisecond-scale) buckets.
	b := mfs["millis_milliseconds"].GetMetric()[0].GetHistogram().GetBucket()
	if len(b) < 2 || b[1].GetUpperBound() != 5 {
		t.Errorf("millisecond histogram buckets start %v, want the SDK defaults 0, 5, ...", b[:min(3, len(b))])
	}
}

func TestExponentialHistograms(t *testing.T) {
	p := newTestProvider(t, MetricsConfig{ExponentialHistograms: true})
	h, _ := p.Meter("t").Float64Histogram("lat", metric.WithUnit("s"))
	h.Record(t.Context(), 0.25)
	srv := httptest.NewServer(p.PrometheusHandler())
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Accept", `application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	dec := expfmt.NewDecoder(resp.Body, expfmt.ResponseFormat(resp.Header))
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); err != nil {
			t.Fatalf("lat_seconds not found: %v", err)
		}
		if mf.GetName() == "lat_seconds" {
			hist := mf.GetMetric()[0].GetHistogram()
			if hist.Schema == nil || hist.GetSampleCount() != 1 {
				t.Errorf("want a native histogram with one sample, got %v", hist)
			}
			return
		}
	}
}

func TestCardinalityLimit(t *testing.T) {
	p := newTestProvider(t, MetricsConfig{CardinalityLimit: 10})
	c, _ := p.Meter("t").Int64Counter("hits")
	for i := range 100 {
		c.Add(t.Context(), 1, metric.WithAttributes(attribute.Int("id", i)))
	}
	srv := httptest.NewServer(p.PrometheusHandler())
	defer srv.Close()
	fam := scrape(t, srv.URL)["hits_total"]
	if n := len(fam.GetMetric()); n != 10 {
		t.Errorf("%d series, want the limit of 10", n)
	}
	var total float64
	overflow := false
	for _, m := range fam.GetMetric() {
		total += m.GetCounter().GetValue()
		if labelsOf(m)["otel_metric_overflow"] == "true" {
			overflow = true
		}
	}
	if total != 100 || !overflow {
		t.Errorf("total %v overflow series %v: nothing may be lost past the limit", total, overflow)
	}
}

// TestDropResourceAttributes checks that the host and process attributes
// and one set by OTEL_RESOURCE_ATTRIBUTES are on the resource, target_info
// and the OTLP resource by default, and absent from all three once listed
// in DropResourceAttributes, the others staying. The variable's key is the
// hard one: the SDK merges the variable under any resource it is given.
func TestDropResourceAttributes(t *testing.T) {
	t.Setenv(EnvResourceAttributes, "deployment.environment.name=prod,k8s.pod.name=shop-7f9c")
	drop := []attribute.Key{"host.name", "process.pid", "process.executable.name", "k8s.pod.name"}
	kept := []attribute.Key{"service.name", "service.instance.id", "deployment.environment.name", "telemetry.sdk.language"}
	for _, tt := range []struct {
		name string
		drop []attribute.Key
	}{{"default", nil}, {"dropped", drop}} {
		t.Run(tt.name, func(t *testing.T) {
			rcv := otlptest.NewHTTP(t)
			p := newTestProvider(t, MetricsConfig{
				ServiceName:            "shop",
				DropResourceAttributes: tt.drop,
				OTLP:                   OTLP{Endpoint: rcv.Endpoint() + "/v1/metrics"},
			})
			c, _ := p.Meter("t").Int64Counter("c")
			c.Add(t.Context(), 1)
			if err := p.ForceFlush(t.Context()); err != nil {
				t.Fatal(err)
			}
			reqs := rcv.Requests()
			if len(reqs) == 0 {
				t.Fatal("the receiver got nothing")
			}
			otlpAttrs := reqs[0].ResourceAttributes()
			srv := httptest.NewServer(p.PrometheusHandler())
			defer srv.Close()
			ti := scrape(t, srv.URL)["target_info"]
			if ti == nil {
				t.Fatal("target_info missing")
			}
			labels := labelsOf(ti.GetMetric()[0])

			check := func(k attribute.Key, want bool) {
				t.Helper()
				if _, got := p.Resource().Set().Value(k); got != want {
					t.Errorf("MeterProvider.Resource has %s: %v, want %v", k, got, want)
				}
				if _, got := labels[strings.ReplaceAll(string(k), ".", "_")]; got != want {
					t.Errorf("target_info has %s: %v, want %v; labels %v", k, got, want, labels)
				}
				if _, got := otlpAttrs[string(k)]; got != want {
					t.Errorf("OTLP resource has %s: %v, want %v; attributes %v", k, got, want, otlpAttrs)
				}
			}
			for _, k := range drop {
				check(k, tt.drop == nil)
			}
			for _, k := range kept {
				check(k, true)
			}
		})
	}
}

func TestDropResourceAttributesRefusesServiceName(t *testing.T) {
	for _, tt := range []struct {
		drop []attribute.Key
		want string
	}{
		{[]attribute.Key{"host.name", "service.name"}, "service.name cannot be dropped"},
		{[]attribute.Key{""}, "empty key"},
	} {
		p, err := NewMeterProvider(t.Context(), MetricsConfig{DropResourceAttributes: tt.drop})
		if err == nil {
			_ = p.Shutdown(t.Context())
			t.Errorf("DropResourceAttributes %q: no error", tt.drop)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "DropResourceAttributes") || !strings.Contains(msg, tt.want) {
			t.Errorf("DropResourceAttributes %q: error %q, want one naming the field and saying %q", tt.drop, msg, tt.want)
		}
	}
}

func TestNewMeterProviderRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  MetricsConfig
		want string
	}{
		{"unknown exporter", MetricsConfig{Exporters: []MetricsExporter{MetricsExporter(42)}}, "unknown metrics exporter MetricsExporter(42)"},
		{"bad endpoint", MetricsConfig{Exporters: []MetricsExporter{MetricsOTLP}, OTLP: OTLP{Endpoint: "localhost:4318"}}, `"localhost:4318"`},
		{"bad header", MetricsConfig{OTLP: OTLP{Endpoint: "http://c:4318", Headers: map[string]string{"a b": "x"}}}, "header name"},
		{"bad compression", MetricsConfig{OTLP: OTLP{Endpoint: "http://c:4318", Compression: "br"}}, "compression"},
		{"negative interval", MetricsConfig{ExportInterval: -time.Second}, "negative export interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewMeterProvider(t.Context(), tt.cfg)
			if err == nil {
				_ = p.Shutdown(t.Context())
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

// TestSignalProvidersRefuseMetricOptions checks that NewTracerProvider and
// NewLoggerProvider take WithLogger but not the options only a
// MeterProvider can act on, which they would otherwise drop silently. It
// looks at the dynamic types, so that a type assertion cannot get a
// metric option through either.
func TestSignalProvidersRefuseMetricOptions(t *testing.T) {
	metricOnly := map[string]Option{
		"WithReader":            WithReader(sdkmetric.NewManualReader()),
		"WithView":              WithView(),
		"WithProducer":          WithProducer(nil),
		"WithPrometheusReaders": WithPrometheusReaders(nil, nil),
	}
	providers := map[string]any{"NewTracerProvider": NewTracerProvider, "NewLoggerProvider": NewLoggerProvider}
	for name, newProvider := range providers {
		fn := reflect.TypeOf(newProvider)
		opt := fn.In(fn.NumIn() - 1).Elem() // the type of the variadic options
		if !reflect.TypeOf(WithLogger(nil)).Implements(opt) {
			t.Errorf("%s does not take WithLogger", name)
		}
		for optName, o := range metricOnly {
			if reflect.TypeOf(o).Implements(opt) {
				t.Errorf("%s takes %s, which it cannot act on", name, optName)
			}
		}
	}
}

func TestShutdownIsIdempotent(t *testing.T) {
	p, err := NewMeterProvider(t.Context(), MetricsConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Shutdown(t.Context()); err != nil {
		t.Fatalf("first Shutdown: %v", err)
	}
	if err := p.Shutdown(t.Context()); !errors.Is(err, ErrShutdown) {
		t.Errorf("second Shutdown = %v, want ErrShutdown", err)
	}
	// Recording after shutdown is a cheap no-op.
	c, _ := p.Meter("t").Int64Counter("late")
	c.Add(t.Context(), 1)
}

func TestOTLPFromEnvironment(t *testing.T) {
	for _, proto := range []string{"grpc", "http/protobuf"} {
		t.Run(proto, func(t *testing.T) {
			var rcv *otlptest.Receiver
			if proto == "grpc" {
				rcv = otlptest.NewGRPC(t)
			} else {
				rcv = otlptest.NewHTTP(t)
			}
			t.Setenv(EnvEndpoint, "http://"+rcv.Addr())
			t.Setenv(EnvProtocol, proto)
			t.Setenv(EnvHeaders, "x-api-key=s3cr%3Dt,x-tenant=blue")
			t.Setenv(EnvServiceName, "checkout")
			t.Setenv(EnvResourceAttributes, "deployment.environment.name=test")
			cfg, err := MetricsConfigFromEnv()
			if err != nil {
				t.Fatal(err)
			}
			// The OTel exporters also read these variables themselves; blank
			// them so that only what Vitals parsed and passed can arrive.
			for _, name := range []string{EnvEndpoint, EnvProtocol, EnvHeaders, EnvServiceName, EnvResourceAttributes} {
				t.Setenv(name, "")
			}
			p := newTestProvider(t, cfg)
			if p.PrometheusHandler() == nil {
				t.Error("Prometheus should stay on beside OTLP by default")
			}
			m := p.Meter("example.com/checkout")
			c, _ := m.Int64Counter("checkout.orders", metric.WithUnit("{order}"))
			h, _ := m.Float64Histogram("checkout.duration", metric.WithUnit("s"))
			c.Add(t.Context(), 7, metric.WithAttributes(attribute.String("currency", "EUR")))
			h.Record(t.Context(), 0.3)
			if err := p.ForceFlush(t.Context()); err != nil {
				t.Fatalf("ForceFlush: %v", err)
			}

			reqs := rcv.Requests()
			if len(reqs) == 0 {
				t.Fatal("the receiver got nothing")
			}
			r := reqs[0]
			if got := r.Header.Get("X-Api-Key"); got != "s3cr=t" {
				t.Errorf("x-api-key header = %q", got)
			}
			if got := r.Header.Get("X-Tenant"); got != "blue" {
				t.Errorf("x-tenant header = %q", got)
			}
			attrs := r.ResourceAttributes()
			if attrs["service.name"] != "checkout" || attrs["deployment.environment.name"] != "test" || attrs["service.instance.id"] == "" {
				t.Errorf("resource attributes = %v", attrs)
			}
			sums := otlptest.FindMetric(reqs, "checkout.orders")
			if len(sums) == 0 {
				t.Fatalf("checkout.orders missing; got %v", otlptest.MetricNames(reqs))
			}
			dp := sums[0].GetSum().GetDataPoints()[0]
			if dp.GetAsInt() != 7 || sums[0].GetUnit() != "{order}" {
				t.Errorf("checkout.orders = %d unit %q", dp.GetAsInt(), sums[0].GetUnit())
			}
			hists := otlptest.FindMetric(reqs, "checkout.duration")
			if len(hists) == 0 || !slices.Equal(hists[0].GetHistogram().GetDataPoints()[0].GetExplicitBounds(), SecondsBoundaries()) {
				t.Errorf("checkout.duration missing or without the seconds boundaries: %v", hists)
			}
		})
	}
}

func TestOTLPTemporality(t *testing.T) {
	tests := []struct {
		preset Temporality
		// want is "delta" or "cumulative" for: counter, histogram,
		// up-down counter, observable counter, observable up-down counter.
		want [5]string
	}{
		{TemporalityCumulative, [5]string{"cumulative", "cumulative", "cumulative", "cumulative", "cumulative"}},
		{TemporalityDelta, [5]string{"delta", "delta", "cumulative", "delta", "cumulative"}},
		{TemporalityLowMemory, [5]string{"delta", "delta", "cumulative", "cumulative", "cumulative"}},
	}
	for _, tt := range tests {
		t.Run(tt.preset.String(), func(t *testing.T) {
			rcv := otlptest.NewHTTP(t)
			p := newTestProvider(t, MetricsConfig{OTLP: OTLP{Endpoint: rcv.Endpoint() + "/v1/metrics", Temporality: tt.preset}})
			m := p.Meter("t")
			ctx := t.Context()
			c, _ := m.Int64Counter("c")
			h, _ := m.Float64Histogram("h")
			ud, _ := m.Int64UpDownCounter("ud")
			c.Add(ctx, 1)
			h.Record(ctx, 1)
			ud.Add(ctx, 1)
			_, _ = m.Int64ObservableCounter("oc", metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error { o.Observe(1); return nil }))
			_, _ = m.Int64ObservableUpDownCounter("oud", metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error { o.Observe(1); return nil }))
			if err := p.ForceFlush(ctx); err != nil {
				t.Fatal(err)
			}
			reqs := rcv.Requests()
			temporality := func(name string) string {
				ms := otlptest.FindMetric(reqs, name)
				if len(ms) == 0 {
					return "missing"
				}
				var s string
				if ms[0].GetHistogram() != nil {
					s = ms[0].GetHistogram().GetAggregationTemporality().String()
				} else {
					s = ms[0].GetSum().GetAggregationTemporality().String()
				}
				return strings.ToLower(strings.TrimPrefix(s, "AGGREGATION_TEMPORALITY_"))
			}
			for i, name := range []string{"c", "h", "ud", "oc", "oud"} {
				if got := temporality(name); got != tt.want[i] {
					t.Errorf("%s: %s, want %s", name, got, tt.want[i])
				}
			}
		})
	}
}

// TestCodeWinsOverExporterEnvironment checks that what the OTel exporters
// read from the environment themselves never overrides the Config.
func TestCodeWinsOverExporterEnvironment(t *testing.T) {
	t.Setenv(EnvHeaders, "authorization=Bearer%20from-env")
	t.Setenv(EnvCompression, "gzip")
	t.Setenv(EnvMetricsTemporality(), "delta")
	rcv := otlptest.NewHTTP(t)
	p := newTestProvider(t, MetricsConfig{
		Exporters: []MetricsExporter{MetricsOTLP},
		OTLP:      OTLP{Endpoint: rcv.Endpoint() + "/v1/metrics", Headers: map[string]string{"x-from-code": "1"}},
	})
	c, _ := p.Meter("t").Int64Counter("c")
	c.Add(t.Context(), 1)
	if err := p.ForceFlush(t.Context()); err != nil {
		t.Fatal(err)
	}
	reqs := rcv.Requests()
	if len(reqs) == 0 {
		t.Fatal("nothing received")
	}
	h := reqs[0].Header
	if h.Get("Authorization") != "" || h.Get("X-From-Code") != "1" {
		t.Errorf("headers %v: want the Config's only", h)
	}
	if h.Get("Content-Encoding") == "gzip" {
		t.Error("gzip from the environment overrode the Config's compression")
	}
}

// EnvMetricsTemporality names the variable the OTel exporters read for the
// temporality preference (the same as ours).
func EnvMetricsTemporality() string { return EnvMetricsTemporalityPreference }

func TestExponentialHistogramsOverOTLP(t *testing.T) {
	rcv := otlptest.NewGRPC(t)
	p := newTestProvider(t, MetricsConfig{
		ExponentialHistograms: true,
		OTLP:                  OTLP{Protocol: ProtocolGRPC, Endpoint: rcv.Endpoint(), Insecure: true},
	})
	h, _ := p.Meter("t").Float64Histogram("lat", metric.WithUnit("s"))
	h.Record(t.Context(), 0.2)
	if err := p.ForceFlush(t.Context()); err != nil {
		t.Fatal(err)
	}
	ms := otlptest.FindMetric(rcv.Requests(), "lat")
	if len(ms) == 0 || ms[0].GetExponentialHistogram() == nil {
		t.Errorf("want an exponential histogram, got %v", ms)
	}
}

// TestHTTPSNeverFallsBackToPlaintext points an https endpoint at a plaintext
// gRPC receiver with OTEL_EXPORTER_OTLP_INSECURE=true in the environment:
// the scheme wins, the TLS handshake fails and nothing is received.
func TestHTTPSNeverFallsBackToPlaintext(t *testing.T) {
	t.Setenv(EnvInsecure, "true")
	rcv := otlptest.NewGRPC(t)
	p := newTestProvider(t, MetricsConfig{
		Exporters: []MetricsExporter{MetricsOTLP},
		OTLP:      OTLP{Protocol: ProtocolGRPC, Endpoint: "https://" + rcv.Addr(), Timeout: 300 * time.Millisecond},
	})
	c, _ := p.Meter("t").Int64Counter("c")
	c.Add(t.Context(), 1)
	if err := p.ForceFlush(t.Context()); err == nil {
		t.Error("an https export to a plaintext receiver succeeded")
	}
	for _, r := range rcv.Requests() {
		if r.Accepted {
			t.Fatal("the receiver accepted a plaintext export for an https endpoint")
		}
	}
}

func TestMetricsAnswer503AfterShutdown(t *testing.T) {
	p, err := NewMeterProvider(t.Context(), MetricsConfig{})
	if err != nil {
		t.Fatal(err)
	}
	h := p.PrometheusHandler()
	if err := p.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("after Shutdown: %d, want 503", rec.Code)
	}
}

// closedPort returns a loopback address where nothing listens.
// newReceiver starts an OTLP receiver on 127.0.0.1 that speaks proto.
func newReceiver(t *testing.T, proto Protocol) *otlptest.Receiver {
	if proto == ProtocolGRPC {
		return otlptest.NewGRPC(t)
	}
	return otlptest.NewHTTP(t)
}

func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestOTLPEndpointDown(t *testing.T) {
	for _, proto := range []Protocol{ProtocolGRPC, ProtocolHTTPProtobuf} {
		t.Run(proto.String(), func(t *testing.T) {
			logger, logs := logtest.New()
			p := newTestProvider(t, MetricsConfig{
				OTLP: OTLP{Endpoint: "http://" + closedPort(t), Protocol: proto, Timeout: 200 * time.Millisecond},
			}, WithLogger(logger), withClock(clocktest.New(time.Unix(1000, 0))))

			c, _ := p.Meter("t").Int64Counter("hits")
			const flushes = 3
			for range flushes {
				c.Add(t.Context(), 1)
				// A caller waiting for the export gets its error, and it is
				// not logged as well.
				if err := p.ForceFlush(t.Context()); err == nil {
					t.Error("ForceFlush to a closed port reported success")
				}
			}
			if n := logs.Lines(); n != 0 {
				t.Errorf("ForceFlush errors were logged too:\n%s", logs.String())
			}

			// Background exports (no caller) are logged, at a bounded rate.
			var rm metricdata.ResourceMetrics
			mr := sdkmetric.NewManualReader()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(mr))
			defer mp.Shutdown(context.Background())
			bc, _ := mp.Meter("t").Int64Counter("x")
			bc.Add(t.Context(), 1)
			if err := mr.Collect(t.Context(), &rm); err != nil {
				t.Fatal(err)
			}
			const background = 5
			for range background {
				if err := p.push[0].Export(context.Background(), &rm); err != nil {
					t.Fatalf("the wrapper returned %v to the periodic reader", err)
				}
			}
			if n := logs.Lines(); n != 1 {
				t.Errorf("%d log lines for %d identical background failures, want 1:\n%s", n, background, logs.String())
			}

			// Recording went on, and the failures are visible as a metric.
			srv := httptest.NewServer(p.PrometheusHandler())
			defer srv.Close()
			mfs := scrape(t, srv.URL)
			if v := mfs["hits_total"].GetMetric()[0].GetCounter().GetValue(); v != flushes {
				t.Errorf("hits_total = %v, want %d", v, flushes)
			}
			var failures float64
			for _, m := range mfs["vitals_exporter_exports_total"].GetMetric() {
				if l := labelsOf(m); l["outcome"] == "failed" && l["exporter"] == "otlp" {
					failures = m.GetCounter().GetValue()
				}
			}
			if failures != flushes+background {
				t.Errorf("vitals_exporter_exports_total{outcome=failed} = %v, want %d", failures, flushes+background)
			}
		})
	}
}

func TestOTLPEndpointHanging(t *testing.T) {
	for _, proto := range []Protocol{ProtocolGRPC, ProtocolHTTPProtobuf} {
		rcv := newReceiver(t, proto)
		rcv.SetBehavior(otlptest.Hang)
		t.Run(proto.String(), func(t *testing.T) {
			logger, logs := logtest.New()
			p, err := NewMeterProvider(t.Context(), MetricsConfig{
				Exporters: []MetricsExporter{MetricsOTLP},
				// A long OTLP timeout: Shutdown must still honour its own deadline.
				OTLP: OTLP{Endpoint: "http://" + rcv.Addr() + "/v1/metrics", Protocol: proto, Timeout: time.Minute},
			}, WithLogger(logger))
			if err != nil {
				t.Fatal(err)
			}
			c, _ := p.Meter("t").Int64Counter("hits")

			flushed := make(chan error, 1)
			go func() { flushed <- p.ForceFlush(context.Background()) }()
			if err := rcv.Wait(t.Context(), func(r []Request) bool { return len(r) > 0 }); err != nil {
				t.Fatal(err)
			}
			// The export hangs; recording is not blocked by it.
			for range 100_000 {
				c.Add(t.Context(), 1)
			}

			const deadline = 300 * time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			start := time.Now()
			err = p.Shutdown(ctx)
			elapsed := time.Since(start)
			if err == nil {
				t.Error("Shutdown with a hanging endpoint reported success")
			}
			if elapsed > deadline+2*time.Second {
				t.Errorf("Shutdown took %v with a %v deadline", elapsed, deadline)
			}
			rcv.Close() // releases the hung export so the flush goroutine ends
			<-flushed
			if n := logs.Lines(); n > 2 {
				t.Errorf("%d log lines, want at most 2:\n%s", n, logs.String())
			}
		})
	}
}

// Request aliases the receiver's request type for brevity in conditions.
type Request = otlptest.Request

// TestOTLPTimeoutBoundsRetries checks that OTLP.Timeout bounds a whole
// export, retries included, over both protocols: a collector answering 503
// with Retry-After, or hanging, fails the export after the timeout, not after
// the periodic reader's 30 s ExportTimeout.
func TestOTLPTimeoutBoundsRetries(t *testing.T) {
	for _, proto := range []Protocol{ProtocolGRPC, ProtocolHTTPProtobuf} {
		for _, b := range []otlptest.Behavior{otlptest.Unavailable, otlptest.Hang} {
			rcv := newReceiver(t, proto)
			rcv.SetBehavior(b)
			t.Run(proto.String()+"/"+b.String(), func(t *testing.T) {
				p := newTestProvider(t, MetricsConfig{
					Exporters: []MetricsExporter{MetricsOTLP},
					OTLP:      OTLP{Endpoint: "http://" + rcv.Addr() + "/v1/metrics", Protocol: proto, Timeout: 200 * time.Millisecond},
				})
				c, _ := p.Meter("t").Int64Counter("hits")
				c.Add(t.Context(), 1)
				// Far less than ExportTimeout, far more than the OTLP timeout
				// and its one retry after "Retry-After: 1".
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
				defer cancel()
				if err := p.ForceFlush(ctx); err == nil {
					t.Error("ForceFlush succeeded, want the export's error")
				}
				if ctx.Err() != nil {
					t.Fatalf("the export outlived its caller's 5 s deadline: OTLP.Timeout (200 ms) does not bound its retries")
				}
				if rcv.Attempts() == 0 {
					t.Error("no export attempt reached the receiver")
				}
			})
			rcv.Close()
		}
	}
}

// TestShutdownIgnoresInterruptedExport shuts down while a background export
// hangs: the SDK cancels that export to stop the reader's loop, and the
// final export, which the collector accepts, carries the same cumulative
// data. Shutdown reports success: only the final exports' errors count.
func TestShutdownIgnoresInterruptedExport(t *testing.T) {
	for _, proto := range []Protocol{ProtocolGRPC, ProtocolHTTPProtobuf} {
		rcv := newReceiver(t, proto)
		rcv.SetBehavior(otlptest.Hang)
		t.Run(proto.String(), func(t *testing.T) {
			p, err := NewMeterProvider(t.Context(), MetricsConfig{
				Exporters:      []MetricsExporter{MetricsOTLP},
				ExportInterval: 10 * time.Millisecond,
				OTLP:           OTLP{Endpoint: "http://" + rcv.Addr() + "/v1/metrics", Protocol: proto, Timeout: time.Minute},
			})
			if err != nil {
				t.Fatal(err)
			}
			c, _ := p.Meter("t").Int64Counter("hits")
			c.Add(t.Context(), 7)
			if err := rcv.Wait(t.Context(), func(r []Request) bool { return len(r) > 0 }); err != nil {
				t.Fatal(err)
			}
			rcv.SetBehavior(otlptest.Accept) // the background export stays hung

			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			if err := p.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown = %v, want nil: the final export was accepted", err)
			}
			reqs := rcv.Requests()
			if last := reqs[len(reqs)-1]; !last.Accepted {
				t.Errorf("the last export was not accepted: %+v", last)
			} else if ms := otlptest.FindMetric([]Request{last}, "hits"); len(ms) != 1 || ms[0].GetSum().GetDataPoints()[0].GetAsInt() != 7 {
				t.Errorf("the final export carried %v, want hits=7", ms)
			}
		})
		rcv.Close()
	}
}

// TestForceFlushReturnsOnlyItsOwnExport: a background export that fails
// while ForceFlush runs is logged, and not returned to ForceFlush's caller,
// whose own export succeeded. Before, ForceFlush waited behind the hung
// background export in the reader's loop and returned its error.
func TestForceFlushReturnsOnlyItsOwnExport(t *testing.T) {
	arrived := make(chan struct{}, 16)
	release := make(chan struct{})
	first := make(chan struct{}, 1)
	first <- struct{}{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		arrived <- struct{}{}
		select {
		case <-first: // the background export: hangs, then is refused
			<-release
			http.Error(w, "refused", http.StatusBadRequest)
		default:
			w.Header().Set("Content-Type", "application/x-protobuf")
		}
	}))
	defer srv.Close()
	logger, logs := logtest.New()
	p, err := NewMeterProvider(t.Context(), MetricsConfig{
		Exporters:      []MetricsExporter{MetricsOTLP},
		ExportInterval: 20 * time.Millisecond,
		OTLP:           OTLP{Endpoint: srv.URL + "/v1/metrics", Protocol: ProtocolHTTPProtobuf, Timeout: time.Minute},
	}, WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	// The callback tells when a collection runs: ForceFlush's, once the
	// background export hangs.
	collected := make(chan struct{}, 16)
	_, err = p.Meter("t").Int64ObservableCounter("hits", metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
		o.Observe(1)
		collected <- struct{}{}
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	<-arrived // the background export hangs
	for len(collected) > 0 {
		<-collected
	}

	flushed := make(chan error, 1)
	go func() { flushed <- p.ForceFlush(t.Context()) }()
	select {
	case <-collected: // ForceFlush is under way, behind the hung export
	case <-time.After(5 * time.Second): // the old code collected only after the hung export
		t.Error("ForceFlush did not collect while a background export hung")
	}
	close(release)
	if err := <-flushed; err != nil {
		t.Errorf("ForceFlush = %v, want nil: its own export succeeded", err)
	}
	// The background export's answer may come after ForceFlush's: it is
	// logged when it comes (before Shutdown, which silences what it cuts).
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if !logs.WaitFor(ctx, "400") {
		t.Errorf("the failed background export was not logged within 5 s:\n%s", logs.String())
	}
	_ = p.Shutdown(ctx)
}
