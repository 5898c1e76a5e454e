package healthcheck_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/vitalsgo/vitals/healthcheck"
)

func TestCheckResultJSON(t *testing.T) {
	r := healthcheck.CheckResult{
		Name: "db", Status: healthcheck.StatusPass, ComponentType: "datastore", ObservedValue: 3, ObservedUnit: "ms",
		Time: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), Duration: 1500 * time.Millisecond,
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
		"observedUnit": "ms", "time": "2025-03-01T12:00:00Z", "durationSeconds": 1.5, "runs": 4.0, "failures": 0.0,
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
