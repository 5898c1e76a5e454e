package vitals_test

import (
	"context"
	"strings"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/goleak"

	"github.com/vitalsgo/vitals"
	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/alerting/slo"
	"github.com/vitalsgo/vitals/exporter/memory"
	"github.com/vitalsgo/vitals/instrument"
)

// TestStartRefusesOptionsWithoutEffect: options that cannot take effect
// (those that need the in-memory reader given with WithoutMemory, runtime
// options with WithoutRuntime, a state interval that is not positive) are
// errors naming them, not dropped.
func TestStartRefusesOptionsWithoutEffect(t *testing.T) {
	vitals.CleanEnv(t)
	for _, tc := range []struct {
		opts []vitals.Option
		want []string
	}{
		{[]vitals.Option{vitals.WithAlertRuleFiles("docs/rules/shop-slos.yml")}, []string{"WithAlertRuleFiles", "WithoutMemory"}},
		{[]vitals.Option{vitals.WithAlertRules(alerting.Group{Name: "g", Rules: []alerting.Rule{{Alert: "A", Expr: "vector(1)"}}})}, []string{"WithAlertRules", "WithoutMemory"}},
		{[]vitals.Option{vitals.WithSLOs(slo.HTTPAvailability("avail", 0.99, ""))}, []string{"WithSLOs", "WithoutMemory"}},
		{[]vitals.Option{vitals.WithMemory(memory.WithRetention(0))}, []string{"WithMemory", "WithoutMemory"}},
		{[]vitals.Option{vitals.WithAlerting(alerting.WithHistoryRetention(time.Hour, 10))}, []string{"WithAlerting", "WithoutMemory"}},
		{[]vitals.Option{vitals.WithStateInterval(time.Minute)}, []string{"WithStateInterval", "WithoutMemory"}},
		{[]vitals.Option{vitals.WithExternalURL("https://shop.example.com")}, []string{"WithExternalURL", "WithoutMemory"}},
		{[]vitals.Option{vitals.WithoutDefaultAlertRules()}, []string{"WithoutDefaultAlertRules", "WithoutMemory"}},
		{[]vitals.Option{vitals.WithRuntime(instrument.WithoutProcess()), vitals.WithoutRuntime()}, []string{"WithRuntime", "WithoutRuntime"}},
		{[]vitals.Option{vitals.WithStateInterval(0)}, []string{"WithStateInterval(0s)", "positive"}},
		{[]vitals.Option{vitals.WithStateInterval(-time.Second)}, []string{"WithStateInterval(-1s)", "positive"}},
	} {
		opts := tc.opts
		if tc.want[1] == "WithoutMemory" {
			opts = append(opts, vitals.WithoutMemory())
		}
		v, err := vitals.Start(t.Context(), opts...)
		if err == nil {
			_ = v.Shutdown(t.Context())
			t.Errorf("%v: Start succeeded", tc.want)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q does not name %s", tc.want, err, w)
			}
		}
	}
	// The runtime options are kept when the runtime is switched back on.
	v, err := vitals.Start(t.Context(), vitals.WithoutRuntime(), vitals.WithRuntime(instrument.WithoutProcess()), vitals.WithoutMemory())
	if err != nil {
		t.Fatalf("WithoutRuntime then WithRuntime: %v", err)
	}
	_ = v.Shutdown(t.Context())
}

// TestStartRollsBack: a Start that fails late (a bad rule file, after the
// provider, the memory reader and the runtime metrics started) leaves no
// goroutine running.
func TestStartRollsBack(t *testing.T) {
	vitals.CleanEnv(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	v, err := vitals.Start(t.Context(), vitals.WithAlertRuleFiles("testdata/does-not-exist.yml"))
	if err == nil {
		_ = v.Shutdown(t.Context())
		t.Fatal("Start accepted a missing rule file")
	}
	if v != nil {
		t.Error("Start returned a Vitals with its error")
	}
	if !strings.HasPrefix(err.Error(), "vitals: ") || strings.HasPrefix(err.Error(), "vitals: vitals:") {
		t.Errorf("error %q: want one vitals: prefix", err)
	}
}

// TestWithReader: every reader given to WithReader reads what Vitals'
// provider records.
func TestWithReader(t *testing.T) {
	vitals.CleanEnv(t)
	a, b := sdkmetric.NewManualReader(), sdkmetric.NewManualReader()
	v, err := vitals.Start(t.Context(), vitals.WithReader(a, b), vitals.WithoutMemory(), vitals.WithoutRuntime())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = v.Shutdown(t.Context()) }()
	c, err := v.Meter("test").Int64Counter("hits")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(t.Context(), 3)
	for name, r := range map[string]*sdkmetric.ManualReader{"first": a, "second": b} {
		var rm metricdata.ResourceMetrics
		if err := r.Collect(t.Context(), &rm); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if s, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == "hits" && len(s.DataPoints) == 1 && s.DataPoints[0].Value == 3 {
					found = true
				}
			}
		}
		if !found {
			t.Errorf("the %s reader did not read hits = 3: %+v", name, rm.ScopeMetrics)
		}
	}
}

// TestWithAlertingOptionsWin: the options of WithAlerting come after
// Start's own, as those of WithBizMetrics, WithRuntime and WithMemory do:
// a meter provider given there gets the engine's metrics.
func TestWithAlertingOptionsWin(t *testing.T) {
	vitals.CleanEnv(t)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	v, err := vitals.Start(t.Context(), vitals.WithAlerting(alerting.WithMeterProvider(mp)), vitals.WithoutRuntime())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = v.Shutdown(t.Context()) }()
	if err := v.Alerting().Eval(t.Context(), v.Alerting().Now()); err != nil {
		t.Fatal(err)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name == alerting.ScopeName {
			n += len(sm.Metrics)
		}
	}
	if n == 0 {
		t.Errorf("the provider given to WithAlerting has no alerting metrics: %+v", rm.ScopeMetrics)
	}
}

// TestWithAlertRoutesReplaceAlertingRoutes: routes given through
// WithAlerting(alerting.WithRoutes(...)) would call their notifiers from
// the evaluation, without a queue; WithAlertRoutes' queued routes replace
// them, so that only the queued notifier gets the alert.
func TestWithAlertRoutesReplaceAlertingRoutes(t *testing.T) {
	vitals.CleanEnv(t)
	direct := make(chan []alerting.Alert, 10)
	queued := make(chan []alerting.Alert, 10)
	record := func(ch chan []alerting.Alert) alerting.Notifier {
		return alerting.NotifierFunc(func(_ context.Context, a []alerting.Alert) error { ch <- a; return nil })
	}
	v, err := vitals.Start(t.Context(), vitals.WithoutRuntime(), vitals.WithoutDefaultAlertRules(),
		vitals.WithAlertRules(alerting.Group{Name: "g", Rules: []alerting.Rule{{Alert: "On", Expr: "vector(1)"}}}),
		vitals.WithAlerting(alerting.WithRoutes(alerting.Route{Name: "direct", Notifiers: []alerting.Notifier{record(direct)}, GroupWait: time.Millisecond})),
		vitals.WithAlertRoutes(alerting.Route{Name: "queued", Notifiers: []alerting.Notifier{record(queued)}, GroupWait: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = v.Shutdown(t.Context()) }()
	now := v.Alerting().Now()
	for _, at := range []time.Time{now, now.Add(time.Second)} {
		if err := v.Alerting().Eval(t.Context(), at); err != nil {
			t.Fatal(err)
		}
	}
	if a := waitFor(t, queued, "the queued route's notification"); len(a) != 1 || a[0].Name() != "On" {
		t.Errorf("queued route got %v, want On", a)
	}
	select {
	case a := <-direct:
		t.Errorf("the route given to WithAlerting was notified (%v): it was not replaced", a)
	default:
	}
}
