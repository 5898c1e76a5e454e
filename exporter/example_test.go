package exporter_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"

	"go.opentelemetry.io/otel/metric"

	"github.com/vitalsgo/vitals/exporter"
)

// A provider built from code: Prometheus pull only, whatever the
// environment says.
func ExampleNewMeterProvider() {
	ctx := context.Background()
	p, err := exporter.NewMeterProvider(ctx, exporter.MetricsConfig{ServiceName: "worker", Exporters: []exporter.MetricsExporter{exporter.MetricsPrometheus}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Shutdown(ctx)

	jobs, _ := p.Meter("example.com/worker").Int64Counter("jobs.done", metric.WithUnit("{job}"))
	jobs.Add(ctx, 2)

	rec := httptest.NewRecorder()
	p.PrometheusHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(line, "jobs_done") {
			fmt.Println(line)
		}
	}
	// Output:
	// jobs_done_total{otel_scope_name="example.com/worker"} 2
}

func ExampleMetricsConfigFromEnv() {
	cfg, err := exporter.MetricsConfigFromEnv()
	if err != nil {
		fmt.Println("invalid environment:", err) // names the variable
		return
	}
	cfg.ServiceName = "worker" // code wins over the environment
	fmt.Println(cfg.ServiceName)
	// Output: worker
}
