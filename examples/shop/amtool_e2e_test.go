package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// amtoolRules are the rules of the amtool test: two alerts that fire at
// once, one of which a silence will mute.
const amtoolRules = `groups:
  - name: amtool
    interval: 1s
    rules:
      - alert: AmtoolMuted
        expr: vector(1)
        labels:
          severity: warning
        annotations:
          summary: muted by amtool
      - alert: AmtoolLoud
        expr: vector(1)
        labels:
          severity: critical
`

// amtoolAlert is what the test reads of an alert amtool prints as JSON.
type amtoolAlert struct {
	Labels      map[string]string `json:"labels"`
	Fingerprint string            `json:"fingerprint"`
	Receivers   []struct {
		Name string `json:"name"`
	} `json:"receivers"`
	Status struct {
		State      string   `json:"state"`
		SilencedBy []string `json:"silencedBy"`
	} `json:"status"`
}

// amtoolSilence is what the test reads of a silence amtool prints as
// JSON.
type amtoolSilence struct {
	ID       string `json:"id"`
	Matchers []struct {
		Name    string `json:"name"`
		Value   string `json:"value"`
		IsRegex bool   `json:"isRegex"`
		IsEqual bool   `json:"isEqual"`
	} `json:"matchers"`
	CreatedBy string `json:"createdBy"`
	Comment   string `json:"comment"`
	Status    struct {
		State string `json:"state"`
	} `json:"status"`
}

// amtoolCLI runs Debian's amtool against the shop's Alertmanager API.
type amtoolCLI struct {
	bin, url, home string
}

// run runs amtool with args, passing the admin token through
// --http.config.file when httpConfig names one; it returns stdout, and an
// error with stderr when amtool fails.
func (a amtoolCLI) run(t *testing.T, httpConfig string, args ...string) (string, error) {
	t.Helper()
	full := []string{"--alertmanager.url=" + a.url, "--timeout=30s"}
	if httpConfig != "" {
		full = append(full, "--http.config.file="+httpConfig)
	}
	cmd := exec.CommandContext(t.Context(), a.bin, append(full, args...)...)
	// A home of its own: no amtool configuration of the user's applies.
	cmd.Env = append(os.Environ(), "HOME="+a.home)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("amtool %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// must runs amtool with the token and fails the test if it fails.
func (a amtoolCLI) must(t *testing.T, httpConfig string, args ...string) string {
	t.Helper()
	out, err := a.run(t, httpConfig, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// alerts returns the alerts `amtool alert query` prints with args.
func (a amtoolCLI) alerts(t *testing.T, httpConfig string, args ...string) []amtoolAlert {
	t.Helper()
	var out []amtoolAlert
	text := a.must(t, httpConfig, append([]string{"-o", "json", "alert", "query"}, args...)...)
	if err := json.Unmarshal([]byte(text), &out); err != nil {
		t.Fatalf("amtool alert query %v: %v\n%s", args, err, text)
	}
	return out
}

// silences returns the silences `amtool silence query` prints with args.
func (a amtoolCLI) silences(t *testing.T, httpConfig string, args ...string) []amtoolSilence {
	t.Helper()
	var out []amtoolSilence
	text := a.must(t, httpConfig, append([]string{"-o", "json", "silence", "query"}, args...)...)
	if err := json.Unmarshal([]byte(text), &out); err != nil {
		t.Fatalf("amtool silence query %v: %v\n%s", args, err, text)
	}
	return out
}

// names returns the alertnames of alerts, sorted.
func names(alerts []amtoolAlert) string {
	var out []string
	for _, a := range alerts {
		out = append(out, a.Labels["alertname"])
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

// monitoringAlert returns the alert named name of the shop's
// /monitoring/api/alerts.
func monitoringAlert(t *testing.T, p *shopProcess, name string) (silencedBy []string, ok bool) {
	t.Helper()
	var rep struct {
		Alerts []struct {
			Labels     map[string]string `json:"labels"`
			State      string            `json:"state"`
			SilencedBy []string          `json:"silencedBy"`
		} `json:"alerts"`
	}
	p.get(t, "/monitoring/api/alerts", &rep)
	for _, a := range rep.Alerts {
		if a.Labels["alertname"] == name && a.State == "firing" {
			return a.SilencedBy, true
		}
	}
	return nil, false
}

// TestAmtoolManagesSilences drives the example binary's Alertmanager API
// (/monitoring/alertmanager) with Debian's amtool (0.25), as an operator
// would: amtool lists the firing alerts, adds a silence, finds it, and
// expires it, passing the admin token through --http.config.file; the
// silence mutes the alert in the process (/monitoring/api/alerts lists it
// silenced by the silence) until amtool expires it. Without the token,
// amtool can neither add nor expire a silence. amtool also reads the
// status: its version check, the cluster and the routing tree of the
// configuration the API reports.
func TestAmtoolManagesSilences(t *testing.T) {
	bin, err := exec.LookPath("amtool")
	if err != nil {
		t.Skipf("amtool not found (install Debian's prometheus-alertmanager package, which has it): %v", err)
	}
	shop := buildShop(t)
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yml")
	if err := os.WriteFile(rules, []byte(amtoolRules), 0o644); err != nil {
		t.Fatal(err)
	}
	withToken := filepath.Join(dir, "http.yml")
	if err := os.WriteFile(withToken, []byte("authorization:\n  type: Bearer\n  credentials: "+restartToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrongToken := filepath.Join(dir, "wrong.yml")
	if err := os.WriteFile(wrongToken, []byte("authorization:\n  type: Bearer\n  credentials: not-the-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startShopProcess(t, shop, "-collect", "1s", "-rules", rules, "-default-rules=false", "-admin-token", restartToken)
	am := amtoolCLI{bin: bin, url: p.base + "/monitoring/alertmanager", home: t.TempDir()}

	// The alerts fire; amtool lists them, active, to the one receiver.
	pollUntil(t, 30*time.Second, "amtool to list both alerts firing", nil, func() (bool, string) {
		got := names(am.alerts(t, withToken))
		return got == "AmtoolLoud,AmtoolMuted", got
	})
	alerts := am.alerts(t, withToken, "alertname=AmtoolMuted")
	if len(alerts) != 1 || alerts[0].Status.State != "active" || len(alerts[0].Receivers) != 1 || alerts[0].Receivers[0].Name != "vitals" ||
		alerts[0].Labels["severity"] != "warning" || alerts[0].Fingerprint == "" {
		t.Fatalf("amtool alert query alertname=AmtoolMuted: %+v", alerts)
	}

	// The status: the cluster, and the configuration's routing tree.
	if out := am.must(t, withToken, "cluster", "show"); !strings.Contains(out, "disabled") {
		t.Errorf("amtool cluster show: %s", out)
	}
	if out := am.must(t, withToken, "config", "routes"); !strings.Contains(out, "receiver: vitals") {
		t.Errorf("amtool config routes: %s", out)
	}

	// Without the token, or with a wrong one, no silence.
	for _, cfg := range []string{"", wrongToken} {
		if out, err := am.run(t, cfg, "silence", "add", "alertname=AmtoolMuted", "--author=e2e", "--comment=refused", "--duration=1h"); err == nil {
			t.Errorf("amtool silence add without the token succeeded: %s", out)
		}
	}
	var listed struct {
		Silences []json.RawMessage `json:"silences"`
	}
	p.get(t, "/monitoring/api/silences", &listed)
	if len(listed.Silences) != 0 {
		t.Fatalf("silences after refused adds: %s", listed.Silences)
	}

	// With it, amtool adds a silence: the matcher is an equality, and it
	// mutes AmtoolMuted, in the process and for amtool.
	out := am.must(t, withToken, "silence", "add", "alertname=AmtoolMuted", "--author=e2e", "--comment=muted by amtool", "--duration=1h")
	id := strings.TrimSpace(out)
	if id == "" || strings.ContainsAny(id, " \n") {
		t.Fatalf("amtool silence add printed %q, want the silence's ID", out)
	}
	sils := am.silences(t, withToken, "alertname=AmtoolMuted")
	if len(sils) != 1 || sils[0].ID != id || sils[0].Status.State != "active" || sils[0].CreatedBy != "e2e" || sils[0].Comment != "muted by amtool" ||
		len(sils[0].Matchers) != 1 || sils[0].Matchers[0].Name != "alertname" || sils[0].Matchers[0].Value != "AmtoolMuted" ||
		!sils[0].Matchers[0].IsEqual || sils[0].Matchers[0].IsRegex {
		t.Fatalf("amtool silence query alertname=AmtoolMuted: %+v", sils)
	}
	// amtool's tables dereference every field they show: a field left out
	// would crash them.
	for _, format := range []string{"simple", "extended"} {
		if out := am.must(t, withToken, "-o", format, "silence", "query"); !strings.Contains(out, id) || !strings.Contains(out, "muted by amtool") {
			t.Errorf("amtool -o %s silence query: %s", format, out)
		}
		if out := am.must(t, withToken, "-o", format, "alert", "query", "-s"); !strings.Contains(out, "AmtoolMuted") {
			t.Errorf("amtool -o %s alert query -s: %s", format, out)
		}
	}
	if got := strings.TrimSpace(am.must(t, withToken, "silence", "query", "-q")); got != id {
		t.Errorf("amtool silence query -q: %q, want %q", got, id)
	}
	if got := am.silences(t, withToken, "alertname=AmtoolLoud"); len(got) != 0 {
		t.Errorf("amtool silence query alertname=AmtoolLoud: %+v", got)
	}
	pollUntil(t, 30*time.Second, "AmtoolMuted to be silenced in the process", nil, func() (bool, string) {
		by, ok := monitoringAlert(t, p, "AmtoolMuted")
		return ok && slices.Equal(by, []string{id}), fmt.Sprintf("firing %v, silenced by %v", ok, by)
	})
	if by, ok := monitoringAlert(t, p, "AmtoolLoud"); !ok || len(by) != 0 {
		t.Errorf("AmtoolLoud: firing %v, silenced by %v", ok, by)
	}
	// amtool's default query shows the active alerts only; -s the
	// silenced ones.
	if got := names(am.alerts(t, withToken)); got != "AmtoolLoud" {
		t.Errorf("amtool alert query: %s, want AmtoolLoud only", got)
	}
	silenced := am.alerts(t, withToken, "-s")
	if len(silenced) != 1 || silenced[0].Labels["alertname"] != "AmtoolMuted" || silenced[0].Status.State != "suppressed" ||
		!slices.Equal(silenced[0].Status.SilencedBy, []string{id}) {
		t.Errorf("amtool alert query -s: %+v", silenced)
	}

	// Without the token, amtool cannot expire it.
	for _, cfg := range []string{"", wrongToken} {
		if out, err := am.run(t, cfg, "silence", "expire", id); err == nil {
			t.Errorf("amtool silence expire without the token succeeded: %s", out)
		}
	}
	if got := am.silences(t, withToken); len(got) != 1 || got[0].Status.State != "active" {
		t.Fatalf("after refused expiries: %+v", got)
	}

	// amtool expires it: the alert is no longer muted.
	am.must(t, withToken, "silence", "expire", id)
	if got := am.silences(t, withToken); len(got) != 0 {
		t.Errorf("amtool silence query after the expiry: %+v", got)
	}
	if got := am.silences(t, withToken, "--expired"); len(got) != 1 || got[0].ID != id || got[0].Status.State != "expired" {
		t.Errorf("amtool silence query --expired: %+v", got)
	}
	pollUntil(t, 30*time.Second, "AmtoolMuted to be muted no more", nil, func() (bool, string) {
		by, ok := monitoringAlert(t, p, "AmtoolMuted")
		return ok && len(by) == 0, fmt.Sprintf("firing %v, silenced by %v", ok, by)
	})
	if got := names(am.alerts(t, withToken)); got != "AmtoolLoud,AmtoolMuted" {
		t.Errorf("amtool alert query after the expiry: %s", got)
	}
	if out, err := am.run(t, withToken, "silence", "expire", id); err == nil {
		t.Errorf("expiring the silence again succeeded: %s", out)
	}
}
