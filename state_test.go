package vitals_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vitalsgo/vitals"
	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/internal/logtest"
)

func startWithState(t *testing.T, dir string, opts ...vitals.Option) (*vitals.Vitals, error) {
	t.Helper()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_METRICS_EXPORTER", "")
	v, err := vitals.Start(t.Context(), append([]vitals.Option{vitals.WithStateDir(dir)}, opts...)...)
	if err == nil {
		t.Cleanup(func() { _ = v.Shutdown(context.Background()) })
	}
	return v, err
}

// TestStateDirOneProcess checks that a state directory in use fails Start
// with an error naming it, and that it is free again after Shutdown.
func TestStateDirOneProcess(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	v, err := startWithState(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := startWithState(t, dir); err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "in use by another process") {
		t.Errorf("second Start on %s: %v", dir, err)
	}
	if err := v.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := startWithState(t, dir); err != nil {
		t.Errorf("Start after Shutdown: %v", err)
	}
}

// TestStateDirErrors checks the directory errors of Start: a path that
// cannot be a directory, and the option without the in-memory reader.
func TestStateDirErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := startWithState(t, filepath.Join(file, "state")); err == nil || !strings.Contains(err.Error(), file) {
		t.Errorf("Start under a file: %v, want an error naming it", err)
	}
	if _, err := startWithState(t, t.TempDir(), vitals.WithoutMemory()); err == nil || !strings.Contains(err.Error(), "WithStateDir") {
		t.Errorf("Start with WithoutMemory: %v, want an error naming WithStateDir", err)
	}
}

// TestStateSurvivesShutdown saves at Shutdown and loads at Start: a
// silence, and the metric history; a corrupt file is reported, counted,
// moved aside and skipped, and Start goes on with the rest.
func TestStateSurvivesShutdown(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	v, err := startWithState(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	id, err := v.Alerting().Silences().Add(alerting.Silence{
		Matchers:  []alerting.Matcher{{Name: "alertname", Value: "X", IsEqual: true}},
		StartsAt:  v.Memory().Now(),
		EndsAt:    v.Memory().Now().Add(3600e9),
		CreatedBy: "test", Comment: "kept",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Memory().Collect(t.Context()); err != nil {
		t.Fatal(err)
	}
	series := v.Memory().Stats().Series
	if err := v.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}

	v2, err := startWithState(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	sils := v2.Alerting().Silences().List()
	if len(sils) != 1 || sils[0].ID != id {
		t.Errorf("silences after the restart: %+v, want %s", sils, id)
	}
	if got := v2.Memory().Stats().Series; got != series {
		t.Errorf("%d series after the restart, %d before", got, series)
	}
	if err := v2.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}

	// Corrupt the alerts file: Start goes on, says so, counts it, and
	// keeps the file aside.
	path := filepath.Join(dir, "alerts.state")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-2] ^= 0xff
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	logger, logs := logtest.New()
	v3, err := startWithState(t, dir, vitals.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "state file skipped") || !strings.Contains(logs.String(), path) || !strings.Contains(logs.String(), "checksum mismatch") {
		t.Errorf("log: %s", logs)
	}
	if _, err := os.Stat(path + ".bad-1"); err != nil {
		t.Errorf("the corrupt file was not kept aside: %v", err)
	}
	if len(v3.Alerting().Silences().List()) != 0 {
		t.Errorf("silences loaded from a corrupt file")
	}
	if got := v3.Memory().Stats().Series; got != series {
		t.Errorf("the metric history was not loaded beside the corrupt alerts file: %d series", got)
	}
	rec := httptest.NewRecorder()
	v3.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), `vitals_state_failures_total{file="alerts.state",operation="load"`) {
		t.Errorf("no failure counted on /metrics")
	}
}

// TestStateSaveFailureKeepsServing removes the state directory under a
// running Vitals that saves every 10 ms: the saves fail, are counted and
// logged, the service keeps answering, and Shutdown reports the failure
// naming the directory.
func TestStateSaveFailureKeepsServing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	logger, logs := logtest.New()
	v, err := startWithState(t, dir, vitals.WithLogger(logger), vitals.WithStateInterval(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		rec := httptest.NewRecorder()
		v.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		if rec.Code != 200 {
			t.Fatalf("/metrics answered %d after the failed saves", rec.Code)
		}
		if strings.Contains(rec.Body.String(), `vitals_state_failures_total{file="memory.state",operation="save"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no failed save counted within 10 s:\n%s", logs)
		}
		runtime.Gosched()
	}
	// The failure is counted before it is logged: wait for the line.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if !logs.WaitFor(ctx, "saving state failed") || !strings.Contains(logs.String(), dir) {
		t.Errorf("log: %s", logs)
	}
	if err := v.Shutdown(t.Context()); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("Shutdown after the directory went away: %v, want an error naming it", err)
	}
}

// TestStateKeepsUnsentNotifications: a notification that could not be
// delivered before Shutdown's deadline (the receiver hangs) is saved, and
// sent after the restart to the route of the same name; it is counted as
// unsent, not lost.
func TestStateKeepsUnsentNotifications(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	rule := vitals.WithAlertRules(alerting.Group{Name: "g", Interval: 10 * time.Millisecond,
		Rules: []alerting.Rule{{Alert: "Kept", Expr: "vector(1)", Labels: map[string]string{"severity": "page"}}}})
	arrived := make(chan struct{}, 1)
	hang := alerting.NotifierFunc(func(ctx context.Context, _ []alerting.Alert) error {
		select {
		case arrived <- struct{}{}:
		default:
		}
		<-ctx.Done() // a receiver that never answers
		return ctx.Err()
	})
	v, err := startWithState(t, dir, rule, vitals.WithoutDefaultAlertRules(),
		vitals.WithAlertRoutes(alerting.Route{Name: "page", Notifiers: []alerting.Notifier{hang}, GroupWait: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, arrived, "the notification to reach the receiver")
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // the deadline is already past: nothing more can be delivered
	if err := v.Shutdown(ctx); err == nil || !strings.Contains(err.Error(), "1 notifications undelivered") {
		t.Errorf("Shutdown = %v, want the undelivered notification reported", err)
	}

	got := make(chan []alerting.Alert, 1)
	deliver := alerting.NotifierFunc(func(_ context.Context, alerts []alerting.Alert) error {
		got <- alerts
		return nil
	})
	logger, logs := logtest.New()
	// The rule is gone after the restart: only the kept notification can
	// reach the receiver.
	v2, err := startWithState(t, dir, vitals.WithoutDefaultAlertRules(), vitals.WithLogger(logger),
		vitals.WithAlertRoutes(alerting.Route{Name: "page", Notifiers: []alerting.Notifier{deliver}}))
	if err != nil {
		t.Fatal(err)
	}
	alerts := waitFor(t, got, "the kept notification after the restart")
	if len(alerts) != 1 || alerts[0].Name() != "Kept" || alerts[0].State != alerting.StateFiring {
		t.Errorf("delivered after the restart: %v, want Kept firing", alerts)
	}
	if !strings.Contains(logs.String(), "requeued") {
		t.Errorf("the requeue was not logged:\n%s", logs)
	}
	if err := v2.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Delivered, it is not kept again.
	v3, err := startWithState(t, dir, vitals.WithoutDefaultAlertRules(),
		vitals.WithAlertRoutes(alerting.Route{Name: "page", Notifiers: []alerting.Notifier{deliver}}))
	if err != nil {
		t.Fatal(err)
	}
	if err := v3.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case a := <-got:
		t.Errorf("delivered again after a second restart: %v", a)
	default:
	}
}

// waitFor receives from ch, or fails the test after a minute naming what
// it waited for.
func waitFor[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	timer := time.NewTimer(time.Minute)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("no %s within a minute", what)
		panic("unreachable")
	}
}
