package monitoring

import (
	"context"
	"errors"
	"fmt"
	"github.com/vitalsgo/vitals/internal/traceurl"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/alerting/slo"
	"github.com/vitalsgo/vitals/exporter/memory"
	"github.com/vitalsgo/vitals/healthcheck"
	"github.com/vitalsgo/vitals/instrument"
)

// History is the recent history the API reads: PromQL at one time and over
// a range, the time that stands for now, how far back it reaches, its
// series and label values, and the metric families' metadata.
// memory.Reader implements it.
type History interface {
	memory.Evaluator
	// QueryRange evaluates expr at every step from start to end.
	QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) (memory.Result, error)
	// Retention is how far back the history reaches.
	Retention() time.Duration
	// Queryable reads the series themselves, for the series and label
	// endpoints of Prometheus' API.
	storage.Queryable
	// Metadata returns each metric family's type, help and unit.
	Metadata() map[string]memory.Metadata
	// Exemplars returns the exemplars between start and end (both
	// included) of the series that match any of sets.
	Exemplars(ctx context.Context, start, end time.Time, sets ...[]*labels.Matcher) ([]exemplar.QueryResult, error)
}

var _ History = (*memory.Reader)(nil)

// Health is what the health endpoints serve; *healthcheck.Registry is one.
type Health interface {
	healthcheck.Prober
	// RunAll runs every check.
	RunAll(ctx context.Context) healthcheck.Report
	// Results returns the latest result of every check.
	Results() []healthcheck.CheckResult
}

var _ Health = (*healthcheck.Registry)(nil)

// Alerting is what the alert, rule, silence and SLO endpoints serve;
// *alerting.Engine is one.
type Alerting interface {
	// Now is the time alert ages and silence states are judged at.
	Now() time.Time
	// Alerts returns the pending, firing and recently resolved alerts.
	Alerts() []alerting.Alert
	// History returns the resolved alerts and firing counts.
	History() alerting.AlertHistory
	// Rules returns the state of every rule.
	Rules() []alerting.RuleStatus
	// Resolve resolves the alert with id by hand, for reason.
	Resolve(id, reason string) error
	// Silences returns the silences the alerts are muted by.
	Silences() *alerting.Silences
}

var _ Alerting = (*alerting.Engine)(nil)

// Config is what the handler serves. Health is required; a nil History or
// Alerting leaves out the endpoints that need it.
type Config struct {
	// Health is the registry served on /livez, /readyz, /healthz and
	// /monitoring/api/health.
	Health Health
	// History serves the PromQL endpoints, the performance summary and the
	// series list. Nil leaves them out (404).
	History History
	// Alerting serves the alert, rule, silence and SLO endpoints. Nil leaves
	// them out (404).
	Alerting Alerting
	// SLOs are reported, with their alerts, on /monitoring/api/slos and in
	// the performance summary. They need a History, and are reported only
	// when Alerting is set: without it, /monitoring/api/slos is not
	// registered (404) and the summary leaves them out.
	SLOs []slo.SLO
	// Metrics serves GET /metrics. Nil answers 404 saying that the
	// Prometheus exporter is not enabled.
	Metrics http.Handler
	// Service describes the service in the health responses.
	Service healthcheck.ServiceInfo
	// Authorizer reports whether a request may see details and use the
	// mutating endpoints (BearerToken makes one). Nil authorizes nothing:
	// details are hidden and mutations refused with 403.
	Authorizer func(*http.Request) bool
	// ProtectedReads puts the reading endpoints of the monitoring API behind
	// the Authorizer too. /metrics and the health probes stay open.
	ProtectedReads bool
	// CountHandlerRequests lets a Middleware around the mux that mounts the
	// handler record the handler's own requests, which it skips by default.
	CountHandlerRequests bool
	// CacheSeries is the counter the summary reads the cache hit ratio from
	// (see performance.WithCacheSeries). Empty means the summary's default.
	CacheSeries string
	// Started is when the service started, for /monitoring/api/system. The
	// zero value means when New was called.
	Started time.Time
	// TraceURL is the address of a trace in the tracing backend, with
	// "{trace_id}" where the trace ID goes, such as
	// "https://tempo.example.com/trace/{trace_id}": the dashboard links the
	// trace IDs of exemplars to it. It must be an absolute http or https
	// URL. Empty shows trace IDs without links.
	TraceURL string
}

// Handler serves the vital signs over HTTP: metrics, health, the
// monitoring API and the dashboard (see the package documentation for the
// routes). It is safe for concurrent use.
type Handler struct {
	mux    *http.ServeMux
	routes []string // the ServeMux patterns, in registration order

	health       Health
	query        History
	alerts       Alerting
	slos         []slo.SLO
	authorize    func(*http.Request) bool
	protectReads bool
	countOwn     bool
	cacheSeries  string
	started      time.Time
	querySlots   chan struct{} // one per running PromQL request of the caller's (limitQueries)
	summarySlots chan struct{} // one per running summary the dashboard polls
	bodyTimeout  time.Duration // QueryBodyTimeout
	traceURL     string        // Config.TraceURL
}

// TraceIDPlaceholder is where Config.TraceURL takes the trace ID.
const TraceIDPlaceholder = traceurl.Placeholder

// New returns the handler for cfg. It is an error if cfg has no Health
// registry, or has SLOs without a History.
func New(cfg Config) (*Handler, error) {
	if cfg.Health == nil {
		return nil, errors.New("monitoring: Config.Health is nil")
	}
	if len(cfg.SLOs) > 0 && cfg.History == nil {
		return nil, errors.New("monitoring: Config.SLOs need a History")
	}
	if err := traceurl.Check(cfg.TraceURL); err != nil {
		return nil, fmt.Errorf("monitoring: Config.TraceURL: %w", err)
	}
	m := &Handler{
		mux:          http.NewServeMux(),
		health:       cfg.Health,
		query:        cfg.History,
		alerts:       cfg.Alerting,
		slos:         slices.Clone(cfg.SLOs),
		authorize:    cfg.Authorizer,
		protectReads: cfg.ProtectedReads,
		countOwn:     cfg.CountHandlerRequests,
		cacheSeries:  cfg.CacheSeries,
		started:      cfg.Started,
		querySlots:   make(chan struct{}, MaxConcurrentQueries),
		summarySlots: make(chan struct{}, MaxConcurrentSummaries),
		bodyTimeout:  QueryBodyTimeout,
		traceURL:     cfg.TraceURL,
	}
	if m.started.IsZero() {
		m.started = time.Now()
	}
	m.register(cfg)
	return m, nil
}

// Routes returns the ServeMux patterns the handler serves, such as
// "GET /metrics" and "POST /monitoring/api/silences", for a reverse proxy's
// allow list or the service's documentation.
func (m *Handler) Routes() []string { return slices.Clone(m.routes) }

// handle registers h on pattern; every route goes through it, so that
// m.routes lists them all.
func (m *Handler) handle(pattern string, h http.Handler) {
	m.mux.Handle(pattern, h)
	m.routes = append(m.routes, pattern)
}

// register adds every route cfg calls for.
func (m *Handler) register(cfg Config) {
	if cfg.Metrics != nil {
		m.handle("GET /metrics", cfg.Metrics)
	} else {
		m.handle("GET /metrics", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "the Prometheus exporter is not enabled (see OTEL_METRICS_EXPORTER)", http.StatusNotFound)
		}))
	}
	hopts := []healthcheck.HandlerOption{healthcheck.WithAuthorizer(m.authorized), healthcheck.WithServiceInfo(cfg.Service)}
	m.handle("/livez", healthcheck.Handler(m.health, healthcheck.Liveness, hopts...))
	m.handle("/readyz", healthcheck.Handler(m.health, healthcheck.Readiness, hopts...))
	m.handle("/healthz", healthcheck.Handler(m.health, healthcheck.Liveness|healthcheck.Readiness, hopts...))
	read := m.requireRead
	// query is for the reads that run PromQL of the caller's choosing over
	// the history; summary for the fixed ones the dashboard polls.
	query := func(h http.HandlerFunc) http.HandlerFunc { return read(m.limitQueries(m.querySlots, h)) }
	summary := func(h http.HandlerFunc) http.HandlerFunc { return read(m.limitQueries(m.summarySlots, h)) }
	// The page is static; the data it shows comes from the API below.
	dashboard := dashboardHandler()
	m.handle("GET /monitoring/{$}", dashboard)
	m.handle("GET /monitoring/{file}", dashboard)
	m.handle("GET /monitoring/api/health", read(m.healthDetails))
	m.handle("POST /monitoring/api/health/check", m.requireAuth(m.healthRunAll))
	m.handle("GET /monitoring/api/system", read(m.system))
	m.handle("GET /monitoring/api/export", query(m.export))
	if m.alerts != nil {
		m.handle("GET /monitoring/api/alerts", read(m.listAlerts))
		m.handle("GET /monitoring/api/rules", read(m.listRules))
		m.handle("GET /monitoring/api/alerts/history", read(m.alertHistory))
		m.handle("POST /monitoring/api/alerts/{id}/resolve", m.requireAuth(m.resolveAlert))
		m.handle("GET /monitoring/api/silences", read(m.listSilences))
		m.handle("POST /monitoring/api/silences", m.requireAuth(m.createSilence))
		m.handle("DELETE /monitoring/api/silences/{id}", m.requireAuth(m.expireSilence))
		m.handle("GET /monitoring/api/slos", summary(m.listSLOs))
		m.registerAlertmanagerAPI()
	}
	if m.query != nil {
		api := &queryAPI{mem: m.query}
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			m.handle(method+" /monitoring/api/query", query(api.query))
			m.handle(method+" /monitoring/api/query_range", query(api.queryRange))
		}
		m.handle("GET /monitoring/api/performance", summary(m.performance))
		m.handle("GET /monitoring/api/metrics", query(m.metricsList))
	}
	m.registerPrometheusAPI(query)
	m.handle("/monitoring/api/", http.HandlerFunc(m.apiNotFound))
}

// apiNotFound answers a monitoring API path no route matches.
func (m *Handler) apiNotFound(w http.ResponseWriter, r *http.Request) {
	m.notFound(w, r, "/monitoring/api/", "no such monitoring endpoint")
}

// notFound answers a path under catchAll (the pattern that caught it) that
// no route matches: 405 naming the methods the path has, else 404 with
// msg. It hides ServeMux's own 405s, which are not JSON.
func (m *Handler) notFound(w http.ResponseWriter, r *http.Request, catchAll, msg string) {
	var allow []string
	for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = method
		if _, pattern := m.mux.Handler(probe); pattern != catchAll {
			allow = append(allow, method)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeJSON(w, http.StatusMethodNotAllowed, apiResponse{Status: "error", ErrorType: "method_not_allowed",
			Error: r.Method + " is not allowed on " + r.URL.Path + "; allowed: " + strings.Join(allow, ", ")})
		return
	}
	writeJSON(w, http.StatusNotFound, apiResponse{Status: "error", ErrorType: "not_found", Error: msg + ": " + r.URL.Path})
}

// ServeHTTP serves r, marking it for an instrument.Middleware around the
// mux that mounts the handler: the handler's own requests are not
// recorded (unless Config.CountHandlerRequests), and paths it does not serve
// are recorded as a request that matched no route.
func (m *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := m.mux.Handler(r); pattern == "" {
		// Not one of ours: mounted at "/", the handler gets the service's
		// unknown paths too. Their 404 is the service's traffic.
		instrument.SetRoute(r.Context(), instrument.Overflow)
	} else if !m.countOwn {
		// Scrapes, probes and the dashboard's polling are not the
		// service's traffic.
		instrument.SkipRecording(r.Context())
	}
	m.mux.ServeHTTP(w, r)
}
