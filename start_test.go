package vitals_test

import (
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vitalsgo/vitals"
	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/alerting/slo"
	"github.com/vitalsgo/vitals/exporter/memory"
)

// TestStartRefusesOptionsWithoutEffect: options that need the in-memory
// reader, given with WithoutMemory, are errors naming them, not dropped.
func TestStartRefusesOptionsWithoutEffect(t *testing.T) {
	vitals.CleanEnv(t)
	for _, tc := range []struct {
		opt  vitals.Option
		name string
	}{
		{vitals.WithAlertRuleFiles("docs/rules/shop-slos.yml"), "WithAlertRuleFiles"},
		{vitals.WithAlertRules(alerting.Group{Name: "g", Rules: []alerting.Rule{{Alert: "A", Expr: "vector(1)"}}}), "WithAlertRules"},
		{vitals.WithSLOs(slo.HTTPAvailability("avail", 0.99, "")), "WithSLOs"},
		{vitals.WithMemory(memory.WithRetention(0)), "WithMemory"},
		{vitals.WithAlerting(alerting.WithHistoryRetention(time.Hour, 10)), "WithAlerting"},
		{vitals.WithStateInterval(time.Minute), "WithStateInterval"},
		{vitals.WithExternalURL("https://shop.example.com"), "WithExternalURL"},
	} {
		opts := []vitals.Option{tc.opt, vitals.WithoutMemory()}
		v, err := vitals.Start(t.Context(), opts...)
		if err == nil {
			_ = v.Shutdown(t.Context())
			t.Errorf("%s with WithoutMemory: Start succeeded", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.name) || !strings.Contains(err.Error(), "WithoutMemory") {
			t.Errorf("%s with WithoutMemory: error %q does not name both", tc.name, err)
		}
	}
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
