package notify_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/alerting/notify"
)

func TestLogNotifier(t *testing.T) {
	var buf bytes.Buffer
	n := notify.Log(slog.New(slog.NewJSONHandler(&buf, nil)))
	firing := ntFiring("HighErrorRate", "critical", "instance", "a")
	resolved := ntResolved(ntFiring("HighLatency", "warning"))
	if err := n.Notify(t.Context(), []alerting.Alert{firing, resolved}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want one per alert:\n%s", len(lines), buf.String())
	}
	type line struct {
		Level     string            `json:"level"`
		Msg       string            `json:"msg"`
		Alertname string            `json:"alertname"`
		State     string            `json:"state"`
		Labels    map[string]string `json:"labels"`
		Summary   string            `json:"summary"`
		StartsAt  string            `json:"starts_at"`
		EndsAt    string            `json:"ends_at"`
	}
	var got [2]line
	for i := range lines {
		if err := json.Unmarshal([]byte(lines[i]), &got[i]); err != nil {
			t.Fatal(err)
		}
	}
	f, r := got[0], got[1]
	if f.Level != "WARN" || f.Msg != "alert" || f.Alertname != "HighErrorRate" || f.State != "firing" ||
		f.Summary != "HighErrorRate on a" || f.StartsAt != "2025-03-04T05:06:07Z" || f.EndsAt != "" {
		t.Errorf("firing line = %+v", f)
	}
	ntEqualMaps(t, "labels", f.Labels, map[string]string{"instance": "a", "service": "api", "severity": "critical"})
	if r.Level != "INFO" || r.Alertname != "HighLatency" || r.State != "resolved" || r.EndsAt != "2025-03-04T05:16:07Z" {
		t.Errorf("resolved line = %+v", r)
	}

	// A nil logger means slog.Default(); it must not panic.
	if err := notify.Log(nil).Notify(t.Context(), nil); err != nil {
		t.Error(err)
	}
}
