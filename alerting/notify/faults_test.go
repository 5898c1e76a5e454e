package notify_test

// Faults: every real receiver kind (webhook, Slack, SMTP email,
// Alertmanager) behind a real server on 127.0.0.1 that refuses, hangs or
// answers with errors; and the engine's evaluation cadence while a
// receiver hangs. No test here sleeps: the backoff wait is a hook, the
// engine's clock is moved by hand, and a hang ends at an attempt timeout.

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/alerting/notify"
	"github.com/vitalsgo/vitals/clock"
	"github.com/vitalsgo/vitals/exporter/memory"
	"github.com/vitalsgo/vitals/internal/logtest"
)

// The credentials each receiver is configured with; none may appear in an
// error or a log line.
const (
	ftWebhookToken = "tok-WEBHOOK-s3cr3t"
	ftWebhookQuery = "qs-WEBHOOK-s3cr3t"
	ftSlackSecret  = "SLACK-s3cr3t"
	ftSMTPPassword = "pw-SMTP-s3cr3t"
	ftAMToken      = "tok-AM-s3cr3t"
	ftAMPassword   = "pw-AM-s3cr3t"
)

var ftSecrets = []string{ftWebhookToken, ftWebhookQuery, ftSlackSecret, ftSMTPPassword, ftAMToken, ftAMPassword}

// ftKind is a real receiver kind: how to configure its notifier for a
// server at addr ("127.0.0.1:port").
type ftKind struct {
	name     string
	smtp     bool
	notifier func(addr string, client *http.Client) alerting.Notifier
}

var ftKinds = []ftKind{
	{name: "webhook", notifier: func(addr string, c *http.Client) alerting.Notifier {
		return &notify.Webhook{URL: "http://" + addr + "/hook?token=" + ftWebhookQuery, BearerToken: ftWebhookToken, Client: c}
	}},
	{name: "slack", notifier: func(addr string, c *http.Client) alerting.Notifier {
		return &notify.Slack{WebhookURL: "http://" + addr + "/services/T0/B0/" + ftSlackSecret, Client: c}
	}},
	{name: "smtp", smtp: true, notifier: func(addr string, _ *http.Client) alerting.Notifier {
		return &notify.Email{Addr: addr, From: "alerts@example.com", To: []string{"ops@example.com"},
			Username: "vitals", Password: ftSMTPPassword}
	}},
	{name: "alertmanager", notifier: func(addr string, c *http.Client) alerting.Notifier {
		return &notify.Alertmanager{URLs: []string{"http://am:" + ftAMPassword + "@" + addr}, BearerToken: ftAMToken, Client: c}
	}},
}

// ftGate holds the first caller of wait until open is called, so that the
// queue's worker is known to be busy while the test fills the queue.
type ftGate struct {
	first    sync.Once
	held     chan struct{} // closed when the first caller arrives
	openOnce sync.Once
	release  chan struct{}
}

func newFTGate() *ftGate {
	return &ftGate{held: make(chan struct{}), release: make(chan struct{})}
}

// wait holds the first caller until open or ctx ends; the others pass.
func (g *ftGate) wait(ctx context.Context) {
	if !g.arrive() {
		return
	}
	select {
	case <-g.release:
	case <-ctx.Done():
	}
}

// arrive reports whether the caller is the first, the one to hold.
func (g *ftGate) arrive() bool {
	first := false
	g.first.Do(func() { first = true; close(g.held) })
	return first
}

func (g *ftGate) open() { g.openOnce.Do(func() { close(g.release) }) }

// ftWaitHeld fails the test if nobody reached the gate in time.
func ftWaitHeld(t *testing.T, g *ftGate, what string) {
	t.Helper()
	select {
	case <-g.held:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s never happened", what)
	}
}

// ftFault is what the server does.
type ftFault struct {
	name string
	// refuse: nothing listens on the port; hang: the server accepts and
	// never answers. Otherwise the HTTP server answers status (with
	// Retry-After when set) and the SMTP server fails at smtpStage.
	refuse, hang bool
	status       int
	retryAfter   string
	smtpStage    string // "ehlo", "auth", "mail", "rcpt" or "data"
	smtpCode     int
	// retryable: the queue must try every attempt; else exactly one.
	retryable bool
	// check asserts one error the notifier returned.
	check func(t *testing.T, err error)
}

func ftIsRefused(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("err = %v, want connection refused", err)
	}
}

func ftIsTimeout(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
}

func ftIsStatus(code int) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var se *notify.StatusError
		if !errors.As(err, &se) || se.StatusCode != code {
			t.Errorf("err = %v, want a StatusError %d", err, code)
		}
	}
}

func ftIsSMTP(code int) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var te *textproto.Error
		if !errors.As(err, &te) || te.Code != code {
			t.Errorf("err = %v, want the server's %d", err, code)
		}
	}
}

var (
	ftRefused = ftFault{name: "refused", refuse: true, retryable: true, check: ftIsRefused}
	ftHangs   = ftFault{name: "hangs", hang: true, retryable: true, check: ftIsTimeout}
)

var ftHTTPFaults = []ftFault{
	ftRefused,
	ftHangs,
	{name: "500", status: http.StatusInternalServerError, retryable: true, check: ftIsStatus(500)},
	{name: "503_retry_after", status: http.StatusServiceUnavailable, retryAfter: "120", retryable: true, check: ftIsStatus(503)},
	{name: "429", status: http.StatusTooManyRequests, retryAfter: "1", retryable: true, check: ftIsStatus(429)},
	{name: "400", status: http.StatusBadRequest, check: ftIsStatus(400)},
	{name: "401", status: http.StatusUnauthorized, check: ftIsStatus(401)},
}

var ftSMTPFaults = []ftFault{
	ftRefused,
	ftHangs, // accepts the connection and never sends the greeting
	// go-smtp answers 451 to EHLO and HELO when the backend refuses the
	// session: a temporary failure, to be retried.
	{name: "ehlo_451", smtpStage: "ehlo", smtpCode: 451, retryable: true, check: ftIsSMTP(451)},
	{name: "mail_451", smtpStage: "mail", smtpCode: 451, retryable: true, check: ftIsSMTP(451)},
	{name: "rcpt_452", smtpStage: "rcpt", smtpCode: 452, retryable: true, check: ftIsSMTP(452)},
	{name: "rcpt_550", smtpStage: "rcpt", smtpCode: 550, check: ftIsSMTP(550)},
	{name: "data_554", smtpStage: "data", smtpCode: 554, check: ftIsSMTP(554)},
	{name: "auth_535", smtpStage: "auth", smtpCode: 535, check: ftIsSMTP(535)},
}

// ftServer is a fault server: where it listens and how many attempts
// (HTTP requests, SMTP connections) reached it.
type ftServer struct {
	addr     string
	attempts atomic.Int64
	arrived  chan struct{} // one value per attempt, if there is room
}

func (s *ftServer) arrive() {
	s.attempts.Add(1)
	select {
	case s.arrived <- struct{}{}:
	default:
	}
}

// ftClosedPort returns an address on 127.0.0.1 where nothing listens.
func ftClosedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// ftStart starts the server of fault f for kind k. When gate is not nil,
// the first attempt is held at the server until the gate opens. A hanging
// server is released when the test ends.
func ftStart(t *testing.T, k ftKind, f ftFault, gate *ftGate) *ftServer {
	t.Helper()
	s := &ftServer{arrived: make(chan struct{}, 64)}
	switch {
	case f.refuse:
		s.addr = ftClosedPort(t)
	case k.smtp && f.hang:
		s.addr = ftSMTPHang(t, s)
	case k.smtp:
		s.addr = ftSMTPServer(t, s, f, gate)
	default:
		end := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			s.arrive()
			if f.hang {
				select {
				case <-r.Context().Done():
				case <-end:
				}
				return
			}
			if gate != nil {
				gate.wait(r.Context())
			}
			if f.retryAfter != "" {
				w.Header().Set("Retry-After", f.retryAfter)
			}
			http.Error(w, "receiver says no", f.status)
		}))
		t.Cleanup(func() {
			close(end)
			if gate != nil {
				gate.open()
			}
			srv.Close()
		})
		s.addr = srv.Listener.Addr().String()
	}
	return s
}

// ftSMTPHang listens on 127.0.0.1 and accepts connections without ever
// sending the greeting.
func ftSMTPHang(t *testing.T, s *ftServer) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			s.arrive()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return l.Addr().String()
}

// ftListener counts accepted connections and holds the first at the gate.
type ftListener struct {
	net.Listener
	s    *ftServer
	gate *ftGate
}

func (l ftListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.s.arrive()
		if l.gate != nil {
			l.gate.wait(context.Background())
		}
	}
	return c, err
}

// ftSMTPServer is a real SMTP server (go-smtp) offering AUTH PLAIN in
// clear, that fails at f.smtpStage with f.smtpCode.
func ftSMTPServer(t *testing.T, s *ftServer, f ftFault, gate *ftGate) string {
	t.Helper()
	password := ftSMTPPassword
	if f.smtpStage == "auth" {
		password = "another password"
	}
	fail := &smtp.SMTPError{Code: f.smtpCode, EnhancedCode: smtp.EnhancedCode{f.smtpCode / 100, 0, 0}, Message: "receiver says no"}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		if f.smtpStage == "ehlo" {
			return nil, errors.New("backend unavailable")
		}
		return &ftSMTPSession{password: password, stage: f.smtpStage, fail: fail}, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ErrorLog = log.New(io.Discard, "", 0)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ftListener{Listener: l, s: s, gate: gate})
	}()
	t.Cleanup(func() {
		if gate != nil {
			gate.open()
		}
		_ = srv.Close()
		<-served
	})
	return l.Addr().String()
}

type ftSMTPSession struct {
	password string
	stage    string
	fail     *smtp.SMTPError
	authed   bool
}

func (s *ftSMTPSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *ftSMTPSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != "vitals" || password != s.password {
			return smtp.ErrAuthFailed // 535
		}
		s.authed = true
		return nil
	}), nil
}

func (s *ftSMTPSession) Mail(string, *smtp.MailOptions) error {
	if !s.authed {
		return smtp.ErrAuthRequired
	}
	if s.stage == "mail" {
		return s.fail
	}
	return nil
}

func (s *ftSMTPSession) Rcpt(string, *smtp.RcptOptions) error {
	if s.stage == "rcpt" {
		return s.fail
	}
	return nil
}

func (s *ftSMTPSession) Data(r io.Reader) error {
	_, _ = io.Copy(io.Discard, r)
	if s.stage == "data" {
		return s.fail
	}
	return nil
}

func (s *ftSMTPSession) Reset()        {}
func (s *ftSMTPSession) Logout() error { return nil }

// ftRecorder calls the real notifier and keeps every error it returns.
type ftRecorder struct {
	n    alerting.Notifier
	mu   sync.Mutex
	errs []error
}

func (r *ftRecorder) Notify(ctx context.Context, alerts []alerting.Alert) error {
	err := r.n.Notify(ctx, alerts)
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
	return err
}

func (r *ftRecorder) got() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.errs...)
}

// ftSleeper is the queue's clock: it records the backoff waits (qSleeps),
// holds the first at its gate (when it has one) and otherwise ends them at
// once.
type ftSleeper struct {
	qSleeps
	gate *ftGate
}

func (s *ftSleeper) After(d time.Duration) <-chan time.Time {
	ch := s.qSleeps.After(d)
	if s.gate == nil || !s.gate.arrive() {
		return ch
	}
	held := make(chan time.Time, 1)
	go func() {
		<-s.gate.release // the test opens the gate at the latest in its cleanup
		held <- <-ch
	}()
	return held
}

// ftNoSecrets fails the test if text contains a credential.
func ftNoSecrets(t *testing.T, what, text string) {
	t.Helper()
	for _, s := range ftSecrets {
		if strings.Contains(text, s) {
			t.Errorf("%s contains the credential %q: %s", what, s, text)
		}
	}
}

// ftClient is an HTTP client of its own, whose connections end with the
// test.
func ftClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// TestFaultsEveryReceiver runs each receiver kind against each fault:
//
//  1. The first notification's first attempt is held (at the server, or in
//     the first backoff wait when the server cannot answer), so the worker
//     is busy; the test then fills the queue (size accepted) and goes past
//     it (extra refused at once, counted dropped): the queue stays bounded.
//  2. Released, every accepted notification is tried: all the attempts
//     when retrying may help, one otherwise; each is seen by the server
//     and counted failed; then the notification is dropped and counted.
//  3. Every error is the expected kind, and neither errors nor logs hold a
//     credential.
func TestFaultsEveryReceiver(t *testing.T) {
	const (
		size     = 2
		extra    = 3
		attempts = 3
		accepted = 1 + size // the held one and those queued behind it
	)
	for _, k := range ftKinds {
		faults := ftHTTPFaults
		if k.smtp {
			faults = ftSMTPFaults
		}
		for _, f := range faults {
			t.Run(k.name+"/"+f.name, func(t *testing.T) {
				gate := newFTGate()
				serverHolds := !f.refuse && !f.hang
				var srvGate *ftGate
				sleeper := &ftSleeper{}
				if serverHolds {
					srvGate = gate
				} else {
					sleeper.gate = gate
				}
				srv := ftStart(t, k, f, srvGate)
				t.Cleanup(gate.open) // whatever happens, nothing stays held

				reader, mp := ntMeter(t)
				logger, logs := logtest.New()
				rec := &ftRecorder{n: k.notifier(srv.addr, ftClient(t))}
				timeout := time.Hour // errors answer at once: no attempt may time out
				if f.hang {
					timeout = 50 * time.Millisecond
				}
				q := notify.NewQueue(rec, "q",
					notify.WithMaxQueued(size), notify.WithAttempts(attempts),
					notify.WithTimeout(timeout), notify.WithClock(sleeper),
					notify.WithMeterProvider(mp), notify.WithLogger(logger))

				if !qNotify(t, q, ntFiring("First", "critical")) {
					t.Fatal("the first Notify was refused")
				}
				ftWaitHeld(t, gate, "the first attempt")
				for i := range size {
					if !qNotify(t, q, ntFiring("Queued", "critical", "instance", string(rune('a'+i)))) {
						t.Fatalf("Notify %d refused with room in the queue", i)
					}
				}
				for i := range extra {
					err := q.Notify(t.Context(), []alerting.Alert{ntFiring("Extra", "critical", "instance", string(rune('a'+i)))})
					if !errors.Is(err, notify.ErrFull) || !strings.Contains(err.Error(), "(2 notifications waiting)") {
						t.Fatalf("Notify %d into a full queue = %v, want ErrFull with the queue's size", i, err)
					}
				}
				failedWhileHeld := int64(0)
				if !serverHolds {
					failedWhileHeld = 1 // the first attempt failed before the wait
				}
				qEqualCounts(t, ntCounts(t, reader), ftCounts(0, failedWhileHeld, extra))

				gate.open()
				qStop(t, q)

				tries := 1
				if f.retryable {
					tries = attempts
				}
				total := accepted * tries
				qEqualCounts(t, ntCounts(t, reader), ftCounts(0, int64(total), extra+accepted))
				switch n := srv.attempts.Load(); {
				case f.refuse:
				case f.hang:
					// An attempt may time out before its request arrives
					// on a loaded machine; the notifier's calls, counted
					// below, are exact.
					if n < 1 || n > int64(total) {
						t.Errorf("the server saw %d attempts, want 1 to %d", n, total)
					}
				case n != int64(total):
					t.Errorf("the server saw %d attempts, want %d", n, total)
				}
				if n := len(sleeper.got()); n != accepted*(tries-1) {
					t.Errorf("waited %d times between attempts, want %d", n, accepted*(tries-1))
				}
				for _, d := range sleeper.got() {
					if d < 0 || d > notify.DefaultMaxBackoff {
						t.Errorf("backoff %v out of [0, %v]", d, notify.DefaultMaxBackoff)
					}
				}
				errs := rec.got()
				if len(errs) != total {
					t.Errorf("the notifier was called %d times, want %d", len(errs), total)
				}
				for _, err := range errs {
					if err == nil {
						t.Error("an attempt succeeded")
						continue
					}
					f.check(t, err)
					ftNoSecrets(t, "an error", err.Error())
				}
				out := logs.String()
				ftNoSecrets(t, "the log", out)
				for _, want := range []string{"notification failed", "notifier=q", "attempt=1"} {
					if !strings.Contains(out, want) {
						t.Errorf("the log lacks %q:\n%s", want, out)
					}
				}
			})
		}
	}
}

// ftCounts is the expected notification counter of the queue "q".
func ftCounts(sent, failed, dropped int64) map[string]int64 {
	m := map[string]int64{}
	for outcome, n := range map[string]int64{"sent": sent, "failed": failed, "dropped": dropped} {
		if n != 0 {
			m["q/"+outcome] = n
		}
	}
	return m
}

// ftClock is the engine's clock, moved by the test: each After is handed to
// the test, which fires it after moving the time.
type ftClock struct {
	clock.System // AfterFunc, unused by the engine
	mu           sync.Mutex
	now          time.Time
	waits        chan ftWait
}

type ftWait struct {
	d  time.Duration
	ch chan time.Time
}

func (c *ftClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *ftClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.waits <- ftWait{d, ch}
	return ch
}

func (c *ftClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// TestFaultsEvaluationCadenceWhileAReceiverHangs runs the engine (Run, on
// a clock the test moves) with a route to a receiver that never answers,
// with no attempt timeout to rescue it. Every evaluation must happen on
// time: Run asks to wait exactly one interval each round, each rule's
// last evaluation is the tick's time, and the evaluation-duration
// histogram counts one evaluation per tick. The stuck worker holds one
// notification, the queue the next ones up to its size, and the rest are
// dropped and counted as they come.
func TestFaultsEvaluationCadenceWhileAReceiverHangs(t *testing.T) {
	const (
		interval = 15 * time.Second
		evals    = 9
		size     = 2
	)
	rules := `
groups:
  - name: g
    interval: 15s
    rules:
      - alert: HighErrors
        expr: errors > 5
        labels:
          severity: critical
`
	for _, k := range ftKinds {
		t.Run(k.name, func(t *testing.T) {
			srv := ftStart(t, k, ftHangs, nil)
			t0 := time.Unix(1_700_000_000, 0)
			clk := &ftClock{now: t0, waits: make(chan ftWait, 1)}

			mem := memory.New(memory.WithClock(clk))
			gmp := sdkmetric.NewMeterProvider(mem.MeterProviderOptions()...)
			t.Cleanup(func() { _ = gmp.Shutdown(context.Background()) })
			_, err := gmp.Meter("t").Float64ObservableGauge("errors", metric.WithFloat64Callback(func(_ context.Context, o metric.Float64Observer) error {
				o.Observe(10, metric.WithAttributes(attribute.String("instance", "a")))
				return nil
			}))
			if err != nil {
				t.Fatal(err)
			}
			if err := mem.Collect(t.Context()); err != nil {
				t.Fatal(err)
			}

			groups, err := alerting.ParseRules([]byte(rules), "cadence.yml")
			if err != nil {
				t.Fatal(err)
			}
			reader, mp := ntMeter(t)
			logger, logs := logtest.New()
			// Every evaluation sends: no group wait, no group interval and
			// a repeat at each evaluation while the alert fires.
			route := alerting.Route{Name: "r", Notifiers: []alerting.Notifier{k.notifier(srv.addr, ftClient(t))},
				GroupWait: -1, GroupInterval: -1, RepeatInterval: -1}
			sleeper := &ftSleeper{}
			routes, queues := notify.QueueRoutes([]alerting.Route{route}, notify.WithMaxQueued(size), notify.WithTimeout(time.Hour),
				notify.WithClock(sleeper), notify.WithLogger(logger), notify.WithMeterProvider(mp))
			eng, err := alerting.New(mem, groups, alerting.WithClock(clk), alerting.WithRoutes(routes...),
				alerting.WithMeterProvider(mp), alerting.WithLogger(logger))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			ran := make(chan error, 1)
			go func() { ran <- eng.Run(ctx) }()
			stopped := false
			stop := func() {
				if stopped {
					return
				}
				stopped = true
				cancel()
				select {
				case err := <-ran:
					if err != nil {
						t.Errorf("Run = %v", err)
					}
				case <-time.After(10 * time.Second):
					t.Error("Run did not return after its context ended")
					return
				}
				if err := eng.Shutdown(context.Background()); err != nil {
					t.Errorf("engine Shutdown = %v", err)
				}
				// Give up on the stuck notification at once.
				cctx, ccancel := context.WithCancel(context.Background())
				ccancel()
				shut := make(chan error, 1)
				go func() { shut <- queues[0].Shutdown(cctx) }()
				select {
				case err := <-shut:
					if !errors.Is(err, context.Canceled) {
						t.Errorf("queue Shutdown = %v, want context.Canceled (a notification was stuck)", err)
					}
				case <-time.After(10 * time.Second):
					t.Error("queue Shutdown did not return")
				}
			}
			t.Cleanup(stop)

			for i := range evals {
				at := t0.Add(time.Duration(i) * interval)
				var w ftWait
				select {
				case w = <-clk.waits:
				case <-time.After(10 * time.Second):
					t.Fatalf("evaluation %d (at +%v) did not finish: the engine is blocked", i+1, at.Sub(t0))
				}
				if w.d != interval {
					t.Errorf("after evaluation %d, Run waits %v, want %v", i+1, w.d, interval)
				}
				rs := eng.Rules()
				if len(rs) != 1 || !rs[0].LastEvaluation.Equal(at) || rs[0].Evaluations != int64(i+1) || rs[0].LastError != "" {
					t.Fatalf("after evaluation %d: rules %+v, want evaluated %d times, last at %v", i+1, rs, i+1, at)
				}
				if i == 0 {
					// The first notification reached the receiver, which
					// now holds the queue's worker.
					select {
					case <-srv.arrived:
					case <-time.After(10 * time.Second):
						t.Fatal("the first notification never reached the receiver")
					}
				}
				if i < evals-1 {
					clk.set(at.Add(interval))
					w.ch <- at.Add(interval)
				}
			}
			if got := ftEvalCount(t, reader, "g"); got != int64(evals) {
				t.Errorf("evaluation-duration histogram counts %d evaluations of g, want %d", got, evals)
			}
			// One notification per evaluation: one stuck at the receiver,
			// size queued, the rest dropped.
			want := map[string]int64{"r/0/dropped": int64(evals - 1 - size)}
			qEqualCounts(t, ntCounts(t, reader), want)
			if n := srv.attempts.Load(); n != 1 {
				t.Errorf("the receiver saw %d attempts, want 1", n)
			}

			// Stopping keeps the stuck one and the queued ones as unsent.
			stop()
			qEqualCounts(t, ntCounts(t, reader), map[string]int64{"r/0/dropped": int64(evals - 1 - size), "r/0/unsent": int64(size + 1), "r/0/failed": 1})
			if n := srv.attempts.Load(); n != 1 {
				t.Errorf("the receiver saw %d attempts, want 1", n)
			}
			ftNoSecrets(t, "the log", logs.String())
		})
	}
}

// ftEvalCount returns how many evaluations of group the
// evaluation-duration histogram has counted.
func ftEvalCount(t *testing.T, r *sdkmetric.ManualReader, group string) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "vitals.alerting.group.evaluation.duration" {
				continue
			}
			h, ok := m.Data.(metricdata.Histogram[float64])
			if !ok {
				t.Fatalf("%s is %T, want a float64 histogram", m.Name, m.Data)
			}
			for _, dp := range h.DataPoints {
				if v, _ := dp.Attributes.Value("rule_group"); v.AsString() == group {
					return int64(dp.Count)
				}
			}
		}
	}
	return 0
}
