package notify_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/alerting/notify"
)

// TestUnsentSurvivesARestart: what a queue could not deliver before its
// shutdown deadline is saved, and a new queue of the same name (after a
// restart) delivers it with its group and its alerts unchanged, a NaN
// value included.
func TestUnsentSurvivesARestart(t *testing.T) {
	block := notify.NewQueue(alerting.NotifierFunc(func(ctx context.Context, _ []alerting.Alert) error {
		<-ctx.Done() // a receiver that never answers
		return ctx.Err()
	}), "page/0", notify.WithLogger(qDiscard()))
	g := alerting.NotificationGroup{Key: `{}:{alertname="X"}`, Labels: map[string]string{"alertname": "X"}, Receiver: "page", ExternalURL: "http://vitals.example/monitoring"}
	x := ntFiring("X", "critical")
	x.Value = math.NaN()
	y := ntResolved(ntFiring("Y", "warning"))
	y.Value = 0.25
	if err := block.Notify(alerting.ContextWithNotificationGroup(t.Context(), g), []alerting.Alert{x}); err != nil {
		t.Fatal(err)
	}
	if err := block.Notify(t.Context(), []alerting.Alert{y}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := block.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown = %v, want context.Canceled", err)
	}
	var saved bytes.Buffer
	if err := notify.SaveState(&saved, []*notify.Queue{block}); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var got []notify.Notification
	next := notify.NewQueue(alerting.NotifierFunc(func(ctx context.Context, alerts []alerting.Alert) error {
		g, ok := alerting.NotificationGroupFromContext(ctx)
		mu.Lock()
		got = append(got, notify.Notification{Alerts: alerts, Group: g, HasGroup: ok})
		mu.Unlock()
		return nil
	}), "page/0")
	unsent, err := notify.LoadState(bytes.NewReader(saved.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	n, err := notify.RequeueUnsent(unsent, []*notify.Queue{next})
	if err != nil || n != 2 {
		t.Fatalf("RequeueUnsent = %d, %v, want 2, nil", n, err)
	}
	qStop(t, next)
	if len(got) != 2 {
		t.Fatalf("delivered %d notifications after the restart, want 2", len(got))
	}
	if !got[0].HasGroup || !reflect.DeepEqual(got[0].Group, g) || got[1].HasGroup {
		t.Errorf("groups after the restart: %+v, %+v; want %+v then none", got[0].Group, got[1].Group, g)
	}
	gx, gy := got[0].Alerts[0], got[1].Alerts[0]
	if !math.IsNaN(gx.Value) || gy.Value != 0.25 {
		t.Errorf("values after the restart: %v, %v; want NaN, 0.25", gx.Value, gy.Value)
	}
	gx.Value, x.Value = 0, 0
	if !reflect.DeepEqual(gx, x) || !reflect.DeepEqual(gy, y) {
		t.Errorf("alerts after the restart:\n%+v\n%+v\nwant\n%+v\n%+v", gx, gy, x, y)
	}

	// Saved again after the restart, nothing is left: a later restart does
	// not send them twice.
	saved.Reset()
	if err := notify.SaveState(&saved, []*notify.Queue{next}); err != nil {
		t.Fatal(err)
	}
	if unsent, err := notify.LoadState(bytes.NewReader(saved.Bytes())); len(unsent) != 0 || err != nil {
		t.Errorf("the second restart finds %v (%v), want nothing", unsent, err)
	}
}

// TestRequeueUnsentErrors: notifications for a queue that no longer exists
// are named in the error; a later version or garbage requeues nothing.
func TestRequeueUnsentErrors(t *testing.T) {
	q := notify.NewQueue(alerting.NotifierFunc(func(context.Context, []alerting.Alert) error { return nil }), "kept/0")
	defer qStop(t, q)
	doc := `{"version":1,"queues":{"gone/0":[{"alerts":[{"labels":{"alertname":"Z"},"state":"firing","value":"1"}]}],"kept/0":[{"alerts":[{"labels":{"alertname":"K"},"state":"firing","value":"1"}]}]}}`
	unsent, err := notify.LoadState(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	n, err := notify.RequeueUnsent(unsent, []*notify.Queue{q})
	if n != 1 || err == nil || !strings.Contains(err.Error(), `1 unsent notifications for queue "gone/0"`) {
		t.Errorf("RequeueUnsent = %d, %v; want 1 and an error naming gone/0", n, err)
	}
	for _, bad := range []string{
		`{"version":2,"queues":{}}`, `{"version":1,"queues":`, `[]`,
		`{"version":1,"queues":{"kept/0":[{"alerts":[{"labels":{"alertname":"K"},"value":"x"}]}]}}`,
	} {
		if unsent, err := notify.LoadState(strings.NewReader(bad)); unsent != nil || err == nil {
			t.Errorf("LoadState(%s) = %v, %v; want an error", bad, unsent, err)
		}
	}
	if _, err := notify.LoadState(strings.NewReader(`{"version":2,"queues":{}}`)); !errors.Is(err, notify.ErrStateVersion) {
		t.Errorf("LoadState of version 2: %v, want ErrStateVersion", err)
	}
}
