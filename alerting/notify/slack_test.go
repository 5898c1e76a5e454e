package notify_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/alerting/notify"
)

// slMessage is a Slack incoming-webhook message with attachments, as Slack
// documents it; decoding disallows any other field.
type slMessage struct {
	Channel     string         `json:"channel"`
	Username    string         `json:"username"`
	Text        string         `json:"text"`
	Attachments []slAttachment `json:"attachments"`
}

type slAttachment struct {
	Fallback  string    `json:"fallback"`
	Color     string    `json:"color"`
	Title     string    `json:"title"`
	TitleLink string    `json:"title_link"`
	Text      string    `json:"text"`
	Fields    []slField `json:"fields"`
	Ts        int64     `json:"ts"`
}

type slField struct {
	Title string `json:"title"`
	Value string `json:"value"`
	Short bool   `json:"short"`
}

func slDecode(t *testing.T, body []byte) slMessage {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var m slMessage
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("payload %s: %v", body, err)
	}
	return m
}

func TestSlackMessage(t *testing.T) {
	crit := ntFiring("HighErrorRate", "critical", "instance", "a")
	warn := ntFiring("HighLatency", "warning", "instance", "a")
	info := ntFiring("Deploy", "info")
	none := ntFiring("NoSeverity", "")
	delete(none.Labels, "severity")
	resolved := ntResolved(ntFiring("DiskFull", "critical", "instance", "<db&1>"))
	resolved.Annotations["summary"] = "disk <90%> & rising"

	rcv := ntNewReceiver(t, nil)
	s := &notify.Slack{WebhookURL: rcv.URL + "/services/T0/B0/secret", Channel: "#alerts", Username: "vitals", Client: rcv.Client()}
	if err := s.Notify(t.Context(), []alerting.Alert{crit, warn, info, none, resolved}); err != nil {
		t.Fatal(err)
	}
	req := rcv.only(t)
	if req.Method != http.MethodPost || req.Path != "/services/T0/B0/secret" || req.Header.Get("Content-Type") != "application/json" {
		t.Errorf("got %s %s (%s)", req.Method, req.Path, req.Header.Get("Content-Type"))
	}
	m := slDecode(t, req.Body)
	if m.Channel != "#alerts" || m.Username != "vitals" {
		t.Errorf("channel %q username %q", m.Channel, m.Username)
	}
	if m.Text != "[FIRING:4] (api)" {
		t.Errorf("text = %q, want %q", m.Text, "[FIRING:4] (api)")
	}
	if len(m.Attachments) != 5 {
		t.Fatalf("got %d attachments, want one per alert", len(m.Attachments))
	}
	for i, want := range []struct{ color, title string }{
		{"danger", "[FIRING] HighErrorRate"},
		{"warning", "[FIRING] HighLatency"},
		{"#439FE0", "[FIRING] Deploy"},
		{"danger", "[FIRING] NoSeverity"},
		{"good", "[RESOLVED] DiskFull"},
	} {
		at := m.Attachments[i]
		if at.Color != want.color || at.Title != want.title || at.Fallback != want.title {
			t.Errorf("attachment %d: color %q title %q fallback %q, want %q %q", i, at.Color, at.Title, at.Fallback, want.color, want.title)
		}
		if at.TitleLink != crit.GeneratorURL {
			t.Errorf("attachment %d: title_link = %q, want the generator URL", i, at.TitleLink)
		}
		if at.Ts != ntStart.Unix() {
			t.Errorf("attachment %d: ts = %d", i, at.Ts)
		}
	}
	first := m.Attachments[0]
	if first.Text != "HighErrorRate on a\n5xx ratio is 12%" {
		t.Errorf("text = %q, want summary and description", first.Text)
	}
	wantFields := []slField{{"instance", "a", true}, {"service", "api", true}, {"severity", "critical", true}}
	if fmt.Sprint(first.Fields) != fmt.Sprint(wantFields) {
		t.Errorf("fields = %v, want %v", first.Fields, wantFields)
	}
	last := m.Attachments[4]
	if !strings.HasPrefix(last.Text, "disk &lt;90%&gt; &amp; rising\n") || last.Fields[0].Value != "&lt;db&amp;1&gt;" {
		t.Errorf("not escaped for Slack: text %q, field %q", last.Text, last.Fields[0].Value)
	}
}

func TestSlackLinkAndSummary(t *testing.T) {
	var alerts []alerting.Alert
	for i := range 15 {
		alerts = append(alerts, ntFiring("HighErrorRate", []string{"warning", "critical"}[i%2], "instance", fmt.Sprint(i)))
	}
	alerts = append(alerts, ntResolved(ntFiring("HighErrorRate", "warning", "instance", "r1")), ntResolved(ntFiring("HighErrorRate", "warning", "instance", "r2")))

	rcv := ntNewReceiver(t, nil)
	s := &notify.Slack{WebhookURL: rcv.URL, Link: "http://grafana.example/d/vitals", Client: rcv.Client()}
	if err := s.Notify(t.Context(), alerts); err != nil {
		t.Fatal(err)
	}
	m := slDecode(t, rcv.only(t).Body)
	if m.Channel != "" || m.Username != "" {
		t.Errorf("channel %q username %q, want the webhook's defaults", m.Channel, m.Username)
	}
	if m.Text != "[FIRING:15] HighErrorRate (api)" {
		t.Errorf("text = %q", m.Text)
	}
	if len(m.Attachments) != 2 {
		t.Fatalf("got %d attachments, want a summary per status", len(m.Attachments))
	}
	fir, res := m.Attachments[0], m.Attachments[1]
	if fir.Color != "danger" || fir.Title != "[FIRING:15] HighErrorRate (api)" || fir.TitleLink != s.Link {
		t.Errorf("firing summary: color %q title %q link %q", fir.Color, fir.Title, fir.TitleLink)
	}
	lines := strings.Split(fir.Text, "\n")
	if len(lines) != 11 || lines[0] != "• HighErrorRate: HighErrorRate on 0" || lines[10] != "… and 5 more" {
		t.Errorf("firing summary text = %q", fir.Text)
	}
	if res.Color != "good" || !strings.HasPrefix(res.Title, "[RESOLVED] HighErrorRate") || strings.Count(res.Text, "\n") != 1 {
		t.Errorf("resolved summary: color %q title %q text %q", res.Color, res.Title, res.Text)
	}
}

func TestSlackErrorHidesTheWebhookPath(t *testing.T) {
	rcv := ntNewReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte("no_service"))
	})
	s := &notify.Slack{WebhookURL: rcv.URL + "/services/T0/B0/xoxsecret", Client: rcv.Client()}
	err := s.Notify(t.Context(), []alerting.Alert{ntFiring("X", "critical")})
	var se *notify.StatusError
	if !errors.As(err, &se) || se.StatusCode != 404 || se.Body != "no_service" || se.URL != rcv.URL {
		t.Fatalf("err = %v, want a 404 StatusError naming the host only", err)
	}
	if se.Temporary() {
		t.Error("a 404 is temporary")
	}
	if strings.Contains(err.Error(), "xoxsecret") {
		t.Errorf("error names the webhook's secret path: %v", err)
	}

	rcv.Close()
	err = s.Notify(t.Context(), []alerting.Alert{ntFiring("X", "critical")})
	if err == nil || strings.Contains(err.Error(), "xoxsecret") {
		t.Errorf("err = %v, want an error without the secret path", err)
	}
}
