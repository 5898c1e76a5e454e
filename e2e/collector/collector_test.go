package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Requests the test sends to the shop; Prometheus must end up with exactly
// these counts, having seen them only through OTLP -> collector -> scrape,
// and the sink must get the server span of each.
const (
	productReads = 50 // GET /products/1, 200
	ordersPlaced = 20 // POST /orders, 201
	ordersFailed = 5  // POST /orders during the injected fault, 503
)

// adminToken is the shop's -admin-token, which POST /admin/fault needs.
const adminToken = "e2e-collector-admin"

// collectorConfig is the configuration the test runs the collector with;
// docs/deployment.md shows the same file with fixed ports. The placeholders
// are the OTLP gRPC and OTLP HTTP ports, the URL of the OTLP/HTTP backend
// of traces, logs and metrics (the test's sink) and the Prometheus
// exporter's port.
const collectorConfig = `receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d
      http:
        endpoint: 127.0.0.1:%d

processors:
  batch:

exporters:
  otlp_http:
    endpoint: %s
  prometheus:
    endpoint: 127.0.0.1:%d

service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlp_http]
    logs:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlp_http]
    metrics:
      receivers: [otlp]
      processors: [batch]
      exporters: [prometheus, otlp_http]
`

// request is one request the test sent with a traceparent of its own, and
// what must arrive at the sink for it.
type request struct {
	traceID pcommon.TraceID // the traceparent's trace-id
	parent  pcommon.SpanID  // the traceparent's parent-id
	span    string          // the name of the server span it makes
	status  int             // its response status
	db      []string        // the names of the DB client spans it makes, sorted
}

// TestOTLPThroughCollectorToPrometheus proves the path beyond one process:
// the example shop pushes OTLP (HTTP, then gRPC) to this module's
// collector, which has metrics, traces and logs pipelines. A real
// Prometheus (Debian's package) scrapes the collector's Prometheus exporter
// and must count what the shop served; the collector's otlp_http exporter
// passes everything on to a sink in the test, which must get every
// request's server span with its DB child spans, spans for the trace IDs
// of the exemplars on the shop's /metrics and in the OTLP metrics, and a
// "server error" log record in the trace of each 5xx.
func TestOTLPThroughCollectorToPrometheus(t *testing.T) {
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus binary not found (install Debian's prometheus package): " + err.Error())
	}
	bin := t.TempDir()
	collectorBin := filepath.Join(bin, "collector")
	shopBin := filepath.Join(bin, "shop")
	goBuild(t, ".", collectorBin, ".")
	goBuild(t, filepath.Join("..", ".."), shopBin, "github.com/vitalsgo/vitals/examples/shop")

	for _, protocol := range []string{"http/protobuf", "grpc"} {
		t.Run(strings.ReplaceAll(protocol, "/", "_"), func(t *testing.T) {
			sink := startSink(t)
			_, grpcPort, httpPort, promExpPort := startCollector(t, collectorBin, sink.url)
			exposition := fmt.Sprintf("http://127.0.0.1:%d/metrics", promExpPort)

			endpoint := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
			if protocol == "grpc" {
				endpoint = fmt.Sprintf("http://127.0.0.1:%d", grpcPort)
			}
			// Traces are on by default with an endpoint; logs need
			// OTEL_LOGS_EXPORTER. Short batch delays keep the test short.
			shopURL, _ := startShop(t, shopBin, map[string]string{
				"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
				"OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
				"OTEL_METRIC_EXPORT_INTERVAL": "1000",
				"OTEL_BSP_SCHEDULE_DELAY":     "200",
				"OTEL_LOGS_EXPORTER":          "otlp",
				"OTEL_BLRP_SCHEDULE_DELAY":    "200",
			}, "-admin-token", adminToken)
			prom := startPrometheus(t, promBin, fmt.Sprintf("127.0.0.1:%d", promExpPort))

			client := &http.Client{Timeout: 5 * time.Second}
			var sent []request
			for i := range productReads {
				r := request{span: "GET /products/{id}", status: http.StatusOK}
				if i == 0 {
					// Later reads are served from the shop's product
					// cache (examples/shop/store.go), without SQLite.
					r.db = []string{"SELECT products"}
				}
				sent = append(sent, send(t, client, r, http.MethodGet, shopURL+"/products/1", ""))
			}
			const order = `{"product_id":1,"quantity":1,"currency":"EUR"}`
			for range ordersPlaced {
				r := request{span: "POST /orders", status: http.StatusCreated, db: []string{"INSERT orders"}}
				sent = append(sent, send(t, client, r, http.MethodPost, shopURL+"/orders", order))
			}
			expectStatus(t, client, http.MethodPost, shopURL+"/admin/fault?duration=1m", "",
				http.Header{"Authorization": {"Bearer " + adminToken}}, http.StatusOK)
			for range ordersFailed {
				r := request{span: "POST /orders", status: http.StatusServiceUnavailable}
				sent = append(sent, send(t, client, r, http.MethodPost, shopURL+"/orders", order))
			}
			// Taken now: every exemplar on it must name a span that
			// arrives at the sink.
			scraped, err := metricsExemplars(t.Context(), client, shopURL+"/metrics")
			if err != nil {
				t.Fatalf("the shop's /metrics: %v", err)
			}

			if p := eventually(t, 60*time.Second, func() []string { return promProblems(t.Context(), client, prom) }); len(p) > 0 {
				t.Logf("the collector's exposition (request counts):\n%s", grepMetrics(client, exposition))
				t.Fatalf("Prometheus did not see the served requests within 60s:\n%s", problemList(p))
			}
			t.Logf("Prometheus counts what the shop served; the collector's exposition:\n%s", grepMetrics(client, exposition))

			checks := []struct {
				what  string
				check func(spans []span, logs []logRecord, exemplars []exemplar) []string
			}{
				{"every request's server span with its DB client spans", func(spans []span, _ []logRecord, _ []exemplar) []string {
					return spanProblems(spans, sent)
				}},
				{fmt.Sprintf("the spans of the %d exemplars on the shop's /metrics", len(scraped)), func(spans []span, _ []logRecord, _ []exemplar) []string {
					return exemplarProblems(scraped, spans, sent)
				}},
				{"the spans of the exemplars in the OTLP metrics", func(spans []span, _ []logRecord, exemplars []exemplar) []string {
					return exemplarProblems(exemplars, spans, sent)
				}},
				{"a \"server error\" log record in the trace of each 5xx", func(spans []span, logs []logRecord, _ []exemplar) []string {
					return logProblems(logs, spans, sent)
				}},
			}
			for _, c := range checks {
				p := eventually(t, 30*time.Second, func() []string { return c.check(sink.snapshot()) })
				if len(p) > 0 {
					t.Fatalf("the sink did not get %s within 30s:\n%s\n%s", c.what, problemList(p), sink.summary())
				}
				t.Logf("the sink got %s", c.what)
			}
			t.Log(sink.summary())
		})
	}
}

// send sends a request with a traceparent of a new, sampled trace, checks
// that it is answered with r.status and returns r with the trace context
// it was sent with.
func send(t *testing.T, c *http.Client, r request, method, url, body string) request {
	t.Helper()
	rand.Read(r.traceID[:])
	rand.Read(r.parent[:])
	tp := fmt.Sprintf("00-%s-%s-01", r.traceID, r.parent)
	expectStatus(t, c, method, url, body, http.Header{"Traceparent": {tp}}, r.status)
	return r
}

// eventually calls check every 500ms until it reports no problems (nil)
// or d has passed (the last problems).
func eventually(t *testing.T, d time.Duration, check func() []string) []string {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		p := check()
		if len(p) == 0 || time.Now().After(deadline) {
			return p
		}
		select {
		case <-tick.C:
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		}
	}
}

// problemList formats problems one a line, the first 15 of them.
func problemList(p []string) string {
	if len(p) > 15 {
		p = append(p[:15:15], fmt.Sprintf("... and %d more", len(p)-15))
	}
	return "  " + strings.Join(p, "\n  ")
}

// promProblems returns the request counts Prometheus has wrong (or cannot
// answer) among those of the requests the test sends.
func promProblems(ctx context.Context, c *http.Client, prom string) []string {
	queries := []struct {
		expr string
		want float64
	}{
		{`sum(http_server_request_duration_seconds_count{http_route="/products/{id}",http_request_method="GET"})`, productReads},
		{`sum(http_server_request_duration_seconds_count{http_route="/orders",http_request_method="POST",http_response_status_code="201"})`, ordersPlaced},
		{`sum(http_server_request_duration_seconds_count{http_route="/orders",http_request_method="POST",http_response_status_code="503"})`, ordersFailed},
	}
	var p []string
	for _, q := range queries {
		if v, err := queryScalar(ctx, c, prom+"/api/v1/query", q.expr); err != nil || v != q.want {
			p = append(p, fmt.Sprintf("%s = %v (err %v), want %v", q.expr, v, err, q.want))
		}
	}
	return p
}

// spanKey identifies a span.
type spanKey struct {
	trace pcommon.TraceID
	span  pcommon.SpanID
}

// spanProblems returns what is missing or wrong in spans for the requests
// sent: each must have made exactly one server span, a child of its
// traceparent, with its name and http.response.status_code, and the
// trace's other spans must be exactly its DB client spans (SQLite),
// children of the server span.
func spanProblems(spans []span, sent []request) []string {
	byTrace := map[pcommon.TraceID][]span{}
	for _, s := range spans {
		byTrace[s.traceID] = append(byTrace[s.traceID], s)
	}
	var p []string
	for i, r := range sent {
		trace := byTrace[r.traceID]
		what := fmt.Sprintf("request %d (%s, trace %s)", i, r.span, r.traceID)
		var server []span
		for _, s := range trace {
			if s.kind == ptrace.SpanKindServer {
				server = append(server, s)
			}
		}
		if len(server) != 1 {
			p = append(p, fmt.Sprintf("%s: %d server spans among the trace's %d spans, want 1", what, len(server), len(trace)))
			continue
		}
		srv := server[0]
		if srv.name != r.span || srv.parent != r.parent || srv.attrs["http.response.status_code"] != int64(r.status) {
			p = append(p, fmt.Sprintf("%s: server span %q with parent %s and http.response.status_code %v, want parent %s and status %d",
				what, srv.name, srv.parent, srv.attrs["http.response.status_code"], r.parent, r.status))
		}
		db := []string{}
		for _, s := range trace {
			switch {
			case s.id == srv.id:
			case s.parent != srv.id || s.kind != ptrace.SpanKindClient || s.attrs["db.system.name"] != "sqlite":
				p = append(p, fmt.Sprintf("%s: span %q (kind %v, parent %s, db.system.name %v) is not a DB client span child of the server span %s",
					what, s.name, s.kind, s.parent, s.attrs["db.system.name"], srv.id))
			default:
				db = append(db, s.name)
			}
		}
		slices.Sort(db)
		if !slices.Equal(db, r.db) {
			p = append(p, fmt.Sprintf("%s: DB client spans %q, want %q", what, db, r.db))
		}
	}
	return p
}

// exemplarProblems returns what is wrong with exemplars: there must be
// some, each must name a span that arrived, the server span of a request
// of the series it is on, and each series of the requests sent must have
// one naming a span of those requests.
func exemplarProblems(exemplars []exemplar, spans []span, sent []request) []string {
	if len(exemplars) == 0 {
		return []string{"no exemplars"}
	}
	byKey := map[string]span{}
	for _, s := range spans {
		byKey[s.traceID.String()+"/"+s.id.String()] = s
	}
	series := func(name string, status int64) string { return fmt.Sprintf("%s %d", name, status) }
	sentTraces := map[string]string{} // trace ID -> series
	uncovered := map[string]bool{}
	for _, r := range sent {
		sentTraces[r.traceID.String()] = series(r.span, int64(r.status))
		uncovered[series(r.span, int64(r.status))] = true
	}
	var p []string
	for _, e := range exemplars {
		s, ok := byKey[e.traceID+"/"+e.spanID]
		switch {
		case !ok:
			p = append(p, fmt.Sprintf("exemplar %v: no such span arrived", e))
			continue
		case s.kind != ptrace.SpanKindServer || s.name != e.method+" "+e.route || s.attrs["http.response.status_code"] != e.status:
			p = append(p, fmt.Sprintf("exemplar %v: names span %q (kind %v, http.response.status_code %v), not a server span of its series",
				e, s.name, s.kind, s.attrs["http.response.status_code"]))
		}
		if sentTraces[e.traceID] == series(s.name, e.status) {
			delete(uncovered, sentTraces[e.traceID])
		}
	}
	for _, s := range slices.Sorted(maps.Keys(uncovered)) {
		p = append(p, fmt.Sprintf("no exemplar names a span of the test's %s requests", s))
	}
	return p
}

// logProblems returns what is wrong with the "server error" log records:
// each 5xx request sent must have exactly one, in its trace and naming its
// server span (which must have arrived, with the status), and no other
// request may have one.
func logProblems(logs []logRecord, spans []span, sent []request) []string {
	byKey := map[spanKey]span{}
	for _, s := range spans {
		byKey[spanKey{s.traceID, s.id}] = s
	}
	records := map[pcommon.TraceID][]logRecord{}
	for _, lr := range logs {
		if lr.body == "server error" {
			records[lr.traceID] = append(records[lr.traceID], lr)
		}
	}
	var p []string
	for i, r := range sent {
		what := fmt.Sprintf("request %d (%s %d, trace %s)", i, r.span, r.status, r.traceID)
		recs := records[r.traceID]
		delete(records, r.traceID)
		switch {
		case r.status < 500 && len(recs) > 0:
			p = append(p, fmt.Sprintf("%s: %d \"server error\" records, want none", what, len(recs)))
		case r.status < 500:
		case len(recs) != 1:
			p = append(p, fmt.Sprintf("%s: %d \"server error\" records, want 1", what, len(recs)))
		default:
			s, ok := byKey[spanKey{r.traceID, recs[0].spanID}]
			if !ok || s.kind != ptrace.SpanKindServer || s.name != r.span || s.attrs["http.response.status_code"] != int64(r.status) {
				p = append(p, fmt.Sprintf("%s: its record's span %s is not the server span %q with status %d that arrived (found %v: %q)",
					what, recs[0].spanID, r.span, r.status, ok, s.name))
			}
			if recs[0].attrs["status"] != int64(r.status) {
				p = append(p, fmt.Sprintf("%s: its record's status attribute is %v", what, recs[0].attrs["status"]))
			}
		}
	}
	for trace, recs := range records {
		p = append(p, fmt.Sprintf("%d \"server error\" records in trace %s, which is no 5xx request's", len(recs), trace))
	}
	return p
}

// labelRE matches a label of an exposition line.
var labelRE = regexp.MustCompile(`(\w+)="((?:[^"\\]|\\.)*)"`)

// metricsExemplars returns the exemplars on the buckets of
// http_server_request_duration_seconds in the OpenMetrics exposition at
// url.
func metricsExemplars(ctx context.Context, c *http.Client, url string) ([]exemplar, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/openmetrics-text; version=1.0.0")
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "application/openmetrics-text") {
		return nil, fmt.Errorf("%s, Content-Type %q", resp.Status, ct)
	}
	labels := func(s string) map[string]string {
		m := map[string]string{}
		for _, l := range labelRE.FindAllStringSubmatch(s, -1) {
			m[l[1]] = l[2]
		}
		return m
	}
	var out []exemplar
	for line := range strings.SplitSeq(string(b), "\n") {
		series, ex, ok := strings.Cut(line, " # {")
		if !ok || !strings.HasPrefix(series, "http_server_request_duration_seconds_bucket{") {
			continue
		}
		ex, _, _ = strings.Cut(ex, "}")
		l, e := labels(series), labels(ex)
		status, _ := strconv.ParseInt(l["http_response_status_code"], 10, 64)
		out = append(out, exemplar{traceID: e["trace_id"], spanID: e["span_id"],
			method: l["http_request_method"], route: l["http_route"], status: status})
	}
	return out, nil
}

// goBuild builds pkg into out, running go in dir.
func goBuild(t *testing.T, dir, out, pkg string) {
	t.Helper()
	start := time.Now()
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	t.Logf("built %s in %v", pkg, time.Since(start).Round(time.Millisecond))
}

// freePorts returns n distinct TCP ports of 127.0.0.1 that were free a
// moment ago: each is held until all are chosen, so that no two are the
// same.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports
}

// launch starts the process that newCmd makes for nports free ports and
// waits until ready reports true. A port free when chosen can be taken (as
// another connection's local port) before the process binds it: then the
// process is started again on others, up to three times.
func launch(t *testing.T, name string, nports int, newCmd func(ports []int) *exec.Cmd, ready func(ports []int) bool) (*process, []int) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		ports := freePorts(t, nports)
		p := start(t, name, newCmd(ports))
		switch err := p.waitUntil(func() bool { return ready(ports) }); {
		case err == nil:
			return p, ports
		case attempt < 3 && strings.Contains(p.String(), "address already in use"):
			t.Logf("%s: one of the ports %v was taken before it bound it; again on others", name, ports)
		default:
			t.Fatalf("%s: %v\n%s", name, err, p.String())
		}
	}
}

// syncBuffer collects a process's output for the failure log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// process is a started child process.
type process struct {
	name string
	out  *syncBuffer
	done chan struct{} // closed when it has exited
	err  error         // how it exited; set before done is closed
}

// start runs cmd until the test ends, killing and waiting for it in
// t.Cleanup; its output is logged if the test fails.
func start(t *testing.T, name string, cmd *exec.Cmd) *process {
	t.Helper()
	p := &process{name: name, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout = p.out
	cmd.Stderr = p.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.out.String())
		}
	})
	return p
}

func (p *process) String() string { return p.out.String() }

// waitUntil polls ok every 200ms until it returns true (nil), the process
// exits or 30s pass.
func (p *process) waitUntil(ok func() bool) error {
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for !ok() {
		if time.Now().After(deadline) {
			return errors.New("not ready within 30s")
		}
		select {
		case <-tick.C:
		case <-p.done:
			return fmt.Errorf("exited early: %v", p.err)
		}
	}
	return nil
}

func httpOK(url string) bool {
	c := &http.Client{Timeout: time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func tcpOpen(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// startCollector runs the collector with collectorConfig on free ports,
// exporting over OTLP/HTTP to backend, and waits until both receivers and
// the Prometheus exporter listen. It returns the OTLP gRPC, OTLP HTTP and
// Prometheus exporter ports.
func startCollector(t *testing.T, bin, backend string) (p *process, grpcPort, httpPort, promExpPort int) {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, "collector.yaml")
	p, ports := launch(t, "collector", 3, func(ports []int) *exec.Cmd {
		if err := os.WriteFile(config, fmt.Appendf(nil, collectorConfig, ports[0], ports[1], backend, ports[2]), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "--config", config)
		cmd.Dir = dir
		return cmd
	}, func(ports []int) bool {
		return tcpOpen(fmt.Sprintf("127.0.0.1:%d", ports[0])) &&
			tcpOpen(fmt.Sprintf("127.0.0.1:%d", ports[1])) &&
			httpOK(fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[2]))
	})
	return p, ports[0], ports[1], ports[2]
}

// startShop runs the example shop on a free port with env (OTEL_* and
// SHOP_* taken from env only) and the flags args, and returns its base URL
// once it is live.
func startShop(t *testing.T, bin string, env map[string]string, args ...string) (string, *process) {
	t.Helper()
	addr := func(ports []int) string { return fmt.Sprintf("127.0.0.1:%d", ports[0]) }
	p, ports := launch(t, "shop", 1, func(ports []int) *exec.Cmd {
		cmd := exec.Command(bin, append([]string{"-addr", addr(ports), "-collect", "1s", "-rules="}, args...)...)
		cmd.Dir = t.TempDir()
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "OTEL_") && !strings.HasPrefix(kv, "SHOP_") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		return cmd
	}, func(ports []int) bool { return httpOK("http://" + addr(ports) + "/livez") })
	return "http://" + addr(ports), p
}

// startPrometheus runs bin on a free port of 127.0.0.1, scraping target's
// /metrics every second, and returns its URL once it is ready.
func startPrometheus(t *testing.T, bin, target string) string {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	yml := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: otel-collector
    honor_labels: true
    static_configs:
      - targets: [%q]
`, target)
	if err := os.WriteFile(config, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	base := func(ports []int) string { return fmt.Sprintf("http://127.0.0.1:%d", ports[0]) }
	_, ports := launch(t, "prometheus", 1, func(ports []int) *exec.Cmd {
		cmd := exec.Command(bin,
			"--config.file="+config,
			"--storage.tsdb.path="+filepath.Join(dir, "data"),
			"--web.listen-address="+strings.TrimPrefix(base(ports), "http://"),
		)
		cmd.Dir = dir
		return cmd
	}, func(ports []int) bool { return httpOK(base(ports) + "/-/ready") })
	return base(ports)
}

// expectStatus sends a request with body (JSON, or nothing) and header
// and fails the test unless it is answered with status want.
func expectStatus(t *testing.T, c *http.Client, method, url, body string, header http.Header, want int) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(req.Header, header)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d", method, url, resp.StatusCode, want)
	}
}

// queryScalar runs an instant query whose result is a vector of at most
// one sample and returns its value (an empty vector is an error).
func queryScalar(ctx context.Context, c *http.Client, endpoint, expr string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"?query="+url.QueryEscape(expr), nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return 0, err
	}
	if r.Status != "success" {
		return 0, fmt.Errorf("query failed: %s", r.Error)
	}
	if len(r.Data.Result) != 1 {
		return 0, fmt.Errorf("%d samples", len(r.Data.Result))
	}
	s, _ := r.Data.Result[0].Value[1].(string)
	return strconv.ParseFloat(s, 64)
}

// grepMetrics returns the request count lines of the exposition at url.
func grepMetrics(c *http.Client, url string) string {
	resp, err := c.Get(url)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out []string
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.HasPrefix(line, "http_server_request_duration_seconds_count") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
