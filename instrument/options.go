package instrument

import (
	"log/slog"
	"net/http"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/vitalsgo/vitals/clock"
)

// Defaults of the middleware options.
const (
	// DefaultMaxRoutes is the default of WithMaxRoutes.
	DefaultMaxRoutes = 500
	// DefaultSlowThreshold is the default of WithSlowThreshold.
	DefaultSlowThreshold = time.Second
)

// RequestIDHeader is the header a request ID is read from and written to.
const RequestIDHeader = "X-Request-Id"

// Overflow is the semantic conventions' "_OTHER", recorded in place of
// a value past its cap: the http.route of a request that matched no route
// (a 404 or 405 without a template) or whose route would exceed its budget
// (WithMaxRoutes), the server.address past the cap of WithServerAddress or
// of Transport's WithMaxServerAddresses, and error.type past its cap.
const Overflow = "_OTHER"

// Option configures Middleware.
type Option interface {
	apply(config) config
}

// SharedOption configures both Middleware and Transport, as otelhttp's
// options configure both its handler and its transport.
type SharedOption interface {
	Option
	TransportOption
}

// MeterProviderOption is WithMeterProvider's: it configures Middleware,
// Transport and StartRuntime.
type MeterProviderOption interface {
	SharedOption
	RuntimeOption
}

// httpConfig is what Middleware and Transport share.
type httpConfig struct {
	meterProvider  metric.MeterProvider
	tracerProvider trace.TracerProvider
	propagators    propagation.TextMapPropagator
	clock          clock.Clock
	logger         *slog.Logger
}

// withDefaults fills in what no option set.
func (c httpConfig) withDefaults() httpConfig {
	if c.meterProvider == nil {
		c.meterProvider = otel.GetMeterProvider()
	}
	if c.clock == nil {
		c.clock = clock.System{}
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	if c.propagators == nil {
		c.propagators = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	}
	return c
}

type config struct {
	httpConfig
	routeFunc     func(*http.Request) string
	maxRoutes     int
	slow          time.Duration
	slowRoutes    map[string]time.Duration
	recoverPanics bool
	errorHook     func(ErrorEvent)
	bodySizes     bool
	serverAddress bool
}

func newConfig(opts []Option) config {
	c := config{
		maxRoutes:     DefaultMaxRoutes,
		slow:          DefaultSlowThreshold,
		recoverPanics: true,
	}
	for _, o := range opts {
		if o != nil {
			c = o.apply(c)
		}
	}
	c.httpConfig = c.httpConfig.withDefaults()
	return c
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

// sharedOptionFunc sets what Middleware and Transport share.
type sharedOptionFunc func(httpConfig) httpConfig

func (f sharedOptionFunc) apply(c config) config {
	c.httpConfig = f(c.httpConfig)
	return c
}

func (f sharedOptionFunc) applyTransport(c transportConfig) transportConfig {
	c.httpConfig = f(c.httpConfig)
	return c
}

// meterProviderOption is WithMeterProvider's.
type meterProviderOption struct{ mp metric.MeterProvider }

func (o meterProviderOption) apply(c config) config {
	c.meterProvider = o.mp
	return c
}

func (o meterProviderOption) applyTransport(c transportConfig) transportConfig {
	c.meterProvider = o.mp
	return c
}

func (o meterProviderOption) applyRuntime(c runtimeConfig) runtimeConfig {
	c.meterProvider = o.mp
	return c
}

// WithMeterProvider sets the provider that Middleware, Transport and
// StartRuntime record their metrics with. By default (or with nil), the
// OTel global provider, otel.GetMeterProvider(); vitals.Start passes its own.
func WithMeterProvider(mp metric.MeterProvider) MeterProviderOption {
	return meterProviderOption{mp}
}

// WithTracerProvider turns tracing on: Middleware makes a server span per
// request from the trace context the request carries, and Transport a
// client span per request, whose trace context it injects into the request
// sent (see the package documentation). By default, tracing is off.
func WithTracerProvider(tp trace.TracerProvider) SharedOption {
	return sharedOptionFunc(func(c httpConfig) httpConfig {
		c.tracerProvider = tp
		return c
	})
}

// WithPropagators sets how trace context is read from the requests
// Middleware receives (when tracing is on) and written into those
// Transport sends. By default, W3C Trace Context and Baggage.
func WithPropagators(p propagation.TextMapPropagator) SharedOption {
	return sharedOptionFunc(func(c httpConfig) httpConfig {
		c.propagators = p
		return c
	})
}

// WithClock sets the clock that times requests. By default, the system clock.
func WithClock(clk clock.Clock) SharedOption {
	return sharedOptionFunc(func(c httpConfig) httpConfig {
		if clk != nil {
			c.clock = clk
		}
		return c
	})
}

// WithLogger sets the logger told when the metrics cannot be created and,
// for Middleware, of slow requests, recovered panics and server errors
// (5xx). By default, slog.Default().
func WithLogger(l *slog.Logger) SharedOption {
	return sharedOptionFunc(func(c httpConfig) httpConfig {
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

// WithMaxRoutes sets the two budgets of http.route values: n distinct
// templates of the application, and n series of normalised paths; a value
// past its budget is recorded as Overflow, so that a client flooding
// random URLs cannot crowd out the application's routes (see "Routes" in
// the package documentation). n <= 0 keeps the default, DefaultMaxRoutes
// (500) each.
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
// "/reports/{id}"). d <= 0 keeps the default, DefaultSlowThreshold (1 s),
// for every route.
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
// header) to the metrics. The Host header is chosen by the client, so at
// most DefaultMaxServerAddresses (50) distinct values are recorded; requests
// with any other are recorded with server.address [Overflow] and no
// server.port. By default, both are left out, as the semantic conventions
// make them opt-in.
func WithServerAddress() Option {
	return optionFunc(func(c config) config {
		c.serverAddress = true
		return c
	})
}
