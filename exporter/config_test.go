package exporter_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"

	"github.com/vitalsgo/vitals/exporter"
)

// TestConfigLogValueHidesSecrets logs a MetricsConfig, a TracesConfig and a
// LogsConfig whose OTLP headers and endpoints carry secrets through slog's
// text and JSON handlers and fmt: the header names, endpoints' hosts and
// the other settings are there, the secrets are not.
func TestConfigLogValueHidesSecrets(t *testing.T) {
	const secret = "s3cr3t-value"
	cfg := exporter.MetricsConfig{
		ServiceName:        "shop",
		ResourceAttributes: []attribute.KeyValue{attribute.String("deployment.environment.name", "prod")},
		Exporters:          []exporter.MetricsExporter{exporter.MetricsPrometheus, exporter.MetricsOTLP},
		OTLP: exporter.OTLP{
			Endpoint:     "https://user:" + secret + "@collector.example:4318/v1/metrics",
			BaseEndpoint: "user:" + secret + "@collector.example:4317", // gRPC form: parses as scheme "user"
			Protocol:     exporter.ProtocolGRPC,
			Headers:      map[string]string{"Authorization": "Bearer " + secret, "X-Api-Key": secret},
			Timeout:      5e9,
		},
		CardinalityLimit: 500,
	}
	logged := func(h func(*bytes.Buffer) slog.Handler, v any) string {
		var b bytes.Buffer
		slog.New(h(&b)).Info("config", "cfg", v)
		return b.String()
	}
	text := func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) }
	json := func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) }

	traces := exporter.TracesConfig{Exporters: []exporter.TracesExporter{exporter.TracesConsole}, OTLP: cfg.OTLP, SamplerName: "traceidratio"}
	logs := exporter.LogsConfig{Exporters: []exporter.LogsExporter{exporter.LogsConsole}, OTLP: cfg.OTLP, Batch: exporter.BatchConfig{MaxQueueSize: 4096}}

	otlpWant := []string{"Authorization", "X-Api-Key", "collector.example:4318", "collector.example:4317", "grpc", "5s"}
	cfgWant := append([]string{"shop", "500", "prometheus,otlp", "deployment.environment.name=prod"}, otlpWant...)
	type printed struct {
		name, out string
		want      []string
	}
	cases := []printed{
		{"slog text", logged(text, cfg), cfgWant},
		{"slog JSON", logged(json, cfg), cfgWant},
		{"slog text, *Config", logged(text, &cfg), cfgWant},
		{"fmt %v", fmt.Sprintf("%v", cfg), cfgWant},
		{"fmt %+v, *Config", fmt.Sprintf("%+v", &cfg), cfgWant},
		{"slog JSON, OTLP", logged(json, cfg.OTLP), otlpWant},
		{"fmt %s, OTLP", fmt.Sprintf("%s", cfg.OTLP), otlpWant},
	}
	// %#v shows Go syntax: numbers for the enums and durations.
	goWant := []string{"Authorization", "X-Api-Key", "collector.example:4318", "collector.example:4317"}
	for _, c := range []struct {
		name   string
		v, ptr any
		want   []string
	}{
		{"TracesConfig", traces, &traces, append([]string{"console", "traceidratio"}, otlpWant...)},
		{"LogsConfig", logs, &logs, append([]string{"console", "4096"}, otlpWant...)},
	} {
		cases = append(cases,
			printed{"slog text, " + c.name, logged(text, c.v), c.want},
			printed{"slog JSON, " + c.name, logged(json, c.v), c.want},
			printed{"slog JSON, *" + c.name, logged(json, c.ptr), c.want},
			printed{"fmt %v, " + c.name, fmt.Sprintf("%v", c.v), c.want},
			printed{"fmt %+v, *" + c.name, fmt.Sprintf("%+v", c.ptr), c.want},
			printed{"fmt %s, " + c.name, fmt.Sprintf("%s", c.v), c.want},
			printed{"fmt %#v, " + c.name, fmt.Sprintf("%#v", c.v), append([]string{"exporter." + c.name + "{"}, goWant...)},
		)
	}
	for _, tc := range cases {
		if strings.Contains(tc.out, secret) {
			t.Errorf("%s shows the secret: %s", tc.name, tc.out)
		}
		for _, w := range tc.want {
			if !strings.Contains(tc.out, w) {
				t.Errorf("%s lacks %q: %s", tc.name, w, tc.out)
			}
		}
	}
}

// TestEndpointSecretsNeverShown gives malicious OTLP endpoints, valid URLs
// or not, to every path that can show one: the error of MetricsConfigFromEnv
// (either endpoint variable), the error of NewMeterProvider (either Config
// field), fmt with every verb and slog text and JSON of MetricsConfig,
// TracesConfig, LogsConfig and OTLP.
// None shows the user information, a query value or the fragment (compared
// ignoring case: url.Parse lowercases what it takes for a scheme); the
// errors still name the variable or field, show the endpoint redacted and
// say what is wrong.
func TestEndpointSecretsNeverShown(t *testing.T) {
	const http, grpc = "http/protobuf", "grpc"
	tests := []struct {
		name, raw, protocol string
		secrets             []string
		shown               string // the endpoint as errors show it
		reason              string // what the error says is wrong
	}{
		{"user and query", "http://USERTOKEN@host/base?api_key=SECRET", http,
			[]string{"USERTOKEN", "SECRET"}, "http://REDACTED@host/base?api_key=REDACTED", "credentials"},
		{"user and query, gRPC", "http://USERTOKEN@host/base?api_key=SECRET", grpc,
			[]string{"USERTOKEN", "SECRET"}, "http://REDACTED@host/base?api_key=REDACTED", "credentials"},
		{"user:password and bad port", "http://user:pass@host:bad-port/?token=SECRET", http,
			[]string{"user:", "pass", "SECRET"}, "http://REDACTED@host:bad-port/?token=REDACTED", `invalid port ":bad-port" after host`},
		{"gRPC host:port with user", "USERTOKEN@host:4317", grpc,
			[]string{"USERTOKEN"}, "REDACTED@host:4317", "credentials"},
		{"gRPC host:port with user:password and query", "USERTOKEN:SECRET@host:4317?api_key=SECRET", grpc,
			[]string{"USERTOKEN", "SECRET"}, "REDACTED@host:4317?api_key=REDACTED", "credentials"},
		{"gRPC host:port with user and bad port", "USERTOKEN:SECRET@host:bad-port", grpc,
			[]string{"USERTOKEN", "SECRET"}, "REDACTED@host:bad-port", "invalid port"},
		{"host:port with user, HTTP", "USERTOKEN:SECRET@host:4318", http,
			[]string{"USERTOKEN", "SECRET"}, "REDACTED@host:4318", "scheme"},
		{"empty scheme", "://USERTOKEN@host?k=SECRET", grpc,
			[]string{"USERTOKEN", "SECRET"}, "://REDACTED@host?k=REDACTED", "missing protocol scheme"},
		{"user name taken for the scheme", "USERTOKEN:SECRET@host://x", grpc,
			[]string{"USERTOKEN", "SECRET"}, "REDACTED@host://x", "want a URL with an http or https scheme"},
		{"bad scheme", "ftp://USERTOKEN:SECRET@host/?api_key=SECRET", http,
			[]string{"USERTOKEN", "SECRET"}, "ftp://REDACTED@host/?api_key=REDACTED", `scheme "ftp"`},
		{"query only", "https://host/v1/metrics?api_key=SECRET&tenant=SECRET", http,
			[]string{"SECRET"}, "https://host/v1/metrics?api_key=REDACTED&tenant=REDACTED", "query"},
		{"fragment", "https://host/base#api_key=SECRET", http,
			[]string{"SECRET"}, "https://host/base#REDACTED", "fragment"},
		{"fragment and user", "https://USERTOKEN:SECRET@host/base#SECRET", grpc,
			[]string{"USERTOKEN", "SECRET"}, "https://REDACTED@host/base#REDACTED", "credentials"},
		{"gRPC URL with path and user", "https://USERTOKEN:SECRET@host:4317/base", grpc,
			[]string{"USERTOKEN", "SECRET"}, "https://REDACTED@host:4317/base", "credentials"},
		{"password with ?", "http://USERTOKEN:SECRET?x@host/", http,
			[]string{"USERTOKEN", "SECRET"}, "http://REDACTED", `invalid port "REDACTED" after host`},
		{"password with /", "http://USERTOKEN:SECRET/x@host/", http,
			[]string{"USERTOKEN", "SECRET"}, "http://REDACTED@host/", `invalid port "REDACTED" after host`},
		{"password with #", "http://USERTOKEN:SECRET#x@host/", http,
			[]string{"USERTOKEN", "SECRET"}, "http://REDACTED", `invalid port "REDACTED" after host`},
		{"bad escape in user", "http://USERTOKEN%zzSECRET@host/", http,
			[]string{"USERTOKEN", "SECRET", "%zz"}, "http://REDACTED@host/", `invalid URL escape "REDACTED"`},
		{"control character", "http://USERTOKEN:SECRET@host/\x7f?k=SECRET", http,
			[]string{"USERTOKEN", "SECRET"}, "http://REDACTED@host/\x7f?k=REDACTED", "invalid control character"},
		{"space in host", "http://USERTOKEN@bad host/?k=SECRET", http,
			[]string{"USERTOKEN", "SECRET"}, "http://REDACTED@bad host/?k=REDACTED", `invalid character " " in host name`},
		{"unclosed IPv6 literal", "http://USERTOKEN:SECRET@[::1/?k=SECRET", http,
			[]string{"USERTOKEN", "SECRET"}, "http://REDACTED@[::1/?k=REDACTED", "missing ']' in host"},
		{"@ in a query value", "https://host/v1?notify=me@SECRET.example", http,
			[]string{"SECRET", "notify=me"}, "https://REDACTED", "query"},
	}
	const headerSecret = "HEADERSECRET"
	check := func(t *testing.T, what, out string, secrets []string) {
		t.Helper()
		for _, s := range append(secrets, headerSecret) {
			if strings.Contains(strings.ToLower(out), strings.ToLower(s)) {
				t.Errorf("%s shows %q: %s", what, s, out)
			}
		}
	}
	checkErr := func(t *testing.T, what string, err error, names, shown, reason string) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: no error", what)
		}
		msg := err.Error()
		for _, want := range []string{names, strconv.Quote(shown), reason} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: error %q lacks %q", what, msg, want)
			}
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			protocol := exporter.ProtocolHTTPProtobuf
			if tt.protocol == grpc {
				protocol = exporter.ProtocolGRPC
			}

			for _, name := range []string{exporter.EnvEndpoint, exporter.EnvMetricsEndpoint} {
				for _, blank := range []string{exporter.EnvEndpoint, exporter.EnvMetricsEndpoint, exporter.EnvMetricsProtocol} {
					t.Setenv(blank, "")
				}
				t.Setenv(exporter.EnvProtocol, tt.protocol)
				t.Setenv(name, tt.raw)
				cfg, err := exporter.MetricsConfigFromEnv()
				checkErr(t, "MetricsConfigFromEnv", err, name+"=", tt.shown, tt.reason)
				var envErr *exporter.EnvError
				if !errors.As(err, &envErr) || envErr.Name != name {
					t.Errorf("MetricsConfigFromEnv: error %v is not an *EnvError for %s", err, name)
				}
				if err != nil {
					check(t, "MetricsConfigFromEnv error", err.Error(), tt.secrets)
					check(t, "MetricsConfigFromEnv error %+v", fmt.Sprintf("%+v", err), tt.secrets)
				}
				// The Config returned with the error holds the endpoint.
				check(t, "MetricsConfigFromEnv's Config with %v", fmt.Sprintf("%v", cfg), tt.secrets)
				check(t, "MetricsConfigFromEnv's Config with %#v", fmt.Sprintf("%#v", cfg), tt.secrets)
			}

			for field, o := range map[string]exporter.OTLP{
				"OTLP.Endpoint":     {Endpoint: tt.raw, Protocol: protocol},
				"OTLP.BaseEndpoint": {BaseEndpoint: tt.raw, Protocol: protocol},
			} {
				p, err := exporter.NewMeterProvider(t.Context(), exporter.MetricsConfig{OTLP: o})
				if err == nil {
					_ = p.Shutdown(t.Context())
				}
				checkErr(t, "NewMeterProvider with "+field, err, field, tt.shown, tt.reason)
				if err != nil {
					check(t, "NewMeterProvider error", err.Error(), tt.secrets)
				}
			}

			cfg := exporter.MetricsConfig{
				ServiceName: "shop",
				OTLP: exporter.OTLP{
					Endpoint:     tt.raw,
					BaseEndpoint: tt.raw,
					Protocol:     protocol,
					Headers:      map[string]string{"Authorization": "Bearer " + headerSecret},
				},
			}
			traces := exporter.TracesConfig{Exporters: []exporter.TracesExporter{exporter.TracesOTLP}, OTLP: cfg.OTLP}
			logs := exporter.LogsConfig{Exporters: []exporter.LogsExporter{exporter.LogsOTLP}, OTLP: cfg.OTLP}
			for _, v := range []any{cfg, &cfg, cfg.OTLP, &cfg.OTLP, traces, &traces, logs, &logs} {
				for _, verb := range []string{"%v", "%+v", "%s", "%#v", "%q", "%d", "%10.200v"} {
					out := fmt.Sprintf(verb, v)
					check(t, fmt.Sprintf("%s of %T", verb, v), out, tt.secrets)
					if !strings.Contains(out, "REDACTED") {
						t.Errorf("%s of %T shows no redacted endpoint: %s", verb, v, out)
					}
				}
				for handler, h := range map[string]func(*bytes.Buffer) slog.Handler{
					"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
					"JSON": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
				} {
					var b bytes.Buffer
					slog.New(h(&b)).Info("config", "cfg", v)
					check(t, fmt.Sprintf("slog %s of %T", handler, v), b.String(), tt.secrets)
					if !strings.Contains(b.String(), "REDACTED") {
						t.Errorf("slog %s of %T shows no redacted endpoint: %s", handler, v, b.String())
					}
				}
			}
		})
	}
}
