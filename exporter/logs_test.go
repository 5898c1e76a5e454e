package exporter

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"
)

func TestLogsConfigFromEnv(t *testing.T) {
	c, err := logsConfigFromLookup(lookupFrom(map[string]string{EnvEndpoint: "http://collector:4318"}))
	if err != nil || c.Enabled() {
		t.Errorf("an endpoint alone: %+v, %v; want logs off (they are sent only when asked)", c, err)
	}
	c, err = logsConfigFromLookup(lookupFrom(map[string]string{EnvEndpoint: "http://collector:4318", EnvLogsExporter: "OTLP",
		EnvLogsHeaders: "k=v", EnvHeaders: "g=1", EnvLogsProtocol: "http/protobuf", EnvProtocol: "grpc"}))
	if err != nil || !c.Enabled() || c.Exporter != LogsOTLP {
		t.Fatalf("otlp: %+v, %v", c, err)
	}
	if got := c.OTLP.endpointFor("logs"); got != "http://collector:4318/v1/logs" {
		t.Errorf("endpoint %q", got)
	}
	if c.OTLP.Headers["k"] != "v" || len(c.OTLP.Headers) != 1 || c.OTLP.Protocol != ProtocolHTTPProtobuf {
		t.Errorf("the logs-specific variables did not win: %+v", c.OTLP)
	}
	for _, tc := range []struct {
		env  map[string]string
		name string
	}{
		{map[string]string{EnvLogsExporter: "loki"}, EnvLogsExporter},
		{map[string]string{EnvLogsEndpoint: "collector:4318"}, EnvLogsEndpoint},
		{map[string]string{EnvLogsTimeout: "soon"}, EnvLogsTimeout},
		{map[string]string{EnvLogsCompression: "br"}, EnvLogsCompression},
	} {
		_, err := logsConfigFromLookup(lookupFrom(tc.env))
		var ee *EnvError
		if !errors.As(err, &ee) || ee.Name != tc.name {
			t.Errorf("%v: error %v, want one naming %s", tc.env, err, tc.name)
		}
	}
}

// TestNewLoggerProviderConsole sends a record through the console
// exporter; off, it builds nothing.
func TestNewLoggerProviderConsole(t *testing.T) {
	if lp, err := NewLoggerProvider(context.Background(), LogsConfig{}, nil); lp != nil || err != nil {
		t.Fatalf("off: %v, %v; want nil, nil", lp, err)
	}
	var out bytes.Buffer
	lp, err := NewLoggerProvider(context.Background(), LogsConfig{Exporter: LogsConsole, Console: &out}, nil)
	if err != nil || lp == nil {
		t.Fatalf("console: %v, %v", lp, err)
	}
	var r log.Record
	r.SetBody(attribute.StringValue("order failed"))
	r.SetSeverity(log.SeverityError)
	lp.Logger("test").Emit(context.Background(), r)
	if err := lp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "order failed") {
		t.Errorf("console output has no record:\n%s", out.String())
	}
}
