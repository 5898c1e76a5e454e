package vitals

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/goleak"

	"github.com/vitalsgo/vitals/alerting/slo"
	"github.com/vitalsgo/vitals/exporter"
	"github.com/vitalsgo/vitals/internal/logtest"
	"github.com/vitalsgo/vitals/internal/otlptest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestStartRejectsInvalidEnvironment(t *testing.T) {
	t.Setenv(exporter.EnvMetricExportInterval, "abc")
	v, err := Start(t.Context())
	if err == nil {
		_ = v.Shutdown(t.Context())
		t.Fatal("Start accepted OTEL_METRIC_EXPORT_INTERVAL=abc")
	}
	var envErr *exporter.EnvError
	if !errors.As(err, &envErr) || envErr.Name != exporter.EnvMetricExportInterval {
		t.Errorf("error %v does not name the variable", err)
	}
}

// TestStartReportsEveryInvalidVariable: bad variables of the metrics, traces
// and logs are all named in one error, and a bad variable the three signals
// read is named once.
func TestStartReportsEveryInvalidVariable(t *testing.T) {
	t.Setenv(exporter.EnvMetricExportInterval, "abc")
	t.Setenv(exporter.EnvTracesSampler, "sometimes")
	t.Setenv(exporter.EnvLogsExporter, "carrier-pigeon")
	t.Setenv(exporter.EnvTimeout, "-1")
	v, err := Start(t.Context())
	if err == nil {
		_ = v.Shutdown(t.Context())
		t.Fatal("Start accepted the invalid variables")
	}
	for _, name := range []string{exporter.EnvMetricExportInterval, exporter.EnvTracesSampler, exporter.EnvLogsExporter, exporter.EnvTimeout} {
		if n := strings.Count(err.Error(), name+"="); n != 1 {
			t.Errorf("the error names %s %d times, want once:\n%v", name, n, err)
		}
	}
}

func TestOptionsWinOverEnvironment(t *testing.T) {
	t.Setenv(exporter.EnvServiceName, "from-env")
	t.Setenv(exporter.EnvMetricsExporter, "console")
	v, err := Start(t.Context(), WithServiceName("from-code"),
		WithMetricsConfig(func(c *exporter.MetricsConfig) { c.Exporters = []exporter.MetricsExporter{exporter.MetricsPrometheus} }))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Shutdown(t.Context())
	body := get(t, v.Handler(), "/metrics")
	if !strings.Contains(body, `service_name="from-code"`) {
		t.Errorf("service name from code did not win:\n%s", body)
	}
}

func TestMetricsDisabled(t *testing.T) {
	t.Setenv(exporter.EnvMetricsExporter, "none")
	v, err := Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer v.Shutdown(t.Context())
	rec := httptest.NewRecorder()
	v.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "OTEL_METRICS_EXPORTER") {
		t.Errorf("got %d %q", rec.Code, rec.Body.String())
	}
}

func TestWithGlobal(t *testing.T) {
	prev := otel.GetMeterProvider()
	t.Cleanup(func() { otel.SetMeterProvider(prev) })
	cleanEnv(t)
	prevHandler := otel.GetErrorHandler()
	t.Cleanup(func() { otel.SetErrorHandler(prevHandler) })
	logger, logs := logtest.New()
	v, err := Start(t.Context(), WithGlobal(), WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Shutdown(t.Context())
	for range 100 {
		otel.Handle(errors.New("callback failed"))
	}
	if n := logs.Lines(); n != 1 {
		t.Errorf("%d log lines for 100 identical OTel errors, want 1:\n%s", n, logs.String())
	}
	c, _ := otel.Meter("global-user").Int64Counter("global.hits")
	c.Add(t.Context(), 3)
	if body := get(t, v.Handler(), "/metrics"); !strings.Contains(body, "global_hits_total") {
		t.Errorf("a counter from the global provider is missing:\n%s", body)
	}
}

func TestShutdownTwice(t *testing.T) {
	cleanEnv(t)
	v, err := Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := v.Shutdown(t.Context()); !errors.Is(err, ErrShutdown) {
		t.Errorf("second Shutdown = %v, want ErrShutdown", err)
	}
}

// cleanEnv blanks every OTEL_* variable Vitals reads, so that the
// developer's environment does not change what a test sees.
func cleanEnv(t testing.TB) {
	t.Helper()
	for _, name := range []string{
		exporter.EnvServiceName, exporter.EnvResourceAttributes, exporter.EnvMetricsExporter,
		exporter.EnvEndpoint, exporter.EnvMetricsEndpoint, exporter.EnvProtocol, exporter.EnvMetricsProtocol,
		exporter.EnvHeaders, exporter.EnvMetricsHeaders, exporter.EnvTimeout, exporter.EnvMetricsTimeout,
		exporter.EnvInsecure, exporter.EnvMetricsInsecure, exporter.EnvCompression, exporter.EnvMetricsCompression,
		exporter.EnvMetricsTemporalityPreference, exporter.EnvMetricExportInterval, exporter.EnvMetricExportTimeout,
		exporter.EnvMetricsExemplarFilter, exporter.EnvHistogramAggregation,
		exporter.EnvTracesExporter, exporter.EnvTracesEndpoint, exporter.EnvTracesProtocol, exporter.EnvTracesHeaders,
		exporter.EnvTracesTimeout, exporter.EnvTracesInsecure, exporter.EnvTracesCompression,
		exporter.EnvTracesSampler, exporter.EnvTracesSamplerArg, exporter.EnvBSPScheduleDelay,
		exporter.EnvBSPExportTimeout, exporter.EnvBSPMaxQueueSize, exporter.EnvBSPMaxExportBatch,
		exporter.EnvLogsExporter, exporter.EnvLogsEndpoint, exporter.EnvLogsProtocol, exporter.EnvLogsHeaders,
		exporter.EnvLogsTimeout, exporter.EnvLogsInsecure, exporter.EnvLogsCompression,
	} {
		t.Setenv(name, "")
	}
}

func get(t *testing.T, h http.Handler, path string) string {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestStartRejectsBadRuleFiles(t *testing.T) {
	cleanEnv(t)
	v, err := Start(t.Context(), WithAlertRuleFiles("testdata/does-not-exist.yml"))
	if err == nil {
		_ = v.Shutdown(context.Background())
		t.Fatal("Start accepted a missing rule file")
	}
	if !strings.Contains(err.Error(), "does-not-exist.yml") {
		t.Errorf("error %v does not name the file", err)
	}
}

func TestStartRejectsBadSLO(t *testing.T) {
	cleanEnv(t)
	bad, err := Start(t.Context(), WithSLOs(slo.HTTPAvailability("bad", 100, "")))
	if err == nil {
		_ = bad.Shutdown(context.Background())
		t.Error("Start accepted an objective of 100%")
	}
}

func TestWithoutMemory(t *testing.T) {
	cleanEnv(t)
	v, err := Start(t.Context(), WithoutMemory())
	if err != nil {
		t.Fatal(err)
	}
	defer v.Shutdown(t.Context())
	if v.Memory() != nil {
		t.Error("Memory() is not nil")
	}
	rec := httptest.NewRecorder()
	v.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/monitoring/api/query?query=up", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("query without the memory reader: %d", rec.Code)
	}
}

// TestRuntimeInVitalsProvider checks that Start reports the runtime and
// process metrics into its own provider, not the global one: they are on
// its /metrics.
func TestRuntimeInVitalsProvider(t *testing.T) {
	cleanEnv(t)
	v, err := Start(t.Context(), WithoutMemory())
	if err != nil {
		t.Fatal(err)
	}
	defer v.Shutdown(t.Context())
	rec := httptest.NewRecorder()
	v.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, name := range []string{"go_goroutine_count", "go_memory_heap_live_bytes", "process_cpu_limit"} {
		if !strings.Contains(rec.Body.String(), "\n"+name+"{") {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

// TestShutdownWithHangingCollector starts everything with an OTLP endpoint
// that never answers: Shutdown returns by its deadline, and TestMain's
// goleak check finds nothing left running.
func TestShutdownWithHangingCollector(t *testing.T) {
	cleanEnv(t)
	rcv := otlptest.NewHTTP(t)
	rcv.SetBehavior(otlptest.Hang)
	t.Setenv(exporter.EnvEndpoint, rcv.Endpoint())
	v, err := Start(t.Context(), WithAlertRules())
	if err != nil {
		t.Fatal(err)
	}
	c, _ := v.Meter("t").Int64Counter("hits")
	c.Add(t.Context(), 1, metric.WithAttributes())
	const deadline = 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	err = v.Shutdown(ctx)
	if took := time.Since(start); took > deadline+2*time.Second {
		t.Errorf("Shutdown took %v with a %v deadline", took, deadline)
	}
	if err == nil {
		t.Error("Shutdown reported success although the final push hung")
	}
	rcv.Close()
}
