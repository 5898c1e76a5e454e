package exporter

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// newResource builds the resource: the service identity, host and process
// attributes and the SDK's own, less cfg.DropResourceAttributes. It leaves
// out attributes that can carry personal data or secrets (process owner,
// command line, executable path).
func newResource(ctx context.Context, cfg MetricsConfig) (*resource.Resource, error) {
	attrs := make([]attribute.KeyValue, 0, len(cfg.ResourceAttributes)+3)
	attrs = append(attrs, cfg.ResourceAttributes...)

	name := cfg.ServiceName
	if name == "" && !hasKey(cfg.ResourceAttributes, semconv.ServiceNameKey) {
		name = "unknown_service:" + filepath.Base(os.Args[0])
	}
	if name != "" {
		attrs = append(attrs, semconv.ServiceName(name))
	}
	version := cfg.ServiceVersion
	if version == "" && !hasKey(cfg.ResourceAttributes, semconv.ServiceVersionKey) {
		version = buildVersion()
	}
	if version != "" {
		attrs = append(attrs, semconv.ServiceVersion(version))
	}
	if !hasKey(cfg.ResourceAttributes, semconv.ServiceInstanceIDKey) {
		attrs = append(attrs, semconv.ServiceInstanceID(uuid.NewString()))
	}

	// No schema URL: the SDK merges this resource with the environment's and
	// with any detector's, and two different schema URLs make that fail.
	res, err := resource.New(ctx,
		resource.WithHost(),
		resource.WithProcessPID(),
		resource.WithProcessExecutableName(),
		resource.WithProcessRuntimeName(),
		resource.WithProcessRuntimeVersion(),
		resource.WithProcessRuntimeDescription(),
		resource.WithTelemetrySDK(),
		// Last, so that they win over detected values.
		resource.WithAttributes(attrs...),
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("exporter: building the resource: %w", err)
	}
	// A partial resource (a detector failed, say no host name) keeps what was
	// found. The SDK merges the resource over OTEL_RESOURCE_ATTRIBUTES; do
	// the same here so that MeterProvider.Resource is what is exported.
	if merged, err := resource.Merge(resource.Environment(), res); err == nil {
		res = merged
	}
	return dropAttributes(res, cfg.DropResourceAttributes), nil
}

// dropAttributes returns res without the attributes whose keys are listed.
func dropAttributes(res *resource.Resource, keys []attribute.Key) *resource.Resource {
	if len(keys) == 0 {
		return res
	}
	kept := slices.DeleteFunc(res.Attributes(), func(kv attribute.KeyValue) bool {
		return slices.Contains(keys, kv.Key)
	})
	return resource.NewWithAttributes(res.SchemaURL(), kept...)
}

// resourceReader makes the collections of a reader NewMeterProvider built
// carry the MeterProvider's resource. The SDK's resource differs only in
// the OTEL_RESOURCE_ATTRIBUTES keys of MetricsConfig.DropResourceAttributes: the
// SDK merges that variable under any resource it is given, putting them
// back.
type resourceReader struct {
	sdkmetric.Reader
	res *resource.Resource
}

func (r resourceReader) Collect(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	err := r.Reader.Collect(ctx, rm)
	rm.Resource = r.res
	return err
}

func hasKey(attrs []attribute.KeyValue, k attribute.Key) bool {
	return slices.ContainsFunc(attrs, func(kv attribute.KeyValue) bool { return kv.Key == k })
}

// buildVersion returns the main module's version, or "" for a development
// build.
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok || bi.Main.Version == "" || bi.Main.Version == "(devel)" {
		return ""
	}
	return bi.Main.Version
}
