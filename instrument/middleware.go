package instrument

import (
	"context"
	"fmt"
	"github.com/vitalsgo/vitals/clock"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// ErrorEvent describes a 5xx response or a recovered panic, for the hook
// set with WithErrorHook. It never holds a body, a query string, a
// credential, a cookie or a client address: Route is the recorded
// template, not the path, and Header is redacted by RedactHeaders.
type ErrorEvent struct {
	Method    string        // http.request.method: a known method or _OTHER
	Route     string        // http.route as recorded
	Status    int           // the status the client got (500 for a panic)
	RequestID string        // the request's ID (RequestID), as logged
	Duration  time.Duration // from the request's start to the 5xx or panic
	// Header is a copy of the request headers passed through RedactHeaders:
	// credentials, cookies, client addresses and personal headers are
	// replaced by Redacted, and URLs (Referer, Origin, X-Original-Url, ...)
	// are cut to scheme, host and normalised path.
	Header http.Header
	// Panic is the recovered value, or nil.
	Panic any
	// Stack is the stack of a recovered panic, or nil.
	Stack []byte
}

// stateKey is the context key of the per-request state.
type stateKey struct{}

// state is everything the middleware keeps for one request. It is also the
// request's context (the parent's, plus itself as a value), so that one
// allocation serves the context value, the route holder and the response
// writer.
type state struct {
	context.Context
	id    string
	route string         // set by SetRoute
	inner *http.Request  // set by Routes: the request the router saw
	rw    responseWriter // rw.skip is set by SkipRecording
	idBuf [16]byte       // a generated ID's bytes; id points here
	hdr   [1]string      // the response header's value slice
}

func (s *state) Value(key any) any {
	if key == (stateKey{}) {
		return s
	}
	return s.Context.Value(key)
}

type handler struct {
	next    http.Handler
	cfg     config
	metrics *serverMetrics
	// templates and paths are the two budgets of http.route values: the
	// application's templates, and the attribute sets of normalised paths,
	// so that unmatched requests cannot crowd out the templates.
	templates routeSet
	paths     pathSets
	errs      routeSet // error.type values from panics
	hosts     routeSet // server.address values, when enabled
	tracer    trace.Tracer
}

// Middleware times and counts every request to next with the stable HTTP
// server semantic-convention metrics, plus http.server.active_requests and
// error.type (which otelhttp leaves out), gives each request an ID, logs and
// counts slow requests, and recovers panics. It is built once; the work per
// request is only what must be done per request. If the metrics cannot be
// created, it logs why and serves next uninstrumented: it never takes the
// service down.
func Middleware(next http.Handler, opts ...Option) http.Handler {
	cfg := newConfig(opts)
	sm, err := newServerMetrics(cfg.meterProvider, cfg.bodySizes)
	if err != nil {
		cfg.logger.Error("vitals: HTTP metrics disabled", "error", err)
		return next
	}
	h := &handler{
		next:      next,
		cfg:       cfg,
		metrics:   sm,
		templates: newRouteSet(cfg.maxRoutes),
		paths:     newPathSets(cfg.maxRoutes),
		errs:      newRouteSet(64),
		hosts:     newRouteSet(DefaultMaxServerAddresses),
	}
	if cfg.tracerProvider != nil {
		h.tracer = cfg.tracerProvider.Tracer(ScopeName)
	}
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.cfg.clock.Now()
	st := &state{Context: r.Context()}
	// RequestIDHeader is in canonical form: index the map directly rather
	// than have Header.Get canonicalise it again on every request.
	if ids := r.Header[RequestIDHeader]; len(ids) > 0 && validRequestID(ids[0]) {
		st.id = ids[0]
	} else {
		st.id = newRequestID(&st.idBuf)
	}
	// Set the header without Header.Set's allocation of a value slice.
	st.hdr[0] = st.id
	w.Header()[RequestIDHeader] = st.hdr[:]
	st.rw.w = w

	method := methodIndex(r.Method)
	https := r.TLS != nil
	if h.tracer != nil {
		h.startSpan(st, r, method, https)
	}
	h.metrics.begin(method, https)
	r2 := r.WithContext(st)
	if h.cfg.bodySizes && r2.Body != nil && r2.Body != http.NoBody {
		r2.Body = &countingBody{ReadCloser: r2.Body}
	}
	defer h.finish(st, r, r2, method, https, start)
	h.next.ServeHTTP(&st.rw, r2)
}

// outcome is how a request ended, worked out once in finish.
type outcome struct {
	panicked any    // the recovered panic value, nil when none (or an abort)
	stack    []byte // the panic's stack
	status   int    // what the client sees, or would have seen
	duration time.Duration
}

// finish runs after the handler, also when it panicked: it recovers the
// panic (unless told not to), works out the outcome, and records it unless
// the handler called SkipRecording.
func (h *handler) finish(st *state, r, r2 *http.Request, method uint8, https bool, start time.Time) {
	recovered := recover()
	if h.tracer != nil { // the span is in the context: no field for it when tracing is off
		defer trace.SpanFromContext(st.Context).End()
	}
	h.metrics.end(method, https)
	abort := recovered == http.ErrAbortHandler // net/http's way to abort a response
	var o outcome
	if recovered != nil && !abort {
		o.panicked, o.stack = recovered, debug.Stack()
		if h.cfg.recoverPanics && !st.rw.wroteHeader && !st.rw.hijacked {
			http.Error(&st.rw, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		}
	}
	o.status = h.status(st, recovered != nil)
	o.duration = clock.Since(h.cfg.clock, start)
	if st.rw.skip {
		// No metrics and no records; a span sampled when the request
		// arrived cannot be unsampled, so it is named and ended as any
		// other rather than left as a bare "GET".
		span, ours := h.ownSpan(st)
		if o.panicked != nil || ours {
			route, _ := h.rawRoute(st, r, r2, o.status)
			if ours {
				h.endSpan(span, method, route, o)
			}
			if o.panicked != nil { // a panic is never lost, even unrecorded
				h.logPanic(st, method, route, o.panicked, o.stack)
			}
		}
	} else {
		route := h.recordMetrics(st, r, r2, method, https, o)
		h.report(st, r, method, route, o)
	}
	if abort || (recovered != nil && !h.cfg.recoverPanics) {
		panic(recovered)
	}
}

// status is the status the client sees, or would have seen had the
// connection not been closed: a panic makes it a 500 unless a 5xx was
// already written, or the connection was hijacked.
func (h *handler) status(st *state, panicked bool) int {
	status := st.rw.status
	if !st.rw.wroteHeader {
		status = http.StatusOK
	}
	if panicked && !st.rw.hijacked && (!st.rw.wroteHeader || (h.cfg.recoverPanics && status < 500)) {
		status = http.StatusInternalServerError
	}
	return status
}

// recordMetrics resolves the route, admits it under its budget and records
// the request's duration and sizes; it returns the route recorded.
func (h *handler) recordMetrics(st *state, r, r2 *http.Request, method uint8, https bool, o outcome) string {
	route, template := h.rawRoute(st, r, r2, o.status)
	k := attrKey{method: method, https: https, version: protoVersion(r.Proto), route: route}
	if o.status > 0 && o.status < 1000 {
		k.status = uint16(o.status)
	}
	switch {
	case o.panicked != nil:
		k.errType = h.errs.admit(fmt.Sprintf("%T", o.panicked))
	case o.status >= 500:
		k.errType = statusText(o.status)
	}
	if h.cfg.serverAddress {
		// The cap is on the Host header as sent, so that it bounds the
		// (server.address, server.port) pairs, not the host names alone.
		if h.hosts.admit(r.Host) == Overflow {
			k.host = Overflow
		} else {
			k.host, k.port = splitHost(r.Host, https)
		}
	}
	// A cached set means it was admitted under a budget already; otherwise
	// admit it now, a template under the templates' budget, a normalised
	// path under the paths' (either may turn it into Overflow).
	a, cached := h.metrics.cached(k)
	if !cached {
		switch {
		case template:
			k.route = h.templates.admit(route)
		case route != Overflow && !h.paths.admit(k):
			k.route = Overflow
		}
		a = h.metrics.attrs(k)
	}
	h.metrics.duration.Record(st, o.duration.Seconds(), a.record...)
	if h.cfg.bodySizes {
		var in int64
		if cb, ok := r2.Body.(*countingBody); ok {
			in = cb.n
		}
		h.metrics.reqSize.Record(st, in, a.record...)
		h.metrics.respSize.Record(st, st.rw.written, a.record...)
	}
	if o.duration > h.slowThreshold(k.route) {
		h.metrics.slow.Add(st, 1, a.slow...)
	}
	return k.route
}

// report names the span after the route, logs a slow request and a panic,
// and calls the error hook for a panic or a 5xx.
func (h *handler) report(st *state, r *http.Request, method uint8, route string, o outcome) {
	if span, ok := h.ownSpan(st); ok {
		h.endSpan(span, method, route, o)
	}
	if o.duration > h.slowThreshold(route) {
		h.cfg.logger.LogAttrs(st, slog.LevelWarn, "slow request",
			slog.String("method", methods[method]),
			slog.String("route", route),
			slog.Int("status", o.status),
			slog.Duration("duration", o.duration),
			slog.String("request_id", st.id))
	}
	if o.panicked != nil {
		h.logPanic(st, method, route, o.panicked, o.stack)
	} else if o.status >= 500 {
		// One record per server error, with what identifies the request
		// and nothing the client sent: the trace, when there is one, comes
		// with the context.
		h.cfg.logger.LogAttrs(st, slog.LevelError, "server error",
			slog.String("method", methods[method]),
			slog.String("route", route),
			slog.Int("status", o.status),
			slog.Duration("duration", o.duration),
			slog.String("request_id", st.id))
	}
	if h.cfg.errorHook != nil && (o.panicked != nil || o.status >= 500) {
		h.cfg.errorHook(ErrorEvent{
			Method:    methods[method],
			Route:     route,
			Status:    o.status,
			RequestID: st.id,
			Duration:  o.duration,
			Header:    RedactHeaders(r.Header),
			Panic:     o.panicked,
			Stack:     o.stack,
		})
	}
}

func (h *handler) logPanic(st *state, method uint8, route string, recovered any, stack []byte) {
	h.cfg.logger.LogAttrs(st, slog.LevelError, "panic serving request",
		slog.String("method", methods[method]),
		slog.String("route", route),
		slog.String("request_id", st.id),
		slog.String("panic", fmt.Sprint(recovered)),
		slog.String("stack", string(stack)))
}

// rawRoute resolves the http.route of a finished request, always a
// template, and reports whether it is the application's: SetRoute, then
// the route function, then the ServeMux pattern (on the request passed on,
// or the one Routes saw). Without one, a 404 or 405 is Overflow (the
// request matched no route and its path is the client's choice), anything
// else the normalised path. The caller caps it.
func (h *handler) rawRoute(st *state, r, r2 *http.Request, status int) (route string, template bool) {
	inner := r2
	if st.inner != nil {
		inner = st.inner
	}
	route = st.route
	if route == "" && h.cfg.routeFunc != nil {
		route = h.cfg.routeFunc(inner)
	}
	if route == "" {
		route = patternRoute(inner.Pattern)
	}
	switch {
	case route != "":
		return route, true
	case status == http.StatusNotFound || status == http.StatusMethodNotAllowed:
		return Overflow, false
	}
	return NormalizePath(r.URL.Path), false
}

// statusText returns the status code as a string, without allocating for
// the common 5xx codes.
func statusText(code int) string {
	switch code {
	case 500:
		return "500"
	case 501:
		return "501"
	case 502:
		return "502"
	case 503:
		return "503"
	case 504:
		return "504"
	}
	return strconv.Itoa(code)
}

func (h *handler) slowThreshold(route string) time.Duration {
	if d, ok := h.cfg.slowRoutes[route]; ok {
		return d
	}
	return h.cfg.slow
}

// countingBody counts the bytes of a request body the handler reads.
type countingBody struct {
	ReadCloser interface {
		Read([]byte) (int, error)
		Close() error
	}
	n int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingBody) Close() error { return c.ReadCloser.Close() }

// startSpan starts the request's server span, a child of the trace context
// the request carries (W3C trace context and baggage by default), and
// makes its context the request's. Attributes are set only when the
// sampler records the span: an unsampled request costs the context walk
// and a non-recording span. The query string, the client's address and
// its headers are never attributes.
func (h *handler) startSpan(st *state, r *http.Request, method uint8, https bool) {
	ctx := h.cfg.propagators.Extract(st.Context, propagation.HeaderCarrier(r.Header))
	ctx, span := h.tracer.Start(ctx, methods[method], trace.WithSpanKind(trace.SpanKindServer))
	if span.IsRecording() {
		scheme := "http"
		if https {
			scheme = "https"
		}
		host, port := splitHost(r.Host, https)
		span.SetAttributes(
			semconv.HTTPRequestMethodKey.String(methods[method]),
			semconv.URLScheme(scheme),
			// Normalised as an unmatched http.route is: a path can name a
			// person (/users/ada@example.com).
			semconv.URLPath(NormalizePath(r.URL.Path)),
			semconv.ServerAddress(host),
			semconv.NetworkProtocolVersion(protoVersion(r.Proto)),
		)
		if port > 0 { // only when not the scheme's default, as for metrics
			span.SetAttributes(semconv.ServerPort(port))
		}
	}
	st.Context = ctx
}

// ownSpan returns the span the middleware started for the request, and
// whether there is one recording: never a span an outer middleware started
// when this one has no tracer.
func (h *handler) ownSpan(st *state) (trace.Span, bool) {
	if h.tracer == nil {
		return nil, false
	}
	span := trace.SpanFromContext(st.Context)
	return span, span.IsRecording()
}

// endSpan names a recording span by method and route template and sets
// what the response decided: the status code, Error for a 5xx (a 4xx is
// the client's error, not the server's, as the conventions say), and an
// exception event for a panic, with its type and its message cut to 256
// bytes; the stack stays in the log.
func (h *handler) endSpan(span trace.Span, method uint8, route string, o outcome) {
	span.SetName(methods[method] + " " + route)
	span.SetAttributes(semconv.HTTPRoute(route), semconv.HTTPResponseStatusCode(o.status))
	if o.panicked != nil {
		msg := fmt.Sprint(o.panicked)
		if len(msg) > 256 {
			msg = msg[:256]
		}
		span.AddEvent("exception", trace.WithAttributes(
			semconv.ExceptionType(fmt.Sprintf("%T", o.panicked)),
			semconv.ExceptionMessage(msg)))
	}
	if o.status >= 500 {
		span.SetStatus(codes.Error, statusText(o.status))
		span.SetAttributes(semconv.ErrorTypeKey.String(statusText(o.status)))
	}
}
