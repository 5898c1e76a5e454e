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
// default the OTel global one (otel.GetMeterProvider), as Middleware and
// Transport do.
//
// Go runtime:
//
// Through go.opentelemetry.io/contrib/instrumentation/runtime (scope
// runtime.ScopeName), as the semantic conventions name them, with their
// names on /metrics:
//
//	go.memory.used          By           go_memory_used_bytes{go_memory_type="stack"|"other"}
//	go.memory.limit         By           go_memory_limit_bytes (only with a limit: GOMEMLIMIT)
//	go.memory.allocated     By           go_memory_allocated_bytes_total
//	go.memory.allocations   {allocation} go_memory_allocations_total
//	go.memory.gc.goal       By           go_memory_gc_goal_bytes
//	go.goroutine.count      {goroutine}  go_goroutine_count
//	go.processor.limit      {thread}     go_processor_limit (GOMAXPROCS)
//	go.config.gogc          %            go_config_gogc_percent
//
// These are read at most every 15 s (see WithMinimumReadInterval). The
// contrib instrumentation has no way to stop: they are reported until the
// MeterProvider shuts down, even after Shutdown, so call StartRuntime once
// per MeterProvider
// (after a second call, the SDK would add up both calls' observations and
// report most values doubled). Contrib also reads the environment:
// OTEL_GO_X_DEPRECATED_RUNTIME_METRICS=true adds its deprecated runtime.go.*
// metrics.
//
// Scheduler latency, go.schedule.duration (on /metrics
// go_schedule_duration_seconds_bucket, _sum and _count), is the time
// goroutines spent runnable before they ran, the Go analogue of an event
// loop's lag. The runtime aggregates it as a histogram (from
// /sched/latencies:seconds, with its own bucket boundaries, about 160 of
// them), so it reaches readers as an sdkmetric.Producer, RuntimeProducer,
// not through a MeterProvider or StartRuntime. Register it on every reader:
// exporter.WithProducer for the readers exporter.NewMeterProvider builds,
// memory.WithProducer for the in-memory reader, sdkmetric.WithProducer for
// others. One producer may serve several readers collecting concurrently:
// each gets its own copy of the histogram. It reads the runtime at most
// every 15 s and reports the previous read in between. It is contrib's
// runtime.NewProducer, made safe for concurrent readers.
//
// GC pauses and live heap:
//
//	go.memory.gc.pause.time s  go_memory_gc_pause_time_seconds_total
//	go.memory.heap.live     By go_memory_heap_live_bytes
//
// go.memory.gc.pause.time is the total time the world was stopped for
// garbage collection, from runtime/metrics /sched/pauses/total/gc:seconds:
// a cumulative counter, as the semantic conventions' dotnet.gc.pause.time,
// so that rate(go_memory_gc_pause_time_seconds_total[5m]) is the fraction
// of time the program was paused. The runtime keeps a histogram of pause
// lengths, not their sum: each pause counts as the middle of its bucket,
// which puts the total within about 12 % of the truth (the buckets are a
// quarter of a power of two wide). The histogram itself, the opt-in
// semantic convention go.memory.gc.pause.duration, is not reported: a
// histogram the runtime aggregates can only be a reader's Producer, which
// Shutdown could not remove, and the Go team points to go.schedule.duration as
// the better signal of a program kept from running.
//
// go.memory.heap.live is the heap the last garbage collection found
// reachable (runtime/metrics /gc/heap/live:bytes): what a leak makes grow
// without end, and what a bounded cache stops growing once full. It has
// none of the sawtooth of the heap between collections, nor the memory
// the runtime has not yet returned to the operating system.
//
// Limits:
//
//	process.memory.limit By    process_memory_limit_bytes
//	process.cpu.limit    {cpu} process_cpu_limit
//	system.memory.limit  By    system_memory_limit_bytes
//
// process.memory.limit is the memory the process may use: the smaller of
// GOMEMLIMIT (runtime/debug.SetMemoryLimit), when one is set, and the
// memory limit of its cgroup (cgroup v2 memory.max, v1
// memory.limit_in_bytes, of its own cgroup and its ancestors), when there
// is one. It is absent when there is neither: "max", and values of 2^62
// bytes or more (cgroup v1 writes 2^63 rounded down to a page for none),
// mean no limit.
//
// process.cpu.limit is the number of CPUs the process can keep busy: the
// smallest of GOMAXPROCS, the CPUs it may run on (runtime.NumCPU) and its
// cgroup's CPU quota (v2 cpu.max, v1 cpu.cfs_quota_us / cpu.cfs_period_us),
// which may be fractional: with a quota of 0.5 CPU, GOMAXPROCS is 2 (the
// runtime rounds a quota up, to at least 2) but the process is throttled
// at 0.5. rate(process_cpu_time_seconds_total[5m]) / process_cpu_limit is
// the process' CPU saturation.
//
// system.memory.limit is the machine's memory (MemTotal of /proc/meminfo),
// as the semantic conventions name it, absent where /proc cannot be read:
// what bounds a process that has no limit of its own.
//
// The cgroup files are found once, from /proc/self/cgroup, and read at each
// collection, since a container's limits can change while it runs.
// WithoutProcess does not remove the limits.
//
// Process:
//
// On Linux, read from /proc with github.com/prometheus/procfs, all in one
// callback, as the semantic conventions name them:
//
//	process.cpu.time                    s                 process_cpu_time_seconds_total{cpu_mode="user"|"system"}
//	process.memory.usage                By                process_memory_usage_bytes (resident set)
//	process.memory.virtual              By                process_memory_virtual_bytes
//	process.unix.file_descriptor.count  {file_descriptor} process_unix_file_descriptor_count
//	process.uptime                      s                 process_uptime_seconds
//
// Where /proc cannot be read (other systems), they are left out and
// StartRuntime does not fail. WithoutProcess leaves them out everywhere.
//
// The GC pause, live heap, limit and process metrics have the scope
// ScopeName, all of them, so that PromQL can divide one by another without
// ignoring labels; Shutdown removes them.
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
