package monitoring

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/alerting/slo"
	"github.com/vitalsgo/vitals/exporter/memory"
	"github.com/vitalsgo/vitals/healthcheck"
)

// dataKeys are the JSON objects whose keys are data (label names, check
// names, windows, module paths), not field names.
var dataKeys = map[string]bool{
	"labels": true, "annotations": true, "burnRates": true, "vcs": true, "dependencies": true,
	"bySeverity": true, "byRule": true, "checks": true,
}

var camelCase = regexp.MustCompile(`^[a-z][a-zA-Z0-9]*$`)

// TestJSONStyle holds every body of the monitoring API and the health
// probes to one style: camelCase names, durations in seconds in fields
// named ...Seconds, times in RFC 3339.
func TestJSONStyle(t *testing.T) {
	always := alerting.Group{Name: "g", Rules: []alerting.Rule{{
		Alert: "AlwaysOn", Expr: "vector(1)", Labels: map[string]string{"severity": "warning"},
	}, {
		Alert: "Slow", Expr: "vector(1)", For: 5 * time.Minute, KeepFiringFor: time.Minute,
	}}}
	v := newEnv(t, withAuthorizer(BearerToken("tok")), withAlertRules(always),
		withSLOs(slo.HTTPAvailability("availability", 99.9, "")), withMemory(memory.WithInterval(time.Hour)))
	if err := v.Health().Register("db", healthcheck.CheckFunc(func(context.Context) error { return nil })); err != nil {
		t.Fatal(err)
	}
	if err := v.Alerts().Eval(t.Context(), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	h := v.Handler()
	if code, body := jsonRequest(t, h, "POST", "/monitoring/api/silences", "tok", silenceBody(`"alertname"`, "")); code != 200 {
		t.Fatalf("silence: %d %s", code, body)
	}

	seen := map[string]bool{}
	for _, path := range []string{
		"/monitoring/api/performance", "/monitoring/api/health", "/monitoring/api/system", "/monitoring/api/export",
		"/monitoring/api/alerts", "/monitoring/api/rules", "/monitoring/api/silences", "/monitoring/api/slos",
		"/monitoring/api/metrics", "/livez", "/readyz", "/healthz",
	} {
		code, body := jsonRequest(t, h, "GET", path, "tok", "")
		var doc any
		if err := json.Unmarshal([]byte(body), &doc); err != nil || code != 200 {
			t.Fatalf("%s: %d %v: %s", path, code, err, body)
		}
		walkJSON(t, path, "", doc, seen)
	}
	// The walk reached the fields it is about.
	for _, k := range []string{"state", "activeAt", "startsAt", "endsAt", "evaluationDurationSeconds", "lastEvaluation",
		"forSeconds", "keepFiringForSeconds", "intervalSeconds", "timeoutSeconds", "lastRun", "windowSeconds", "generatedAt", "burnRates", "periodSeconds", "startedAt"} {
		if !seen[k] {
			t.Errorf("no body has the field %q", k)
		}
	}
}

func walkJSON(t *testing.T, path, at string, v any, seen map[string]bool) {
	t.Helper()
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			walkJSON(t, path, at+"[]", e, seen)
		}
	case map[string]any:
		for k, e := range v {
			seen[k] = true
			where := path + " " + at + "." + k
			if !camelCase.MatchString(k) {
				t.Errorf("%s: the field name is not camelCase", where)
			}
			lower := strings.ToLower(k)
			if (strings.Contains(lower, "duration") || strings.Contains(lower, "interval") || strings.Contains(lower, "timeout") ||
				strings.Contains(lower, "uptime") || strings.Contains(lower, "period")) && !strings.HasSuffix(k, "Seconds") {
				t.Errorf("%s: a duration not named ...Seconds", where)
			}
			if strings.HasSuffix(k, "Seconds") {
				if _, ok := e.(float64); !ok {
					t.Errorf("%s = %v: not a number of seconds", where, e)
				}
			}
			if strings.HasSuffix(k, "At") || k == "time" || k == "lastRun" || k == "lastEvaluation" {
				s, _ := e.(string)
				if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
					t.Errorf("%s = %v: not an RFC 3339 time", where, e)
				}
			}
			if m, ok := e.(map[string]any); ok && dataKeys[k] {
				for name, e := range m {
					walkJSON(t, path, at+"."+k+"["+name+"]", e, seen)
				}
				continue
			}
			walkJSON(t, path, at+"."+k, e, seen)
		}
	}
}
