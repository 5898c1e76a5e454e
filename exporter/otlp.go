package exporter

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

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

// appendMetricsPath appends v1/metrics to the path of a base endpoint, as
// the specification requires for OTLP/HTTP.
func appendMetricsPath(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/metrics"
	return u.String()
}

// redactURL hides the password of a URL that has one, for error messages
// and logs. A string that does not parse as a URL with user information
// (such as a gRPC "user:secret@host:4317", which parses as scheme "user")
// but has an "@" loses everything before it, scheme apart.
func redactURL(raw string) string {
	at := strings.LastIndexByte(raw, '@')
	if at < 0 {
		return raw
	}
	if u, err := url.Parse(raw); err == nil && u.User != nil && u.Opaque == "" {
		return u.Redacted()
	}
	scheme := ""
	if i := strings.Index(raw, "://"); i >= 0 && i < at {
		scheme = raw[:i+3]
	}
	return scheme + "xxxxx" + raw[at:]
}

func (o OTLP) protocol() Protocol {
	if o.Protocol == ProtocolUnknown {
		return ProtocolHTTPProtobuf
	}
	return o.Protocol
}

// endpoint returns the URL (or host:port) to export to: Endpoint as it is,
// else BaseEndpoint with /v1/metrics for HTTP, else the protocol's default.
func (o OTLP) endpoint() string {
	p := o.protocol()
	switch {
	case o.Endpoint != "":
		return o.Endpoint
	case o.BaseEndpoint != "" && p == ProtocolGRPC:
		return o.BaseEndpoint
	case o.BaseEndpoint != "":
		return appendMetricsPath(o.BaseEndpoint)
	case p == ProtocolGRPC:
		return DefaultGRPCEndpoint
	default:
		return DefaultHTTPEndpoint + "/v1/metrics"
	}
}

// newOTLPExporter builds the OTLP exporter o describes. Every setting is
// passed explicitly, so that what the OTel exporters read from the
// environment themselves never overrides the Config.
func newOTLPExporter(ctx context.Context, o OTLP, selector sdkmetric.AggregationSelector) (sdkmetric.Exporter, error) {
	p := o.protocol()
	raw := o.endpoint()
	ep, err := resolveEndpoint(raw, p, o.Insecure)
	if err != nil {
		return nil, fmt.Errorf("otlp endpoint %q: %w", redactURL(raw), err)
	}
	timeout := o.Timeout
	switch {
	case timeout == 0:
		timeout = DefaultOTLPTimeout
	case timeout < 0:
		timeout = noLimit
	}
	temporality := temporalitySelector(o.Temporality)
	headers := o.Headers
	if headers == nil {
		headers = map[string]string{}
	}

	switch p {
	case ProtocolGRPC:
		scheme := "https://"
		if ep.insecure {
			scheme = "http://"
		}
		opts := []otlpmetricgrpc.Option{
			// A URL sets both the address and the transport security.
			otlpmetricgrpc.WithEndpointURL(scheme + ep.hostPort),
			otlpmetricgrpc.WithTimeout(timeout),
			otlpmetricgrpc.WithTemporalitySelector(temporality),
			otlpmetricgrpc.WithAggregationSelector(selector),
			otlpmetricgrpc.WithHeaders(headers),
		}
		if o.Compression == "gzip" {
			opts = append(opts, otlpmetricgrpc.WithCompressor("gzip"))
		}
		return otlpmetricgrpc.New(ctx, opts...)
	case ProtocolHTTPProtobuf:
		compression := otlpmetrichttp.NoCompression
		if o.Compression == "gzip" {
			compression = otlpmetrichttp.GzipCompression
		}
		exp, err := otlpmetrichttp.New(ctx,
			otlpmetrichttp.WithEndpointURL(ep.url),
			otlpmetrichttp.WithTimeout(timeout),
			otlpmetrichttp.WithTemporalitySelector(temporality),
			otlpmetrichttp.WithAggregationSelector(selector),
			otlpmetrichttp.WithHeaders(headers),
			otlpmetrichttp.WithCompression(compression),
		)
		if err != nil {
			return nil, err
		}
		// The HTTP exporter applies its timeout to each attempt only, so
		// retries after a 503 or a timed-out attempt would go on until the
		// periodic reader's ExportTimeout; the gRPC exporter bounds the whole
		// export itself.
		return &deadlineExporter{Exporter: exp, timeout: timeout}, nil
	default:
		return nil, fmt.Errorf("otlp protocol %v: want grpc or http/protobuf", p)
	}
}

// deadlineExporter bounds each export, retries included, by timeout.
type deadlineExporter struct {
	sdkmetric.Exporter
	timeout time.Duration
}

func (e *deadlineExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	if e.timeout < noLimit {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.timeout)
		defer cancel()
	}
	return e.Exporter.Export(ctx, rm)
}

// noLimit stands for "no timeout" where the SDK wants a duration.
const noLimit = time.Duration(math.MaxInt64)

// temporalitySelector maps the specification's presets to the SDK's
// selectors.
func temporalitySelector(t Temporality) sdkmetric.TemporalitySelector {
	switch t {
	case TemporalityDelta:
		return sdkmetric.DeltaTemporalitySelector
	case TemporalityLowMemory:
		return sdkmetric.LowMemoryTemporalitySelector
	default:
		return sdkmetric.DefaultTemporalitySelector
	}
}

// errSink collects the export errors made while a ForceFlush or Shutdown
// waits: its caller receives them, so they are returned, not logged.
type errSink struct {
	errs []error // guarded by the Provider's sinksMu
}

// pushExporter wraps a push exporter so that a failed export never reaches
// the OTel global error handler (whose default logs every failure): it is
// counted and handed to failed, which returns it to a caller waiting for it
// (ForceFlush, Shutdown) or, for background exports, logs it at a bounded
// rate.
type pushExporter struct {
	sdkmetric.Exporter
	kind   Kind
	failed func(Kind, error)

	successes atomic.Int64
	failures  atomic.Int64
}

func (e *pushExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	err := e.Exporter.Export(ctx, rm)
	if err == nil {
		e.successes.Add(1)
		return nil
	}
	e.failures.Add(1)
	e.failed(e.kind, fmt.Errorf("%v export: %w", e.kind, err))
	return nil
}
