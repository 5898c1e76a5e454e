package exporter

import (
	"bytes"
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/log"

	"github.com/vitalsgo/vitals/internal/logtest"
	"github.com/vitalsgo/vitals/internal/otlptest"
)

func TestLogsConfigFromEnv(t *testing.T) {
	c, err := logsConfigFromLookup(lookupFrom(map[string]string{EnvEndpoint: "http://collector:4318"}))
	if err != nil || c.Enabled() || c.Exporters != nil {
		t.Errorf("an endpoint alone: %+v, %v; want logs off by default, Exporters nil (they are sent only when asked)", c, err)
	}
	c, err = logsConfigFromLookup(lookupFrom(map[string]string{EnvLogsExporter: " OTLP, console ,otlp"}))
	if want := []LogsExporter{LogsOTLP, LogsConsole, LogsOTLP}; err != nil || !c.Enabled() || !reflect.DeepEqual(c.Exporters, want) {
		t.Errorf("a list: %v, %v; want %v", c.Exporters, err, want)
	}
	c, err = logsConfigFromLookup(lookupFrom(map[string]string{EnvLogsExporter: "none", EnvEndpoint: "http://collector:4318"}))
	if err != nil || c.Enabled() || c.Exporters == nil || len(c.Exporters) != 0 {
		t.Errorf("none: %#v, %v; want an empty, non-nil Exporters", c.Exporters, err)
	}
	c, err = logsConfigFromLookup(lookupFrom(map[string]string{EnvEndpoint: "http://collector:4318", EnvLogsExporter: "OTLP",
		EnvLogsHeaders: "k=v", EnvHeaders: "g=1", EnvLogsProtocol: "http/protobuf", EnvProtocol: "grpc"}))
	if err != nil || !c.Enabled() || !reflect.DeepEqual(c.Exporters, []LogsExporter{LogsOTLP}) {
		t.Fatalf("otlp: %+v, %v", c, err)
	}
	if got := c.OTLP.endpointFor("logs"); got != "http://collector:4318/v1/logs" {
		t.Errorf("endpoint %q", got)
	}
	if c.OTLP.Headers["k"] != "v" || len(c.OTLP.Headers) != 1 || c.OTLP.Protocol != ProtocolHTTPProtobuf {
		t.Errorf("the logs-specific variables did not win: %+v", c.OTLP)
	}
	c, err = logsConfigFromLookup(lookupFrom(map[string]string{EnvLogsExporter: "console", EnvBLRPScheduleDelay: "250",
		EnvBLRPExportTimeout: "2000", EnvBLRPMaxQueueSize: "100", EnvBLRPMaxExportBatch: "10", EnvBSPScheduleDelay: "7"}))
	if want := (BatchConfig{250 * time.Millisecond, 2 * time.Second, 100, 10}); err != nil || c.Batch != want {
		t.Errorf("OTEL_BLRP_*: %+v, %v; want %+v (and OTEL_BSP_* ignored)", c.Batch, err, want)
	}
	for _, tc := range []struct {
		env  map[string]string
		name string
	}{
		{map[string]string{EnvLogsExporter: "loki"}, EnvLogsExporter},
		{map[string]string{EnvLogsExporter: "otlp,loki"}, EnvLogsExporter},
		{map[string]string{EnvLogsExporter: "none,otlp"}, EnvLogsExporter},
		{map[string]string{EnvLogsEndpoint: "collector:4318"}, EnvLogsEndpoint},
		{map[string]string{EnvLogsTimeout: "soon"}, EnvLogsTimeout},
		{map[string]string{EnvLogsCompression: "br"}, EnvLogsCompression},
		{map[string]string{EnvBLRPScheduleDelay: "-1"}, EnvBLRPScheduleDelay},
		{map[string]string{EnvBLRPMaxQueueSize: "0"}, EnvBLRPMaxQueueSize},
		{map[string]string{EnvBLRPMaxQueueSize: "100", EnvBLRPMaxExportBatch: "200"}, EnvBLRPMaxExportBatch},
	} {
		_, err := logsConfigFromLookup(lookupFrom(tc.env))
		var ee *EnvError
		if !errors.As(err, &ee) || ee.Name != tc.name || !strings.Contains(err.Error(), tc.name) {
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
	lp, err := NewLoggerProvider(context.Background(), LogsConfig{Exporters: []LogsExporter{LogsConsole}, ConsoleWriter: &out}, nil)
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
	if err := lp.Shutdown(context.Background()); !errors.Is(err, ErrShutdown) {
		t.Errorf("second Shutdown = %v, want ErrShutdown", err)
	}
	if !strings.Contains(out.String(), "order failed") {
		t.Errorf("console output has no record:\n%s", out.String())
	}
}

// TestLogsExportFailureLogged: as TestTracesExportFailureLogged, for log
// records.
func TestLogsExportFailureLogged(t *testing.T) {
	global := recordGlobalErrors(t)
	logger, logs := logtest.New()
	lp, err := NewLoggerProvider(t.Context(), LogsConfig{Exporters: []LogsExporter{LogsConsole}, ConsoleWriter: failingWriter{}}, nil, WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		var r log.Record
		r.SetBody(attribute.StringValue("order failed"))
		lp.Logger("test").Emit(t.Context(), r)
		if err := lp.ForceFlush(t.Context()); err != nil {
			t.Errorf("ForceFlush: %v, want nil (the failure is logged)", err)
		}
	}
	if err := lp.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	text := logs.String()
	if n := strings.Count(text, "vitals: logs export failed"); n != 1 || !strings.Contains(text, "disk full") || !strings.Contains(text, "records=1") || !strings.Contains(text, "exporter=console") {
		t.Errorf("%d lines for 3 failures, want 1 naming the error, the exporter and the records dropped:\n%s", n, text)
	}
	if len(*global) != 0 {
		t.Errorf("the global OTel error handler got %v", *global)
	}
}

// TestNewLoggerProviderOTLPAndConsole: as TestNewTracerProviderOTLPAndConsole,
// for log records.
func TestNewLoggerProviderOTLPAndConsole(t *testing.T) {
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
			cfg := LogsConfig{
				Exporters:     []LogsExporter{LogsOTLP, LogsConsole},
				OTLP:          OTLP{BaseEndpoint: rcv.Endpoint()},
				ConsoleWriter: tc.console(&out),
			}
			lp, err := NewLoggerProvider(t.Context(), cfg, nil, WithLogger(logger))
			if err != nil {
				t.Fatal(err)
			}
			bodies := []string{"order failed", "payment failed", "shipping failed"}
			for _, body := range bodies {
				var r log.Record
				r.SetBody(attribute.StringValue(body))
				lp.Logger("test").Emit(t.Context(), r)
				if err := lp.ForceFlush(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			if err := lp.Shutdown(t.Context()); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range otlptest.LogRecords(rcv.LogRequests()) {
				got = append(got, r.Body())
			}
			if !reflect.DeepEqual(got, bodies) {
				t.Errorf("OTLP received records %q, want %q", got, bodies)
			}
			if tc.name == "both" {
				for _, body := range bodies {
					if !strings.Contains(out.String(), body) {
						t.Errorf("console output has no record %q:\n%s", body, out.String())
					}
				}
			} else if text := logs.String(); !strings.Contains(text, "exporter=console") || strings.Contains(text, "exporter=otlp") {
				t.Errorf("want the console's failure logged, and no OTLP failure:\n%s", text)
			}
		})
	}
	for _, exps := range [][]LogsExporter{{LogsUnknown}, {LogsConsole, LogsExporter(42)}} {
		lp, err := NewLoggerProvider(t.Context(), LogsConfig{Exporters: exps, ConsoleWriter: io.Discard}, nil)
		if lp != nil || err == nil || !strings.Contains(err.Error(), exps[len(exps)-1].String()) {
			t.Errorf("Exporters %v: %v, %v; want an error naming %v", exps, lp, err, exps[len(exps)-1])
		}
	}
}

// TestDisabledProvidersShutDown: with the signal off, NewTracerProvider and
// NewLoggerProvider return nil, and Shutdown on it does nothing, so that
// defer p.Shutdown(ctx) needs no nil check.
func TestDisabledProvidersShutDown(t *testing.T) {
	tp, err := NewTracerProvider(t.Context(), TracesConfig{Exporters: []TracesExporter{}}, nil)
	if err != nil || tp != nil {
		t.Fatalf("NewTracerProvider with no exporter = %v, %v; want nil, nil", tp, err)
	}
	if err := tp.Shutdown(t.Context()); err != nil {
		t.Errorf("Shutdown of the nil tracer provider: %v", err)
	}
	lp, err := NewLoggerProvider(t.Context(), LogsConfig{}, nil)
	if err != nil || lp != nil {
		t.Fatalf("NewLoggerProvider with no exporter = %v, %v; want nil, nil", lp, err)
	}
	if err := lp.Shutdown(t.Context()); err != nil {
		t.Errorf("Shutdown of the nil logger provider: %v", err)
	}
}
