// Command otlp is the smallest program that pushes its metrics over OTLP:
// it counts a few jobs and pushes them to the collector named by
// OTEL_EXPORTER_OTLP_ENDPOINT (OTEL_EXPORTER_OTLP_PROTOCOL=grpc for gRPC).
//
//	OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 go run ./examples/otlp
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/vitalsgo/vitals"
	"github.com/vitalsgo/vitals/exporter"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "otlp:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	if os.Getenv(exporter.EnvEndpoint) == "" && os.Getenv(exporter.EnvMetricsEndpoint) == "" {
		return errors.New("set OTEL_EXPORTER_OTLP_ENDPOINT, for example http://localhost:4318")
	}
	v, err := vitals.Start(ctx, vitals.WithServiceName("otlp-example"), vitals.WithoutMemory(), vitals.WithoutRuntime())
	if err != nil {
		return err
	}
	jobs, err := v.Meter("example").Int64Counter("example.jobs", metric.WithUnit("{job}"))
	if err != nil {
		return err
	}
	for range 3 {
		jobs.Add(ctx, 1)
	}
	// Shutdown pushes what was recorded, bounded by its deadline.
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := v.Shutdown(sctx); err != nil {
		return err
	}
	fmt.Println("pushed 3 jobs to the OTLP endpoint")
	return nil
}
