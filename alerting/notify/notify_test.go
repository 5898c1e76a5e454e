package notify_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/alerting/notify"
)

// Shared fixtures of the notifier tests (prefixed nt to stay apart from
// the engine's tests in the same package).

var (
	ntStart = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	ntEnd   = ntStart.Add(10 * time.Minute)
)

// ntFiring returns a firing alert of rule name with the given extra labels.
func ntFiring(name, severity string, labels ...string) alerting.Alert {
	l := map[string]string{"alertname": name, "severity": severity, "service": "api"}
	for i := 0; i+1 < len(labels); i += 2 {
		l[labels[i]] = labels[i+1]
	}
	return alerting.Alert{
		ID:     "id-" + name + "-" + l["instance"],
		Labels: l,
		Annotations: map[string]string{
			"summary":     name + " on " + l["instance"],
			"description": "5xx ratio is 12%",
		},
		State:        alerting.StateFiring,
		ActiveAt:     ntStart.Add(-time.Minute),
		StartsAt:     ntStart,
		GeneratorURL: "http://vitals.example/monitoring/api/query?expr=up",
	}
}

// ntResolved returns a as resolved at ntEnd.
func ntResolved(a alerting.Alert) alerting.Alert {
	a.State = alerting.StateResolved
	a.EndsAt = ntEnd
	return a
}

// ntRequest is one request a ntReceiver got.
type ntRequest struct {
	Method, Path string
	Header       http.Header
	Body         []byte
}

// ntReceiver is a real HTTP server on 127.0.0.1 that records requests and
// answers with the status its answer function gives (200 by default).
type ntReceiver struct {
	*httptest.Server
	mu       sync.Mutex
	requests []ntRequest
	answer   func(n int, w http.ResponseWriter, r *http.Request) // n counts from 1
}

func ntNewReceiver(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *ntReceiver {
	t.Helper()
	rcv := &ntReceiver{answer: answer}
	rcv.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rcv.mu.Lock()
		rcv.requests = append(rcv.requests, ntRequest{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
		n := len(rcv.requests)
		rcv.mu.Unlock()
		if rcv.answer != nil {
			rcv.answer(n, w, r)
		}
	}))
	t.Cleanup(rcv.Close)
	return rcv
}

func (r *ntReceiver) got() []ntRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ntRequest(nil), r.requests...)
}

// ntOnly returns the one request the receiver got.
func (r *ntReceiver) only(t *testing.T) ntRequest {
	t.Helper()
	reqs := r.got()
	if len(reqs) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(reqs))
	}
	return reqs[0]
}

// ntCounts collects the notification counter as "notifier/outcome" → value.
func ntCounts(t *testing.T, r *sdkmetric.ManualReader) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != notify.MetricNotifications {
				continue
			}
			if sm.Scope.Name != notify.ScopeName {
				t.Errorf("scope = %q, want %q", sm.Scope.Name, notify.ScopeName)
			}
			if m.Unit != "{notification}" {
				t.Errorf("unit = %q, want {notification}", m.Unit)
			}
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok || !sum.IsMonotonic || sum.Temporality != metricdata.CumulativeTemporality {
				t.Fatalf("%s is %T (%+v), want a cumulative monotonic int64 sum", m.Name, m.Data, m.Data)
			}
			for _, dp := range sum.DataPoints {
				n, _ := dp.Attributes.Value("notifier")
				o, _ := dp.Attributes.Value("outcome")
				if dp.Attributes.Len() != 2 {
					t.Errorf("attributes %v, want notifier and outcome only", dp.Attributes.ToSlice())
				}
				out[n.AsString()+"/"+o.AsString()] = dp.Value
			}
		}
	}
	return out
}

// ntMeter returns a manual reader and a provider reading into it.
func ntMeter(t *testing.T) (*sdkmetric.ManualReader, *sdkmetric.MeterProvider) {
	t.Helper()
	r := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return r, mp
}

func ntEqualMaps(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
		return
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v, want %v", what, got, want)
			return
		}
	}
}

func TestNotificationGroupFromContext(t *testing.T) {
	if _, ok := alerting.NotificationGroupFromContext(t.Context()); ok {
		t.Error("a bare context carries a group")
	}
	g := alerting.NotificationGroup{Key: "k", Labels: map[string]string{"alertname": "X"}, Receiver: "ops"}
	got, ok := alerting.NotificationGroupFromContext(alerting.ContextWithNotificationGroup(t.Context(), g))
	if !ok || got.Key != "k" || got.Receiver != "ops" || got.Labels["alertname"] != "X" {
		t.Errorf("got %+v, %v; want %+v", got, ok, g)
	}
}

func TestNotifierStatusErrorTemporary(t *testing.T) {
	for code, want := range map[int]bool{500: true, 502: true, 503: true, 408: true, 429: true, 400: false, 401: false, 404: false, 413: false} {
		if got := (&notify.StatusError{StatusCode: code}).Temporary(); got != want {
			t.Errorf("Temporary() for %d = %v, want %v", code, got, want)
		}
	}
}
