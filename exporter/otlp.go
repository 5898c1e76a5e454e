package exporter

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// endpoint is an OTLP endpoint resolved for one protocol.
type endpoint struct {
	url      string // HTTP: the full URL
	hostPort string // gRPC: host:port
	insecure bool
}

// resolveEndpoint validates raw for protocol p and says how to reach it.
func resolveEndpoint(raw string, p Protocol, insecure bool) (endpoint, error) {
	if p == ProtocolUnknown {
		p = ProtocolHTTPProtobuf
	}
	if !strings.Contains(raw, "://") {
		if p != ProtocolGRPC {
			return endpoint{}, errors.New("want a URL with an http or https scheme, for example http://localhost:4318")
		}
		host, port, err := net.SplitHostPort(raw)
		if err != nil || host == "" || port == "" {
			return endpoint{}, errors.New("want a URL such as http://localhost:4317, or host:port")
		}
		return endpoint{hostPort: raw, insecure: insecure}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return endpoint{}, errors.New("not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return endpoint{}, fmt.Errorf("scheme %q: want http or https", u.Scheme)
	}
	if u.Host == "" {
		return endpoint{}, errors.New("the URL has no host")
	}
	if u.User != nil {
		return endpoint{}, errors.New("credentials in the URL are not allowed: use OTEL_EXPORTER_OTLP_HEADERS")
	}
	return endpoint{url: raw, hostPort: u.Host, insecure: u.Scheme == "http"}, nil
}

// appendMetricsPath appends v1/metrics to the path of a generic endpoint,
// as the specification requires for OTLP/HTTP.
func appendMetricsPath(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/metrics"
	return u.String()
}

func (o OTLP) protocol() Protocol {
	if o.Protocol == ProtocolUnknown {
		return ProtocolHTTPProtobuf
	}
	return o.Protocol
}

// newOTLPExporter builds the OTLP exporter o describes.
func newOTLPExporter(ctx context.Context, o OTLP) (sdkmetric.Exporter, error) {
	p := o.protocol()
	raw := o.Endpoint
	if raw == "" {
		raw = DefaultHTTPEndpoint + "/v1/metrics"
		if p == ProtocolGRPC {
			raw = DefaultGRPCEndpoint
		}
	}
	ep, err := resolveEndpoint(raw, p, o.Insecure)
	if err != nil {
		return nil, fmt.Errorf("otlp endpoint %q: %w", raw, err)
	}
	if o.Compression != "" && o.Compression != "gzip" {
		return nil, fmt.Errorf("otlp compression %q: want \"gzip\" or none", o.Compression)
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultOTLPTimeout
	}
	temporality := temporalitySelector(o.Temporality)

	switch p {
	case ProtocolGRPC:
		opts := []otlpmetricgrpc.Option{
			otlpmetricgrpc.WithEndpoint(ep.hostPort),
			otlpmetricgrpc.WithTimeout(timeout),
			otlpmetricgrpc.WithTemporalitySelector(temporality),
		}
		if ep.insecure {
			opts = append(opts, otlpmetricgrpc.WithInsecure())
		}
		if len(o.Headers) > 0 {
			opts = append(opts, otlpmetricgrpc.WithHeaders(o.Headers))
		}
		if o.Compression == "gzip" {
			opts = append(opts, otlpmetricgrpc.WithCompressor("gzip"))
		}
		return otlpmetricgrpc.New(ctx, opts...)
	case ProtocolHTTPProtobuf:
		opts := []otlpmetrichttp.Option{
			otlpmetrichttp.WithEndpointURL(ep.url),
			otlpmetrichttp.WithTimeout(timeout),
			otlpmetrichttp.WithTemporalitySelector(temporality),
		}
		if len(o.Headers) > 0 {
			opts = append(opts, otlpmetrichttp.WithHeaders(o.Headers))
		}
		if o.Compression == "gzip" {
			opts = append(opts, otlpmetrichttp.WithCompression(otlpmetrichttp.GzipCompression))
		}
		return otlpmetrichttp.New(ctx, opts...)
	default:
		return nil, fmt.Errorf("otlp protocol %v: want grpc or http/protobuf", p)
	}
}

// temporalitySelector implements the specification's temporality presets.
func temporalitySelector(t Temporality) sdkmetric.TemporalitySelector {
	switch t {
	case TemporalityDelta:
		return func(k sdkmetric.InstrumentKind) metricdata.Temporality {
			switch k {
			case sdkmetric.InstrumentKindCounter, sdkmetric.InstrumentKindObservableCounter,
				sdkmetric.InstrumentKindHistogram:
				return metricdata.DeltaTemporality
			}
			return metricdata.CumulativeTemporality
		}
	case TemporalityLowMemory:
		return func(k sdkmetric.InstrumentKind) metricdata.Temporality {
			switch k {
			case sdkmetric.InstrumentKindCounter, sdkmetric.InstrumentKindHistogram:
				return metricdata.DeltaTemporality
			}
			return metricdata.CumulativeTemporality
		}
	default:
		return sdkmetric.DefaultTemporalitySelector
	}
}

// pushExporter wraps a push exporter so that a failed export never reaches
// the OTel global error handler (whose default logs every failure): it is
// counted, reported through a rate-limited handler, and remembered so that
// ForceFlush and Shutdown can still return it.
type pushExporter struct {
	sdkmetric.Exporter
	kind   Kind
	report func(Kind, error)

	exports  atomic.Int64
	failures atomic.Int64

	mu      sync.Mutex
	lastErr error
}

func (e *pushExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	err := e.Exporter.Export(ctx, rm)
	e.exports.Add(1)
	if err != nil {
		e.failures.Add(1)
		e.mu.Lock()
		e.lastErr = err
		e.mu.Unlock()
		e.report(e.kind, err)
	}
	return nil
}

// failuresSince returns the last export error if exports failed after the
// failure count was n.
func (e *pushExporter) failuresSince(n int64) error {
	if e.failures.Load() == n {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return fmt.Errorf("%v export: %w", e.kind, e.lastErr)
}
