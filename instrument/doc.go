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
// this one and the mux that copies the request (r.WithContext) hides the
// pattern, since the mux writes it on the copy it is given, which this
// middleware never sees; wrap the mux with Routes, inside such middleware,
// to get it back:
//
//	h := instrument.Middleware(auth(instrument.Routes(mux)))
//
// Without Routes the middleware still works: it uses the request it passed
// on, or a normalised path, so cardinality stays bounded either way.
//
// Other routers supply their template with WithRouteFunc or SetRoute. A 404
// or 405 without a template (the request matched no route) is recorded as
// Overflow, never with its path. Any other request without a template
// is recorded with NormalizePath's template of its path, in which numbers,
// hex, UUIDs, tokens and e-mail addresses become {id}, {uuid}, {token} and
// {email} ("/users/{id}/orders/{uuid}").
//
// Routes have two budgets of WithMaxRoutes (default 500) each: distinct
// templates of the application (the ServeMux pattern, SetRoute,
// WithRouteFunc), and attribute sets (series) of normalised paths, each
// combination of a path with a method, status, ... counting once, so that
// normalised paths never add more than 500 series per instrument, nor more
// than 500 routes. A value past its budget is recorded as Overflow.
// One client flooding unmatched paths, with every method, fills only the
// normalised paths' budget: the application's templates are still recorded
// as themselves, also under the SDK's cardinality limit (2000 series with
// package exporter) while the application's own series plus 500 stay under
// it. At most 1000 route values are held by default besides Overflow,
// the normalised ones of at most 787 bytes (about 0.4 MB in all). The
// normaliser keeps word-like segments ("/products/espresso"): a service
// without a router should supply its routes, or paths that carry names use
// up the normalised budget.
//
// # Path normalisation
//
// NormalizePath replaces each segment of a path that looks like an
// identifier, so that the template does not change from one resource to the
// next:
//
//   - {email}: anything with an '@';
//   - {uuid}: a UUID;
//   - {id}: digits without letters (42, 2024-01-15, 10.0.0.1), and hex of
//     6 to 24 characters with a digit (3fa9c01b27de, a 24-hex object ID);
//   - {token}: hex longer than 24 characters, or of 16 or more letters
//     a-f; letters mixed with digits (base64, base62, ULIDs, nanoids) in 6
//     or more characters of [A-Za-z0-9-_.~+=] that are 20 or more long, or
//     alternate three times between letters and digits (k3j9x2m1), or have
//     an upper-case letter and 8 or more characters (kLmPqRsT7u), or a run
//     of 5 digits (INV12345), or a part of 3 or more digits between the
//     separators '-', '_', '.' and '~' (espresso-beans-1234); and any
//     segment longer than 64 bytes;
//   - {value}: any other segment with a byte outside [A-Za-z0-9-_.~]
//     (percent-escapes, non-ASCII, braces).
//
// Everything else is kept: words ("orders", "checkout", "facade"),
// versions ("v1", "v2beta1": numbers of up to 3 digits), file names
// ("favicon.ico") and short letter-digit names ("oauth2", "sha256",
// "i18n", "x86_64").
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
// Any other 5xx is logged once as an error with method, route, status,
// duration and request ID (the trace comes with the context).
// WithErrorHook receives every 5xx and panic with the request headers
// passed through RedactHeaders (see Header redaction).
//
// # Header redaction
//
// RedactHeaders replaces by Redacted the values of:
//
//   - credentials and cookies: Authorization, Proxy-Authorization, Cookie,
//     Cookie2, Set-Cookie, Set-Cookie2, X-Api-Key, and every header whose
//     name contains password, passwd, pwd, secret, key, token, session,
//     auth, credit, card, cookie, credential, signature, jwt, csrf, xsrf or
//     cert;
//   - the client's address: Forwarded, X-Forwarded, every name containing
//     forwarded-for or forwarded_for (X-Forwarded-For,
//     X-Original-Forwarded-For), every name with a part (split at - and _)
//     ip, ipv4, ipv6, ips, addr, address, clientip, realip, userip,
//     remoteip, socketip, peerip, sourceip, srcip, clientaddr or remoteaddr
//     (X-Real-Ip, True-Client-Ip, Cf-Connecting-Ip, X-Client-Ip,
//     X-Cluster-Client-Ip, Fastly-Client-Ip, X-Remote-Addr), and Via, which
//     names the client's proxies;
//   - From, an e-mail address.
//
// It cuts to scheme, host and NormalizePath's template of the path the
// values of URL headers (Referer, Referrer, Origin, Location,
// Content-Location, Destination, and every name with a part url, uri or
// path, such as X-Original-Url, X-Rewrite-Url, X-Forwarded-Uri), and any
// other value that is an absolute URL or a path with a query. The query,
// fragment and user info are dropped, and identifiers in the path become
// placeholders, since all of them carry tokens, e-mail addresses and
// session IDs (a password-reset link in a Referer); scheme, host and route
// stay, as they are what one debugs with. A value that does not parse as a
// URL is Redacted; "" and "null" (an opaque Origin) are kept.
//
// # Monitoring traffic
//
// A handler that serves no application traffic (a /metrics scrape, a
// health probe, a dashboard's polling) but is mounted in the mux the
// middleware wraps calls SkipRecording with its request's context: the
// request is then left out of every metric, log line and hook (no duration
// or body-size histogram, no slow-request count or log, no route, no error
// hook), except http.server.active_requests while it runs and the log of a
// panic. It still gets its request ID, a panic is still recovered (unless
// WithoutPanicRecovery), and with tracing on, a span sampled when the
// request arrived is still ended, named and given its status like any
// other: sampling is decided before the handler runs; a sampler, or the
// collector, can drop such spans.
//
// # Runtime metrics (StartRuntime)
//
// StartRuntime records into the MeterProvider given WithMeterProvider, by
// default the OTel global one, as Middleware and Transport do; the full
// list, with names on /metrics, is docs/metrics.md.
//
//   - The Go runtime's, through go.opentelemetry.io/contrib/instrumentation/runtime
//     (go.memory.used, go.memory.limit, go.memory.allocated,
//     go.memory.allocations, go.memory.gc.goal, go.goroutine.count,
//     go.processor.limit, go.config.gogc), read at most every 15 s
//     (WithMinimumReadInterval). Contrib cannot stop them: they are
//     reported until the MeterProvider shuts down, so call StartRuntime once
//     per MeterProvider (a second call would double most values).
//   - GC and heap, under ScopeName: go.memory.gc.pause.time, the total
//     stop-the-world time (from the runtime's pause histogram, each pause
//     counted at its bucket's middle: within about 12 %), so that its rate
//     is the fraction of time paused; go.memory.heap.live, the heap the
//     last GC found reachable, the leak signal.
//   - Limits, under ScopeName: process.memory.limit (the smaller of
//     GOMEMLIMIT and the cgroup's memory limit, absent without either),
//     process.cpu.limit (the smallest of GOMAXPROCS, NumCPU and the cgroup's
//     CPU quota, fractional quotas kept) and system.memory.limit (MemTotal).
//     The cgroup files are found once and read at each collection.
//   - The process, under ScopeName, on Linux from /proc (procfs):
//     process.cpu.time, process.memory.usage, process.memory.virtual,
//     process.unix.file_descriptor.count and process.uptime; left out where
//     /proc cannot be read, and by WithoutProcess (which keeps the limits).
//
// Shutdown removes the metrics under ScopeName. Scheduler latency,
// go.schedule.duration (the time goroutines wait to run, the Go analogue of
// an event loop's lag), is a histogram the runtime aggregates, so it reaches
// readers as a Producer, RuntimeProducer, not through StartRuntime: register
// it on every reader (exporter.WithProducer, memory.WithProducer,
// sdkmetric.WithProducer). One producer serves concurrent readers.
//
// # Tracing
//
// With WithTracerProvider, each request gets a server span, a child of the
// trace context its headers carry (W3C trace context and baggage, or
// WithPropagators), named by method and route template, with the
// semantic-convention attributes (never the query string, the client's
// address or a header), the status code, status Error for a 5xx and an
// exception event for a panic. Attributes are set only when the sampler
// records the span, so that an unsampled request costs little more than
// one without tracing; measurements made in the request's context carry
// the span for trace-based exemplars. Against otelhttp with the same
// providers, see docs/benchmarks.md.
//
// # Client requests (Transport)
//
// Transport wraps an http.RoundTripper with the client side of the same
// conventions. http.client.request.duration (seconds, the conventions'
// buckets) has http.request.method (unknown methods become _OTHER),
// server.address and server.port of the URL (the origin, not a proxy; the
// scheme's port when the URL has none, which otelhttp leaves out, since the
// conventions require it), url.scheme and, when a response came,
// http.response.status_code, network.protocol.name and
// network.protocol.version (of the response: the version negotiated).
// error.type is the status code for a 4xx or 5xx, or, when no response
// came, one of the ClientError values ("timeout", "canceled",
// "connection_refused", ...) or else the error's Go type ("*url.Error"),
// past 64 such types Overflow. http.client.active_requests counts
// requests in flight by http.request.method, server.address, server.port
// and url.scheme. Each redirect and retry the http.Client makes is a
// request of its own.
//
// Transport and Middleware share the options that mean the same to both
// (WithMeterProvider, WithTracerProvider, WithPropagators, WithLogger,
// WithClock: a SharedOption), as otelhttp's handler and transport do; the
// TransportOption ones (WithMaxServerAddresses, WithTransportSpanName) are
// its own.
//
// The duration ends, and the request stops being active, when the base
// RoundTrip returns: once the response headers have arrived, or with the
// error. Reading the body is not included, as in otelhttp: the caller reads
// it at its own pace (a stream may never end), so the time to the headers
// is the one that measures the server and the network.
//
// The URL's path, query and user info are never attributes. server.address
// and server.port come from the URL, which the program may build from data
// (webhooks, redirects): at most WithMaxServerAddresses distinct pairs
// (default 50) are recorded per Transport; past them a request is recorded
// with server.address Overflow ("_OTHER") and no server.port.
//
// With WithTracerProvider, each request gets a CLIENT span, child of the
// span in the request's context, named after its method ("GET"; "HTTP" for
// a non-standard method; see WithTransportSpanName), with
// http.request.method, server.address, server.port, url.full (without
// user info, query or fragment, where tokens and signatures travel, and
// with the path normalised as NormalizePath does), http.response.status_code,
// network.protocol.version and error.type. Its status is Error for a 4xx, a
// 5xx or an error. The span ends when the response body is read to its end
// or closed (at once for a response without a body), so that it covers the
// download. Trace context (by default W3C traceparent and baggage) is
// written into a copy of the request: the caller's request, its header
// included, is never modified. Without a tracer provider no span is made;
// trace context already in the request's context (a server span, say) is
// still propagated, on a copy, and a request whose context has none is
// passed on as it is, response body included.
//
// With metrics only, Transport allocates nothing per request (but the copy
// of a request whose trace context it propagates): attribute sets are
// cached per (method, address, port, scheme, status, protocol, error type),
// and active requests are atomics read by an observable up-down counter,
// whose callback is unregistered once the Transport is unreachable.
//
// # Cost and concurrency
//
// The middleware is built once; per request it makes one state value (also
// the request's context), one request copy and nothing else on the usual
// path: attribute sets are cached per (method, route, status, scheme,
// protocol, error type), and active requests are atomics read by an
// observable counter. Everything is safe for concurrent use.
package instrument
