package monitoring

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/alerting/slo"
	"github.com/vitalsgo/vitals/exporter/memory"
)

func jsonRequest(t *testing.T, h http.Handler, method, path, token, body string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func TestAlertsAPI(t *testing.T) {
	always := alerting.Group{Name: "g", Rules: []alerting.Rule{{
		Alert: "AlwaysOn", Expr: "vector(1)", Labels: map[string]string{"severity": "warning"},
	}}}
	v := newEnv(t, withAuthorizer(BearerToken("tok")), withAlertRules(always), withMemory(memory.WithInterval(time.Hour)))
	if err := v.Alerts().Eval(t.Context(), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	h := v.Handler()

	code, body := jsonRequest(t, h, "GET", "/monitoring/api/alerts", "", "")
	var rep alertsReport
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatal(err)
	}
	if code != 200 || len(rep.Alerts) != 1 || rep.Stats.Firing != 1 || rep.Stats.BySeverity["warning"] != 1 || rep.Stats.ByRule["AlwaysOn"] != 1 {
		t.Fatalf("alerts: %d %s", code, body)
	}
	id := rep.Alerts[0].ID

	// Mutations need credentials.
	if code, _ := jsonRequest(t, h, "POST", "/monitoring/api/alerts/"+id+"/resolve", "", `{"reason":"x"}`); code != http.StatusUnauthorized {
		t.Errorf("resolve without a token: %d", code)
	}
	if code, _ := jsonRequest(t, h, "POST", "/monitoring/api/alerts/nope/resolve", "tok", `{"reason":"x"}`); code != http.StatusNotFound {
		t.Errorf("resolve of an unknown id: %d", code)
	}
	if code, body := jsonRequest(t, h, "POST", "/monitoring/api/alerts/"+id+"/resolve", "tok", `{}`); code != http.StatusBadRequest || !strings.Contains(body, "reason") {
		t.Errorf("resolve without a reason: %d %s", code, body)
	}
	if code, _ := jsonRequest(t, h, "POST", "/monitoring/api/alerts/"+id+"/resolve", "tok", `{"reason":"expected during the test"}`); code != http.StatusOK {
		t.Errorf("resolve: %d", code)
	}
	// The history counts the firing.
	var hist alerting.AlertHistory
	code, body = jsonRequest(t, h, "GET", "/monitoring/api/alerts/history", "", "")
	if err := json.Unmarshal([]byte(body), &hist); err != nil || code != 200 || len(hist.Fired) != 1 || hist.Fired[0].ID != id || hist.Fired[0].Count != 1 {
		t.Errorf("history after the resolution: %d %s", code, body)
	}

	silence := `{"matchers":[{"name":"alertname","value":"AlwaysOn","isRegex":false,"isEqual":true}],"endsAt":"` +
		time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `","createdBy":"ops","comment":"test"}`
	if code, _ := jsonRequest(t, h, "POST", "/monitoring/api/silences", "", silence); code != http.StatusUnauthorized {
		t.Errorf("silence without a token: %d", code)
	}
	if code, body := jsonRequest(t, h, "POST", "/monitoring/api/silences", "tok", `{"matchers":[]}`); code != http.StatusBadRequest || !strings.Contains(body, "matcher") {
		t.Errorf("invalid silence: %d %s", code, body)
	}
	code, body = jsonRequest(t, h, "POST", "/monitoring/api/silences", "tok", silence)
	var created struct {
		SilenceID string `json:"silenceID"`
	}
	if err := json.Unmarshal([]byte(body), &created); err != nil || code != 200 || created.SilenceID == "" {
		t.Fatalf("create silence: %d %s", code, body)
	}
	if code, body := jsonRequest(t, h, "GET", "/monitoring/api/silences", "", ""); code != 200 || !strings.Contains(body, `"state":"active"`) {
		t.Errorf("list silences: %d %s", code, body)
	}
	if code, _ := jsonRequest(t, h, "DELETE", "/monitoring/api/silences/"+created.SilenceID, "", ""); code != http.StatusUnauthorized {
		t.Errorf("expire without a token: %d", code)
	}
	if code, _ := jsonRequest(t, h, "DELETE", "/monitoring/api/silences/"+created.SilenceID, "tok", ""); code != http.StatusOK {
		t.Errorf("expire: %d", code)
	}
	if code, body := jsonRequest(t, h, "GET", "/monitoring/api/rules", "", ""); code != 200 || !strings.Contains(body, `"AlwaysOn"`) {
		t.Errorf("rules: %d %s", code, body)
	}
}

// TestAlertsAPIInfiniteValue serves an alert whose value is +Inf (a ratio
// over no traffic): the API answers it whole, the value as Prometheus'
// string, where encoding a JSON number failed and left a 200 without a
// body.
func TestAlertsAPIInfiniteValue(t *testing.T) {
	inf := alerting.Group{Name: "g", Rules: []alerting.Rule{{Alert: "Ratio", Expr: "vector(1) / vector(0) > 1"}}}
	v := newEnv(t, withAlertRules(inf), withMemory(memory.WithInterval(time.Hour)))
	if err := v.Alerts().Eval(t.Context(), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	code, body := jsonRequest(t, v.Handler(), "GET", "/monitoring/api/alerts", "", "")
	var rep alertsReport
	if err := json.Unmarshal([]byte(body), &rep); err != nil || code != 200 || len(rep.Alerts) != 1 || !math.IsInf(rep.Alerts[0].Value, 1) || !strings.Contains(body, `"value":"+Inf"`) {
		t.Errorf("alerts: %d %s (%v)", code, body, err)
	}
}

func TestSLOsAPI(t *testing.T) {
	v := newEnv(t, withSLOs(slo.HTTPAvailability("availability", 99.9, "")), withMemory(memory.WithInterval(time.Hour)))
	code, body := jsonRequest(t, v.Handler(), "GET", "/monitoring/api/slos", "", "")
	var rep struct {
		SLOs []struct {
			ID        string  `json:"id"`
			Objective float64 `json:"objective"`
			Alerts    []any   `json:"alerts"`
		} `json:"slos"`
	}
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatal(err)
	}
	if code != 200 || len(rep.SLOs) != 1 || rep.SLOs[0].ID == "" || rep.SLOs[0].Alerts == nil {
		t.Errorf("slos: %d %s", code, body)
	}
	if code, body := jsonRequest(t, v.Handler(), "GET", "/monitoring/api/performance", "", ""); code != 200 || !strings.Contains(body, `"slos":[{"id":`) {
		t.Errorf("the performance summary does not show the SLO: %d %s", code, body)
	}
	if code, body := jsonRequest(t, v.Handler(), "GET", "/monitoring/api/rules", "", ""); code != 200 || !strings.Contains(body, "slo:sli_error:ratio_rate5m") {
		t.Errorf("the SLO rules are not in the engine: %d", code)
	}
}
