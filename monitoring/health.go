package monitoring

import (
	"net/http"
	"time"

	"github.com/vitalsgo/vitals/healthcheck"
)

// healthReport is the body of /monitoring/api/health: every check with its
// last run, history and configuration, and the slowest check.
type healthReport struct {
	Status       string              `json:"status"`
	Checks       []healthCheckReport `json:"checks"`
	SlowestCheck string              `json:"slowestCheck,omitempty"`
}

type healthCheckReport struct {
	Name                   string   `json:"name"`
	Status                 string   `json:"status"`
	Critical               bool     `json:"critical,omitempty"`
	Kinds                  string   `json:"kinds,omitempty"`
	Enabled                bool     `json:"enabled"`
	LastRun                string   `json:"lastRun,omitempty"`
	DurationSeconds        float64  `json:"durationSeconds,omitempty"`
	AverageDurationSeconds float64  `json:"averageDurationSeconds,omitempty"`
	Runs                   int64    `json:"runs,omitempty"`
	Failures               int64    `json:"failures,omitempty"`
	IntervalSeconds        float64  `json:"intervalSeconds,omitempty"`
	TimeoutSeconds         float64  `json:"timeoutSeconds,omitempty"`
	Tags                   []string `json:"tags,omitempty"`
	Output                 string   `json:"output,omitempty"`
}

// newHealthReport renders results; details only when authorized.
func newHealthReport(status healthcheck.Status, results []healthcheck.CheckResult, authorized bool) healthReport {
	rep := healthReport{Status: status.String(), Checks: make([]healthCheckReport, 0, len(results))}
	var slowest time.Duration
	for _, c := range results {
		cr := healthCheckReport{Name: c.Name, Status: c.Status.String(), Enabled: c.Enabled}
		if authorized {
			cr.Critical = c.Critical
			cr.Kinds = c.Kind.String()
			if !c.Time.IsZero() {
				cr.LastRun = c.Time.UTC().Format(time.RFC3339Nano)
			}
			cr.DurationSeconds = c.Duration.Seconds()
			cr.AverageDurationSeconds = c.AverageDuration.Seconds()
			cr.Runs, cr.Failures = c.Runs, c.Failures
			cr.IntervalSeconds = c.Interval.Seconds()
			cr.TimeoutSeconds = c.Timeout.Seconds()
			cr.Tags = c.Tags
			cr.Output = c.Output
			if c.AverageDuration > slowest {
				slowest, rep.SlowestCheck = c.AverageDuration, c.Name
			}
		}
		rep.Checks = append(rep.Checks, cr)
	}
	return rep
}

// healthDetails serves GET /monitoring/api/health.
func (m *Handler) healthDetails(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, m.healthReport(r))
}

// healthReport evaluates every enabled check as /healthz does (on-demand
// checks run now, background ones give their cached result) and lists the
// disabled ones too.
func (m *Handler) healthReport(r *http.Request) healthReport {
	rep := m.health.Check(r.Context(), healthcheck.Liveness|healthcheck.Readiness)
	results := rep.Checks
	for _, c := range m.health.Results() {
		if !c.Enabled {
			results = append(results, c)
		}
	}
	return newHealthReport(rep.Status, results, m.authorized(r))
}

// healthRunAll serves POST /monitoring/api/health/check: run every check now.
func (m *Handler) healthRunAll(w http.ResponseWriter, r *http.Request) {
	rep := m.health.RunAll(r.Context())
	writeJSON(w, http.StatusOK, newHealthReport(rep.Status, rep.Checks, true))
}
