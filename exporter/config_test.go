package exporter_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"

	"github.com/vitalsgo/vitals/exporter"
)

// TestConfigLogValueHidesSecrets logs a Config whose OTLP headers and
// endpoints carry secrets through slog's text and JSON handlers and fmt:
// the header names, endpoints' hosts and the other settings are there,
// the secrets are not.
func TestConfigLogValueHidesSecrets(t *testing.T) {
	const secret = "s3cr3t-value"
	cfg := exporter.Config{
		ServiceName:        "shop",
		ResourceAttributes: []attribute.KeyValue{attribute.String("deployment.environment.name", "prod")},
		Exporters:          []exporter.Kind{exporter.KindPrometheus, exporter.KindOTLP},
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

	otlpWant := []string{"Authorization", "X-Api-Key", "collector.example:4318", "collector.example:4317", "grpc", "5s"}
	cfgWant := append([]string{"shop", "500", "prometheus,otlp", "deployment.environment.name=prod"}, otlpWant...)
	for _, tc := range []struct {
		name, out string
		want      []string
	}{
		{"slog text", logged(text, cfg), cfgWant},
		{"slog JSON", logged(json, cfg), cfgWant},
		{"slog text, *Config", logged(text, &cfg), cfgWant},
		{"fmt %v", fmt.Sprintf("%v", cfg), cfgWant},
		{"fmt %+v, *Config", fmt.Sprintf("%+v", &cfg), cfgWant},
		{"slog JSON, OTLP", logged(json, cfg.OTLP), otlpWant},
		{"fmt %s, OTLP", fmt.Sprintf("%s", cfg.OTLP), otlpWant},
	} {
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
