package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Requests the test sends to the shop; Prometheus must end up with exactly
// these counts, having seen them only through OTLP -> collector -> scrape.
const (
	productReads = 50
	ordersPlaced = 20
)

// collectorConfig is the configuration the test runs the collector with;
// docs/deployment.md shows the same file with fixed ports. The three
// placeholders are the OTLP gRPC, OTLP HTTP and Prometheus exporter ports.
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
  prometheus:
    endpoint: 127.0.0.1:%d

service:
  telemetry:
    metrics:
      level: none
  pipelines:
    metrics:
      receivers: [otlp]
      processors: [batch]
      exporters: [prometheus]
`

// TestOTLPThroughCollectorToPrometheus proves the path beyond one process:
// the example shop pushes OTLP (HTTP, then gRPC) to this module's collector,
// a real Prometheus (Debian's package) scrapes the collector's Prometheus
// exporter, and the request counts Prometheus sees equal what the shop
// served.
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
			col, grpcPort, httpPort, promExpPort := startCollector(t, collectorBin)

			endpoint := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
			if protocol == "grpc" {
				endpoint = fmt.Sprintf("http://127.0.0.1:%d", grpcPort)
			}
			shopURL, shop := startShop(t, shopBin, map[string]string{
				"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
				"OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
				"OTEL_METRIC_EXPORT_INTERVAL": "1000",
				// The collector here has a metrics pipeline only.
				"OTEL_TRACES_EXPORTER": "none",
			})
			prom := startPrometheus(t, promBin, fmt.Sprintf("127.0.0.1:%d", promExpPort))

			client := &http.Client{Timeout: 5 * time.Second}
			for range productReads {
				expectStatus(t, client, http.MethodGet, shopURL+"/products/1", "", http.StatusOK)
			}
			for range ordersPlaced {
				expectStatus(t, client, http.MethodPost, shopURL+"/orders",
					`{"product_id":1,"quantity":1,"currency":"EUR"}`, http.StatusCreated)
			}

			queries := []struct {
				expr string
				want float64
			}{
				{`sum(http_server_request_duration_seconds_count{http_route="/products/{id}",http_request_method="GET"})`, productReads},
				{`sum(http_server_request_duration_seconds_count{http_route="/orders",http_request_method="POST"})`, ordersPlaced},
			}
			deadline := time.Now().Add(60 * time.Second)
			tick := time.NewTicker(500 * time.Millisecond)
			defer tick.Stop()
			var status []string
			for {
				status = status[:0]
				done := true
				for _, q := range queries {
					v, err := queryScalar(t.Context(), client, prom+"/api/v1/query", q.expr)
					status = append(status, fmt.Sprintf("%s = %v (err %v), want %v", q.expr, v, err, q.want))
					if err != nil || v != q.want {
						done = false
					}
				}
				if done {
					for _, s := range status {
						t.Log(s)
					}
					t.Logf("the collector's exposition:\n%s", grepMetrics(client, fmt.Sprintf("http://127.0.0.1:%d/metrics", promExpPort)))
					return
				}
				if time.Now().After(deadline) {
					t.Logf("collector's exposition (request counts):\n%s", grepMetrics(client, fmt.Sprintf("http://127.0.0.1:%d/metrics", promExpPort)))
					t.Logf("collector output:\n%s", col.String())
					t.Logf("shop output:\n%s", shop.String())
					t.Fatalf("Prometheus did not see the served requests within 60s:\n%s", strings.Join(status, "\n"))
				}
				select {
				case <-tick.C:
				case <-t.Context().Done():
					t.Fatal(t.Context().Err())
				}
			}
		})
	}
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

// startCollector runs the collector with collectorConfig on free ports and
// waits until both receivers and the exporter listen. It returns the OTLP
// gRPC, OTLP HTTP and Prometheus exporter ports.
func startCollector(t *testing.T, bin string) (p *process, grpcPort, httpPort, promExpPort int) {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, "collector.yaml")
	p, ports := launch(t, "collector", 3, func(ports []int) *exec.Cmd {
		if err := os.WriteFile(config, fmt.Appendf(nil, collectorConfig, ports[0], ports[1], ports[2]), 0o644); err != nil {
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

// startShop runs the example shop on a free port with env (OTEL_* taken
// from env only) and returns its base URL once it is live.
func startShop(t *testing.T, bin string, env map[string]string) (string, *process) {
	t.Helper()
	addr := func(ports []int) string { return fmt.Sprintf("127.0.0.1:%d", ports[0]) }
	p, ports := launch(t, "shop", 1, func(ports []int) *exec.Cmd {
		cmd := exec.Command(bin, "-addr", addr(ports), "-collect", "1s", "-rules=")
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

func expectStatus(t *testing.T, c *http.Client, method, url, body string, want int) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
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
