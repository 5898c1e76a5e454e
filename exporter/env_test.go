package exporter

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
)

func lookupFrom(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

func TestMetricsConfigFromEnvDefaults(t *testing.T) {
	cfg, err := configFromLookup(lookupFrom(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, MetricsConfig{}) {
		t.Errorf("empty environment gave %+v, want the zero Config", cfg)
	}
	if got, want := cfg.readers(), []MetricsExporter{MetricsPrometheus}; !reflect.DeepEqual(got, want) {
		t.Errorf("default readers = %v, want %v", got, want)
	}
}

func TestMetricsConfigFromEnvValid(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    func(*MetricsConfig)
		readers []MetricsExporter
	}{
		{
			name: "service name wins over resource attribute",
			env:  map[string]string{EnvServiceName: "shop", EnvResourceAttributes: "service.name=other,deployment.environment.name=prod%20eu, team = core"},
			want: func(c *MetricsConfig) {
				c.ServiceName = "shop"
				c.ResourceAttributes = []attribute.KeyValue{
					attribute.String("service.name", "other"),
					attribute.String("deployment.environment.name", "prod eu"),
					attribute.String("team", "core"),
				}
			},
			readers: []MetricsExporter{MetricsPrometheus},
		},
		{
			name:    "generic endpoint is a base",
			env:     map[string]string{EnvEndpoint: "http://collector:4318"},
			want:    func(c *MetricsConfig) { c.OTLP.BaseEndpoint = "http://collector:4318" },
			readers: []MetricsExporter{MetricsPrometheus, MetricsOTLP},
		},
		{
			name: "signal endpoint is kept beside the generic one",
			env:  map[string]string{EnvEndpoint: "http://a:4318", EnvMetricsEndpoint: "http://b:4318/custom"},
			want: func(c *MetricsConfig) {
				c.OTLP.BaseEndpoint = "http://a:4318"
				c.OTLP.Endpoint = "http://b:4318/custom"
			},
			readers: []MetricsExporter{MetricsPrometheus, MetricsOTLP},
		},
		{
			name: "grpc host:port with insecure",
			env:  map[string]string{EnvProtocol: "GRPC", EnvEndpoint: "collector:4317", EnvInsecure: "True"},
			want: func(c *MetricsConfig) {
				c.OTLP.Protocol = ProtocolGRPC
				c.OTLP.BaseEndpoint = "collector:4317"
				c.OTLP.Insecure = true
			},
			readers: []MetricsExporter{MetricsPrometheus, MetricsOTLP},
		},
		{
			name: "a timeout of 0 means no limit",
			env:  map[string]string{EnvTimeout: "0", EnvMetricExportTimeout: "0"},
			want: func(c *MetricsConfig) {
				c.OTLP.Timeout = -1
				c.ExportTimeout = -1
			},
			readers: []MetricsExporter{MetricsPrometheus},
		},
		{
			name:    "metrics protocol wins over generic",
			env:     map[string]string{EnvProtocol: "grpc", EnvMetricsProtocol: "http/protobuf"},
			want:    func(c *MetricsConfig) { c.OTLP.Protocol = ProtocolHTTPProtobuf },
			readers: []MetricsExporter{MetricsPrometheus},
		},
		{
			name:    "exporter list runs prometheus and otlp side by side",
			env:     map[string]string{EnvMetricsExporter: " prometheus , OTLP,otlp"},
			want:    func(c *MetricsConfig) { c.Exporters = []MetricsExporter{MetricsPrometheus, MetricsOTLP, MetricsOTLP} },
			readers: []MetricsExporter{MetricsPrometheus, MetricsOTLP},
		},
		{
			name:    "none",
			env:     map[string]string{EnvMetricsExporter: "none", EnvEndpoint: "http://c:4318"},
			want:    func(c *MetricsConfig) { c.Exporters = []MetricsExporter{}; c.OTLP.BaseEndpoint = "http://c:4318" },
			readers: nil,
		},
		{
			name:    "console only",
			env:     map[string]string{EnvMetricsExporter: "console"},
			want:    func(c *MetricsConfig) { c.Exporters = []MetricsExporter{MetricsConsole} },
			readers: []MetricsExporter{MetricsConsole},
		},
		{
			name:    "headers are percent-decoded; metrics headers win",
			env:     map[string]string{EnvHeaders: "a=1", EnvMetricsHeaders: "api-key=s%3Dcret, x-tenant = blue"},
			want:    func(c *MetricsConfig) { c.OTLP.Headers = map[string]string{"api-key": "s=cret", "x-tenant": "blue"} },
			readers: []MetricsExporter{MetricsPrometheus},
		},
		{
			name: "timeouts, intervals, compression, temporality, exemplars",
			env: map[string]string{
				EnvTimeout: "2500", EnvMetricsTimeout: "1500", EnvMetricsInsecure: "false", EnvInsecure: "true",
				EnvCompression: "gzip", EnvMetricsTemporalityPreference: "LowMemory",
				EnvMetricExportInterval: "15000", EnvMetricExportTimeout: "5000", EnvMetricsExemplarFilter: "trace_based",
			},
			want: func(c *MetricsConfig) {
				c.OTLP.Timeout = 1500 * time.Millisecond
				c.OTLP.Insecure = false
				c.OTLP.Compression = "gzip"
				c.OTLP.Temporality = TemporalityLowMemory
				c.ExportInterval = 15 * time.Second
				c.ExportTimeout = 5 * time.Second
				c.Exemplars = ExemplarsTraceBased
			},
			readers: []MetricsExporter{MetricsPrometheus},
		},
		{
			name:    "delta and cumulative presets",
			env:     map[string]string{EnvMetricsTemporalityPreference: "delta", EnvMetricsCompression: "none", EnvCompression: "gzip"},
			want:    func(c *MetricsConfig) { c.OTLP.Temporality = TemporalityDelta },
			readers: []MetricsExporter{MetricsPrometheus},
		},
		{
			name:    "exponential histograms, any case",
			env:     map[string]string{EnvHistogramAggregation: " Base2_Exponential_Bucket_Histogram "},
			want:    func(c *MetricsConfig) { c.ExponentialHistograms = true },
			readers: []MetricsExporter{MetricsPrometheus},
		},
		{
			name:    "explicit bucket histograms, the default, any case",
			env:     map[string]string{EnvHistogramAggregation: "EXPLICIT_BUCKET_HISTOGRAM"},
			want:    func(c *MetricsConfig) { c.ExponentialHistograms = false },
			readers: []MetricsExporter{MetricsPrometheus},
		},
		{
			name:    "blank values count as unset",
			env:     map[string]string{EnvEndpoint: "  ", EnvMetricExportInterval: ""},
			want:    func(*MetricsConfig) {},
			readers: []MetricsExporter{MetricsPrometheus},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := configFromLookup(lookupFrom(tt.env))
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			var want MetricsConfig
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
			if r := got.readers(); !reflect.DeepEqual(r, tt.readers) {
				t.Errorf("readers = %v, want %v", r, tt.readers)
			}
		})
	}
}

func TestMetricsConfigFromEnvInvalid(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		varName string
		inMsg   string
	}{
		{"resource attribute without =", map[string]string{EnvResourceAttributes: "a=1,broken"}, EnvResourceAttributes, "entry 2"},
		{"resource attribute empty key", map[string]string{EnvResourceAttributes: "=x"}, EnvResourceAttributes, "empty key"},
		{"resource attribute bad escape", map[string]string{EnvResourceAttributes: "a=%zz"}, EnvResourceAttributes, "percent-encoding"},
		{"unknown exporter", map[string]string{EnvMetricsExporter: "prometheus,zipkin"}, EnvMetricsExporter, `"zipkin"`},
		{"none combined", map[string]string{EnvMetricsExporter: "none,otlp"}, EnvMetricsExporter, "none"},
		{"bad protocol", map[string]string{EnvProtocol: "udp"}, EnvProtocol, "grpc"},
		{"http/json unsupported", map[string]string{EnvMetricsProtocol: "http/json"}, EnvMetricsProtocol, "not supported"},
		{"endpoint without scheme for http", map[string]string{EnvEndpoint: "collector:4318"}, EnvEndpoint, "scheme"},
		{"endpoint with bad scheme", map[string]string{EnvMetricsEndpoint: "ftp://c:21"}, EnvMetricsEndpoint, `"ftp"`},
		{"endpoint without host", map[string]string{EnvEndpoint: "http://"}, EnvEndpoint, "no host"},
		{"endpoint with credentials", map[string]string{EnvEndpoint: "http://u:p@c:4318"}, EnvEndpoint, "credentials"},
		{"grpc endpoint not host:port", map[string]string{EnvProtocol: "grpc", EnvEndpoint: "collector"}, EnvEndpoint, "host:port"},
		{"header without =", map[string]string{EnvHeaders: "api-key"}, EnvHeaders, "entry 1"},
		{"metrics header bad name", map[string]string{EnvMetricsHeaders: "bad key=1"}, EnvMetricsHeaders, "header name"},
		{"timeout not a number", map[string]string{EnvTimeout: "10s"}, EnvTimeout, "milliseconds"},
		{"metrics timeout negative", map[string]string{EnvMetricsTimeout: "-1"}, EnvMetricsTimeout, "0 for no limit"},
		{"insecure not a bool", map[string]string{EnvInsecure: "yes"}, EnvInsecure, `"true" or "false"`},
		{"metrics insecure not a bool", map[string]string{EnvMetricsInsecure: "1"}, EnvMetricsInsecure, `"true"`},
		{"compression unknown", map[string]string{EnvCompression: "zstd"}, EnvCompression, "gzip"},
		{"metrics compression unknown", map[string]string{EnvMetricsCompression: "br"}, EnvMetricsCompression, "gzip"},
		{"temporality unknown", map[string]string{EnvMetricsTemporalityPreference: "sometimes"}, EnvMetricsTemporalityPreference, "lowmemory"},
		{"interval not a number", map[string]string{EnvMetricExportInterval: "abc"}, EnvMetricExportInterval, "milliseconds"},
		{"interval zero", map[string]string{EnvMetricExportInterval: "0"}, EnvMetricExportInterval, "positive"},
		{"interval too large", map[string]string{EnvMetricExportInterval: "999999999999"}, EnvMetricExportInterval, "one day"},
		{"export timeout fraction", map[string]string{EnvMetricExportTimeout: "1.5"}, EnvMetricExportTimeout, "whole number"},
		{"exemplar filter unknown", map[string]string{EnvMetricsExemplarFilter: "sometimes"}, EnvMetricsExemplarFilter, "trace_based"},
		{"histogram aggregation unknown", map[string]string{EnvHistogramAggregation: "exponential"}, EnvHistogramAggregation, `"base2_exponential_bucket_histogram"`},
		{"histogram aggregation of another SDK", map[string]string{EnvHistogramAggregation: "base2_exponential_histogram"}, EnvHistogramAggregation, `"explicit_bucket_histogram"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := configFromLookup(lookupFrom(tt.env))
			if err == nil {
				t.Fatal("no error")
			}
			var envErr *EnvError
			if !errors.As(err, &envErr) {
				t.Fatalf("error %v is not an *EnvError", err)
			}
			if envErr.Name != tt.varName {
				t.Errorf("error names %s, want %s", envErr.Name, tt.varName)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, tt.varName+"=") || !strings.Contains(msg, tt.inMsg) {
				t.Errorf("message %q should start with %s= and contain %q", msg, tt.varName, tt.inMsg)
			}
		})
	}
}

// TestExporterListsFromEnv: OTEL_METRICS_EXPORTER, OTEL_TRACES_EXPORTER and
// OTEL_LOGS_EXPORTER are read alike: unset, a nil list (the signal's
// default, and the zero config); a comma-separated list, blanks and case
// ignored, duplicates kept; "none" an empty, non-nil list, refused beside
// another name with an error naming the variable, as an unknown name is.
func TestExporterListsFromEnv(t *testing.T) {
	if c, err := tracesConfigFromLookup(lookupFrom(nil)); err != nil || !reflect.DeepEqual(c, TracesConfig{}) {
		t.Errorf("traces, empty environment: %+v, %v; want the zero TracesConfig", c, err)
	}
	if c, err := logsConfigFromLookup(lookupFrom(nil)); err != nil || !reflect.DeepEqual(c, LogsConfig{}) {
		t.Errorf("logs, empty environment: %+v, %v; want the zero LogsConfig", c, err)
	}
	read := map[string]func(env map[string]string) ([]string, error){
		EnvMetricsExporter: func(env map[string]string) ([]string, error) {
			c, err := configFromLookup(lookupFrom(env))
			return exporterNames(c.Exporters), err
		},
		EnvTracesExporter: func(env map[string]string) ([]string, error) {
			c, err := tracesConfigFromLookup(lookupFrom(env))
			return exporterNames(c.Exporters), err
		},
		EnvLogsExporter: func(env map[string]string) ([]string, error) {
			c, err := logsConfigFromLookup(lookupFrom(env))
			return exporterNames(c.Exporters), err
		},
	}
	for name, read := range read {
		for _, tc := range []struct {
			value string // "" for unset
			want  []string
			inErr string // what the error says, "" for none
		}{
			{"", nil, ""},
			{"otlp", []string{"otlp"}, ""},
			{" otlp , CONSOLE,otlp", []string{"otlp", "console", "otlp"}, ""},
			{"none", []string{}, ""},
			{"None, none", []string{}, ""},
			{"none,otlp", nil, `"none" cannot be combined`},
			{"console, none", nil, `"none" cannot be combined`},
			{"otlp,zipkin", nil, `unknown exporter "zipkin"`},
		} {
			env := map[string]string{}
			if tc.value != "" {
				env[name] = tc.value
			}
			got, err := read(env)
			if tc.inErr != "" {
				var ee *EnvError
				if !errors.As(err, &ee) || ee.Name != name || !strings.HasPrefix(err.Error(), name+"=") || !strings.Contains(err.Error(), tc.inErr) {
					t.Errorf("%s=%q: error %v, want one naming %s and saying %s", name, tc.value, err, name, tc.inErr)
				}
				continue
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s=%q: %#v, %v; want %#v", name, tc.value, got, err, tc.want)
			}
		}
	}
}

// exporterNames returns the names of es: nil for nil, empty for empty.
func exporterNames[E fmt.Stringer](es []E) []string {
	if es == nil {
		return nil
	}
	names := []string{}
	for _, e := range es {
		names = append(names, e.String())
	}
	return names
}

// TestEndpointResolution checks where exports go: the metrics endpoint as
// it is, else the base endpoint with /v1/metrics for HTTP, decided by the
// protocol in force when the provider is built (so code may change it).
func TestEndpointResolution(t *testing.T) {
	tests := []struct {
		o    OTLP
		want string
	}{
		{OTLP{BaseEndpoint: "http://collector:4318"}, "http://collector:4318/v1/metrics"},
		{OTLP{BaseEndpoint: "https://gw.example/otlp/"}, "https://gw.example/otlp/v1/metrics"},
		{OTLP{BaseEndpoint: "http://collector:4317", Protocol: ProtocolGRPC}, "http://collector:4317"},
		{OTLP{BaseEndpoint: "http://a:4318", Endpoint: "http://b:4318/custom"}, "http://b:4318/custom"},
		{OTLP{Endpoint: "http://b:4318"}, "http://b:4318"},
		{OTLP{}, "http://localhost:4318/v1/metrics"},
		{OTLP{Protocol: ProtocolGRPC}, "http://localhost:4317"},
	}
	for _, tt := range tests {
		if got := tt.o.endpoint(); got != tt.want {
			t.Errorf("%+v: endpoint %q, want %q", tt.o, got, tt.want)
		}
	}
}

func TestEndpointErrorsHideCredentials(t *testing.T) {
	_, err := configFromLookup(lookupFrom(map[string]string{EnvEndpoint: "https://user:hunter2@c:4318"}))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %v: want an error that does not show the password", err)
	}
	_, err = NewMeterProvider(t.Context(), MetricsConfig{OTLP: OTLP{Endpoint: "https://user:hunter2@c:4318"}})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("NewMeterProvider: error %v: want an error that does not show the password", err)
	}
}

func TestMetricsConfigFromEnvReportsEveryInvalidVariable(t *testing.T) {
	_, err := configFromLookup(lookupFrom(map[string]string{
		EnvMetricExportInterval: "abc",
		EnvInsecure:             "maybe",
		EnvProtocol:             "carrier-pigeon",
	}))
	for _, name := range []string{EnvMetricExportInterval, EnvInsecure, EnvProtocol} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error %v does not name %s", err, name)
		}
	}
}

func TestHeaderErrorsNeverShowValues(t *testing.T) {
	const secret = "Bearer hunter2"
	for _, v := range []string{"authorization=" + secret + ",x", "bad key=" + secret, "k=%zz" + secret} {
		_, err := configFromLookup(lookupFrom(map[string]string{EnvHeaders: v}))
		if err == nil {
			t.Fatalf("%q: no error", v)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error leaks the header value: %v", err)
		}
	}
}

// TestHistogramAggregationFromEnv checks that
// OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION reaches the
// Config through MetricsConfigFromEnv, and that code still wins over it.
func TestHistogramAggregationFromEnv(t *testing.T) {
	t.Setenv(EnvHistogramAggregation, "base2_exponential_bucket_histogram")
	cfg, err := MetricsConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.ExponentialHistograms {
		t.Errorf("%s=base2_exponential_bucket_histogram: ExponentialHistograms is false", EnvHistogramAggregation)
	}

	t.Setenv(EnvHistogramAggregation, "sometimes")
	_, err = MetricsConfigFromEnv()
	var envErr *EnvError
	if !errors.As(err, &envErr) || envErr.Name != EnvHistogramAggregation || envErr.Value != "sometimes" {
		t.Errorf("invalid value: error %v, want an *EnvError naming %s and the value", err, EnvHistogramAggregation)
	}
	if err != nil && !strings.Contains(err.Error(), EnvHistogramAggregation) {
		t.Errorf("error %q does not name the variable", err)
	}
}

func TestMetricsConfigFromEnvReadsProcessEnvironment(t *testing.T) {
	t.Setenv(EnvServiceName, "from-env")
	t.Setenv(EnvMetricExportInterval, "1000")
	cfg, err := MetricsConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ServiceName != "from-env" || cfg.ExportInterval != time.Second {
		t.Errorf("got %+v", cfg)
	}
}
