package instrument

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/vitalsgo/vitals/clock"
)

// The metrics Transport records, by their OpenTelemetry names. On /metrics
// they are http_client_request_duration_seconds and
// http_client_active_requests.
const (
	MetricClientRequestDuration = "http.client.request.duration"
	MetricClientActiveRequests  = "http.client.active_requests"
)

// DefaultMaxServerAddresses is the default number of distinct
// (server.address, server.port) pairs a Transport records (see
// WithMaxServerAddresses).
const DefaultMaxServerAddresses = 50

// The error.type values Transport gives a request that got no response,
// besides the Go type of an error it does not know (such as "*url.Error").
const (
	ClientErrorTimeout         = "timeout"               // a deadline passed: the context's, a dial or read timeout
	ClientErrorCanceled        = "canceled"              // the request's context was canceled
	ClientErrorNameResolution  = "name_resolution_error" // DNS lookup failed
	ClientErrorConnRefused     = "connection_refused"    // nothing listens on the server's port
	ClientErrorConnReset       = "connection_reset"      // the server reset the connection (ECONNRESET, EPIPE)
	ClientErrorResponseEnded   = "response_ended"        // the connection closed before a whole response (EOF)
	ClientErrorTLS             = "tls_error"             // TLS handshake or certificate verification failed
	ClientErrorConnection      = "connection_error"      // any other network error (*net.OpError)
	clientErrorUnknownResponse = Overflow                // the base returned neither a response nor an error
)

// TransportOption configures Transport. The options of SharedOption
// configure Transport too.
type TransportOption interface {
	applyTransport(transportConfig) transportConfig
}

type transportConfig struct {
	httpConfig
	maxAddresses int
	spanName     func(*http.Request) string
}

type transportOptionFunc func(transportConfig) transportConfig

func (f transportOptionFunc) applyTransport(c transportConfig) transportConfig { return f(c) }

// WithMaxServerAddresses sets how many distinct (server.address,
// server.port) pairs the client metrics record; requests to any further
// one are recorded with server.address Overflow and without
// server.port. n <= 0 keeps the default, DefaultMaxServerAddresses (50).
func WithMaxServerAddresses(n int) TransportOption {
	return transportOptionFunc(func(c transportConfig) transportConfig {
		if n > 0 {
			c.maxAddresses = n
		}
		return c
	})
}

// WithTransportSpanName names client spans with fn, for example "GET
// /users/{id}" from a template the caller knows. An empty result keeps the
// default: the method ("GET"), or "HTTP" for a method that is not a
// standard one, as the semantic conventions name a span without a URL
// template. fn must not modify the request.
func WithTransportSpanName(fn func(*http.Request) string) TransportOption {
	return transportOptionFunc(func(c transportConfig) transportConfig {
		c.spanName = fn
		return c
	})
}

// Transport wraps base (http.DefaultTransport when nil) with the HTTP client
// metrics http.client.request.duration and http.client.active_requests and,
// with WithTracerProvider, a client span per request; build it once and
// share it. The URL's path, query and user info are never attributes; past
// WithMaxServerAddresses (default 50) distinct server addresses, requests
// are recorded with server.address Overflow. The caller's request is
// never modified. If the metrics cannot be created, the error is logged
// (WithLogger) and requests pass through unmeasured.
func Transport(base http.RoundTripper, opts ...TransportOption) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	cfg := transportConfig{maxAddresses: DefaultMaxServerAddresses}
	for _, o := range opts {
		if o != nil {
			cfg = o.applyTransport(cfg)
		}
	}
	cfg.httpConfig = cfg.httpConfig.withDefaults()
	t := &transport{base: base, clock: cfg.clock, propagators: cfg.propagators, spanName: cfg.spanName}
	if cfg.tracerProvider != nil {
		t.tracer = cfg.tracerProvider.Tracer(ScopeName)
	}
	cm, err := newClientMetrics(cfg.meterProvider, cfg.maxAddresses)
	if err != nil {
		cfg.logger.Error("vitals: HTTP client metrics disabled", "error", err)
		return t
	}
	t.metrics = cm
	// Unregister the callback once the transport is unreachable, so that a
	// Transport made per client (or per request, by mistake) does not keep
	// observing forever.
	runtime.AddCleanup(t, func(reg metric.Registration) { _ = reg.Unregister() }, cm.reg)
	return t
}

type transport struct {
	base        http.RoundTripper
	clock       clock.Clock
	metrics     *clientMetrics // nil when the metrics could not be created
	tracer      trace.Tracer   // nil without tracing
	propagators propagation.TextMapPropagator
	spanName    func(*http.Request) string
}

var clientSpanKind = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}

// RoundTrip sends r through the base transport, timing and counting it.
func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL == nil { // the base reports it
		return t.base.RoundTrip(r)
	}
	start := t.clock.Now()
	method := clientMethod(r.Method)
	ctx := r.Context()
	var ep *endpoint
	if t.metrics != nil {
		ep = t.metrics.endpoint(r.URL)
		ep.begin(method)
	}
	out := r
	var span trace.Span
	if t.tracer != nil {
		ctx, span = t.startSpan(ctx, r, method)
		out = t.inject(ctx, r)
	} else if trace.SpanContextFromContext(ctx).IsValid() {
		out = t.inject(ctx, r)
	}

	done := false
	defer func() {
		if done {
			return
		}
		// The base panicked: leave nothing in flight, and let it go on.
		if ep != nil {
			ep.end(method)
		}
		if span != nil {
			span.SetStatus(codes.Error, "panic in RoundTrip")
			span.End()
		}
	}()
	resp, err := t.base.RoundTrip(out)
	done = true
	duration := t.clock.Now().Sub(start)
	if ep != nil {
		ep.end(method)
	}

	var errType string
	switch {
	case err != nil:
		errType = t.errorType(r.Context(), err)
	case resp == nil:
		errType = clientErrorUnknownResponse
	}
	if ep != nil {
		t.metrics.record(ctx, ep, method, resp, errType, duration.Seconds())
	}
	if span == nil {
		return resp, err
	}
	return t.endSpan(span, resp, err, errType), err
}

// CloseIdleConnections closes the idle connections of the base transport,
// when it has them, so that http.Client.CloseIdleConnections still works.
func (t *transport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// clientMethod is methodIndex for a client request, where "" means GET.
func clientMethod(m string) uint8 {
	if m == "" {
		return methodIndex(http.MethodGet)
	}
	return methodIndex(m)
}

func (t *transport) startSpan(ctx context.Context, r *http.Request, method uint8) (context.Context, trace.Span) {
	name := ""
	if t.spanName != nil {
		name = t.spanName(r)
	}
	if name == "" {
		name = methods[method]
		if method == otherMethod {
			name = "HTTP"
		}
	}
	// What a sampler may look at is given at the start.
	kvs := make([]attribute.KeyValue, 0, 5)
	kvs = append(kvs, semconv.HTTPRequestMethodKey.String(methods[method]))
	if r.Method != "" && r.Method != methods[method] {
		kvs = append(kvs, semconv.HTTPRequestMethodOriginal(r.Method))
	}
	if host := r.URL.Hostname(); host != "" {
		kvs = append(kvs, semconv.ServerAddress(host))
	}
	if port := serverPort(r.URL); port > 0 {
		kvs = append(kvs, semconv.ServerPort(int(port)))
	}
	kvs = append(kvs, semconv.URLFull(fullURL(r.URL)))
	return t.tracer.Start(ctx, name, append(clientSpanKind[:1:1], trace.WithAttributes(kvs...))...)
}

// fullURL is url.full without user info, query and fragment.
func fullURL(u *url.URL) string {
	// The path normalised as the middleware's http.route is (IDs, hashes
	// and long segments become placeholders): a path can name a person.
	if u.Scheme == "" {
		return "//" + u.Host + NormalizePath(u.EscapedPath())
	}
	return u.Scheme + "://" + u.Host + NormalizePath(u.EscapedPath())
}

// inject returns a copy of r with ctx and its trace context written into
// a copy of the header.
func (t *transport) inject(ctx context.Context, r *http.Request) *http.Request {
	out := r.WithContext(ctx)
	out.Header = r.Header.Clone()
	if out.Header == nil {
		out.Header = make(http.Header, 2)
	}
	t.propagators.Inject(ctx, headerCarrier(out.Header))
	return out
}

// headerCarrier is propagation.HeaderCarrier without the canonicalisation
// of the usual keys, which allocates.
type headerCarrier http.Header

func (h headerCarrier) Get(key string) string { return http.Header(h).Get(key) }

func (h headerCarrier) Set(key, value string) {
	switch key {
	case "traceparent":
		key = "Traceparent"
	case "tracestate":
		key = "Tracestate"
	case "baggage":
		key = "Baggage"
	default:
		key = http.CanonicalHeaderKey(key)
	}
	h[key] = []string{value}
}

func (h headerCarrier) Keys() []string { return propagation.HeaderCarrier(h).Keys() }

// endSpan records the outcome on span and ends it, or hands it to the
// response body to end, which it returns.
func (t *transport) endSpan(span trace.Span, resp *http.Response, err error, errType string) *http.Response {
	if !span.IsRecording() {
		span.End()
		return resp
	}
	if errType != "" {
		span.SetAttributes(semconv.ErrorTypeKey.String(errType))
		msg := "no response"
		if err != nil {
			msg = err.Error()
		}
		span.SetStatus(codes.Error, msg)
		span.End()
		return resp
	}
	kvs := make([]attribute.KeyValue, 0, 3)
	kvs = append(kvs, semconv.HTTPResponseStatusCode(resp.StatusCode))
	if v := protoVersion(resp.Proto); v != "" {
		kvs = append(kvs, semconv.NetworkProtocolVersion(v))
	}
	if resp.StatusCode >= 400 || resp.StatusCode < 100 {
		kvs = append(kvs, semconv.ErrorTypeKey.String(statusText(resp.StatusCode)))
		span.SetStatus(codes.Error, "")
	}
	span.SetAttributes(kvs...)
	if resp.Body == nil || resp.Body == http.NoBody {
		span.End()
		return resp
	}
	resp.Body = newSpanBody(span, resp.Body, t)
	return resp
}

// spanBody ends its span when the body is read to its end or closed.
type spanBody struct {
	body  io.ReadCloser
	span  trace.Span
	t     *transport
	ended atomic.Bool
}

// spanBodyWriter is a spanBody whose body is also a writer: the
// connection of a 101 Switching Protocols response.
type spanBodyWriter struct{ spanBody }

func newSpanBody(span trace.Span, body io.ReadCloser, t *transport) io.ReadCloser {
	if _, ok := body.(io.ReadWriteCloser); ok {
		return &spanBodyWriter{spanBody{body: body, span: span, t: t}}
	}
	return &spanBody{body: body, span: span, t: t}
}

func (b *spanBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	switch err {
	case nil:
	case io.EOF:
		b.end()
	default:
		b.fail(err)
	}
	return n, err
}

func (b *spanBody) Close() error {
	b.end()
	return b.body.Close()
}

func (b *spanBody) fail(err error) {
	if !b.ended.Load() {
		b.span.SetAttributes(semconv.ErrorTypeKey.String(b.t.errorType(context.Background(), err)))
		b.span.SetStatus(codes.Error, err.Error())
	}
}

func (b *spanBody) end() {
	if b.ended.CompareAndSwap(false, true) {
		b.span.End()
	}
}

func (b *spanBodyWriter) Write(p []byte) (int, error) {
	n, err := b.body.(io.Writer).Write(p)
	if err != nil {
		b.fail(err)
	}
	return n, err
}

// errorType returns the error.type of a request that failed with err.
func (t *transport) errorType(ctx context.Context, err error) string {
	// The caller giving up is why most requests fail that way.
	switch ctx.Err() {
	case context.DeadlineExceeded:
		return ClientErrorTimeout
	case context.Canceled:
		return ClientErrorCanceled
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return ClientErrorTimeout
	case errors.Is(err, context.Canceled):
		return ClientErrorCanceled
	case errors.Is(err, syscall.ECONNREFUSED):
		return ClientErrorConnRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return ClientErrorConnReset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return ClientErrorResponseEnded
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return ClientErrorTimeout
	}
	if _, ok := errors.AsType[*net.DNSError](err); ok {
		return ClientErrorNameResolution
	}
	if isTLSError(err) {
		return ClientErrorTLS
	}
	if _, ok := errors.AsType[*net.OpError](err); ok {
		return ClientErrorConnection
	}
	if t.metrics == nil {
		return fmt.Sprintf("%T", err)
	}
	return t.metrics.errs.admit(fmt.Sprintf("%T", err))
}

func isTLSError(err error) bool {
	if _, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
		return true
	}
	if _, ok := errors.AsType[tls.RecordHeaderError](err); ok {
		return true
	}
	if _, ok := errors.AsType[tls.AlertError](err); ok {
		return true
	}
	if _, ok := errors.AsType[x509.UnknownAuthorityError](err); ok {
		return true
	}
	if _, ok := errors.AsType[x509.HostnameError](err); ok {
		return true
	}
	_, ok := errors.AsType[x509.CertificateInvalidError](err)
	return ok
}

// serverPort returns the port of u, or its scheme's default, or 0.
func serverPort(u *url.URL) uint16 {
	if p := u.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil {
			return 0
		}
		return uint16(n)
	}
	switch u.Scheme {
	case "http":
		return 80
	case "https":
		return 443
	}
	return 0
}

// clientVersions are the network.protocol.version values of versionIndex.
var clientVersions = [...]string{"", "1.1", "2.0", "1.0", "3.0"}

// endpointKey is a request's (server.address, url.scheme, server.port).
type endpointKey struct {
	host   string
	scheme string
	port   uint16
}

// addrKey is what the address budget counts: a (server.address,
// server.port) pair.
type addrKey struct {
	host string
	port uint16
}

// endpoint holds the active requests and attribute sets of one recorded
// (server.address, server.port, url.scheme).
type endpoint struct {
	base    []attribute.KeyValue // server.address, server.port, url.scheme as recorded
	active  [len(methods)]atomic.Int64
	seen    [len(methods)]atomic.Bool
	observe [len(methods)]metric.ObserveOption
	sets    sync.Map // setKey → []metric.RecordOption
}

// setKey identifies an attribute set of the duration within an endpoint:
// bits packs the method (bits 0-3), the protocol version's index (4-6),
// the status code (8-17) and whether error.type is the status (18).
type setKey struct {
	errType string // a transport error's type
	bits    uint32
}

const statusErrBit = 1 << 18

type clientMetrics struct {
	duration  metric.Float64Histogram
	reg       metric.Registration
	endpoints sync.Map // endpointKey → *endpoint
	addrs     *cappedSet[addrKey]
	schemes   routeSet // url.scheme values other than http and https
	errs      routeSet // error.type values from Go types
	nsets     atomic.Int64
}

func newClientMetrics(mp metric.MeterProvider, maxAddresses int) (*clientMetrics, error) {
	m := mp.Meter(ScopeName)
	cm := &clientMetrics{
		addrs:   newCappedSet[addrKey](maxAddresses),
		schemes: newRouteSet(8),
		errs:    newRouteSet(64),
	}
	var err error
	if cm.duration, err = m.Float64Histogram(MetricClientRequestDuration,
		metric.WithUnit("s"),
		metric.WithDescription("Duration of HTTP client requests."),
		metric.WithExplicitBucketBoundaries(durationBoundaries...)); err != nil {
		return nil, err
	}
	active, err := m.Int64ObservableUpDownCounter(MetricClientActiveRequests,
		metric.WithUnit("{request}"),
		metric.WithDescription("Number of active HTTP requests."))
	if err != nil {
		return nil, err
	}
	// The callback must not reach the transport, so that the transport can
	// become unreachable and unregister it.
	cm.reg, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		cm.endpoints.Range(func(_, v any) bool {
			ep := v.(*endpoint)
			for i := range ep.active {
				if ep.seen[i].Load() {
					o.ObserveInt64(active, ep.active[i].Load(), ep.observe[i])
				}
			}
			return true
		})
		return nil
	}, active)
	if err != nil {
		return nil, err
	}
	return cm, nil
}

// endpoint returns the endpoint a request to u is recorded under.
func (cm *clientMetrics) endpoint(u *url.URL) *endpoint {
	k := endpointKey{host: u.Hostname(), scheme: u.Scheme, port: serverPort(u)}
	if v, ok := cm.endpoints.Load(k); ok {
		return v.(*endpoint)
	}
	return cm.newEndpoint(k)
}

// newEndpoint admits k under the budgets and returns its endpoint. An
// endpoint is stored under the request's own key only when it is recorded
// as itself; one past a budget is looked up again on each request (the
// budgets' read lock, no allocation), so that the map stays bounded.
func (cm *clientMetrics) newEndpoint(k endpointKey) *endpoint {
	rec := k
	switch k.scheme {
	case "http", "https":
	default:
		rec.scheme = cm.schemes.admit(k.scheme)
	}
	if !cm.addrs.add(addrKey{k.host, k.port}, func(a addrKey) addrKey {
		a.host = strings.Clone(a.host) // do not keep a request's memory alive
		return a
	}) {
		rec.host, rec.port = Overflow, 0
	}
	if rec != k { // recorded under another key, maybe stored already
		if v, ok := cm.endpoints.Load(rec); ok {
			return v.(*endpoint)
		}
	}
	// The strings are the URL's: do not keep it (and its query) alive.
	rec.host, rec.scheme = strings.Clone(rec.host), strings.Clone(rec.scheme)
	v, _ := cm.endpoints.LoadOrStore(rec, newEndpoint(rec))
	return v.(*endpoint)
}

func newEndpoint(k endpointKey) *endpoint {
	ep := &endpoint{}
	if k.host != "" {
		ep.base = append(ep.base, semconv.ServerAddress(k.host))
	}
	if k.port > 0 {
		ep.base = append(ep.base, semconv.ServerPort(int(k.port)))
	}
	if k.scheme != "" {
		ep.base = append(ep.base, semconv.URLScheme(k.scheme))
	}
	for i, m := range methods {
		kvs := append([]attribute.KeyValue{semconv.HTTPRequestMethodKey.String(m)}, ep.base...)
		ep.observe[i] = metric.WithAttributeSet(attribute.NewSet(kvs...))
	}
	return ep
}

func (ep *endpoint) begin(method uint8) {
	ep.active[method].Add(1)
	if !ep.seen[method].Load() {
		ep.seen[method].Store(true)
	}
}

func (ep *endpoint) end(method uint8) { ep.active[method].Add(-1) }

// record records a finished request's duration. errType is set when no
// response came.
func (cm *clientMetrics) record(ctx context.Context, ep *endpoint, method uint8, resp *http.Response, errType string, seconds float64) {
	k := setKey{errType: errType, bits: uint32(method)}
	if errType == "" {
		k.bits |= uint32(versionIndex(protoVersion(resp.Proto))) << 4
		if s := resp.StatusCode; s > 0 && s < 1000 {
			k.bits |= uint32(s) << 8
		}
		if resp.StatusCode >= 400 || resp.StatusCode < 100 {
			k.bits |= statusErrBit
		}
	}
	var opts []metric.RecordOption
	if v, ok := ep.sets.Load(k); ok {
		opts = v.([]metric.RecordOption)
	} else {
		opts = cm.newSet(ep, k, resp)
	}
	cm.duration.Record(ctx, seconds, opts...)
}

// newSet builds the attribute set of k and caches it, under the cache's
// bound.
func (cm *clientMetrics) newSet(ep *endpoint, k setKey, resp *http.Response) []metric.RecordOption {
	kvs := make([]attribute.KeyValue, 0, len(ep.base)+5)
	kvs = append(kvs, semconv.HTTPRequestMethodKey.String(methods[k.bits&0xf]))
	kvs = append(kvs, ep.base...)
	if v := clientVersions[k.bits>>4&0x7]; v != "" {
		kvs = append(kvs, semconv.NetworkProtocolName("http"), semconv.NetworkProtocolVersion(v))
	}
	status := int(k.bits >> 8 & 0x3ff)
	if status > 0 {
		kvs = append(kvs, semconv.HTTPResponseStatusCode(status))
	}
	switch {
	case k.errType != "":
		kvs = append(kvs, semconv.ErrorTypeKey.String(k.errType))
	case k.bits&statusErrBit != 0:
		kvs = append(kvs, semconv.ErrorTypeKey.String(statusText(resp.StatusCode)))
	}
	opts := []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(kvs...))}
	if cm.nsets.Load() >= maxAttrSets {
		return opts
	}
	if k.errType != "" {
		k.errType = strings.Clone(k.errType)
	}
	if v, loaded := ep.sets.LoadOrStore(k, opts); loaded {
		return v.([]metric.RecordOption)
	}
	cm.nsets.Add(1)
	return opts
}
