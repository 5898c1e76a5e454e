package vitals

import (
	"time"

	"errors"
	"fmt"
	"log/slog"
	"net/http"

	otellog "go.opentelemetry.io/otel/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/alerting/slo"
	"github.com/vitalsgo/vitals/bizmetrics"
	"github.com/vitalsgo/vitals/exporter"
	"github.com/vitalsgo/vitals/exporter/memory"
	"github.com/vitalsgo/vitals/instrument"
	"github.com/vitalsgo/vitals/internal/traceurl"
	"github.com/vitalsgo/vitals/monitoring"
)

// Option configures Start.
type Option interface {
	apply(config) config
}

type config struct {
	logger         *slog.Logger
	serviceName    string
	serviceVersion string
	exporterFuncs  []func(*exporter.MetricsConfig)
	readers        []sdkmetric.Reader
	global         bool
	memory         bool
	memoryOpts     []memory.Option
	tracerProvider trace.TracerProvider
	loggerProvider otellog.LoggerProvider
	runtime        bool
	runtimeOpts    []instrument.RuntimeOption
	authorize      func(*http.Request) bool
	protectReads   bool
	bizOpts        []bizmetrics.Option
	ruleFiles      []string
	alertGroups    []alerting.Group
	alertRoutes    []alerting.Route
	alertOpts      []alerting.Option
	slos           []slo.SLO
	externalURL    string
	traceURL       string
	defaultRules   bool
	countOwn       bool
	stateDir       string
	stateInterval  time.Duration
	// stateIntervalSet records that WithStateInterval was given, so that
	// a zero interval is refused rather than taken as the default.
	stateIntervalSet bool
}

func newConfig(opts []Option) config {
	c := config{logger: slog.Default(), memory: true, runtime: true, defaultRules: true}
	for _, o := range opts {
		c = o.apply(c)
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	return c
}

// validate refuses options that cannot take effect together, rather than
// dropping them silently.
func (c config) validate() error {
	var errs []error
	if err := traceurl.Check(c.traceURL); err != nil {
		errs = append(errs, fmt.Errorf("WithTraceURL: %w", err))
	}
	if c.stateIntervalSet && c.stateInterval <= 0 {
		errs = append(errs, fmt.Errorf("WithStateInterval(%v): the interval must be positive", c.stateInterval))
	}
	if !c.runtime && len(c.runtimeOpts) > 0 {
		errs = append(errs, errors.New("WithRuntime's options have no effect with WithoutRuntime"))
	}
	if c.memory {
		return errors.Join(errs...)
	}
	for _, o := range []struct {
		name string
		set  bool
	}{
		{"WithAlertRuleFiles", len(c.ruleFiles) > 0},
		{"WithAlertRules", len(c.alertGroups) > 0},
		{"WithAlertRoutes", len(c.alertRoutes) > 0},
		{"WithAlerting", len(c.alertOpts) > 0},
		{"WithSLOs", len(c.slos) > 0},
		{"WithMemory", len(c.memoryOpts) > 0},
		{"WithStateDir", c.stateDir != ""},
		{"WithStateInterval", c.stateIntervalSet},
		{"WithoutDefaultAlertRules", !c.defaultRules},
		{"WithExternalURL", c.externalURL != ""},
	} {
		if o.set {
			errs = append(errs, fmt.Errorf("%s has no effect with WithoutMemory: rules, alerts and SLOs are evaluated over the in-memory reader", o.name))
		}
	}
	return errors.Join(errs...)
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

// WithServiceName sets the service.name resource attribute, winning over
// OTEL_SERVICE_NAME. By default, OTEL_SERVICE_NAME, or
// "unknown_service:<executable>".
func WithServiceName(name string) Option {
	return optionFunc(func(c config) config {
		c.serviceName = name
		return c
	})
}

// WithServiceVersion sets the service.version resource attribute. By
// default, the main module's version from the build information.
func WithServiceVersion(version string) Option {
	return optionFunc(func(c config) config {
		c.serviceVersion = version
		return c
	})
}

// WithMetricsConfig lets code change the exporter configuration after it
// has been read from the environment: what fn sets wins. It may be given
// more than once; the functions run in order. By default, the configuration
// is exactly what exporter.MetricsConfigFromEnv reads.
func WithMetricsConfig(fn func(*exporter.MetricsConfig)) Option {
	return optionFunc(func(c config) config {
		c.exporterFuncs = append(c.exporterFuncs, fn)
		return c
	})
}

// WithLogger sets the logger for errors that have no caller (a failed
// background export); repeats are rate-limited. By default, slog.Default().
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c config) config {
		c.logger = l
		return c
	})
}

// WithReader adds metric readers to the provider, as exporter.WithReader
// does. By default, only the readers the configuration asks for exist.
func WithReader(rs ...sdkmetric.Reader) Option {
	return optionFunc(func(c config) config {
		c.readers = append(c.readers, rs...)
		return c
	})
}

// WithGlobal registers the provider as the OpenTelemetry global
// MeterProvider (otel.SetMeterProvider), so instrumentation that uses the
// global picks it up, and installs a global OTel error handler that logs
// through the Vitals logger at a bounded rate (once a minute per distinct
// error), so that SDK errors Vitals does not see itself (a failing
// observable callback during an OTLP push, say) cannot flood the log.
// By default, the globals are left alone.
func WithGlobal() Option {
	return optionFunc(func(c config) config {
		c.global = true
		return c
	})
}

// WithMemory configures the in-memory reader (collect interval, retention,
// series limit, query limits). opts come after Start's logger and may
// override it. By default, the memory package's defaults:
// a collection every 10 s kept for 6 h (memory.DefaultRetention), at most
// 20 000 series.
func WithMemory(opts ...memory.Option) Option {
	return optionFunc(func(c config) config {
		c.memory = true
		c.memoryOpts = append(c.memoryOpts, opts...)
		return c
	})
}

// WithoutMemory leaves out the in-memory reader: no PromQL over recent
// history, and one aggregation less per measurement. By default, the reader
// is on.
func WithoutMemory() Option {
	return optionFunc(func(c config) config {
		c.memory = false
		return c
	})
}

// WithTracerProvider turns tracing on with tp, which wins over the
// environment: Start builds no tracer provider of its own. The middleware,
// bizmetrics and the exemplars then use tp (see the package doc's
// Tracing). By default, Start builds one from OTEL_TRACES_EXPORTER and the
// OTLP variables (exporter.TracesConfigFromEnv): on when an OTLP endpoint
// is set, off otherwise.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c config) config {
		c.tracerProvider = tp
		return c
	})
}

// WithLoggerProvider sends Vitals' own log records (panics, server errors,
// slow requests, alerts, background errors) and those of the handlers
// LogHandler wraps through the OpenTelemetry logs bridge to lp, beside
// the slog logger (WithLogger). It wins over the environment. By default,
// Start builds one when OTEL_LOGS_EXPORTER names an exporter
// (exporter.LogsConfigFromEnv), and sends no records otherwise.
func WithLoggerProvider(lp otellog.LoggerProvider) Option {
	return optionFunc(func(c config) config {
		c.loggerProvider = lp
		return c
	})
}

// WithRuntime configures the Go runtime and process metrics (package
// instrument, StartRuntime). opts come after this Vitals' meter provider
// and may override it. By default, they are on with the package's
// defaults.
func WithRuntime(opts ...instrument.RuntimeOption) Option {
	return optionFunc(func(c config) config {
		c.runtime = true
		c.runtimeOpts = append(c.runtimeOpts, opts...)
		return c
	})
}

// WithoutRuntime leaves out the Go runtime and process metrics. By default,
// they are on.
func WithoutRuntime() Option {
	return optionFunc(func(c config) config {
		c.runtime = false
		return c
	})
}

// WithAuthorizer decides which requests may see health details (check
// outputs, observed values) and use the endpoints that change state (run
// all checks now, resolve alerts, create and expire silences):
// monitoring.Config.Authorizer. monitoring.BearerToken makes one from a
// token. By default there is no authorizer: details are hidden
// and state-changing endpoints answer 403.
func WithAuthorizer(fn func(*http.Request) bool) Option {
	return optionFunc(func(c config) config {
		c.authorize = fn
		return c
	})
}

// WithAdminToken is WithAuthorizer(monitoring.BearerToken(token)):
// requests carrying "Authorization: Bearer <token>" may see details and
// change state.
func WithAdminToken(token string) Option {
	return WithAuthorizer(monitoring.BearerToken(token))
}

// WithProtectedReads puts the reading endpoints of the monitoring API
// (/monitoring/api/...: health details, alerts, silences, queries,
// performance, metrics, system, export; Prometheus' API under
// /monitoring/prometheus and Alertmanager's under /monitoring/alertmanager)
// behind the authorizer too. /metrics
// and the health probes stay open for scrapers and orchestrators. By
// default, reads are open and details are shown only when authorized.
func WithProtectedReads() Option {
	return optionFunc(func(c config) config {
		c.protectReads = true
		return c
	})
}

// WithAlertRuleFiles loads Prometheus rule files into the alert engine,
// beside the default rules (DefaultAlertRules); an invalid or missing file
// stops Start with an error naming file, group and rule. By default, only
// the default rules run.
func WithAlertRuleFiles(paths ...string) Option {
	return optionFunc(func(c config) config {
		c.ruleFiles = append(c.ruleFiles, paths...)
		return c
	})
}

// WithoutDefaultAlertRules leaves out the default alert rules
// (DefaultAlertRules), for a service that brings its own or evaluates them
// in Prometheus. By default, they run in-process over the in-memory reader.
func WithoutDefaultAlertRules() Option {
	return optionFunc(func(c config) config {
		c.defaultRules = false
		return c
	})
}

// WithAlertRules adds rule groups built in Go. By default, there are none.
func WithAlertRules(groups ...alerting.Group) Option {
	return optionFunc(func(c config) config {
		c.alertGroups = append(c.alertGroups, groups...)
		return c
	})
}

// WithAlertRoutes sends alerts to notifiers (package notify: webhook,
// Slack, email, Alertmanager, ...), each behind its own notify.Queue. By
// default, every alert is logged.
func WithAlertRoutes(routes ...alerting.Route) Option {
	return optionFunc(func(c config) config {
		c.alertRoutes = append(c.alertRoutes, routes...)
		return c
	})
}

// WithAlerting configures the alert engine, for example how long its
// history keeps resolved alerts (alerting.WithHistoryRetention) or how
// alerts are restored after a restart with a state directory
// (alerting.WithOutageTolerance, alerting.WithForGracePeriod). opts come
// after Start's logger and meter provider and may override them. Routes
// come from WithAlertRoutes, which puts each notifier behind a queue: its
// routes (a log route by default) replace any alerting.WithRoutes given
// here, as WithExternalURL, when given, replaces alerting.WithExternalURL.
// By default, the alerting package's defaults.
func WithAlerting(opts ...alerting.Option) Option {
	return optionFunc(func(c config) config {
		c.alertOpts = append(c.alertOpts, opts...)
		return c
	})
}

// WithExternalURL sets the URL at which this service's Handler is reached,
// for links in notifications. By default, alerts carry no link.
func WithExternalURL(u string) Option {
	return optionFunc(func(c config) config {
		c.externalURL = u
		return c
	})
}

// WithTraceURL sets the address of a trace in the tracing backend, with
// "{trace_id}" where the trace ID goes, such as
// "https://tempo.example.com/trace/{trace_id}" or Jaeger's
// "https://jaeger.example.com/trace/{trace_id}": the dashboard links the
// trace IDs of its slowest traced requests to it. It must be an absolute
// http or https URL; Start refuses another. By default, trace IDs are shown
// without links.
func WithTraceURL(template string) Option {
	return optionFunc(func(c config) config {
		c.traceURL = template
		return c
	})
}

// WithCountHandlerRequests records the requests that Handler serves
// (scrapes of /metrics, health probes, the dashboard and its API) as
// application traffic when Middleware wraps a mux that mounts Handler. By
// default they are not recorded, so the performance summary, the dashboard
// and the default alert rules see only the application's requests.
func WithCountHandlerRequests() Option {
	return optionFunc(func(c config) config {
		c.countOwn = true
		return c
	})
}

// WithBizMetrics configures the business metrics (for example
// bizmetrics.WithNamespace("shop")). opts come after this Vitals' meter and
// tracer providers and may override them. By default, the bizmetrics
// defaults: namespace "app".
func WithBizMetrics(opts ...bizmetrics.Option) Option {
	return optionFunc(func(c config) config {
		c.bizOpts = append(c.bizOpts, opts...)
		return c
	})
}

// WithSLOs declares service level objectives: their recording rules and
// multiwindow, multi-burn-rate alerts (page and ticket, as the Google SRE
// workbook and Sloth define them) run in the alert engine, and
// /monitoring/api/slos reports each one. An invalid SLO stops Start with
// an error naming it. Each SLO keeps its 5-minute error ratio for its whole
// period (about 345 KB for 30 days), so the long windows and the budget do
// not depend on the in-memory reader's retention: see docs/slos.md. By
// default, there are none.
func WithSLOs(slos ...slo.SLO) Option {
	return optionFunc(func(c config) config {
		c.slos = append(c.slos, slos...)
		return c
	})
}
