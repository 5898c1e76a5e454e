package promconv_test

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/trace"

	"github.com/vitalsgo/vitals/internal/promconv"
)

// TestMatchesOTelExporter feeds one MeterProvider to the OTel Prometheus
// exporter and to a Gatherer and checks that, apart from the scope labels
// the package deliberately drops, both expose exactly the same families.
func TestMatchesOTelExporter(t *testing.T) {
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	manual := sdkmetric.NewManualReader()
	res := resource.NewSchemaless(
		attribute.String("service.name", "vitals-test"),
		attribute.String("service.instance.id", "i-1"),
		attribute.String("weird-key", "w"),
		attribute.Int("2nd.key", 2),
	)
	exponential := sdkmetric.Stream{Aggregation: sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: 160, MaxScale: 20}}
	mp := sdkmetric.NewMeterProvider(
		sdkmetric.WithResource(res),
		sdkmetric.WithReader(exp),
		sdkmetric.WithReader(manual),
		sdkmetric.WithView(
			sdkmetric.NewView(sdkmetric.Instrument{Name: "rpc.payload.size"}, exponential),
			sdkmetric.NewView(sdkmetric.Instrument{Name: "rpc.latency"}, exponential),
			sdkmetric.NewView(sdkmetric.Instrument{Name: "login.attempts"}, sdkmetric.Stream{
				AttributeFilter: attribute.NewAllowKeysFilter("result"),
			}),
		),
	)
	shutdown(t, mp)
	record(t, mp)

	want, err := reg.Gather()
	if err != nil {
		t.Fatalf("exporter: %v", err)
	}
	got, err := promconv.NewGatherer(manual, nil).Gather()
	if err != nil {
		t.Fatalf("promconv: %v", err)
	}

	// The exporter labels every series with the scope version, schema URL
	// and attributes, and an unnamed scope with otel_scope_name="";
	// promconv does not.
	want = normalize(t, want, func(name, value string) bool {
		return strings.HasPrefix(name, "otel_scope_") && name != "otel_scope_name" ||
			name == "otel_scope_name" && value == ""
	})
	got = normalize(t, got, nil)

	if w, g := text(t, want), text(t, got); w != g {
		t.Errorf("text exposition differs from the exporter's (-exporter +promconv):\n%s", lineDiff(w, g))
	}
	if w, g := protoText(want), protoText(got); w != g {
		t.Errorf("protobuf content differs from the exporter's (-exporter +promconv):\n%s", lineDiff(w, g))
	}

	// Make sure the interesting cases are really in there.
	for _, name := range []string{
		"target_info",
		"http_server_requests_total",
		"bytes_sent_total",
		"queue_length",
		"cpu_utilization_ratio",
		"memory_usage_bytes",
		"http_server_request_duration_seconds",
		"rpc_payload_size_bytes",
		"rpc_latency_seconds",
		"login_attempts_total",
		"anonymous_events_total",
	} {
		if find(got, name) == nil {
			t.Errorf("family %s missing; have:\n%s", name, text(t, got))
		}
	}
	exemplars := 0
	for _, mf := range got {
		for _, m := range mf.Metric {
			if m.Counter.GetExemplar() != nil {
				exemplars++
			}
			for _, b := range m.Histogram.GetBucket() {
				if b.Exemplar != nil {
					exemplars++
				}
			}
			exemplars += len(m.Histogram.GetExemplars())
		}
	}
	if exemplars < 4 {
		t.Errorf("got %d exemplars, want at least 4", exemplars)
	}
}

// record creates a broad set of instruments on mp and records into them.
func record(t *testing.T, mp *sdkmetric.MeterProvider) {
	t.Helper()
	ctx := context.Background()
	sampled := trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31, 0x9c},
		SpanID:     trace.SpanID{0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31},
		TraceFlags: trace.FlagsSampled,
	}))
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	a := mp.Meter("github.com/vitalsgo/vitals/promconv/test",
		metric.WithInstrumentationVersion("v1.2.3"),
		metric.WithSchemaURL("https://opentelemetry.io/schemas/1.26.0"),
		metric.WithInstrumentationAttributes(attribute.String("lib.kind", "test")),
	)
	b := mp.Meter("other.lib")
	anon := mp.Meter("")

	requests, err := a.Int64Counter("http.server.requests", metric.WithUnit("{request}"), metric.WithDescription(`Requests "served" \ total.`))
	must(err)
	requests.Add(sampled, 3, metric.WithAttributes(
		attribute.String("http.route", "/users/{id}"),
		attribute.String("http.request.method", "GET"),
		attribute.String("foo.bar", "y"), // collides with foo_bar after sanitising
		attribute.String("foo_bar", "x"),
	))
	requests.Add(ctx, 1, metric.WithAttributes(
		attribute.String("http.route", "/"),
		attribute.String("http.request.method", "POST"),
		attribute.Int("http.response.status_code", 500),
		attribute.Bool("error", true),
		attribute.Float64("ratio", 0.25),
		attribute.StringSlice("tags", []string{"a", "b"}),
		attribute.String("weird-key", "ünïcödé \"quoted\"\n"),
		attribute.String("1st", "digit"),
	))
	requestsB, err := b.Int64Counter("http.server.requests", metric.WithUnit("{request}"), metric.WithDescription(`Requests "served" \ total.`))
	must(err)
	requestsB.Add(ctx, 7, metric.WithAttributes(attribute.String("http.route", "/")))

	sent, err := a.Float64Counter("bytes.sent", metric.WithUnit("By"))
	must(err)
	sent.Add(ctx, 1.5e6)

	cpuTime, err := b.Float64Counter("process.cpu.time", metric.WithUnit("s"))
	must(err)
	cpuTime.Add(ctx, 12.5, metric.WithAttributes(attribute.String("cpu.mode", "user")))
	cpuTime.Add(ctx, 2.25, metric.WithAttributes(attribute.String("cpu.mode", "system")))

	speed, err := b.Float64Counter("distance.travelled", metric.WithUnit("m/s"))
	must(err)
	speed.Add(ctx, 3)

	already, err := b.Int64Counter("jobs_total", metric.WithUnit("1"))
	must(err)
	already.Add(ctx, 4)

	queue, err := a.Int64UpDownCounter("queue.length", metric.WithUnit("{item}"))
	must(err)
	queue.Add(ctx, 5)
	queue.Add(ctx, -2)

	temp, err := b.Float64UpDownCounter("room.temperature", metric.WithUnit("Cel"))
	must(err)
	temp.Add(ctx, -3.5, metric.WithAttributes(attribute.String("room", "cellar")))

	util, err := a.Float64Gauge("cpu.utilization", metric.WithUnit("1"))
	must(err)
	util.Record(ctx, 0.75)

	goroutines, err := b.Int64Gauge("goroutines")
	must(err)
	goroutines.Record(ctx, 42)

	_, err = a.Float64ObservableGauge("memory.usage", metric.WithUnit("By"),
		metric.WithFloat64Callback(func(_ context.Context, o metric.Float64Observer) error {
			o.Observe(1234, metric.WithAttributes(attribute.String("memory.type", "heap")))
			o.Observe(99, metric.WithAttributes(attribute.String("memory.type", "stack")))
			return nil
		}))
	must(err)

	_, err = a.Int64ObservableCounter("page.faults", metric.WithUnit("{fault}"),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(17)
			return nil
		}))
	must(err)

	duration, err := a.Float64Histogram("http.server.request.duration", metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
	must(err)
	for _, v := range []float64{0.003, 0.007, 0.2, 0.2, 1.5, 30} {
		duration.Record(sampled, v, metric.WithAttributes(attribute.String("http.route", "/")))
	}
	duration.Record(ctx, 0.04, metric.WithAttributes(attribute.String("http.route", "/users/{id}")))

	sizes, err := a.Int64Histogram("message.size", metric.WithUnit("By"))
	must(err)
	sizes.Record(ctx, 300)
	sizes.Record(ctx, 70000)

	// Wide range: the SDK picks a low scale.
	payload, err := a.Float64Histogram("rpc.payload.size", metric.WithUnit("By"))
	must(err)
	for _, v := range []float64{0, 1, 10, 1000, 1e6, 0.5} {
		payload.Record(sampled, v, metric.WithAttributes(attribute.String("rpc.method", "Get")))
	}
	// Narrow range: the SDK keeps scale 20, the exporter downscales to 8.
	latency, err := b.Float64Histogram("rpc.latency", metric.WithUnit("s"))
	must(err)
	for _, v := range []float64{0.1, 0.1001, 0.1002} {
		latency.Record(ctx, v)
	}

	logins, err := a.Int64Counter("login.attempts")
	must(err)
	logins.Add(sampled, 1, metric.WithAttributes(
		attribute.String("result", "failure"),
		attribute.String("user.id", "u-42"), // filtered out by the view: an exemplar label
	))

	events, err := anon.Int64Counter("anonymous.events")
	must(err)
	events.Add(ctx, 2)
}
