// Package instrument records what a service owner looks at first: every
// HTTP request timed, routed and counted (Middleware), the Go runtime and
// the process (StartRuntime). The performance summary computed from them
// with PromQL lives in package performance, so that the middleware does not
// link the PromQL engine.
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
// WithRouteFunc or SetRoute. A 404 or 405 without a template (the request
// matched no route) is recorded as OverflowRoute, never with its path. Any
// other request without a template is recorded with NormalizePath's
// template of its path, in which numbers, hex, UUIDs, tokens and e-mail
// addresses become {id}, {uuid}, {token} and {email}
// ("/users/{id}/orders/{uuid}").
//
// Routes have two budgets of WithMaxRoutes (default 500) each: distinct
// templates of the application, and attribute sets (series) of normalised
// paths. A value past its budget is recorded as OverflowRoute. One client
// flooding unmatched paths, with every method, fills only the normalised
// paths' budget and adds at most 500 series: the application's templates
// are still recorded as themselves, also under the SDK's cardinality limit.
// At most 1000 route values are held by default, the normalised ones of at
// most 787 bytes. The normaliser keeps word-like segments
// ("/products/espresso"): a service without a router should supply its
// routes, or paths that carry names use up the normalised budget.
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
// passed through RedactHeaders: credentials, cookies and client addresses
// (X-Forwarded-For, Forwarded, X-Real-Ip, ...) are replaced by Redacted,
// and URLs (Referer, Origin, X-Original-Url, ...) are cut to scheme, host
// and normalised path, without query string or user info.
//
// # Monitoring traffic
//
// A handler that serves no application traffic (a /metrics scrape, a
// health probe, a dashboard's polling) but is mounted in the mux the
// middleware wraps calls SkipRecording with its request's context: the
// request is then left out of every metric, log line and hook, except
// http.server.active_requests while it runs and the log of a panic.
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
