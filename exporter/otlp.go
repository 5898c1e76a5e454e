package exporter

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
)

// endpoint is an OTLP endpoint resolved for one protocol.
type endpoint struct {
	url      string // HTTP: the full URL
	hostPort string // gRPC: host:port
	insecure bool
}

// grpcURL is the gRPC exporters' endpoint URL: it sets both the address
// and the transport security.
func (e endpoint) grpcURL() string {
	if e.insecure {
		return "http://" + e.hostPort
	}
	return "https://" + e.hostPort
}

// resolveEndpoint validates raw for protocol p and says how to reach it.
// Its errors never repeat raw, nor any piece of it that redactURL hides:
// callers name the endpoint by redactURL(raw).
func resolveEndpoint(raw string, p Protocol, insecure bool) (endpoint, error) {
	if p == ProtocolUnknown {
		p = ProtocolHTTPProtobuf
	}
	// gRPC also takes "host:port", parsed here as a URL without scheme.
	hostPort := !strings.Contains(raw, "://")
	if hostPort && p != ProtocolGRPC {
		return endpoint{}, errors.New("want a URL with an http or https scheme, for example http://localhost:4318")
	}
	parse, want := raw, "not a valid URL"
	if hostPort {
		parse, want = "//"+raw, "want a URL such as http://localhost:4317, or host:port"
	}
	u, err := url.Parse(parse)
	if err != nil {
		// *url.Error repeats the whole URL: say only why.
		return endpoint{}, fmt.Errorf("%s: %s", want, urlErrorReason(err, redactURL(raw)))
	}
	if !hostPort && u.Scheme != "http" && u.Scheme != "https" {
		if scheme, _ := splitScheme(raw); scheme != "" {
			return endpoint{}, fmt.Errorf("scheme %q: want http or https", strings.TrimSuffix(scheme, "://"))
		}
		// url.Parse took what precedes a ":" for the scheme, which may be
		// a user name ("user:secret@host:4317/x"): do not repeat it.
		return endpoint{}, errors.New("want a URL with an http or https scheme")
	}
	if u.Host == "" {
		return endpoint{}, errors.New("the URL has no host")
	}
	if u.User != nil {
		return endpoint{}, errors.New("credentials in the URL are not allowed: use OTEL_EXPORTER_OTLP_HEADERS")
	}
	// The OTel exporters drop both, so a key given there is never sent.
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return endpoint{}, errors.New("a query or fragment in the URL is not sent: use OTEL_EXPORTER_OTLP_HEADERS for credentials")
	}
	if hostPort {
		if host, port, err := net.SplitHostPort(u.Host); err != nil || host == "" || port == "" {
			return endpoint{}, errors.New(want)
		}
		return endpoint{hostPort: u.Host, insecure: insecure}, nil
	}
	return endpoint{url: raw, hostPort: u.Host, insecure: u.Scheme == "http"}, nil
}

// urlErrorReason says why url.Parse refused an endpoint without repeating
// what redactURL hides. net/url quotes the piece at fault (a port, an
// escape, a character); it is kept only when shown, the redacted endpoint,
// shows it anyway.
func urlErrorReason(err error, shown string) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := err.Error()
	var b strings.Builder
	for {
		i := strings.IndexByte(msg, '"')
		if i < 0 {
			break
		}
		b.WriteString(msg[:i])
		q, qerr := strconv.QuotedPrefix(msg[i:])
		if qerr != nil {
			msg = ""
			break
		}
		if s, _ := strconv.Unquote(q); s != "" && strings.Contains(shown, s) {
			b.WriteString(q)
		} else {
			b.WriteString(strconv.Quote(redacted))
		}
		msg = msg[i+len(q):]
	}
	b.WriteString(msg)
	return b.String()
}

// appendSignalPath appends v1/<signal> (metrics, traces) to the path of a
// base endpoint, as the specification requires for OTLP/HTTP.
func appendSignalPath(raw, signal string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/" + signal
	return u.String()
}

// redacted stands for what redactURL hides.
const redacted = "REDACTED"

// redactURL returns an endpoint as given, a URL or not, valid or not,
// without its secrets, for error messages and logs: the user information of
// any form (everything between the scheme and the last "@", so also in
// "user:secret@host:4317" and in malformed URLs), the value of every query
// parameter (keys are kept; a parameter without "=" is hidden whole) and
// the fragment become REDACTED. When a "?" or "#" precedes the last "@",
// which may be in a password or in a query value, everything after the
// scheme does.
func redactURL(raw string) string {
	scheme, rest := splitScheme(raw)
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		if strings.ContainsAny(rest[:at], "?#") {
			return scheme + redacted
		}
		rest = redacted + rest[at:]
	}
	rest, fragment, hasFragment := strings.Cut(rest, "#")
	rest, query, hasQuery := strings.Cut(rest, "?")
	var b strings.Builder
	b.WriteString(scheme)
	b.WriteString(rest)
	if hasQuery {
		b.WriteByte('?')
		for i, param := range strings.Split(query, "&") {
			if i > 0 {
				b.WriteByte('&')
			}
			key, value, hasValue := strings.Cut(param, "=")
			switch {
			case hasValue && value != "":
				b.WriteString(key + "=" + redacted)
			case hasValue:
				b.WriteString(key + "=")
			case param != "":
				b.WriteString(redacted)
			}
		}
	}
	if hasFragment {
		b.WriteByte('#')
		if fragment != "" {
			b.WriteString(redacted)
		}
	}
	return b.String()
}

// splitScheme splits raw after its leading "scheme://", if it has one: a
// possibly empty run of the characters a scheme is made of, then "://".
func splitScheme(raw string) (scheme, rest string) {
	i := strings.Index(raw, "://")
	if i < 0 || strings.ContainsFunc(raw[:i], func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '+' || r == '-' || r == '.')
	}) {
		return "", raw
	}
	return raw[:i+3], raw[i+3:]
}

func (o OTLP) protocol() Protocol {
	if o.Protocol == ProtocolUnknown {
		return ProtocolHTTPProtobuf
	}
	return o.Protocol
}

// endpoint returns the URL (or host:port) to export metrics to.
func (o OTLP) endpoint() string { return o.endpointFor("metrics") }

// endpointFor returns the URL (or host:port) to export signal (metrics,
// traces) to: Endpoint as it is, else BaseEndpoint with /v1/<signal> for
// HTTP, else the protocol's default.
func (o OTLP) endpointFor(signal string) string {
	p := o.protocol()
	switch {
	case o.Endpoint != "":
		return o.Endpoint
	case o.BaseEndpoint != "" && p == ProtocolGRPC:
		return o.BaseEndpoint
	case o.BaseEndpoint != "":
		return appendSignalPath(o.BaseEndpoint, signal)
	case p == ProtocolGRPC:
		return DefaultGRPCEndpoint
	default:
		return DefaultHTTPEndpoint + "/v1/" + signal
	}
}

// newOTLPExporter builds the OTLP exporter o describes. Every setting is
// passed explicitly, so that what the OTel exporters read from the
// environment themselves never overrides the MetricsConfig.
func newOTLPExporter(ctx context.Context, o OTLP, selector sdkmetric.AggregationSelector) (sdkmetric.Exporter, error) {
	p := o.protocol()
	ep, timeout, headers, err := o.resolve("metrics")
	if err != nil {
		return nil, err
	}
	temporality := temporalitySelector(o.Temporality)

	switch p {
	case ProtocolGRPC:
		opts := []otlpmetricgrpc.Option{
			otlpmetricgrpc.WithEndpointURL(ep.grpcURL()),
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
	errs []error // guarded by the MeterProvider's sinksMu
}

// pushExporter wraps a push exporter so that a failed export never reaches
// the OTel global error handler (whose default logs every failure): it is
// counted and handed to failed, which returns it to a caller waiting for it
// (ForceFlush, Shutdown) or, for background exports, logs it at a bounded
// rate.
//
// It also sends the MeterProvider's resource rather than the SDK's, for the
// reason resourceReader gives.
type pushExporter struct {
	sdkmetric.Exporter
	name     MetricsExporter // which exporter it is, for errors and metrics
	resource *resource.Resource
	failed   func(MetricsExporter, error)
	reader   *sdkmetric.PeriodicReader // the reader whose loop exports through it
	timeout  time.Duration             // of one export, as the reader's

	successes atomic.Int64
	failures  atomic.Int64
}

// flush collects the reader and exports the result now, outside the
// reader's loop, returning the export's error to the caller (ForceFlush)
// instead of logging it. Without a deadline in ctx, the reader's timeout
// bounds it.
func (e *pushExporter) flush(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.timeout)
		defer cancel()
	}
	var rm metricdata.ResourceMetrics
	if err := e.reader.Collect(ctx, &rm); err != nil {
		return fmt.Errorf("%v collect: %w", e.name, err)
	}
	rm.Resource = e.resource
	if err := e.Exporter.Export(ctx, &rm); err != nil {
		e.failures.Add(1)
		return fmt.Errorf("%v export: %w", e.name, err)
	}
	e.successes.Add(1)
	return e.Exporter.ForceFlush(ctx)
}

func (e *pushExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	rm.Resource = e.resource
	err := e.Exporter.Export(ctx, rm)
	if err == nil {
		e.successes.Add(1)
		return nil
	}
	e.failures.Add(1)
	e.failed(e.name, fmt.Errorf("%v export: %w", e.name, err))
	return nil
}
