package healthcheck_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vitalsgo/vitals/healthcheck"
)

func TestCheckResultJSON(t *testing.T) {
	r := healthcheck.CheckResult{
		Name: "db", Status: healthcheck.StatusPass, Kinds: healthcheck.Liveness | healthcheck.Readiness, ComponentType: "datastore", ObservedValue: 3, ObservedUnit: "ms",
		LastRun: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), Duration: 1500 * time.Millisecond,
		AverageDuration: 250 * time.Millisecond, Interval: time.Minute, Timeout: 2 * time.Second, Runs: 4, Enabled: true,
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"name": "db", "status": "pass", "critical": false, "componentType": "datastore", "observedValue": 3.0,
		"observedUnit": "ms", "lastRun": "2025-03-01T12:00:00Z", "kinds": "liveness|readiness", "durationSeconds": 1.5, "runs": 4.0, "failures": 0.0,
		"averageDurationSeconds": 0.25, "intervalSeconds": 60.0, "timeoutSeconds": 2.0, "enabled": true,
	}
	if len(got) != len(want) {
		t.Errorf("fields %v, want %v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %v, want %v", k, got[k], w)
		}
	}
}

// TestStatusText: a status decodes from what it encodes to, and an unknown
// word is an error naming it.
func TestStatusText(t *testing.T) {
	for _, st := range []healthcheck.Status{healthcheck.StatusUnknown, healthcheck.StatusPass, healthcheck.StatusWarn, healthcheck.StatusFail} {
		b, err := st.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back healthcheck.Status
		if err := back.UnmarshalText(b); err != nil || back != st {
			t.Errorf("%s: decoded %v, %v", b, back, err)
		}
	}
	var st healthcheck.Status
	if err := st.UnmarshalText([]byte("ok")); err == nil || !strings.Contains(err.Error(), `"ok"`) {
		t.Errorf("UnmarshalText(ok): %v, want an error naming it", err)
	}
}

// TestResponseRoundTrip: a health response decodes into Response with its
// typed statuses and times as it was encoded.
func TestResponseRoundTrip(t *testing.T) {
	at := time.Date(2025, 3, 1, 12, 0, 0, 500, time.UTC)
	in := healthcheck.Response{Status: healthcheck.StatusWarn, Checks: map[string][]healthcheck.CheckObject{
		"db":    {{Status: healthcheck.StatusWarn, Time: at, ComponentType: "datastore"}},
		"cache": {{Status: healthcheck.StatusPass}},
	}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"status":"warn"`) || !strings.Contains(string(b), `"time":"2025-03-01T12:00:00.0000005Z"`) ||
		strings.Count(string(b), `"time"`) != 1 {
		t.Errorf("encoded %s", b)
	}
	var out healthcheck.Response
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.Status != in.Status || out.Checks["db"][0].Status != healthcheck.StatusWarn || !out.Checks["db"][0].Time.Equal(at) ||
		out.Checks["cache"][0].Status != healthcheck.StatusPass {
		t.Errorf("decoded %+v, want %+v", out, in)
	}
}
