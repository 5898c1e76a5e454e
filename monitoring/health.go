package monitoring

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/vitalsgo/vitals/healthcheck"
)

// healthReport is the body of /monitoring/api/health: every check with its
// last run, history and configuration, and the slowest check.
type healthReport struct {
	Status       healthcheck.Status `json:"status"`
	Checks       []healthEntry      `json:"checks"`
	SlowestCheck string             `json:"slowestCheck,omitempty"`
}

// healthEntry is one check of the report: its healthcheck.CheckResult
// when the request is authorized, else only its name, status and whether
// it is enabled.
type healthEntry struct {
	healthcheck.CheckResult
	authorized bool
}

// MarshalJSON encodes the whole result, or the open part of it.
func (e healthEntry) MarshalJSON() ([]byte, error) {
	if e.authorized {
		return json.Marshal(e.CheckResult)
	}
	return json.Marshal(struct {
		Name    string             `json:"name"`
		Status  healthcheck.Status `json:"status"`
		Enabled bool               `json:"enabled"`
	}{e.Name, e.Status, e.Enabled})
}

// newHealthReport renders results; details only when authorized.
func newHealthReport(status healthcheck.Status, results []healthcheck.CheckResult, authorized bool) healthReport {
	rep := healthReport{Status: status, Checks: make([]healthEntry, 0, len(results))}
	var slowest time.Duration
	for _, c := range results {
		if authorized && c.AverageDuration > slowest {
			slowest, rep.SlowestCheck = c.AverageDuration, c.Name
		}
		rep.Checks = append(rep.Checks, healthEntry{c, authorized})
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
