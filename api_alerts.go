package vitals

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/vitalsgo/vitals/alerting"
)

// alertsReport is the body of GET /monitoring/api/alerts.
type alertsReport struct {
	Alerts []alerting.Alert `json:"alerts"`
	Stats  alertStats       `json:"stats"`
}

type alertStats struct {
	Firing     int            `json:"firing"`
	Pending    int            `json:"pending"`
	Resolved   int            `json:"resolved"`
	Silenced   int            `json:"silenced"`
	BySeverity map[string]int `json:"by_severity"`
	ByRule     map[string]int `json:"by_rule"`
}

func (v *Vitals) listAlerts(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, v.alertsReport())
}

func (v *Vitals) alertsReport() alertsReport {
	alerts := v.alerts.Alerts()
	rep := alertsReport{Alerts: alerts, Stats: alertStats{BySeverity: map[string]int{}, ByRule: map[string]int{}}}
	if rep.Alerts == nil {
		rep.Alerts = []alerting.Alert{}
	}
	for _, a := range alerts {
		switch a.State {
		case alerting.StateFiring:
			rep.Stats.Firing++
		case alerting.StatePending:
			rep.Stats.Pending++
		case alerting.StateResolved:
			rep.Stats.Resolved++
		}
		if len(a.Silenced) > 0 {
			rep.Stats.Silenced++
		}
		if a.State == alerting.StateFiring || a.State == alerting.StatePending {
			rep.Stats.BySeverity[a.Labels["severity"]]++
			rep.Stats.ByRule[a.Name()]++
		}
	}
	return rep
}

func (v *Vitals) listRules(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"rules": v.alerts.Rules()})
}

// resolveAlert serves POST /monitoring/api/alerts/{id}/resolve with a JSON
// body {"reason": "..."}.
func (v *Vitals) resolveAlert(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Reason string `json:"reason"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxRequestBody)).Decode(&body); err != nil {
		writeBodyError(w, err, errors.New("body must be JSON: {\"reason\": \"...\"}"))
		return
	}
	err := v.alerts.Resolve(r.PathValue("id"), body.Reason)
	switch {
	case errors.Is(err, alerting.ErrNotFound):
		writeJSON(w, http.StatusNotFound, apiResponse{Status: "error", ErrorType: "not_found", Error: err.Error()})
	case err != nil:
		writeAPIError(w, errorBadData, err)
	default:
		writeJSON(w, http.StatusOK, apiResponse{Status: "success"})
	}
}

type silenceView struct {
	alerting.Silence
	Status string `json:"status"`
}

func (v *Vitals) listSilences(w http.ResponseWriter, _ *http.Request) {
	now := time.Now()
	out := []silenceView{}
	for _, s := range v.alerts.Silences().List() {
		out = append(out, silenceView{s, s.State(now)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"silences": out})
}

// createSilence serves POST /monitoring/api/silences with a silence in
// Alertmanager's JSON shape.
func (v *Vitals) createSilence(w http.ResponseWriter, r *http.Request) {
	var s alerting.Silence
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxRequestBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		writeBodyError(w, err, errors.New("body must be a silence: {\"matchers\": [...], \"startsAt\", \"endsAt\", \"createdBy\", \"comment\"}"))
		return
	}
	id, err := v.alerts.Silences().Add(s)
	if err != nil {
		writeAPIError(w, errorBadData, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"silenceID": id})
}

func (v *Vitals) expireSilence(w http.ResponseWriter, r *http.Request) {
	if err := v.alerts.Silences().Expire(r.PathValue("id")); err != nil {
		writeJSON(w, http.StatusNotFound, apiResponse{Status: "error", ErrorType: "not_found", Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, apiResponse{Status: "success"})
}

// sloReport is one SLO of GET /monitoring/api/slos: its status and the
// states of its page and ticket alerts.
type sloReport struct {
	alerting.SLOStatus
	Alerts []alerting.Alert `json:"alerts"`
	Error  string           `json:"error,omitempty"`
}

func (v *Vitals) listSLOs(w http.ResponseWriter, r *http.Request) {
	reps := v.sloReports(r)
	if reps == nil {
		reps = []sloReport{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"slos": reps})
}

// sloReports returns each SLO's status and alerts.
func (v *Vitals) sloReports(r *http.Request) []sloReport {
	if v.alerts == nil || len(v.slos) == 0 {
		return nil
	}
	out := make([]sloReport, 0, len(v.slos))
	alerts := v.alerts.Alerts()
	now := v.mem.Now()
	for _, slo := range v.slos {
		st, err := slo.Status(r.Context(), v.mem, now)
		rep := sloReport{SLOStatus: st, Alerts: []alerting.Alert{}}
		if err != nil {
			rep.Error = err.Error()
		}
		for _, a := range alerts {
			if a.Labels["sloth_id"] == slo.ID() {
				rep.Alerts = append(rep.Alerts, a)
			}
		}
		out = append(out, rep)
	}
	return out
}
