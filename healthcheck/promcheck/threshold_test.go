package promcheck_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/vitalsgo/vitals/exporter/memory"
	"github.com/vitalsgo/vitals/healthcheck"
	"github.com/vitalsgo/vitals/healthcheck/promcheck"
)

// fixedClock is a clock that stands still: its timers never fire.
type fixedClock time.Time

func (c fixedClock) Now() time.Time                     { return time.Time(c) }
func (fixedClock) After(time.Duration) <-chan time.Time { return nil }
func (fixedClock) AfterFunc(time.Duration, func()) (stop func() bool) {
	return func() bool { return true }
}

// newReader returns a memory reader at a fixed time holding the gauge
// error_ratio = 0.03.
func newReader(t *testing.T) *memory.Reader {
	t.Helper()
	mem := memory.New(memory.WithClock(fixedClock(time.Unix(1_700_000_000, 0))))
	mp := sdkmetric.NewMeterProvider(mem.MeterProviderOptions()...)
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	g, err := mp.Meter("t").Float64Gauge("error.ratio")
	if err != nil {
		t.Fatal(err)
	}
	g.Record(t.Context(), 0.03, metric.WithAttributes())
	if err := mem.Collect(t.Context()); err != nil {
		t.Fatal(err)
	}
	return mem
}

func TestThreshold(t *testing.T) {
	mem := newReader(t)
	tests := []struct {
		expr       string
		warn, fail float64
		want       healthcheck.Status
	}{
		{`error_ratio`, 0.05, 0.1, healthcheck.StatusPass},
		{`error_ratio`, 0.01, 0.1, healthcheck.StatusWarn},
		{`error_ratio`, 0.01, 0.02, healthcheck.StatusFail},
		{`scalar(error_ratio) * 10`, 0.01, 0.2, healthcheck.StatusFail},
		{`no_such_series`, 0, 0, healthcheck.StatusPass},
		{`rate(error_ratio[5m]`, 0, 0, healthcheck.StatusFail},
		{`error_ratio[5m]`, 0.05, 0.1, healthcheck.StatusFail}, // a range vector is not a value to compare
		{`"text"`, 0.05, 0.1, healthcheck.StatusFail},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			res := promcheck.Threshold(mem, tt.expr, tt.warn, tt.fail).Check(t.Context())
			if res.Status != tt.want {
				t.Errorf("%s (warn %v, fail %v): %v %q, want %v", tt.expr, tt.warn, tt.fail, res.Status, res.Output, tt.want)
			}
		})
	}
}

// TestThresholdRegistered runs the check through a registry, as a service
// does.
func TestThresholdRegistered(t *testing.T) {
	r, err := healthcheck.New(healthcheck.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Shutdown(context.Background()) })
	if err := r.Register("error-ratio", promcheck.Threshold(newReader(t), `error_ratio`, 0.01, 0.05)); err != nil {
		t.Fatal(err)
	}
	rep := r.Check(t.Context(), healthcheck.Readiness)
	if len(rep.Checks) != 1 || rep.Checks[0].Status != healthcheck.StatusWarn || rep.Checks[0].ObservedValue != 0.03 {
		t.Errorf("report = %+v, want one warning observing 0.03", rep)
	}
}
