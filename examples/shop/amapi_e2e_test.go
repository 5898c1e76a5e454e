package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// amShapeRules fire AmtoolLoud, with an annotation, and AmtoolMuted.
const amShapeRules = `groups:
  - name: shapes
    interval: 1s
    rules:
      - alert: AmtoolMuted
        expr: vector(1)
      - alert: AmtoolLoud
        expr: vector(1)
        labels:
          severity: critical
        annotations:
          summary: loud
`

// TestAlertmanagerAPIShapes compares, endpoint by endpoint, the JSON shape
// of the shop's Alertmanager API v2 with a real Alertmanager 0.25's: the
// same silence is created on both, the real one is sent the alert that
// fires in the shop, and every field Alertmanager answers with (its path
// and JSON type) must be in the shop's answer too, errors included.
// Objects keyed by label names compare as maps.
func TestAlertmanagerAPIShapes(t *testing.T) {
	amBin := lookBinary(t, "prometheus-alertmanager")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_METRICS_EXPORTER", "")
	const token = "am-shapes-token"
	rules := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(rules, []byte(amShapeRules), 0o644); err != nil {
		t.Fatal(err)
	}
	shopAddr := startShopWith(t, "-collect", "1s", "-rules", rules, "-default-rules=false", "-admin-token", token)
	am := startAlertmanager(t, amBin)
	bases := map[string]string{"vitals": "http://" + shopAddr + "/monitoring/alertmanager", "alertmanager": am.url}
	client := &http.Client{Timeout: 5 * time.Second}
	send := func(method, u, body string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), method, u, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}

	// The alert firing in the shop, sent to the real Alertmanager as
	// Prometheus would (without a generatorURL: the shop has no external
	// URL to link to).
	now := time.Now().UTC()
	alert := fmt.Sprintf(`[{"labels":{"alertname":"AmtoolLoud","severity":"critical"},"annotations":{"summary":"loud"},"startsAt":%q,"endsAt":%q}]`,
		now.Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339))
	if code, b := send(http.MethodPost, am.url+"/api/v2/alerts", alert); code != http.StatusOK {
		t.Fatalf("POST alert to Alertmanager: %d %s", code, b)
	}
	silence := fmt.Sprintf(`{"matchers":[{"name":"alertname","value":"AmtoolMuted","isRegex":false,"isEqual":true}],"startsAt":%q,"endsAt":%q,"createdBy":"shapes","comment":"shape test"}`,
		now.Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339))
	ids := map[string]string{}
	for name, base := range bases {
		code, b := send(http.MethodPost, base+"/api/v2/silences", silence)
		var r struct {
			SilenceID string `json:"silenceID"`
		}
		if code != http.StatusOK || json.Unmarshal(b, &r) != nil || r.SilenceID == "" {
			t.Fatalf("POST silence to %s: %d %s", name, code, b)
		}
		ids[name] = r.SilenceID
	}
	pollUntil(t, 30*time.Second, "both sides to list the firing alert", []*sideProcess{am}, func() (bool, string) {
		status := ""
		ok := true
		for name, base := range bases {
			var alerts []map[string]any
			err := getJSON(t.Context(), client, base+"/api/v2/alerts?"+url.Values{"filter": {`alertname="AmtoolLoud"`}}.Encode(), &alerts)
			status += fmt.Sprintf("%s: %d alerts (%v); ", name, len(alerts), err)
			ok = ok && err == nil && len(alerts) == 1
		}
		return ok, status
	})

	for _, ep := range []struct {
		path    string // {id}: the silence's ID on each side
		status  int
		dynamic []string
	}{
		{"/api/v2/status", 200, nil},
		{"/api/v2/receivers", 200, nil},
		{"/api/v2/alerts?" + url.Values{"filter": {`alertname="AmtoolLoud"`}}.Encode(), 200, nil},
		{"/api/v2/alerts/groups?" + url.Values{"filter": {`alertname="AmtoolLoud"`}}.Encode(), 200, []string{"[].labels"}},
		{"/api/v2/silences", 200, nil},
		{"/api/v2/silence/{id}", 200, nil},
		{"/api/v2/alerts?" + url.Values{"filter": {`alertname=~"(`}}.Encode(), 400, nil},
		{"/api/v2/silence/00000000-0000-0000-0000-000000000000", 404, nil},
	} {
		shapes := map[string]map[string]string{}
		for name, base := range bases {
			code, b := send(http.MethodGet, base+strings.ReplaceAll(ep.path, "{id}", ids[name]), "")
			var v any
			if code != ep.status || json.NewDecoder(bytes.NewReader(b)).Decode(&v) != nil {
				// Alertmanager answers some errors as a bare JSON string,
				// others as text: the status is what must agree then.
				if code != ep.status {
					t.Errorf("%s from %s: %d %s, want %d", ep.path, name, code, b, ep.status)
				}
				continue
			}
			shapes[name] = map[string]string{}
			jsonShape(shapes[name], "", v, ep.dynamic)
		}
		if shapes["alertmanager"] == nil {
			continue
		}
		t.Logf("%s: %d fields compared", ep.path, len(shapes["alertmanager"]))
		var missing []string
		for path, typ := range shapes["alertmanager"] {
			if got, ok := shapes["vitals"][path]; !ok || got != typ {
				missing = append(missing, fmt.Sprintf("%s (%s; vitals: %q)", path, typ, got))
			}
		}
		slices.Sort(missing)
		if len(missing) > 0 {
			t.Errorf("%s: fields of Alertmanager's answer missing or of another type in the shop's:\n\t%s", ep.path, strings.Join(missing, "\n\t"))
		}
	}
}
