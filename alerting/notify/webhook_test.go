package notify_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/alerting/notify"
)

// whMessage is the Alertmanager webhook payload, version 4, as its
// documentation spells it; decoding disallows any other field.
type whMessage struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []whAlert         `json:"alerts"`
}

type whAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

func whDecode(t *testing.T, body []byte) whMessage {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var m whMessage
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("payload %s: %v", body, err)
	}
	// Alertmanager never sends null for these objects.
	for _, field := range []string{`"groupLabels":null`, `"commonLabels":null`, `"commonAnnotations":null`, `"labels":null`, `"annotations":null`, `"alerts":null`} {
		if bytes.Contains(body, []byte(field)) {
			t.Errorf("payload has %s", field)
		}
	}
	return m
}

func TestWebhookPayload(t *testing.T) {
	a := ntFiring("HighErrorRate", "critical", "instance", "a")
	b := ntFiring("HighErrorRate", "critical", "instance", "b")
	b.Annotations["description"] = "5xx ratio is 30%"

	t.Run("the engine's external URL by default", func(t *testing.T) {
		rcv := ntNewReceiver(t, nil)
		w := &notify.Webhook{URL: rcv.URL + "/hook", Client: rcv.Client()}
		g := alerting.NotificationGroup{Receiver: "r", ExternalURL: "http://engine.example/monitoring"}
		if err := w.Notify(alerting.ContextWithNotificationGroup(t.Context(), g), []alerting.Alert{a}); err != nil {
			t.Fatal(err)
		}
		if m := whDecode(t, rcv.only(t).Body); m.ExternalURL != g.ExternalURL {
			t.Errorf("externalURL = %q, want the group's %q", m.ExternalURL, g.ExternalURL)
		}
	})

	t.Run("firing with the engine's group", func(t *testing.T) {
		rcv := ntNewReceiver(t, nil)
		w := &notify.Webhook{URL: rcv.URL + "/hook", ExternalURL: "http://vitals.example/monitoring", Client: rcv.Client()}
		g := alerting.NotificationGroup{Key: `{}/{severity="critical"}:{alertname="HighErrorRate"}`, Labels: map[string]string{"alertname": "HighErrorRate"}, Receiver: "critical", ExternalURL: "http://overridden.example"}
		if err := w.Notify(alerting.ContextWithNotificationGroup(t.Context(), g), []alerting.Alert{a, b}); err != nil {
			t.Fatal(err)
		}
		req := rcv.only(t)
		if req.Method != http.MethodPost || req.Path != "/hook" {
			t.Errorf("got %s %s, want POST /hook", req.Method, req.Path)
		}
		if ct := req.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q", ct)
		}
		if h := req.Header.Get("Authorization"); h != "" {
			t.Errorf("Authorization = %q without credentials configured", h)
		}
		m := whDecode(t, req.Body)
		if m.Version != "4" || m.Status != "firing" || m.Receiver != "critical" || m.GroupKey != g.Key || m.TruncatedAlerts != 0 {
			t.Errorf("version %q status %q receiver %q groupKey %q truncated %d", m.Version, m.Status, m.Receiver, m.GroupKey, m.TruncatedAlerts)
		}
		if m.ExternalURL != "http://vitals.example/monitoring" {
			t.Errorf("externalURL = %q", m.ExternalURL)
		}
		ntEqualMaps(t, "groupLabels", m.GroupLabels, map[string]string{"alertname": "HighErrorRate"})
		ntEqualMaps(t, "commonLabels", m.CommonLabels, map[string]string{"alertname": "HighErrorRate", "severity": "critical", "service": "api"})
		ntEqualMaps(t, "commonAnnotations", m.CommonAnnotations, map[string]string{})
		if len(m.Alerts) != 2 {
			t.Fatalf("got %d alerts, want 2", len(m.Alerts))
		}
		got := m.Alerts[0]
		if got.Status != "firing" || got.StartsAt != "2025-03-04T05:06:07Z" || got.EndsAt != "0001-01-01T00:00:00Z" {
			t.Errorf("status %q startsAt %q endsAt %q", got.Status, got.StartsAt, got.EndsAt)
		}
		if got.GeneratorURL != a.GeneratorURL || got.Fingerprint != a.ID {
			t.Errorf("generatorURL %q fingerprint %q", got.GeneratorURL, got.Fingerprint)
		}
		ntEqualMaps(t, "labels", got.Labels, a.Labels)
		ntEqualMaps(t, "annotations", got.Annotations, a.Annotations)
		if m.Alerts[1].Labels["instance"] != "b" || m.Alerts[1].Annotations["description"] != "5xx ratio is 30%" {
			t.Errorf("second alert = %+v", m.Alerts[1])
		}
	})

	t.Run("mixed is firing", func(t *testing.T) {
		rcv := ntNewReceiver(t, nil)
		w := &notify.Webhook{URL: rcv.URL, Client: rcv.Client()}
		if err := w.Notify(t.Context(), []alerting.Alert{ntResolved(a), b}); err != nil {
			t.Fatal(err)
		}
		m := whDecode(t, rcv.only(t).Body)
		if m.Status != "firing" {
			t.Errorf("status = %q, want firing", m.Status)
		}
		if m.Alerts[0].Status != "resolved" || m.Alerts[0].EndsAt != "2025-03-04T05:16:07Z" {
			t.Errorf("resolved alert: status %q endsAt %q", m.Alerts[0].Status, m.Alerts[0].EndsAt)
		}
		if m.Alerts[1].Status != "firing" || m.Alerts[1].EndsAt != "0001-01-01T00:00:00Z" {
			t.Errorf("firing alert: status %q endsAt %q", m.Alerts[1].Status, m.Alerts[1].EndsAt)
		}
	})

	t.Run("all resolved, group derived", func(t *testing.T) {
		rcv := ntNewReceiver(t, nil)
		w := &notify.Webhook{URL: rcv.URL, Client: rcv.Client()}
		if err := w.Notify(t.Context(), []alerting.Alert{ntResolved(a), ntResolved(b)}); err != nil {
			t.Fatal(err)
		}
		m := whDecode(t, rcv.only(t).Body)
		if m.Status != "resolved" {
			t.Errorf("status = %q, want resolved", m.Status)
		}
		if m.Receiver != "vitals" || m.GroupKey != `{}:{alertname="HighErrorRate"}` {
			t.Errorf("receiver %q groupKey %q", m.Receiver, m.GroupKey)
		}
		ntEqualMaps(t, "groupLabels", m.GroupLabels, map[string]string{"alertname": "HighErrorRate"})
		ntEqualMaps(t, "commonAnnotations", m.CommonAnnotations, map[string]string{})
	})

	t.Run("truncated", func(t *testing.T) {
		rcv := ntNewReceiver(t, nil)
		w := &notify.Webhook{URL: rcv.URL, MaxAlerts: 1, Client: rcv.Client()}
		if err := w.Notify(t.Context(), []alerting.Alert{a, b}); err != nil {
			t.Fatal(err)
		}
		m := whDecode(t, rcv.only(t).Body)
		if m.TruncatedAlerts != 1 || len(m.Alerts) != 1 {
			t.Errorf("truncatedAlerts %d with %d alerts, want 1 and 1", m.TruncatedAlerts, len(m.Alerts))
		}
		ntEqualMaps(t, "commonLabels", m.CommonLabels, map[string]string{"alertname": "HighErrorRate", "severity": "critical", "service": "api"})
	})
}

func TestWebhookAuth(t *testing.T) {
	basic := func(u, p string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p)) }
	for _, tc := range []struct {
		name     string
		hook     notify.Webhook
		userinfo *url.Userinfo
		want     string
	}{
		{name: "bearer", hook: notify.Webhook{BearerToken: "s3cret-token"}, want: "Bearer s3cret-token"},
		{name: "basic", hook: notify.Webhook{Username: "vitals", Password: "pa55"}, want: basic("vitals", "pa55")},
		{name: "basic in the URL", userinfo: url.UserPassword("u", "p w"), want: basic("u", "p w")},
		{name: "none", want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rcv := ntNewReceiver(t, nil)
			u, _ := url.Parse(rcv.URL)
			u.User = tc.userinfo
			w := tc.hook
			w.URL, w.Client = u.String(), rcv.Client()
			if err := w.Notify(t.Context(), []alerting.Alert{ntFiring("X", "warning")}); err != nil {
				t.Fatal(err)
			}
			if got := rcv.only(t).Header.Get("Authorization"); got != tc.want {
				t.Errorf("Authorization = %q, want %q", got, tc.want)
			}
		})
	}

	t.Run("both is an error", func(t *testing.T) {
		rcv := ntNewReceiver(t, nil)
		w := &notify.Webhook{URL: rcv.URL, BearerToken: "s3cret-token", Username: "u", Password: "hunter2", Client: rcv.Client()}
		err := w.Notify(t.Context(), []alerting.Alert{ntFiring("X", "warning")})
		if err == nil || strings.Contains(err.Error(), "s3cret-token") || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("err = %v, want an error naming no credentials", err)
		}
		if n := len(rcv.got()); n != 0 {
			t.Errorf("receiver got %d requests", n)
		}
	})
}

func TestWebhookErrorsNameNoCredentials(t *testing.T) {
	const secrets = "hunter2|s3cret-token|querysecret"
	check := func(t *testing.T, err error) {
		t.Helper()
		if err == nil {
			t.Fatal("no error")
		}
		for _, s := range strings.Split(secrets, "|") {
			if strings.Contains(err.Error(), s) {
				t.Errorf("error names a credential: %v", err)
			}
		}
	}
	alerts := []alerting.Alert{ntFiring("X", "critical")}

	t.Run("status", func(t *testing.T) {
		rcv := ntNewReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "receiver\nis down", http.StatusServiceUnavailable)
		})
		u := strings.Replace(rcv.URL, "http://", "http://admin:hunter2@", 1) + "/hook?token=querysecret"
		w := &notify.Webhook{URL: u, BearerToken: "", Client: rcv.Client()}
		err := w.Notify(t.Context(), alerts)
		check(t, err)
		var se *notify.StatusError
		if !errors.As(err, &se) {
			t.Fatalf("err = %v (%T), want a *StatusError", err, err)
		}
		if se.StatusCode != 503 || se.URL != rcv.URL+"/hook" || se.Body != "receiver is down" {
			t.Errorf("StatusError = %+v", se)
		}
		if !strings.Contains(err.Error(), "503") {
			t.Errorf("error does not name the status: %v", err)
		}
	})

	t.Run("unreachable", func(t *testing.T) {
		rcv := ntNewReceiver(t, nil)
		rcv.Close()
		w := &notify.Webhook{URL: rcv.URL + "/hook?token=querysecret", BearerToken: "s3cret-token", Client: rcv.Client()}
		check(t, w.Notify(t.Context(), alerts))
	})

	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		rcv := ntNewReceiver(t, nil)
		w := &notify.Webhook{URL: strings.Replace(rcv.URL, "http://", "http://admin:hunter2@", 1), Client: rcv.Client()}
		err := w.Notify(ctx, alerts)
		check(t, err)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})

	t.Run("bad URL", func(t *testing.T) {
		for _, u := range []string{"", "ftp://x", "http://admin:hunter2@[::1", "::querysecret"} {
			check(t, (&notify.Webhook{URL: u}).Notify(t.Context(), alerts))
		}
	})
}
