package healthcheck

import (
	"context"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// ScopeName is the instrumentation scope of the health check metrics.
const ScopeName = "github.com/vitalsgo/vitals/healthcheck"

// The metrics every registry records, to the OTel global provider unless
// WithMeterProvider gives another. On /metrics:
// vitals_healthcheck_status{check,critical,status},
// vitals_healthcheck_duration_seconds{check} and
// vitals_healthcheck_failures_total{check}.
const (
	MetricStatus   = "vitals.healthcheck.status"   // gauge: 1 for each check's current status
	MetricDuration = "vitals.healthcheck.duration" // histogram: run durations
	MetricFailures = "vitals.healthcheck.failures" // counter: failed runs
)

type registryMetrics struct {
	duration metric.Float64Histogram
	reg      metric.Registration
}

var statuses = []Status{StatusUnknown, StatusPass, StatusWarn, StatusFail}

func newRegistryMetrics(mp metric.MeterProvider, r *Registry) (*registryMetrics, error) {
	m := mp.Meter(ScopeName)
	// No unit: a unit of "1" would make the Prometheus name end in _ratio.
	status, err := m.Int64ObservableGauge(MetricStatus,
		metric.WithDescription("1 for the current status of each health check, 0 for the others."))
	if err != nil {
		return nil, err
	}
	failures, err := m.Int64ObservableCounter(MetricFailures,
		metric.WithUnit("{failure}"),
		metric.WithDescription("Runs of each health check that failed (timeouts and panics included)."))
	if err != nil {
		return nil, err
	}
	duration, err := m.Float64Histogram(MetricDuration,
		metric.WithUnit("s"),
		metric.WithDescription("Duration of health check runs."),
		metric.WithExplicitBucketBoundaries(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10))
	if err != nil {
		return nil, err
	}
	reg, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for _, ch := range r.snapshot() {
			res := ch.result()
			name := attribute.String("check", ch.name)
			crit := attribute.String("critical", strconv.FormatBool(ch.cfg.critical))
			for _, s := range statuses {
				v := int64(0)
				if res.Status == s {
					v = 1
				}
				o.ObserveInt64(status, v, metric.WithAttributes(name, crit, attribute.String("status", s.String())))
			}
			o.ObserveInt64(failures, res.Failures, metric.WithAttributes(name))
		}
		return nil
	}, status, failures)
	if err != nil {
		return nil, err
	}
	return &registryMetrics{duration: duration, reg: reg}, nil
}

func (m *registryMetrics) recordRun(ch *check, d time.Duration) {
	m.duration.Record(context.Background(), d.Seconds(), metric.WithAttributes(attribute.String("check", ch.name)))
}
