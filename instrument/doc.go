// Package instrument records what a service owner looks at first: every
// HTTP request timed, routed and counted (Middleware), the Go runtime and
// the process (StartRuntime), and a performance summary computed from them
// with PromQL (Summary).
//
// # Middleware
//
// Middleware records the stable HTTP server semantic-convention metrics,
// named as otelhttp names them: http.server.request.duration (seconds, the
// conventions' buckets) with http.request.method (unknown methods become
// _OTHER), http.response.status_code, http.route, url.scheme,
// network.protocol.name and network.protocol.version; plus what otelhttp
// leaves out: http.server.active_requests and error.type (the status code
// for 5xx, the panic's type for a recovered panic). server.address and
// server.port are left out unless WithServerAddress is given, since the
// Host header is the client's to choose. Body sizes are recorded with
// WithBodySizes. No client address, user agent, user ID, query string,
// header or body ever becomes an attribute.
//
// # Routes
//
// http.route is always a template. With http.ServeMux it is the matched
// pattern without method and host ("/orders/{id}"). A middleware between
// this one and the mux that copies the request hides the pattern; wrap the
// mux with Routes to get it back. Other routers supply their template with
// WithRouteFunc or SetRoute. Without a pattern, NormalizePath turns the raw
// path into a template ("/users/{id}/orders/{uuid}"), and a 404 that matched
// no pattern is recorded as OverflowRoute. At most WithMaxRoutes distinct
// values (default 500) are kept; the rest are recorded as OverflowRoute, so
// a flood of random URLs cannot grow the series count. Note that the
// normaliser keeps word-like segments as they are: a service without a
// router should supply its routes, or paths that carry names become routes.
//
// # Request IDs, slow requests, errors
//
// Each request gets an ID: the incoming X-Request-Id when it is 1 to 64
// letters, digits or - _ . :, else 16 new hex digits. It is set on the
// response (404s and panics included), returned by RequestID(ctx) and added
// to slog records by LogHandler, with the trace ID when a span is recording.
// A request slower than its threshold (WithSlowThreshold, default 1 s) is
// counted in vitals.http.server.slow_requests and logged once as a warning
// with method, route, status, duration and request ID, never the query
// string. A panic is recovered (unless WithoutPanicRecovery), answered with
// a 500, logged with its stack and recorded with its type as error.type.
// WithErrorHook receives every 5xx and panic with the request headers
// redacted by RedactHeaders.
//
// # Tracing
//
// With WithTracerProvider, otelhttp wraps the middleware for what it does
// best, trace context and the server span, with its own metrics switched
// off: the middleware records the same metrics for a fraction of the cost
// (docs/benchmarks.md).
//
// # Cost and concurrency
//
// The middleware is built once; per request it makes one state value (also
// the request's context), one request copy and nothing else on the usual
// path: attribute sets are cached per (method, route, status, scheme,
// protocol, error type), and active requests are atomics read by an
// observable counter. Everything is safe for concurrent use.
package instrument
