package notify_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/alerting/notify"
	"github.com/vitalsgo/vitals/clock"
	"github.com/vitalsgo/vitals/exporter"
	"github.com/vitalsgo/vitals/internal/logtest"
)

// qSleeps is the queue's clock in tests: it records the backoff waits and
// ends each at once. The queue uses only Now and After.
type qSleeps struct {
	clock.System
	mu sync.Mutex
	d  []time.Duration
}

func (s *qSleeps) Now() time.Time { return time.Unix(1_700_000_000, 0) }

func (s *qSleeps) After(d time.Duration) <-chan time.Time {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- s.Now()
	return ch
}

func (s *qSleeps) got() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// qStop shuts q down, giving it a generous deadline to drain.
func qStop(t *testing.T, q *notify.Queue) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// qNotify hands alerts to q.Notify, fails the test if Notify does not
// return at once, and reports whether q accepted them.
func qNotify(t *testing.T, q *notify.Queue, alerts ...alerting.Alert) bool {
	t.Helper()
	res := make(chan bool, 1)
	go func() { res <- q.Notify(context.Background(), alerts) == nil }()
	select {
	case ok := <-res:
		return ok
	case <-time.After(5 * time.Second):
		t.Fatal("Notify blocked")
		return false
	}
}

func qEqualCounts(t *testing.T, got, want map[string]int64) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("notifications = %v, want %v", got, want)
	}
}

// qHanging is a receiver that never answers until the request is given
// up; it reports each request's arrival on arrived.
func qHanging(t *testing.T, answerAfter int) (*ntReceiver, <-chan int) {
	t.Helper()
	arrived := make(chan int, 100)
	release := make(chan struct{})
	rcv := ntNewReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		arrived <- n
		if answerAfter > 0 && n > answerAfter {
			return // 200
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // runs before the server closes
	return rcv, arrived
}

func TestQueueRetriesUntilDelivered(t *testing.T) {
	rcv := ntNewReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n <= 2 {
			http.Error(w, "try later", http.StatusInternalServerError)
		}
	})
	reader, mp := ntMeter(t)
	logger, logs := logtest.New()
	var sleeps qSleeps
	q := notify.NewQueue(&notify.Webhook{URL: rcv.URL, Client: rcv.Client()}, "webhook",
		notify.WithMeterProvider(mp), notify.WithClock(&sleeps), notify.WithLogger(logger))
	if !qNotify(t, q, ntFiring("HighErrorRate", "critical")) {
		t.Fatal("Notify refused")
	}
	qStop(t, q)

	if n := len(rcv.got()); n != 3 {
		t.Errorf("receiver got %d requests, want 3", n)
	}
	qEqualCounts(t, ntCounts(t, reader), map[string]int64{"webhook/failed": 2, "webhook/sent": 1})
	d := sleeps.got()
	if len(d) != 2 || d[0] < 0 || d[0] > notify.DefaultBackoff || d[1] < 0 || d[1] > 2*notify.DefaultBackoff {
		t.Errorf("backoffs = %v, want 2 within [0, 500ms] and [0, 1s]", d)
	}
	out := logs.String()
	if !strings.Contains(out, "notification failed") || !strings.Contains(out, "notifier=webhook") || !strings.Contains(out, "500") {
		t.Errorf("log lacks the failure:\n%s", out)
	}
	if logs.Lines() != 1 {
		t.Errorf("the same error was logged %d times, want once:\n%s", logs.Lines(), out)
	}
}

func TestQueueRetriesAnAttemptThatHangs(t *testing.T) {
	rcv, _ := qHanging(t, 1)
	reader, mp := ntMeter(t)
	var sleeps qSleeps
	q := notify.NewQueue(&notify.Webhook{URL: rcv.URL, Client: rcv.Client()}, "hook",
		notify.WithMeterProvider(mp), notify.WithClock(&sleeps),
		notify.WithTimeout(50*time.Millisecond), notify.WithLogger(qDiscard()))
	qNotify(t, q, ntFiring("X", "critical"))
	qStop(t, q)

	if n := len(rcv.got()); n != 2 {
		t.Errorf("receiver got %d requests, want 2", n)
	}
	qEqualCounts(t, ntCounts(t, reader), map[string]int64{"hook/failed": 1, "hook/sent": 1})
}

func TestQueueBoundWhenReceiverNeverAnswers(t *testing.T) {
	rcv, arrived := qHanging(t, 0)
	reader, mp := ntMeter(t)
	logger, logs := logtest.New()
	q := notify.NewQueue(&notify.Webhook{URL: rcv.URL, Client: rcv.Client()}, "stuck",
		notify.WithMaxQueued(2), notify.WithTimeout(time.Hour),
		notify.WithMeterProvider(mp), notify.WithLogger(logger))

	if !qNotify(t, q, ntFiring("A", "critical")) {
		t.Fatal("first Notify refused")
	}
	<-arrived // the worker is now stuck on the first notification
	for i := range 2 {
		if !qNotify(t, q, ntFiring(fmt.Sprint("B", i), "critical")) {
			t.Fatalf("Notify %d refused with room in the queue", i)
		}
	}
	for i := range 3 {
		err := q.Notify(t.Context(), []alerting.Alert{ntFiring("C", "critical")})
		if !errors.Is(err, notify.ErrFull) || !strings.Contains(err.Error(), `queue "stuck"`) || !strings.Contains(err.Error(), "(2 notifications waiting)") {
			t.Fatalf("Notify %d into a full queue = %v, want ErrFull naming the queue and its size", i, err)
		}
	}
	qEqualCounts(t, ntCounts(t, reader), map[string]int64{"stuck/dropped": 3})
	if logs.Lines() != 0 {
		t.Errorf("a full queue is returned to the caller, not logged:\n%s", logs.String())
	}

	// Stopping gives up at once: the stuck attempt is cancelled, and it and
	// what is queued are kept for Unsent, in order, counted as unsent.
	if u := q.Unsent(); u != nil {
		t.Errorf("Unsent before Shutdown = %v, want nil", u)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := q.Shutdown(ctx); !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "3 notifications undelivered") {
		t.Errorf("Shutdown = %v, want context.Canceled and the count", err)
	}
	if n := len(rcv.got()); n != 1 {
		t.Errorf("receiver got %d requests, want 1", n)
	}
	qEqualCounts(t, ntCounts(t, reader), map[string]int64{"stuck/dropped": 3, "stuck/failed": 1, "stuck/unsent": 3})
	var names []string
	for _, n := range q.Unsent() {
		for _, a := range n.Alerts {
			names = append(names, a.Name())
		}
	}
	if got := strings.Join(names, " "); got != "A B0 B1" {
		t.Errorf("Unsent holds %q, want the stuck one and the queued ones in order: A B0 B1", got)
	}
	if !strings.Contains(logs.String(), "unsent=3") {
		t.Errorf("the unsent notifications were not logged:\n%s", logs.String())
	}

	if qNotify(t, q, ntFiring("D", "critical")) {
		t.Error("Notify after Shutdown accepted")
	}
	if err := q.Shutdown(t.Context()); !errors.Is(err, alerting.ErrShutdown) {
		t.Errorf("second Shutdown = %v, want ErrShutdown", err)
	}
	qEqualCounts(t, ntCounts(t, reader), map[string]int64{"stuck/dropped": 4, "stuck/failed": 1, "stuck/unsent": 3})
}

func TestQueueGivesUp(t *testing.T) {
	for _, tc := range []struct {
		name     string
		status   int
		attempts int
		sleeps   int
	}{
		{"after the attempts", http.StatusBadGateway, 3, 2},
		{"at once when retrying cannot help", http.StatusBadRequest, 1, 0},
		{"at once on 401", http.StatusUnauthorized, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rcv := ntNewReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(tc.status) })
			reader, mp := ntMeter(t)
			logger, logs := logtest.New()
			var sleeps qSleeps
			q := notify.NewQueue(&notify.Webhook{URL: rcv.URL, Client: rcv.Client()}, "hook",
				notify.WithAttempts(3), notify.WithMeterProvider(mp),
				notify.WithClock(&sleeps), notify.WithLogger(logger))
			qNotify(t, q, ntFiring("X", "critical"))
			qStop(t, q)
			if n := len(rcv.got()); n != tc.attempts {
				t.Errorf("receiver got %d requests, want %d", n, tc.attempts)
			}
			if n := len(sleeps.got()); n != tc.sleeps {
				t.Errorf("waited %d times, want %d", n, tc.sleeps)
			}
			qEqualCounts(t, ntCounts(t, reader), map[string]int64{"hook/dropped": 1, "hook/failed": int64(tc.attempts)})
			if !strings.Contains(logs.String(), fmt.Sprint(tc.status)) {
				t.Errorf("log lacks the status:\n%s", logs.String())
			}
		})
	}
}

func TestQueuePartialDeliveryCountsAsSent(t *testing.T) {
	ok := ntNewReceiver(t, nil)
	down := ntNewReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	reader, mp := ntMeter(t)
	logger, logs := logtest.New()
	q := notify.NewQueue(&notify.Alertmanager{URLs: []string{ok.URL, down.URL}, Client: ok.Client()}, "am",
		notify.WithMeterProvider(mp), notify.WithLogger(logger))
	qNotify(t, q, ntFiring("X", "critical"))
	qStop(t, q)
	if len(ok.got()) != 1 || len(down.got()) != 1 {
		t.Errorf("requests: %d and %d, want one each", len(ok.got()), len(down.got()))
	}
	qEqualCounts(t, ntCounts(t, reader), map[string]int64{"am/sent": 1})
	if !strings.Contains(logs.String(), "503") {
		t.Errorf("the failed Alertmanager is not logged:\n%s", logs.String())
	}
}

func TestQueueStopDrains(t *testing.T) {
	reader, mp := ntMeter(t)
	var got atomic.Int64
	release := make(chan struct{})
	n := alerting.NotifierFunc(func(ctx context.Context, alerts []alerting.Alert) error {
		<-release
		got.Add(int64(len(alerts)))
		return nil
	})
	q := notify.NewQueue(n, "func", notify.WithMeterProvider(mp))
	for i := range 10 {
		if !qNotify(t, q, ntFiring(fmt.Sprint("A", i), "critical")) {
			t.Fatalf("Notify %d refused", i)
		}
	}
	if q.Notify(t.Context(), nil) != nil {
		t.Error("an empty batch was refused")
	}
	close(release)
	qStop(t, q)
	if got.Load() != 10 {
		t.Errorf("delivered %d alerts, want 10", got.Load())
	}
	qEqualCounts(t, ntCounts(t, reader), map[string]int64{"func/sent": 10})
}

func TestQueueStopAbandonsTheBackoff(t *testing.T) {
	// The wait between attempts, here an hour, ends with Stop's ctx.
	rcv := ntNewReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	reader, mp := ntMeter(t)
	waiting := make(chan time.Duration, 1)
	clock := qStuckClock{waiting: waiting}
	q := notify.NewQueue(&notify.Webhook{URL: rcv.URL, Client: rcv.Client()}, "hook",
		notify.WithBackoff(time.Hour, time.Hour), notify.WithClock(clock),
		notify.WithMeterProvider(mp), notify.WithLogger(qDiscard()))
	qNotify(t, q, ntFiring("X", "critical"))
	if d := <-waiting; d < 0 || d > time.Hour {
		t.Errorf("backoff = %v, want within [0, 1h]", d)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := q.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown = %v, want context.Canceled", err)
	}
	qEqualCounts(t, ntCounts(t, reader), map[string]int64{"hook/unsent": 1, "hook/failed": 1})
	if u := q.Unsent(); len(u) != 1 || u[0].Alerts[0].Name() != "X" {
		t.Errorf("Unsent = %+v, want the notification waiting for its retry", u)
	}
}

func TestQueueNotifierPanicIsAnError(t *testing.T) {
	reader, mp := ntMeter(t)
	logger, logs := logtest.New()
	q := notify.NewQueue(alerting.NotifierFunc(func(context.Context, []alerting.Alert) error { panic("boom") }), "bad",
		notify.WithAttempts(1), notify.WithMeterProvider(mp), notify.WithLogger(logger))
	qNotify(t, q, ntFiring("X", "critical"))
	qStop(t, q)
	qEqualCounts(t, ntCounts(t, reader), map[string]int64{"bad/dropped": 1, "bad/failed": 1})
	if !strings.Contains(logs.String(), "panicked: boom") {
		t.Errorf("log lacks the panic:\n%s", logs.String())
	}
}

func TestQueueGroupReachesTheNotifier(t *testing.T) {
	rcv := ntNewReceiver(t, nil)
	q := notify.NewQueue(&notify.Webhook{URL: rcv.URL, Client: rcv.Client()}, "hook")
	g := alerting.NotificationGroup{Key: "route/critical:{alertname=\"X\"}", Labels: map[string]string{"alertname": "X"}, Receiver: "critical"}
	if q.Notify(alerting.ContextWithNotificationGroup(t.Context(), g), []alerting.Alert{ntFiring("X", "critical")}) != nil {
		t.Fatal("Notify with a group refused")
	}
	qStop(t, q)
	m := whDecode(t, rcv.only(t).Body)
	if m.GroupKey != g.Key || m.Receiver != "critical" {
		t.Errorf("groupKey %q receiver %q, want %q %q", m.GroupKey, m.Receiver, g.Key, g.Receiver)
	}
}

func TestQueueConcurrentSafe(t *testing.T) {
	reader, mp := ntMeter(t)
	q := notify.NewQueue(alerting.NotifierFunc(func(context.Context, []alerting.Alert) error { return nil }), "func",
		notify.WithMaxQueued(8), notify.WithMeterProvider(mp), notify.WithLogger(qDiscard()))
	var accepted, refused atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				if q.Notify(context.Background(), []alerting.Alert{ntFiring(fmt.Sprint("A", g, i), "critical")}) == nil {
					accepted.Add(1)
				} else {
					refused.Add(1)
				}
			}
		})
	}
	wg.Go(func() { qStop(t, q) })
	wg.Wait()
	counts := ntCounts(t, reader)
	if counts["func/sent"] != accepted.Load() || counts["func/dropped"] != refused.Load() || accepted.Load()+refused.Load() != 1600 {
		t.Errorf("accepted %d refused %d, counted %v", accepted.Load(), refused.Load(), counts)
	}
}

func TestQueueMetricsOnPrometheus(t *testing.T) {
	p, err := exporter.NewMeterProvider(t.Context(), exporter.MetricsConfig{ServiceName: "notify-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	rcv := ntNewReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	var sleeps qSleeps
	q := notify.NewQueue(&notify.Webhook{URL: rcv.URL, Client: rcv.Client()}, "ops-webhook",
		notify.WithMeterProvider(p), notify.WithClock(&sleeps), notify.WithLogger(qDiscard()))
	qNotify(t, q, ntFiring("X", "critical"))
	qStop(t, q)

	rec := httptest.NewRecorder()
	p.PrometheusHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	want := map[string]string{"sent": "1", "failed": "1"}
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if !strings.HasPrefix(line, "vitals_alerting_notifications_total{") || !strings.Contains(line, `notifier="ops-webhook"`) {
			continue
		}
		for outcome, v := range want {
			if strings.Contains(line, `outcome="`+outcome+`"`) && strings.HasSuffix(line, " "+v) {
				delete(want, outcome)
			}
		}
	}
	if len(want) > 0 {
		t.Errorf("/metrics lacks %v:\n%s", want, rec.Body.String())
	}
}

// qDiscard returns a logger whose output the test ignores.
func qDiscard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestQueueWaitsAsTheReceiverAsks: a real receiver answering 503 with
// Retry-After gets its wait before the next attempt.
func TestQueueWaitsAsTheReceiverAsks(t *testing.T) {
	rcv := ntNewReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "3")
			http.Error(w, "busy", http.StatusServiceUnavailable)
		}
	})
	reader, mp := ntMeter(t)
	var sleeps qSleeps
	q := notify.NewQueue(&notify.Webhook{URL: rcv.URL, Client: rcv.Client()}, "webhook",
		notify.WithMeterProvider(mp), notify.WithClock(&sleeps), notify.WithLogger(qDiscard()))
	qNotify(t, q, ntFiring("X", "critical"))
	qStop(t, q)
	if d := sleeps.got(); len(d) != 1 || d[0] != 3*time.Second {
		t.Errorf("waits = %v, want [3s] as Retry-After asked", d)
	}
	qEqualCounts(t, ntCounts(t, reader), map[string]int64{"webhook/failed": 1, "webhook/sent": 1})
}

// qStuckClock reports each wait on its channel and never ends one: only
// the queue's context does. The queue uses only Now and After.
type qStuckClock struct {
	clock.System
	waiting chan<- time.Duration
}

func (qStuckClock) Now() time.Time { return time.Unix(1_700_000_000, 0) }

func (c qStuckClock) After(d time.Duration) <-chan time.Time {
	c.waiting <- d
	return nil
}

// TestQueueShutdownHonoursContext: a notifier that ignores its context
// does not hold Shutdown past its deadline; the notification it holds is
// kept for Unsent.
func TestQueueShutdownHonoursContext(t *testing.T) {
	reader, mp := ntMeter(t)
	release, called := make(chan struct{}), make(chan struct{})
	defer close(release)
	n := alerting.NotifierFunc(func(context.Context, []alerting.Alert) error {
		close(called)
		<-release // ignores its context
		return nil
	})
	q := notify.NewQueue(n, "deaf", notify.WithMeterProvider(mp), notify.WithLogger(qDiscard()))
	qNotify(t, q, ntFiring("X", "critical"))
	<-called
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := q.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown = %v, want context.Canceled", err)
	}
	if u := q.Unsent(); len(u) != 1 || u[0].Alerts[0].Name() != "X" {
		t.Errorf("Unsent = %+v, want the notification in flight", u)
	}
	qEqualCounts(t, ntCounts(t, reader), map[string]int64{"deaf/unsent": 1, "deaf/failed": 1})
}
