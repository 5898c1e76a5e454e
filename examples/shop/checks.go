package main

import (
	"time"

	"github.com/vitalsgo/vitals"
	"github.com/vitalsgo/vitals/healthcheck"
	"github.com/vitalsgo/vitals/healthcheck/promcheck"
)

// registerChecks adds the shop's health checks: the database (critical:
// without it nothing works) and the 5xx ratio of the last five minutes (not
// critical: degraded, not down).
func registerChecks(v *vitals.Vitals, st *store) error {
	if err := v.Health().Register("sqlite", healthcheck.SQLPing(st.db),
		healthcheck.WithKinds(healthcheck.Readiness), healthcheck.WithTimeout(2*time.Second),
		healthcheck.WithComponentType("datastore"), healthcheck.WithMeasurement("responseTime")); err != nil {
		return err
	}
	if mem := v.Memory(); mem != nil {
		errors5xx := `sum(rate(http_server_request_duration_seconds_count{http_response_status_code=~"5.."}[5m]))
  / sum(rate(http_server_request_duration_seconds_count[5m]))`
		if err := v.Health().Register("error-ratio", promcheck.Threshold(mem, errors5xx, 0.01, 0.05),
			healthcheck.WithoutCritical(), healthcheck.WithInterval(15*time.Second),
			healthcheck.WithComponentType("component"), healthcheck.WithMeasurement("errorRatio")); err != nil {
			return err
		}
	}
	return nil
}
