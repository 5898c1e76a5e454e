package monitoring

import (
	"context"
	"log/slog"
	"net/http"
	"testing"

	"go.opentelemetry.io/otel/metric"
	"go.uber.org/goleak"

	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/alerting/slo"
	"github.com/vitalsgo/vitals/exporter"
	"github.com/vitalsgo/vitals/exporter/memory"
	"github.com/vitalsgo/vitals/healthcheck"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// env is what the handler serves in a test, built as Start builds it but
// without Start: a provider with a Prometheus exporter and a memory reader,
// a health registry and an alert engine (whose loop does not run; tests
// call Eval).
type env struct {
	h        *Handler
	provider *exporter.MeterProvider
	mem      *memory.Reader
	health   *healthcheck.Registry
	alerts   *alerting.Engine
}

// envConfig is what envOptions set.
type envConfig struct {
	cfg      Config
	memOpts  []memory.Option
	noMemory bool
	groups   []alerting.Group
}

type envOption func(*envConfig)

// discard is the components' logger: what they log is not under test here.
var discard = slog.New(slog.DiscardHandler)

func withAuthorizer(fn func(*http.Request) bool) envOption {
	return func(c *envConfig) { c.cfg.Authorizer = fn }
}

func withAdminToken(token string) envOption { return withAuthorizer(BearerToken(token)) }

func withProtectedReads() envOption { return func(c *envConfig) { c.cfg.ProtectedReads = true } }

func withService(info healthcheck.ServiceInfo) envOption {
	return func(c *envConfig) { c.cfg.Service = info }
}

func withAlertRules(groups ...alerting.Group) envOption {
	return func(c *envConfig) { c.groups = append(c.groups, groups...) }
}

func withSLOs(slos ...slo.SLO) envOption {
	return func(c *envConfig) { c.cfg.SLOs = append(c.cfg.SLOs, slos...) }
}

func withMemory(opts ...memory.Option) envOption {
	return func(c *envConfig) { c.memOpts = append(c.memOpts, opts...) }
}

func withoutMemory() envOption { return func(c *envConfig) { c.noMemory = true } }

// newEnv builds the handler over real components; t's cleanup stops them.
func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	var c envConfig
	for _, o := range opts {
		o(&c)
	}
	ctx := context.Background()
	v := &env{}
	var eopts []exporter.Option
	if !c.noMemory {
		v.mem = memory.New(append([]memory.Option{memory.WithLogger(discard)}, c.memOpts...)...)
		eopts = append(eopts, exporter.WithReader(v.mem.SDKReaders()...))
	}
	p, err := exporter.NewMeterProvider(ctx, exporter.MetricsConfig{ServiceName: "test", Exporters: []exporter.MetricsExporter{exporter.MetricsPrometheus}}, eopts...)
	if err != nil {
		t.Fatal(err)
	}
	v.provider = p
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	if v.health, err = healthcheck.New(healthcheck.WithMeterProvider(p), healthcheck.WithLogger(discard)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.health.Shutdown(context.Background()) })
	cfg := c.cfg
	cfg.Health, cfg.Metrics = v.health, p.PrometheusHandler()
	if v.mem != nil {
		if err := v.mem.Instrument(p); err != nil {
			t.Fatal(err)
		}
		// No Run: the tests collect by hand (Collect), on their clock.
		groups := c.groups
		if len(cfg.SLOs) > 0 {
			sloGroups, err := slo.InProcessRules(cfg.SLOs...)
			if err != nil {
				t.Fatal(err)
			}
			groups = append(groups, sloGroups...)
		}
		if v.alerts, err = alerting.New(v.mem, groups, alerting.WithMeterProvider(p), alerting.WithLogger(discard)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = v.alerts.Shutdown(context.Background()) })
		cfg.History, cfg.Alerting = v.mem, v.alerts
	}
	if v.h, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	return v
}

func (v *env) Handler() http.Handler          { return v.h }
func (v *env) Alerts() *alerting.Engine       { return v.alerts }
func (v *env) Health() *healthcheck.Registry  { return v.health }
func (v *env) Memory() *memory.Reader         { return v.mem }
func (v *env) Meter(name string) metric.Meter { return v.provider.Meter(name) }
