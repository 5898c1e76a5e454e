package exporter

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/vitalsgo/vitals/internal/logtest"
	"github.com/vitalsgo/vitals/internal/otlptest"
)

func TestTracesConfigFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		enabled bool
		check   func(t *testing.T, c TracesConfig)
	}{
		{name: "nothing set: off", env: nil, enabled: false,
			check: func(t *testing.T, c TracesConfig) {
				if c.Exporters != nil {
					t.Errorf("Exporters = %#v, want nil (the default)", c.Exporters)
				}
			}},
		{name: "generic endpoint: on", env: map[string]string{EnvEndpoint: "http://collector:4318"}, enabled: true,
			check: func(t *testing.T, c TracesConfig) {
				if got := c.OTLP.endpointFor("traces"); got != "http://collector:4318/v1/traces" {
					t.Errorf("endpoint %q", got)
				}
				if got, want := c.exporters(), []TracesExporter{TracesOTLP}; c.Exporters != nil || !reflect.DeepEqual(got, want) {
					t.Errorf("Exporters = %#v, exporters() = %v; want nil, %v", c.Exporters, got, want)
				}
			}},
		{name: "traces endpoint wins, used as it is", env: map[string]string{EnvEndpoint: "http://a:4318", EnvTracesEndpoint: "http://b:4318/custom"}, enabled: true,
			check: func(t *testing.T, c TracesConfig) {
				if got := c.OTLP.endpointFor("traces"); got != "http://b:4318/custom" {
					t.Errorf("endpoint %q", got)
				}
			}},
		{name: "none wins over an endpoint", env: map[string]string{EnvEndpoint: "http://collector:4318", EnvTracesExporter: "none"}, enabled: false},
		{name: "otlp without endpoint: the default", env: map[string]string{EnvTracesExporter: "otlp"}, enabled: true,
			check: func(t *testing.T, c TracesConfig) {
				if got := c.OTLP.endpointFor("traces"); got != DefaultHTTPEndpoint+"/v1/traces" {
					t.Errorf("endpoint %q", got)
				}
			}},
		{name: "console", env: map[string]string{EnvTracesExporter: "Console"}, enabled: true},
		{name: "a list: otlp and console, a duplicate counted once", env: map[string]string{EnvTracesExporter: " otlp , Console,otlp"}, enabled: true,
			check: func(t *testing.T, c TracesConfig) {
				if want := []TracesExporter{TracesOTLP, TracesConsole, TracesOTLP}; !reflect.DeepEqual(c.Exporters, want) {
					t.Errorf("Exporters = %v, want %v", c.Exporters, want)
				}
				if got, want := c.exporters(), []TracesExporter{TracesOTLP, TracesConsole}; !reflect.DeepEqual(got, want) {
					t.Errorf("exporters() = %v, want %v", got, want)
				}
			}},
		{name: "traces-specific settings win", env: map[string]string{
			EnvProtocol: "http/protobuf", EnvTracesProtocol: "grpc", EnvHeaders: "a=1", EnvTracesHeaders: "b=2",
			EnvTimeout: "1000", EnvTracesTimeout: "2000", EnvCompression: "none", EnvTracesCompression: "gzip",
			EnvInsecure: "false", EnvTracesInsecure: "true", EnvEndpoint: "collector:4317",
		}, enabled: true, check: func(t *testing.T, c TracesConfig) {
			o := c.OTLP
			if o.Protocol != ProtocolGRPC || o.Headers["b"] != "2" || len(o.Headers) != 1 || o.Timeout != 2*time.Second || o.Compression != "gzip" || !o.Insecure {
				t.Errorf("OTLP = %+v", o)
			}
		}},
		{name: "batch", env: map[string]string{EnvBSPScheduleDelay: "200", EnvBSPExportTimeout: "3000", EnvBSPMaxQueueSize: "100", EnvBSPMaxExportBatch: "10"},
			check: func(t *testing.T, c TracesConfig) {
				want := BatchConfig{ScheduleDelay: 200 * time.Millisecond, ExportTimeout: 3 * time.Second, MaxQueueSize: 100, MaxExportBatchSize: 10}
				if c.Batch != want {
					t.Errorf("Batch = %+v, want %+v", c.Batch, want)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tracesConfigFromLookup(lookupFrom(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if c.Enabled() != tc.enabled {
				t.Errorf("Enabled = %v, want %v", c.Enabled(), tc.enabled)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

// TestTracesSamplerFromEnv: each sampler of the specification but the
// remote ones, by its description, with the ratio of its argument.
func TestTracesSamplerFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name, arg, want string
	}{
		{"always_on", "", "AlwaysOnSampler"},
		{"always_off", "", "AlwaysOffSampler"},
		{"traceidratio", "0.25", "TraceIDRatioBased{0.25}"},
		{"traceidratio", "", "TraceIDRatioBased{1}"}, // the specification's default argument
		{"parentbased_always_on", "", "ParentBased{root:AlwaysOnSampler"},
		{"parentbased_always_off", "", "ParentBased{root:AlwaysOffSampler"},
		{"PARENTBASED_TRACEIDRATIO", "0.1", "ParentBased{root:TraceIDRatioBased{0.1}"},
	} {
		env := map[string]string{EnvTracesSampler: tc.name}
		if tc.arg != "" {
			env[EnvTracesSamplerArg] = tc.arg
		}
		c, err := tracesConfigFromLookup(lookupFrom(env))
		if err != nil {
			t.Fatalf("%s %s: %v", tc.name, tc.arg, err)
		}
		if c.Sampler == nil || !strings.HasPrefix(c.Sampler.Description(), tc.want) {
			t.Errorf("%s %s: sampler %v, want %s", tc.name, tc.arg, c.Sampler, tc.want)
		}
	}
	c, err := tracesConfigFromLookup(lookupFrom(nil))
	if err != nil || c.Sampler != nil {
		t.Errorf("no sampler set: %v, %v; want nil (the default, parentbased_always_on)", c.Sampler, err)
	}
}

func TestTracesConfigFromEnvErrors(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		name string // the variable the error must name
	}{
		{map[string]string{EnvTracesExporter: "zipkin"}, EnvTracesExporter},
		{map[string]string{EnvTracesExporter: "otlp,zipkin"}, EnvTracesExporter},
		{map[string]string{EnvTracesExporter: "none,otlp"}, EnvTracesExporter},
		{map[string]string{EnvTracesSampler: "sometimes"}, EnvTracesSampler},
		{map[string]string{EnvTracesSampler: "jaeger_remote"}, EnvTracesSampler},
		{map[string]string{EnvTracesSampler: "traceidratio", EnvTracesSamplerArg: "2"}, EnvTracesSamplerArg},
		{map[string]string{EnvTracesSampler: "parentbased_traceidratio", EnvTracesSamplerArg: "half"}, EnvTracesSamplerArg},
		{map[string]string{EnvBSPMaxQueueSize: "-1"}, EnvBSPMaxQueueSize},
		{map[string]string{EnvBSPMaxExportBatch: "x"}, EnvBSPMaxExportBatch},
		{map[string]string{EnvBSPMaxQueueSize: "10", EnvBSPMaxExportBatch: "20"}, EnvBSPMaxExportBatch},
		{map[string]string{EnvBSPScheduleDelay: "0"}, EnvBSPScheduleDelay},
		{map[string]string{EnvTracesEndpoint: "ftp://x"}, EnvTracesEndpoint},
		{map[string]string{EnvTracesProtocol: "thrift"}, EnvTracesProtocol},
		{map[string]string{EnvTracesHeaders: "novalue"}, EnvTracesHeaders},
		{map[string]string{EnvTracesTimeout: "-5"}, EnvTracesTimeout},
		{map[string]string{EnvTracesInsecure: "yes"}, EnvTracesInsecure},
		{map[string]string{EnvTracesCompression: "zstd"}, EnvTracesCompression},
	} {
		_, err := tracesConfigFromLookup(lookupFrom(tc.env))
		var ee *EnvError
		if !errors.As(err, &ee) || ee.Name != tc.name || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%v: error %v, want one naming %s", tc.env, err, tc.name)
		}
	}
	// A secret in a header is never repeated.
	_, err := tracesConfigFromLookup(lookupFrom(map[string]string{EnvTracesHeaders: "api-key"}))
	if err == nil || strings.Contains(err.Error(), "api-key") {
		t.Errorf("bad header error %v repeats the value", err)
	}
}

// TestNewTracerProviderConsole writes a span to the console exporter with
// the configured sampler; off, it builds nothing.
func TestNewTracerProviderConsole(t *testing.T) {
	if tp, err := NewTracerProvider(context.Background(), TracesConfig{}, nil); tp != nil || err != nil {
		t.Fatalf("off: %v, %v; want nil, nil", tp, err)
	}
	none := TracesConfig{Exporters: []TracesExporter{}, OTLP: OTLP{BaseEndpoint: "http://collector:4318"}}
	if tp, err := NewTracerProvider(context.Background(), none, nil); tp != nil || err != nil {
		t.Fatalf("none with an endpoint: %v, %v; want nil, nil", tp, err)
	}
	var out bytes.Buffer
	tp, err := NewTracerProvider(context.Background(), TracesConfig{Exporters: []TracesExporter{TracesConsole}, ConsoleWriter: &out, Sampler: sdktrace.AlwaysSample()}, nil)
	if err != nil || tp == nil {
		t.Fatalf("console: %v, %v", tp, err)
	}
	_, span := tp.Tracer("test").Start(context.Background(), "checkout")
	span.End()
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := tp.Shutdown(context.Background()); !errors.Is(err, ErrShutdown) {
		t.Errorf("second Shutdown = %v, want ErrShutdown", err)
	}
	if !strings.Contains(out.String(), `"Name":"checkout"`) {
		t.Errorf("console output has no span named checkout:\n%s", out.String())
	}
}

// failingWriter fails every write, as a console or collector that is gone.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// recordGlobalErrors makes the global OTel error handler record what it is
// given until the test ends.
func recordGlobalErrors(t *testing.T) *[]error {
	t.Helper()
	var mu sync.Mutex
	var got []error
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, err)
	}))
	t.Cleanup(func() { otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Print(err) })) })
	return &got
}

// TestTracesExportFailureLogged: failed span exports go to the given
// logger, once per distinct error within the minute with the number of
// spans dropped, and never to the global OTel error handler.
func TestTracesExportFailureLogged(t *testing.T) {
	global := recordGlobalErrors(t)
	logger, logs := logtest.New()
	tp, err := NewTracerProvider(t.Context(), TracesConfig{Exporters: []TracesExporter{TracesConsole}, ConsoleWriter: failingWriter{}, Sampler: sdktrace.AlwaysSample()}, nil, WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		_, span := tp.Tracer("test").Start(t.Context(), "checkout")
		span.End()
		if err := tp.ForceFlush(t.Context()); err != nil {
			t.Errorf("ForceFlush: %v, want nil (the failure is logged)", err)
		}
	}
	if err := tp.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	text := logs.String()
	if n := strings.Count(text, "vitals: traces export failed"); n != 1 || !strings.Contains(text, "disk full") || !strings.Contains(text, "spans=1") || !strings.Contains(text, "exporter=console") {
		t.Errorf("%d lines for 3 failures, want 1 naming the error, the exporter and the spans dropped:\n%s", n, text)
	}
	if len(*global) != 0 {
		t.Errorf("the global OTel error handler got %v", *global)
	}
}

// TestNewTracerProviderOTLPAndConsole: with both exporters, each span
// reaches a real OTLP receiver and the console, each through a batch
// processor of its own: a console that fails holds back its own exports,
// never OTLP's. An exporter that is not one is refused.
func TestNewTracerProviderOTLPAndConsole(t *testing.T) {
	for _, tc := range []struct {
		name    string
		console func(*bytes.Buffer) io.Writer
	}{
		{"both", func(b *bytes.Buffer) io.Writer { return b }},
		{"console failing", func(*bytes.Buffer) io.Writer { return failingWriter{} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rcv := otlptest.NewHTTP(t)
			logger, logs := logtest.New()
			var out bytes.Buffer
			cfg := TracesConfig{
				Exporters:     []TracesExporter{TracesOTLP, TracesConsole},
				OTLP:          OTLP{BaseEndpoint: rcv.Endpoint()},
				Sampler:       sdktrace.AlwaysSample(),
				ConsoleWriter: tc.console(&out),
			}
			tp, err := NewTracerProvider(t.Context(), cfg, nil, WithLogger(logger))
			if err != nil {
				t.Fatal(err)
			}
			names := []string{"checkout", "payment", "shipping"}
			for _, name := range names {
				_, span := tp.Tracer("test").Start(t.Context(), name)
				span.End()
				if err := tp.ForceFlush(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			if err := tp.Shutdown(t.Context()); err != nil {
				t.Fatal(err)
			}
			reqs := rcv.TraceRequests()
			if got := otlptest.SpanNames(reqs); len(otlptest.Spans(reqs)) != len(names) || !reflect.DeepEqual(got, names) {
				t.Errorf("OTLP received %d spans named %q, want one each of %q", len(otlptest.Spans(reqs)), got, names)
			}
			if tc.name == "both" {
				for _, name := range names {
					if !strings.Contains(out.String(), `"Name":"`+name+`"`) {
						t.Errorf("console output has no span named %s:\n%s", name, out.String())
					}
				}
			} else if text := logs.String(); !strings.Contains(text, "exporter=console") || strings.Contains(text, "exporter=otlp") {
				t.Errorf("want the console's failure logged, and no OTLP failure:\n%s", text)
			}
		})
	}
	for _, exps := range [][]TracesExporter{{TracesUnknown}, {TracesConsole, TracesExporter(42)}} {
		tp, err := NewTracerProvider(t.Context(), TracesConfig{Exporters: exps, ConsoleWriter: io.Discard}, nil)
		if tp != nil || err == nil || !strings.Contains(err.Error(), exps[len(exps)-1].String()) {
			t.Errorf("Exporters %v: %v, %v; want an error naming %v", exps, tp, err, exps[len(exps)-1])
		}
	}
}
