package vitals_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vitalsgo/vitals"
	"github.com/vitalsgo/vitals/exporter"
	"github.com/vitalsgo/vitals/instrument"
	"github.com/vitalsgo/vitals/internal/logtest"
	"github.com/vitalsgo/vitals/internal/otlptest"
)

// Settings shared by the fault tests, set through the environment as an
// operator would.
const (
	faultExportInterval = "100" // OTEL_METRIC_EXPORT_INTERVAL, ms
	faultOTLPTimeout    = "250" // OTEL_EXPORTER_OTLP_TIMEOUT, ms
	faultSecret         = "s3cret"
	faultHeaders        = "authorization=Bearer%20" + faultSecret
	// faultFailures is how many background exports must fail before the
	// collector recovers.
	faultFailures = 8
	// faultMaxLogLines bounds the log lines for all those failures: one per
	// distinct error message (the limiter holds repeats back for a minute,
	// far longer than a test runs), and a fault yields one or two messages.
	faultMaxLogLines = 3
	// exportFailedMsg is the message of the export failure log lines.
	exportFailedMsg = "metrics export failed"
	// Their messages for spans and log records.
	tracesFailedMsg = "traces export failed"
	logsFailedMsg   = "logs export failed"
)

// collectorFault is one way an OTLP collector can fail.
type collectorFault struct {
	name string
	// start prepares the collector before vitals.Start and returns its
	// address and the receiver, nil when nothing listens.
	start func(t *testing.T, newRcv receiverAt) (addr string, rcv *otlptest.Receiver)
	// fail makes a running, accepting collector fail; nil when it fails from
	// the start.
	fail func(rcv *otlptest.Receiver)
	// recover brings the collector back, on the same address, and returns the
	// receiver that now accepts.
	recover func(t *testing.T, newRcv receiverAt, addr string, rcv *otlptest.Receiver) *otlptest.Receiver
}

type receiverAt func(testing.TB, string) *otlptest.Receiver

func collectorFaults() []collectorFault {
	listening := func(b otlptest.Behavior) func(*testing.T, receiverAt) (string, *otlptest.Receiver) {
		return func(t *testing.T, newRcv receiverAt) (string, *otlptest.Receiver) {
			rcv := newRcv(t, "127.0.0.1:0")
			rcv.SetBehavior(b)
			return rcv.Addr(), rcv
		}
	}
	accept := func(_ *testing.T, _ receiverAt, _ string, rcv *otlptest.Receiver) *otlptest.Receiver {
		rcv.SetBehavior(otlptest.Accept)
		return rcv
	}
	comeBack := func(t *testing.T, newRcv receiverAt, addr string, _ *otlptest.Receiver) *otlptest.Receiver {
		return newRcv(t, addr)
	}
	return []collectorFault{
		{
			name: "down-from-start",
			start: func(t *testing.T, _ receiverAt) (string, *otlptest.Receiver) {
				return closedAddr(t), nil
			},
			recover: comeBack,
		},
		{
			name:    "down-mid-run",
			start:   listening(otlptest.Accept),
			fail:    func(rcv *otlptest.Receiver) { rcv.Close() },
			recover: comeBack,
		},
		{name: "unavailable-503", start: listening(otlptest.Unavailable), recover: accept},
		{name: "hanging", start: listening(otlptest.Hang), recover: accept},
	}
}

// TestCollectorFaults runs a service through each collector fault, over both
// OTLP protocols: it keeps serving without waiting on the exporter, logs a
// bounded number of lines that never show the header secret, counts the
// failures on /metrics, and once the collector is back exports again without
// a restart, with every request served counted.
func TestCollectorFaults(t *testing.T) {
	vitals.CleanEnv(t)
	t.Setenv(exporter.EnvMetricExportInterval, faultExportInterval)
	t.Setenv(exporter.EnvTimeout, faultOTLPTimeout)
	t.Setenv(exporter.EnvHeaders, faultHeaders)
	protocols := []struct {
		proto  exporter.Protocol
		newRcv receiverAt
	}{
		{exporter.ProtocolHTTPProtobuf, otlptest.NewHTTPAt},
		{exporter.ProtocolGRPC, otlptest.NewGRPCAt},
	}
	for _, p := range protocols {
		for _, f := range collectorFaults() {
			t.Run(f.name+"/"+p.proto.String(), func(t *testing.T) {
				t.Parallel() // the environment is the parent's, and read once by Start
				testCollectorFault(t, f, p.proto, p.newRcv)
			})
		}
	}
}

func testCollectorFault(t *testing.T, f collectorFault, proto exporter.Protocol, newRcv receiverAt) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	addr, rcv := f.start(t, newRcv)
	logger, logs := logtest.New()
	// Spans and log records go to the same collector, through the
	// providers Start would build from the environment (given here because
	// the endpoint is this subtest's), batched every 100 ms.
	tp, lp := faultTracesAndLogs(t, addr, proto, logger)
	v, err := vitals.Start(ctx, vitals.WithLogger(logger), vitals.WithServiceName("faults"),
		vitals.WithMetricsConfig(func(c *exporter.MetricsConfig) {
			c.Exporters = []exporter.MetricsExporter{exporter.MetricsPrometheus, exporter.MetricsOTLP}
			c.OTLP.BaseEndpoint = "http://" + addr
			c.OTLP.Protocol = proto
		}),
		vitals.WithTracerProvider(tp), vitals.WithLoggerProvider(lp))
	if err != nil {
		t.Fatal(err)
	}
	shutdown := sync.OnceValue(func() error {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return v.Shutdown(sctx)
	})
	t.Cleanup(func() { _ = shutdown() }) // before the receivers close: cleanups run last first

	svc := newLoopService(t, v)
	metrics := httptest.NewServer(v.Handler())
	t.Cleanup(metrics.Close)

	if f.fail != nil {
		// The collector works at first.
		if err := rcv.Wait(ctx, anyAccepted); err != nil {
			t.Fatalf("no export accepted before the fault: %v", err)
		}
		f.fail(rcv)
	}
	before := exportsTotal(t, metrics.URL, "failed")
	succeeded := exportsTotal(t, metrics.URL, "sent")

	// The fault: a stream of requests while background exports fail.
	load := startLoad(svc)
	if f.name == "hanging" {
		requestsWhileExportHangs(t, ctx, svc, rcv, metrics.URL)
	}
	failures := waitExports(t, ctx, metrics.URL, "failed", before+faultFailures)
	// Server errors make log records ("server error") beside their spans;
	// their exports fail too, and the requests do not wait on them.
	for range 5 {
		if err := svc.fail(); err != nil {
			t.Fatalf("a failing request during the fault: %v", err)
		}
	}
	waitLogLine(t, ctx, logs, tracesFailedMsg)
	waitLogLine(t, ctx, logs, logsFailedMsg)
	if err := load.stop(); err != nil {
		t.Fatalf("a request failed during the fault: %v", err)
	}
	served := svc.served.Load()
	if served == 0 {
		t.Fatal("no request was served during the fault")
	}
	t.Logf("%d requests served during %v background export failures", served, failures-before)

	// Logs: bounded, each distinct error once, and no secret.
	text := logs.String()
	if strings.Contains(text, faultSecret) {
		t.Errorf("the OTLP header secret appears in the log:\n%s", text)
	}
	lines := exportFailureLines(text)
	if len(lines) == 0 {
		t.Errorf("%v export failures and not one log line:\n%s", failures, text)
	}
	if len(lines) > faultMaxLogLines {
		t.Errorf("%d log lines for %v export failures, want at most %d:\n%s", len(lines), failures, faultMaxLogLines, text)
	}
	t.Logf("%d export failure log lines:\n%s", len(lines), strings.Join(lines, ""))
	// Spans and records fail every 100 ms at least as often: bounded too.
	for _, msg := range []string{tracesFailedMsg, logsFailedMsg} {
		if n := strings.Count(text, msg); n > faultMaxLogLines {
			t.Errorf("%d %q lines, want at most %d:\n%s", n, msg, faultMaxLogLines, text)
		}
	}
	seen := map[string]bool{}
	for _, l := range lines {
		if msg := logAttr(l, "error"); seen[msg] {
			t.Errorf("error %q logged twice within the limiter's minute:\n%s", msg, text)
		} else {
			seen[msg] = true
		}
	}

	// Recovery without a restart: the next export carries every request
	// served (cumulative temporality), none lost and none counted twice.
	rcv = f.recover(t, newRcv, addr, rcv)
	complete := func(reqs []otlptest.Request) bool {
		for _, r := range reqs {
			if r.Accepted && requestCount(r) == served {
				return true
			}
		}
		return false
	}
	if err := rcv.Wait(ctx, complete); err != nil {
		var got []int64
		for _, r := range rcv.Requests() {
			if r.Accepted {
				got = append(got, requestCount(r))
			}
		}
		got = slices.Compact(got)
		t.Fatalf("no export after recovery counted the %d requests served (accepted exports counted %v): %v", served, got, err)
	}
	for _, r := range rcv.Requests() {
		if n := requestCount(r); n > served {
			t.Errorf("an export counted %d requests, more than the %d served", n, served)
		}
		if got, want := r.Header.Get("Authorization"), "Bearer "+faultSecret; got != want {
			t.Errorf("Authorization header = %q, want %q", got, want)
		}
	}
	waitExports(t, ctx, metrics.URL, "sent", succeeded+1)
	if got := exportsTotal(t, metrics.URL, "failed"); got < failures {
		t.Errorf("failure count went down from %v to %v", failures, got)
	}
	// Spans and log records flow again: a server error's span and record
	// arrive, with its trace, and the header. A gRPC channel may still be
	// in its reconnection backoff just after the collector is back, when
	// an export fails at once (the batch is dropped, as the SDK does): a
	// server error is made every second until both arrive.
	var traceID string
	arrived := func() bool {
		span := slices.ContainsFunc(rcv.Spans(), func(s otlptest.Span) bool { return s.Accepted && s.TraceID() == traceID })
		record := slices.ContainsFunc(otlptest.LogRecords(rcv.LogRequests()), func(r otlptest.LogRecord) bool {
			return r.Accepted && r.TraceID() == traceID && r.Body() == "server error"
		})
		return span && record
	}
	for tries := 0; ; tries++ {
		traceID = svc.failTraced(t)
		wctx, cancel := context.WithTimeout(ctx, time.Second)
		err := rcv.WaitLogs(wctx, func([]otlptest.LogRequest) bool { return arrived() })
		cancel()
		if err == nil {
			t.Logf("a server error's span and log record arrived after recovery (try %d)", tries+1)
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no server error's span and \"server error\" record arrived together after recovery (spans: %q, %d records): %v",
				otlptest.SpanNames(rcv.TraceRequests()), len(otlptest.LogRecords(rcv.LogRequests())), ctx.Err())
		}
	}
	for _, r := range rcv.TraceRequests() {
		if got, want := r.Header.Get("Authorization"), "Bearer "+faultSecret; got != want {
			t.Errorf("traces: Authorization header = %q, want %q", got, want)
		}
	}
	// The final flush reaches the collector that came back.
	if err := shutdown(); err != nil {
		t.Errorf("Shutdown after recovery: %v", err)
	}
}

// requestsWhileExportHangs proves that requests do not wait on an export:
// it serves requests while an export is held in the receiver, known to be
// held because the exporter has not yet counted its failure. An export that
// times out while the requests run proves nothing; the proof is tried again.
func requestsWhileExportHangs(t *testing.T, ctx context.Context, svc *loopService, rcv *otlptest.Receiver, metricsURL string) {
	t.Helper()
	const requests, tries = 20, 10
	for try := range tries {
		n := len(rcv.Requests())
		// A new export arrives and hangs. Exports run one after the other,
		// so the previous one's failure is counted by now, and this one's
		// cannot be until its OTLP timeout.
		err := rcv.Wait(ctx, func(reqs []otlptest.Request) bool {
			return len(reqs) > n && reqs[len(reqs)-1].Behavior == otlptest.Hang
		})
		if err != nil {
			t.Fatalf("no export reached the hanging collector: %v", err)
		}
		failed := exportsTotal(t, metricsURL, "failed")
		for range requests {
			if err := svc.get("/"); err != nil {
				t.Fatalf("request while an export hangs: %v", err)
			}
		}
		if exportsTotal(t, metricsURL, "failed") == failed {
			// The export was still held: the requests did not wait on it.
			t.Logf("%d requests served while one export hung (try %d)", requests, try+1)
			return
		}
	}
	t.Fatalf("in %d tries, %d requests never completed while one export hung (OTLP timeout %s ms): do requests wait on the exporter?",
		tries, requests, faultOTLPTimeout)
}

// TestShutdownDuringLoad shuts Vitals down while a service is under load with
// requests in flight, then shuts the service down as it would on SIGTERM:
// Shutdown honours its deadline even against a hanging collector, requests
// arriving after it are still served (recording is a no-op, not a panic),
// the requests in flight finish with their status, and /metrics answers 503.
func TestShutdownDuringLoad(t *testing.T) {
	for _, behavior := range []otlptest.Behavior{otlptest.Accept, otlptest.Hang} {
		t.Run(behavior.String(), func(t *testing.T) {
			vitals.CleanEnv(t)
			rcv := otlptest.NewHTTP(t)
			rcv.SetBehavior(behavior)
			t.Setenv(exporter.EnvEndpoint, rcv.Endpoint())
			t.Setenv(exporter.EnvMetricExportInterval, faultExportInterval)
			// A long OTLP timeout: only Shutdown's own deadline can end a
			// hung export in time.
			t.Setenv(exporter.EnvTimeout, "30000")
			testShutdownDuringLoad(t, rcv, behavior)
		})
	}
}

func testShutdownDuringLoad(t *testing.T, rcv *otlptest.Receiver, behavior otlptest.Behavior) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	logger, _ := logtest.New()
	v, err := vitals.Start(ctx, vitals.WithLogger(logger), vitals.WithServiceName("shutdown"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Shutdown(context.Background()) })
	metrics := httptest.NewServer(v.Handler())
	t.Cleanup(metrics.Close)

	// The service: fast requests, and slow ones held until released.
	const slow = 4
	entered, release := make(chan struct{}, slow), make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /fast", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		select {
		case <-release:
			w.WriteHeader(http.StatusAccepted)
			_, _ = io.WriteString(w, "done")
		case <-r.Context().Done():
		}
	})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: v.Middleware(mux), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	t.Cleanup(func() { _ = srv.Close() })
	client, closeIdle := keepAliveClient()
	t.Cleanup(closeIdle)
	base := "http://" + lis.Addr().String()

	// Slow requests in flight, and a continuous load of fast ones.
	type result struct {
		status int
		body   string
		err    error
	}
	slowResults := make(chan result, slow)
	for range slow {
		go func() {
			resp, err := client.Get(base + "/slow")
			if err != nil {
				slowResults <- result{err: err}
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			slowResults <- result{resp.StatusCode, string(b), err}
		}()
	}
	for range slow {
		<-entered
	}
	const loaders = 4
	var (
		afterShutdown atomic.Int64 // fast requests served after v.Shutdown returned
		vitalsDown    atomic.Bool
		stopLoad      = make(chan struct{})
		loadErrs      = make(chan error, loaders)
		wg            sync.WaitGroup
	)
	for range loaders {
		wg.Go(func() {
			for {
				select {
				case <-stopLoad:
					loadErrs <- nil
					return
				default:
				}
				down := vitalsDown.Load()
				if err := getStatus(client, base+"/fast", http.StatusOK); err != nil {
					loadErrs <- err
					return
				}
				if down {
					afterShutdown.Add(1)
				}
			}
		})
	}
	if behavior == otlptest.Hang {
		// An export is held by the collector when Shutdown begins.
		if err := rcv.Wait(ctx, func(reqs []otlptest.Request) bool { return len(reqs) > 0 }); err != nil {
			t.Fatal(err)
		}
	}

	const deadline = 500 * time.Millisecond
	sctx, scancel := context.WithTimeout(context.Background(), deadline)
	defer scancel()
	start := time.Now()
	shutdownErr := make(chan error, 1)
	go func() { shutdownErr <- v.Shutdown(sctx) }()
	select {
	case err = <-shutdownErr:
	case <-time.After(deadline + 5*time.Second):
		t.Fatalf("Shutdown did not return %v after its %v deadline", 5*time.Second, deadline)
	}
	t.Logf("Shutdown took %v (deadline %v): %v", time.Since(start), deadline, err)
	switch {
	case behavior == otlptest.Hang && err == nil:
		t.Error("Shutdown reported success although the final export hung")
	case behavior == otlptest.Accept && err != nil:
		t.Errorf("Shutdown with an accepting collector: %v", err)
	}
	vitalsDown.Store(true)

	// The service goes on serving through the shut-down middleware.
	const more = 50
	poll := time.NewTicker(5 * time.Millisecond)
	defer poll.Stop()
	for afterShutdown.Load() < more {
		select {
		case err := <-loadErrs:
			t.Fatalf("a request after Vitals shut down: %v", err)
		case <-ctx.Done():
			t.Fatalf("only %d requests served after Vitals shut down", afterShutdown.Load())
		case <-poll.C:
		}
	}
	if err := getStatus(client, metrics.URL+"/metrics", http.StatusServiceUnavailable); err != nil {
		t.Errorf("/metrics after Shutdown: %v", err)
	}
	close(stopLoad)
	wg.Wait()
	for range loaders {
		if err := <-loadErrs; err != nil {
			t.Errorf("load: %v", err)
		}
	}

	// The service shuts down as on SIGTERM: it waits for the slow requests,
	// which finish with their own status.
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Shutdown(ctx) }()
	close(release)
	for range slow {
		r := <-slowResults
		if r.err != nil || r.status != http.StatusAccepted || r.body != "done" {
			t.Errorf("slow request in flight during Shutdown: status %d, body %q, error %v; want 202 \"done\"", r.status, r.body, r.err)
		}
	}
	if err := <-srvDone; err != nil {
		t.Errorf("http.Server.Shutdown: %v", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve: %v", err)
	}
	if err := v.Shutdown(context.Background()); !errors.Is(err, vitals.ErrShutdown) {
		t.Errorf("second Shutdown = %v, want ErrShutdown", err)
	}
}

// loopService is an HTTP server on 127.0.0.1 wrapped in Vitals' middleware,
// answering "ok" to every GET, with a keep-alive client.
type loopService struct {
	url    string
	client *http.Client
	served atomic.Int64 // requests answered 200 "ok"
}

func newLoopService(t testing.TB, v *vitals.Vitals) *loopService {
	t.Helper()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == failPath {
			http.Error(w, "failed", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	srv := httptest.NewServer(v.Middleware(h))
	client, closeIdle := keepAliveClient()
	t.Cleanup(func() {
		closeIdle()
		srv.Close()
	})
	return &loopService{url: srv.URL, client: client}
}

// fail requests a path that answers 500: a server error, with its log
// record. It counts as served.
func (s *loopService) fail() error {
	if err := getStatus(s.client, s.url+failPath, http.StatusInternalServerError); err != nil {
		return err
	}
	s.served.Add(1) // counted as a request like any other
	return nil
}

// failTraced requests failPath in a new sampled trace and returns its ID.
func (s *loopService) failTraced(t *testing.T) string {
	t.Helper()
	var tid [16]byte
	binary.BigEndian.PutUint64(tid[:8], rand.Uint64())
	binary.BigEndian.PutUint64(tid[8:], rand.Uint64()|1)
	traceID := hex.EncodeToString(tid[:])
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.url+failPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("GET %s: status %d, want 500", failPath, resp.StatusCode)
	}
	return traceID
}

// failPath is the loop service's path that answers 500.
const failPath = "/fail"

func (s *loopService) get(path string) error {
	if err := getStatus(s.client, s.url+path, http.StatusOK); err != nil {
		return err
	}
	s.served.Add(1)
	return nil
}

func keepAliveClient() (*http.Client, func()) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 16
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, tr.CloseIdleConnections
}

// get requests url and checks the status, reading the body to the end so
// that the connection is reused.
func getStatus(c *http.Client, url string, want int) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return fmt.Errorf("GET %s: reading the body: %w", url, err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("GET %s: status %d, want %d", url, resp.StatusCode, want)
	}
	return nil
}

// requestStream is a stream of requests to a service in the background, one
// every few milliseconds.
type requestStream struct {
	quit chan struct{}
	done chan error
}

func startLoad(s *loopService) *requestStream {
	l := &requestStream{quit: make(chan struct{}), done: make(chan error, 1)}
	go func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-l.quit:
				l.done <- nil
				return
			case <-tick.C:
			}
			if err := s.get("/"); err != nil {
				l.done <- err
				return
			}
		}
	}()
	return l
}

// stop ends the stream once its last request is answered, and returns the
// first request's error.
func (l *requestStream) stop() error {
	close(l.quit)
	return <-l.done
}

// waitExports polls /metrics until vitals_exporter_exports_total for the
// outcome reaches want, and returns it.
func waitExports(t *testing.T, ctx context.Context, metricsURL, outcome string, want float64) float64 {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		got := exportsTotal(t, metricsURL, outcome)
		if got >= want {
			return got
		}
		select {
		case <-ctx.Done():
			t.Fatalf("vitals_exporter_exports_total{outcome=%q} = %v, want it to reach %v: %v", outcome, got, want, ctx.Err())
		case <-tick.C:
		}
	}
}

// exportsTotal scrapes vitals_exporter_exports_total{exporter="otlp",outcome=outcome}.
func exportsTotal(t testing.TB, metricsURL, outcome string) float64 {
	t.Helper()
	resp, err := http.Get(metricsURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: status %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "vitals_exporter_exports_total{") ||
			!strings.Contains(line, `exporter="otlp"`) || !strings.Contains(line, `outcome="`+outcome+`"`) {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		return v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	t.Fatalf("/metrics has no vitals_exporter_exports_total{exporter=\"otlp\",outcome=%q}", outcome)
	return 0
}

// requestCount is the number of requests in an export: the count of every
// http.server.request.duration histogram point.
func requestCount(r otlptest.Request) int64 {
	var n int64
	for _, m := range otlptest.FindMetric([]otlptest.Request{r}, instrument.MetricServerRequestDuration) {
		for _, dp := range m.GetHistogram().GetDataPoints() {
			n += int64(dp.GetCount())
		}
	}
	return n
}

func anyAccepted(reqs []otlptest.Request) bool {
	for _, r := range reqs {
		if r.Accepted {
			return true
		}
	}
	return false
}

// exportFailureLines returns the log lines about failed exports.
// faultTracesAndLogs builds the tracer and logger providers Start builds
// from the environment, sending to the collector at addr with proto and
// batching every 100 ms, logging their failures to logger. They are shut
// down when the test ends, before the collector.
func faultTracesAndLogs(t *testing.T, addr string, proto exporter.Protocol, logger *slog.Logger) (*exporter.TracerProvider, *exporter.LoggerProvider) {
	t.Helper()
	tc, err := exporter.TracesConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	tc.Exporters, tc.OTLP.BaseEndpoint, tc.OTLP.Protocol = []exporter.TracesExporter{exporter.TracesOTLP}, "http://"+addr, proto
	tc.Batch.ScheduleDelay = 100 * time.Millisecond
	lc, err := exporter.LogsConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	lc.Exporters, lc.OTLP.BaseEndpoint, lc.OTLP.Protocol = []exporter.LogsExporter{exporter.LogsOTLP}, "http://"+addr, proto
	lc.Batch.ScheduleDelay = 100 * time.Millisecond
	tp, err := exporter.NewTracerProvider(t.Context(), tc, nil, exporter.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	lp, err := exporter.NewLoggerProvider(t.Context(), lc, nil, exporter.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tp.Shutdown(ctx)
		_ = lp.Shutdown(ctx)
	})
	return tp, lp
}

// waitLogLine waits until the log has a line with msg.
func waitLogLine(t *testing.T, ctx context.Context, logs *logtest.Buffer, msg string) {
	t.Helper()
	if !logs.WaitFor(ctx, msg) {
		t.Fatalf("no %q line in the log: %v\n%s", msg, ctx.Err(), logs.String())
	}
}

func exportFailureLines(logs string) []string {
	var lines []string
	for l := range strings.Lines(logs) {
		if strings.Contains(l, exportFailedMsg) {
			lines = append(lines, l)
		}
	}
	return lines
}

// logAttr returns the value of key in a slog text line, quoted or not.
func logAttr(line, key string) string {
	i := strings.Index(line, " "+key+"=")
	if i < 0 {
		return ""
	}
	rest := line[i+len(key)+2:]
	if strings.HasPrefix(rest, `"`) {
		if s, err := strconv.QuotedPrefix(rest); err == nil {
			return s
		}
	}
	if j := strings.IndexByte(rest, ' '); j >= 0 {
		return rest[:j]
	}
	return strings.TrimSpace(rest)
}

// closedAddr returns a 127.0.0.1 address nothing listens on.
func closedAddr(t testing.TB) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	if err := lis.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}
