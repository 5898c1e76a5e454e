package instrument

import (
	"log/slog"
	"net/http"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/vitalsgo/vitals/internal/clock"
)

// Defaults of the middleware options.
const (
	DefaultMaxRoutes     = 500
	DefaultSlowThreshold = time.Second
	// RequestIDHeader is the header a request ID is read from and written to.
	RequestIDHeader = "X-Request-Id"
	// OverflowRoute is the http.route of requests that matched no route (a
	// 404 or 405 without a template) or whose route would exceed its budget
	// (see WithMaxRoutes).
	OverflowRoute = "_OTHER"
)

// Option configures Middleware.
type Option interface {
	apply(config) config
}

type config struct {
	meterProvider  metric.MeterProvider
	tracerProvider trace.TracerProvider
	propagators    propagation.TextMapPropagator
	clock          clock.Clock
	logger         *slog.Logger
	routeFunc      func(*http.Request) string
	maxRoutes      int
	slow           time.Duration
	slowRoutes     map[string]time.Duration
	recoverPanics  bool
	errorHook      func(ErrorEvent)
	bodySizes      bool
	serverAddress  bool
}

func newConfig(opts []Option) config {
	c := config{
		clock:         clock.System{},
		maxRoutes:     DefaultMaxRoutes,
		slow:          DefaultSlowThreshold,
		recoverPanics: true,
	}
	for _, o := range opts {
		c = o.apply(c)
	}
	if c.meterProvider == nil {
		c.meterProvider = otel.GetMeterProvider()
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	if c.propagators == nil {
		c.propagators = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	}
	return c
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

// WithMeterProvider sets the provider the metrics are recorded with. By
// default, the OTel global provider (vitals.Vitals.Middleware passes its own).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c config) config {
		c.meterProvider = mp
		return c
	})
}

// WithTracerProvider turns tracing on: each request gets a server span
// (see the package documentation), trace context is extracted from the
// request, and slog records made with the request's context carry its
// trace ID. By default, tracing is off.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c config) config {
		c.tracerProvider = tp
		return c
	})
}

// WithPropagators sets how trace context is read from requests when
// tracing is on. By default, W3C Trace Context and Baggage.
func WithPropagators(p propagation.TextMapPropagator) Option {
	return optionFunc(func(c config) config {
		c.propagators = p
		return c
	})
}

// WithClock sets the clock that times requests. By default, the system clock.
func WithClock(clk clock.Clock) Option {
	return optionFunc(func(c config) config {
		if clk != nil {
			c.clock = clk
		}
		return c
	})
}

// WithLogger sets the logger for slow requests, recovered panics and
// server errors (5xx). By default, slog.Default().
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c config) config {
		c.logger = l
		return c
	})
}

// WithRouteFunc supplies the route template of a request for routers other
// than http.ServeMux (chi, gorilla, ...). It is called after the handler has
// returned, with the innermost request the middleware knows (see Routes);
// an empty result falls back to the next source. By default, the route is
// the ServeMux pattern, then a normalised path.
func WithRouteFunc(fn func(*http.Request) string) Option {
	return optionFunc(func(c config) config {
		c.routeFunc = fn
		return c
	})
}

// WithMaxRoutes sets the two budgets of http.route values. The
// application's templates (the ServeMux pattern, SetRoute, WithRouteFunc)
// may take n distinct values. Normalised paths (NormalizePath, for requests
// without a template) may take n attribute sets, each combination of a
// path with a method, status, ... counting once: they never add more than n
// series per instrument, nor more than n routes. A value past its budget is recorded
// as OverflowRoute. As normalised paths cannot take the templates' budget,
// a client flooding random URLs fills only theirs: the application's
// routes are still recorded as themselves, also under an SDK cardinality
// limit (2000 series with package exporter) while the application's own
// series plus n stay under it. The budgets hold at most 2n route values
// besides OverflowRoute, the normalised ones at most 787 bytes each (about
// 0.4 MB for n = 500). By default, DefaultMaxRoutes (500) each.
func WithMaxRoutes(n int) Option {
	return optionFunc(func(c config) config {
		if n > 0 {
			c.maxRoutes = n
		}
		return c
	})
}

// WithSlowThreshold sets the duration above which a request is slow:
// counted in vitals.http.server.slow_requests and logged once as a warning.
// perRoute overrides it for some routes (keys are route templates such as
// "/reports/{id}"). By default, DefaultSlowThreshold (1 s) for every route.
func WithSlowThreshold(d time.Duration, perRoute map[string]time.Duration) Option {
	return optionFunc(func(c config) config {
		if d > 0 {
			c.slow = d
		}
		c.slowRoutes = perRoute
		return c
	})
}

// WithoutPanicRecovery lets panics propagate to net/http (which logs them
// and closes the connection) instead of answering 500. The request is still
// recorded. By default, panics are recovered.
func WithoutPanicRecovery() Option {
	return optionFunc(func(c config) config {
		c.recoverPanics = false
		return c
	})
}

// WithErrorHook calls fn for every 5xx response and recovered panic, after
// the response, with the request's headers redacted (see ErrorEvent). Bodies
// are never captured. By default, there is no hook.
func WithErrorHook(fn func(ErrorEvent)) Option {
	return optionFunc(func(c config) config {
		c.errorHook = fn
		return c
	})
}

// WithBodySizes also records http.server.request.body.size and
// http.server.response.body.size: two more histogram recordings per request.
// By default, they are not recorded.
func WithBodySizes() Option {
	return optionFunc(func(c config) config {
		c.bodySizes = true
		return c
	})
}

// WithServerAddress adds server.address and server.port (from the Host
// header) to the metrics. The Host header is chosen by the client, so
// distinct values are capped like routes. By default, they are left out, as
// the semantic conventions make them opt-in.
func WithServerAddress() Option {
	return optionFunc(func(c config) config {
		c.serverAddress = true
		return c
	})
}
