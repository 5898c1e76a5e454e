package notify_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/alerting/notify"
)

// amPostable is Alertmanager's API v2 postableAlert; decoding disallows any
// other field.
type amPostable struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     *string           `json:"startsAt"`
	EndsAt       *string           `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
}

func amDecode(t *testing.T, body []byte) []amPostable {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var alerts []amPostable
	if err := dec.Decode(&alerts); err != nil {
		t.Fatalf("payload %s: %v", body, err)
	}
	return alerts
}

func TestAlertmanagerPostsToEveryURL(t *testing.T) {
	firing := ntFiring("HighErrorRate", "critical", "instance", "a")
	resolved := ntResolved(ntFiring("HighLatency", "warning", "instance", "b"))

	am1 := ntNewReceiver(t, nil)
	am2 := ntNewReceiver(t, nil)
	am := &notify.Alertmanager{
		URLs:        []string{am1.URL, am2.URL + "/prefix/"},
		BearerToken: "am-token",
		Client:      am1.Client(),
	}
	if err := am.Notify(t.Context(), []alerting.Alert{firing, resolved}); err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct {
		rcv  *ntReceiver
		path string
	}{{am1, "/api/v2/alerts"}, {am2, "/prefix/api/v2/alerts"}} {
		req := want.rcv.only(t)
		if req.Method != http.MethodPost || req.Path != want.path {
			t.Errorf("alertmanager %d got %s %s, want POST %s", i, req.Method, req.Path, want.path)
		}
		if got := req.Header.Get("Authorization"); got != "Bearer am-token" {
			t.Errorf("alertmanager %d: Authorization = %q", i, got)
		}
		if ct := req.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("alertmanager %d: Content-Type = %q", i, ct)
		}
		alerts := amDecode(t, req.Body)
		if len(alerts) != 2 {
			t.Fatalf("alertmanager %d got %d alerts, want 2", i, len(alerts))
		}
		f, r := alerts[0], alerts[1]
		ntEqualMaps(t, "labels", f.Labels, firing.Labels)
		ntEqualMaps(t, "annotations", f.Annotations, firing.Annotations)
		if f.StartsAt == nil || *f.StartsAt != "2025-03-04T05:06:07Z" {
			t.Errorf("firing startsAt = %v", f.StartsAt)
		}
		if f.EndsAt != nil {
			t.Errorf("firing alert has endsAt %q; Alertmanager must apply its resolve_timeout", *f.EndsAt)
		}
		if f.GeneratorURL != firing.GeneratorURL {
			t.Errorf("generatorURL = %q", f.GeneratorURL)
		}
		ntEqualMaps(t, "labels", r.Labels, resolved.Labels)
		if r.EndsAt == nil || *r.EndsAt != "2025-03-04T05:16:07Z" {
			t.Errorf("resolved endsAt = %v, want 2025-03-04T05:16:07Z", r.EndsAt)
		}
	}
}

func TestAlertmanagerPartialAndTotalFailure(t *testing.T) {
	alerts := []alerting.Alert{ntFiring("X", "critical")}
	ok := ntNewReceiver(t, nil)
	down := ntNewReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "overloaded", http.StatusServiceUnavailable)
	})
	bad := ntNewReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "invalid label set", http.StatusBadRequest)
	})

	t.Run("one succeeds", func(t *testing.T) {
		am := &notify.Alertmanager{URLs: []string{down.URL, ok.URL}, Client: ok.Client()}
		err := am.Notify(t.Context(), alerts)
		var pe *notify.PartialError
		if !errors.As(err, &pe) {
			t.Fatalf("err = %v (%T), want a *PartialError", err, err)
		}
		var se *notify.StatusError
		if !errors.As(err, &se) || se.StatusCode != 503 || se.URL != down.URL+"/api/v2/alerts" {
			t.Errorf("err = %v, want the 503 of %s inside", err, down.URL)
		}
	})

	t.Run("all fail", func(t *testing.T) {
		am := &notify.Alertmanager{URLs: []string{down.URL, bad.URL}, Client: ok.Client()}
		err := am.Notify(t.Context(), alerts)
		var pe *notify.PartialError
		if err == nil || errors.As(err, &pe) {
			t.Fatalf("err = %v, want the joined errors", err)
		}
		for _, want := range []string{"503", "400", "invalid label set"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %q", err, want)
			}
		}
	})

	t.Run("no URLs", func(t *testing.T) {
		if err := (&notify.Alertmanager{}).Notify(t.Context(), alerts); err == nil {
			t.Error("no error without URLs")
		}
	})
}
