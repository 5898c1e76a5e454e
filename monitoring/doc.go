// Package monitoring is the HTTP surface of Vitals: the Prometheus
// exposition, the health probes, the monitoring API and the embedded
// dashboard, in one http.Handler built from the components it reads.
//
// # Entry point
//
// New takes a Config: the health registry (required), a History over the
// recent history (memory.Reader), the alert engine, the SLOs, the
// Prometheus handler and an authorizer. vitals.Start builds one and returns
// it from Vitals.Handler; a service that assembles the components itself
// calls New. Mount the handler at "/" of the service's mux, beside the
// service's own routes (the more specific patterns win):
//
//	mux.Handle("/", h)
//
// It works under a prefix with http.StripPrefix, or on a listener of its
// own.
//
// # Routes
//
//	GET /metrics                           the Prometheus exposition (Config.Metrics)
//	GET /livez, /readyz, /healthz          health (application/health+json; details only when authorized)
//	GET /monitoring/                       the dashboard page (embedded, works offline)
//	GET /monitoring/api/health             every check's last run, history and configuration
//	POST /monitoring/api/health/check      run every check now (authorized only)
//	GET /monitoring/api/system, /export    runtime and build information; everything in one document
//	/monitoring/prometheus/api/v1/...      Prometheus' HTTP API v1 (PrometheusAPIPath): query,
//	                                       query_range, series, labels, label/{name}/values,
//	                                       metadata, rules, alerts, status/buildinfo,
//	                                       status/runtimeinfo, format_query, query_exemplars
//	/monitoring/alertmanager/api/v2/...    Alertmanager's API v2 (AlertmanagerAPIPath): status,
//	                                       receivers, alerts, alerts/groups, silences, silence/{id}
//	GET|POST /monitoring/api/query         PromQL at one time (an alias of the API v1's query)
//	GET|POST /monitoring/api/query_range   PromQL over a time range (an alias of query_range)
//	GET /monitoring/api/performance        the performance summary (?window=15m)
//	GET /monitoring/api/metrics            every series with its latest value (?match=selector)
//	GET /monitoring/api/alerts, /alerts/history, /rules, /silences, /slos
//	POST /monitoring/api/alerts/{id}/resolve; POST /monitoring/api/silences; DELETE /monitoring/api/silences/{id}
//
// The query, performance and metrics routes exist only with a History, the
// alert, rule, silence and SLO routes only with an alert engine; without
// them those paths answer 404. A Prometheus client (Grafana's Prometheus
// data source, promtool, client_golang's api/prometheus/v1) takes
// http://HOST/monitoring/prometheus as its base URL. Handler.Routes lists what is registered.
// The query endpoints answer in Prometheus' JSON shape, errors included;
// every body is camelCase JSON with durations in seconds and RFC 3339
// times.
//
// # Authorization
//
// One authorizer (Config.Authorizer; BearerToken makes one from a token)
// decides who may see health details and use the endpoints that change
// state. Without one, details are hidden and those endpoints answer 403.
// Config.ProtectedReads puts the reading endpoints behind it too; /metrics
// and the probes stay open.
//
// # Limits
//
// Request bodies are capped at MaxRequestBody and PromQL expressions at
// MaxQueryLength. At most MaxConcurrentQueries requests run PromQL of the
// caller's choosing at once and MaxConcurrentSummaries the summaries the
// dashboard polls; a query request's body is read, within QueryBodyTimeout,
// before it takes a slot. docs/security.md lists every limit.
//
// # Monitoring traffic
//
// The handler marks its own requests with instrument.SkipRecording for an
// instrument.Middleware around the mux that mounts it: scrapes, probes and
// the dashboard's polling are not recorded (unless
// Config.CountHandlerRequests), and paths it does not serve are recorded
// under instrument.Overflow.
//
// # Concurrency
//
// A Handler is safe for concurrent use. It owns no goroutines and needs no
// shutdown: the components it reads have their own lifecycles.
package monitoring
