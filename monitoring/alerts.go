package monitoring

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/alerting/slo"
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
	BySeverity map[string]int `json:"bySeverity"`
	ByRule     map[string]int `json:"byRule"`
}

func (m *Handler) listAlerts(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, m.alertsReport())
}

// alertHistory answers the alert history: the firings that ended within
// the engine's history retention, newest first, and how often each alert
// fired (alerting.Engine.History). It survives restarts with a state
// directory.
func (m *Handler) alertHistory(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, m.alerts.History())
}

func (m *Handler) alertsReport() alertsReport {
	alerts := m.alerts.Alerts()
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
		if len(a.SilencedBy) > 0 {
			rep.Stats.Silenced++
		}
		if a.State == alerting.StateFiring || a.State == alerting.StatePending {
			rep.Stats.BySeverity[a.Labels["severity"]]++
			rep.Stats.ByRule[a.Name()]++
		}
	}
	return rep
}

func (m *Handler) listRules(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"rules": m.alerts.Rules()})
}

// resolveAlert serves POST /monitoring/api/alerts/{id}/resolve with a JSON
// body {"reason": "..."}.
func (m *Handler) resolveAlert(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Reason string `json:"reason"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxRequestBody)).Decode(&body); err != nil {
		writeBodyError(w, err, errors.New("body must be JSON: {\"reason\": \"...\"}"))
		return
	}
	err := m.alerts.Resolve(r.PathValue("id"), body.Reason)
	switch {
	case errors.Is(err, alerting.ErrAlertNotFound):
		writeJSON(w, http.StatusNotFound, apiResponse{Status: "error", ErrorType: "not_found", Error: err.Error()})
	case err != nil:
		writeAPIError(w, errorBadData, err)
	default:
		writeJSON(w, http.StatusOK, apiResponse{Status: "success"})
	}
}

// silenceView is one silence of GET /monitoring/api/silences, with its
// state at the time of the listing.
type silenceView struct {
	alerting.Silence
	State alerting.SilenceState `json:"state"`
}

// The silence endpoints have one implementation, behind two shapes:
// /monitoring/api/silences (this file) and Alertmanager's API v2 under
// /monitoring/alertmanager (alertmanager.go). Both decode a POSTed silence
// with readSilence and add it with addSilence, expire one with
// expireSilenceID, and write a listing one silence at a time with
// writeJSONArray; each answers in its own shape.

// listSilences serves GET /monitoring/api/silences. It encodes the
// silences one at a time straight to w, so a listing holds a snapshot of
// the silences (their headers, not their text) and one encoded silence,
// however many and large they are.
func (m *Handler) listSilences(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if _, err := io.WriteString(w, `{"silences":`); err != nil {
		return
	}
	if err := m.writeSilences(w); err != nil {
		return // the client went away
	}
	_, _ = io.WriteString(w, "}\n")
}

// writeSilences writes every silence, newest first, with its state, as a
// JSON array, one silence at a time (writeJSONArray).
func (m *Handler) writeSilences(w io.Writer) error {
	now := m.alerts.Now()
	return writeJSONArray(w, m.alerts.Silences().List(), func(s alerting.Silence) any {
		return silenceView{s, s.State(now)}
	})
}

// writeJSONArray writes list as a JSON array of view(element), encoding
// one element at a time, so that the memory a listing holds does not grow
// with the size of all the elements together.
func writeJSONArray[T any](w io.Writer, list []T, view func(T) any) error {
	if _, err := io.WriteString(w, "["); err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	for i, v := range list {
		if i > 0 {
			if _, err := io.WriteString(w, ","); err != nil {
				return err
			}
		}
		if err := enc.Encode(view(v)); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, "]")
	return err
}

// createSilence serves POST /monitoring/api/silences with a silence in
// Alertmanager's JSON shape (readSilence). A silence with an id updates
// that one, as in Alertmanager (see alerting.Silences.Add): 404 if there
// is none.
func (m *Handler) createSilence(w http.ResponseWriter, r *http.Request) {
	id, status, err := m.addSilence(w, r)
	if err != nil {
		writeSilenceError(w, status, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"silenceID": id})
}

// expireSilence serves DELETE /monitoring/api/silences/{id}
// (expireSilenceID).
func (m *Handler) expireSilence(w http.ResponseWriter, r *http.Request) {
	if status, err := m.expireSilenceID(r.PathValue("id")); err != nil {
		writeSilenceError(w, status, err)
		return
	}
	writeJSON(w, http.StatusOK, apiResponse{Status: "success"})
}

// writeSilenceError answers a failed request of /monitoring/api/silences
// with status and err in the monitoring API's error shape.
func writeSilenceError(w http.ResponseWriter, status int, err error) {
	typ := errorBadData // 400, and 413 as writeBodyError answers it
	switch status {
	case http.StatusNotFound:
		typ = "not_found"
	case http.StatusInternalServerError:
		typ = errorInternal
	}
	writeJSON(w, status, apiResponse{Status: "error", ErrorType: typ, Error: err.Error()})
}

// postableSilence is the body of a silence POST: Alertmanager's
// postableSilence. IsEqual is a pointer so that a matcher that leaves it
// out is told apart: it is true then, as in Alertmanager (and as
// alerting.Matcher decodes it). The type is the API's own, not
// alerting.Silence, so that readSilence refuses unknown members inside
// the matchers too.
type postableSilence struct {
	ID        string            `json:"id"`
	Matchers  []postableMatcher `json:"matchers"`
	StartsAt  time.Time         `json:"startsAt"`
	EndsAt    time.Time         `json:"endsAt"`
	CreatedBy string            `json:"createdBy"`
	Comment   string            `json:"comment"`
}

// postableMatcher is one matcher of a postableSilence.
type postableMatcher struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	IsRegex bool   `json:"isRegex"`
	IsEqual *bool  `json:"isEqual"`
}

// silence returns p as the alerting package holds it.
func (p postableSilence) silence() alerting.Silence {
	s := alerting.Silence{ID: p.ID, StartsAt: p.StartsAt, EndsAt: p.EndsAt, CreatedBy: p.CreatedBy, Comment: p.Comment}
	if p.Matchers != nil {
		s.Matchers = make([]alerting.Matcher, 0, len(p.Matchers))
	}
	for _, pm := range p.Matchers {
		s.Matchers = append(s.Matchers, alerting.Matcher{Name: pm.Name, Value: pm.Value, IsRegex: pm.IsRegex,
			IsEqual: pm.IsEqual == nil || *pm.IsEqual})
	}
	return s
}

// readSilence reads the silence r's body holds, in Alertmanager's JSON
// shape (postableSilence): one JSON object in UTF-8 with no unknown
// members, nothing after it, at most MaxRequestBody bytes. Otherwise it
// returns the status to answer (400, or 413 for a body too large) and
// what is wrong.
func readSilence(w http.ResponseWriter, r *http.Request) (alerting.Silence, int, error) {
	badBody := errors.New("body must be a silence: {\"matchers\": [...], \"startsAt\", \"endsAt\", \"createdBy\", \"comment\"}")
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return alerting.Silence{}, http.StatusRequestEntityTooLarge, fmt.Errorf("request body larger than the %d bytes allowed", tooLarge.Limit)
		}
		return alerting.Silence{}, http.StatusBadRequest, badBody
	}
	if err := checkUTF8JSON(raw); err != nil {
		return alerting.Silence{}, http.StatusBadRequest, err
	}
	var p postableSilence
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return alerting.Silence{}, http.StatusBadRequest, badBody
	}
	end := dec.InputOffset()
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return alerting.Silence{}, http.StatusBadRequest,
			fmt.Errorf("body has data after the silence, which ends at byte %d: it must be one JSON object", end)
	}
	return p.silence(), http.StatusOK, nil
}

// addSilence reads the silence of a POST (readSilence) and adds it, or
// updates the silence of its id (alerting.Silences.Add). It returns the
// silence's id, or the status to answer and why: 400 (413) for a body
// readSilence refuses or a silence Add refuses, 404 for an unknown id.
func (m *Handler) addSilence(w http.ResponseWriter, r *http.Request) (string, int, error) {
	s, status, err := readSilence(w, r)
	if err != nil {
		return "", status, err
	}
	id, err := m.alerts.Silences().Add(s)
	switch {
	case errors.Is(err, alerting.ErrSilenceNotFound):
		return "", http.StatusNotFound, err
	case err != nil:
		return "", http.StatusBadRequest, err
	}
	return id, http.StatusOK, nil
}

// expireSilenceID expires the silence id now. It returns the status to
// answer and why: only an unknown silence is 404; one that has already
// expired is the caller's mistake (400), anything else ours (500).
func (m *Handler) expireSilenceID(id string) (int, error) {
	err := m.alerts.Silences().Expire(id)
	switch {
	case err == nil:
		return http.StatusOK, nil
	case errors.Is(err, alerting.ErrSilenceNotFound):
		return http.StatusNotFound, err
	case errors.Is(err, alerting.ErrSilenceExpired):
		return http.StatusBadRequest, err
	default:
		return http.StatusInternalServerError, err
	}
}

// checkUTF8JSON returns an error if the JSON text b is not valid UTF-8 or
// escapes half a UTF-16 surrogate pair (\ud800): encoding/json would
// silently decode either as U+FFFD, so a label name would not be the one
// sent.
func checkUTF8JSON(b []byte) error {
	if !utf8.Valid(b) {
		return errors.New("body is not valid UTF-8")
	}
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		i++ // the escaped character; in valid JSON a backslash is always an escape
		if i >= len(b) || b[i] != 'u' {
			continue
		}
		r := hexRune(b[i+1:])
		at := i - 1
		i += 4
		if !utf16.IsSurrogate(r) {
			continue
		}
		if r < 0xdc00 && len(b) > i+2 && b[i+1] == '\\' && b[i+2] == 'u' {
			if r2 := hexRune(b[i+3:]); r2 >= 0xdc00 && r2 <= 0xdfff {
				i += 6
				continue
			}
		}
		return fmt.Errorf("body is not valid UTF-8: the \\u escape at byte %d is half a UTF-16 surrogate pair", at)
	}
	return nil
}

// hexRune decodes the four hex digits b starts with, or returns -1.
func hexRune(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return -1
		}
	}
	return r
}

// sloReport is one SLO of GET /monitoring/api/slos: its status and the
// states of its page and ticket alerts.
type sloReport struct {
	slo.Status
	Alerts []alerting.Alert `json:"alerts"`
	Error  string           `json:"error,omitempty"`
}

func (m *Handler) listSLOs(w http.ResponseWriter, r *http.Request) {
	reps := m.sloReports(r)
	if reps == nil {
		reps = []sloReport{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"slos": reps})
}

// sloReports returns each SLO's status and alerts.
func (m *Handler) sloReports(r *http.Request) []sloReport {
	if m.alerts == nil || len(m.slos) == 0 {
		return nil
	}
	out := make([]sloReport, 0, len(m.slos))
	alerts := m.alerts.Alerts()
	now := m.query.Now()
	for _, o := range m.slos {
		st, err := o.Status(r.Context(), m.query, now)
		rep := sloReport{Status: st, Alerts: []alerting.Alert{}}
		if err != nil {
			rep.Error = err.Error()
		}
		for _, a := range alerts {
			if a.Labels[slo.LabelID] == o.ID() {
				rep.Alerts = append(rep.Alerts, a)
			}
		}
		out = append(out, rep)
	}
	return out
}
