//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vitalsgo/vitals/internal/otlptest"
)

// dashRules are the alert rules of TestDashboardInChromium: fast ones, so
// that an alert fires within seconds of the scripted fault (the default
// HighErrorRate waits 2 minutes), a pending one, and one that fires 3 s of
// every 6, so that firings end and fill the alert history. The summary and
// a label carry markup, which the page must show as text.
const dashRules = `groups:
  - name: dashboard-e2e
    interval: 1s
    rules:
      - alert: ShopErrors
        expr: sum(rate(http_server_request_duration_seconds_count{http_response_status_code=~"5.."}[30s])) > 0
        for: 0s
        labels:
          severity: critical
        annotations:
          summary: 'Orders fail with 5xx <i id="injected">markup stays text</i>'
          description: "{{ $value | humanize }} errors per second over 30s."
      - alert: ShopBusy
        expr: sum(rate(http_server_request_duration_seconds_count[30s])) > 0
        for: 1h
        labels:
          severity: warning
        annotations:
          summary: "The shop has traffic (pending for an hour before it fires)"
      - alert: ShopFlap
        expr: vector(time() % 6) < 3
        for: 0s
        labels:
          severity: info
          owner: '<b id="history-injected">markup stays text</b>'
        annotations:
          summary: "Fires 3 s of every 6: each firing that ends goes to the alert history"
`

// dashResolveReason is the reason TestDashboardInChromium resolves a
// firing of ShopFlap by hand with.
const dashResolveReason = "resolved by the dashboard e2e test"

const dashToken = "dash-e2e-token"

// dashTraceURL is the tracing backend's trace address the shop links to
// (-trace-url); nothing listens there, and the page is never followed.
const dashTraceURL = "http://127.0.0.1:16686/trace/{trace_id}"

// TestDashboardInChromium loads the dashboard page of the shop in Debian's
// headless Chromium while traffic flows and an alert fires, and checks that
// the rendered DOM shows the health status, the alert and the top route,
// that the page drew without errors (its status line) and logged nothing to
// the console, and that a screenshot can be taken. The screenshot is kept
// in a temporary directory, or in $VITALS_SCREENSHOT_DIR/dashboard.png when
// that is set.
//
// Chromium runs with a virtual time budget: it loads the page, lets its
// timers run for 15 s of virtual time (three refreshes, network time not
// counted) and then dumps the DOM or takes the screenshot.
func TestDashboardInChromium(t *testing.T) {
	bin := lookBinary(t, "chromium")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_METRICS_EXPORTER", "")
	// Traces go to a real receiver, so the histograms carry exemplars and
	// the route table links the slowest traced request to its trace.
	traces := otlptest.NewHTTP(t)
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", traces.Endpoint()+"/v1/traces")
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "200")
	client := &http.Client{Timeout: 5 * time.Second}

	rules := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(rules, []byte(dashRules), 0o644); err != nil {
		t.Fatal(err)
	}
	base := "http://" + startShopWith(t, "-addr", "127.0.0.1:0", "-collect", "1s", "-rules", rules, "-admin-token", dashToken,
		"-trace-url", dashTraceURL)
	// The 5-minute window has a point every 5 s: the charts fill quickly.
	page := base + "/monitoring/#window=5m"

	if code, _, err := dashGet(t.Context(), client, base+"/monitoring/", nil); err != nil {
		t.Fatal(err)
	} else if code != http.StatusOK {
		t.Skipf("dashboard not mounted yet: GET /monitoring/ answered %d", code)
	}

	// Orders fail with 503 for the rest of the test.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/admin/fault?duration=5m", nil)
	req.Header.Set("Authorization", "Bearer "+dashToken)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /admin/fault: %s", resp.Status)
	}
	dashTraffic(t, client, base)

	// Wait until the alert fires and /orders leads the routes.
	var alerts struct {
		Alerts []struct {
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
			State       string            `json:"state"`
		} `json:"alerts"`
	}
	var summary string
	pollUntil(t, 60*time.Second, "ShopErrors to fire, /orders to lead the routes and 10 s of rates", nil, func() (bool, string) {
		var firing bool
		if _, body, err := dashGet(t.Context(), client, base+"/monitoring/api/alerts", &alerts); err != nil {
			return false, err.Error()
		} else {
			for _, a := range alerts.Alerts {
				if a.Labels["alertname"] == "ShopErrors" && a.State == "firing" {
					firing, summary = true, a.Annotations["summary"]
				}
			}
			if !firing {
				return false, "alerts: " + body
			}
		}
		var top struct {
			Data struct {
				Result []struct {
					Metric map[string]string `json:"metric"`
				} `json:"result"`
			} `json:"data"`
		}
		q := "topk(1, sum by (http_route) (increase(http_server_request_duration_seconds_count[5m])))"
		if _, body, err := dashGet(t.Context(), client, base+"/monitoring/api/query?query="+url.QueryEscape(q), &top); err != nil {
			return false, err.Error()
		} else if len(top.Data.Result) != 1 || top.Data.Result[0].Metric["http_route"] != "/orders" {
			return false, "top route: " + body
		}
		// Lines rather than dots: request rates at three points 5 s apart.
		var rates struct {
			Data struct {
				Result []struct {
					Values [][2]any `json:"values"`
				} `json:"result"`
			} `json:"data"`
		}
		now := time.Now().Unix()
		q = "sum(rate(http_server_request_duration_seconds_count[1m]))"
		rq := fmt.Sprintf("%s/monitoring/api/query_range?query=%s&start=%d&end=%d&step=5", base, url.QueryEscape(q), now-10, now)
		if _, body, err := dashGet(t.Context(), client, rq, &rates); err != nil {
			return false, err.Error()
		} else if len(rates.Data.Result) != 1 || len(rates.Data.Result[0].Values) < 3 {
			return false, "rates: " + body
		}
		return true, ""
	})

	// A firing of ShopFlap resolved by hand, in the alert history: resolve
	// it while it fires; its entry is recorded, with the reason, when its
	// condition clears within 3 s. Firings that ended by themselves are
	// there by then too.
	pollUntil(t, 30*time.Second, "a firing of ShopFlap resolved by hand in the alert history", nil, func() (bool, string) {
		var hist struct {
			Resolved []struct {
				Labels         map[string]string `json:"labels"`
				ResolvedReason string            `json:"resolvedReason"`
			} `json:"resolved"`
		}
		_, body, err := dashGet(t.Context(), client, base+"/monitoring/api/alerts/history", &hist)
		if err != nil {
			return false, err.Error()
		}
		for _, e := range hist.Resolved {
			if e.Labels["alertname"] == "ShopFlap" && e.ResolvedReason == dashResolveReason {
				return true, ""
			}
		}
		var now struct {
			Alerts []struct {
				ID     string            `json:"id"`
				Labels map[string]string `json:"labels"`
				State  string            `json:"state"`
			} `json:"alerts"`
		}
		if _, _, err := dashGet(t.Context(), client, base+"/monitoring/api/alerts", &now); err != nil {
			return false, err.Error()
		}
		for _, a := range now.Alerts {
			if a.Labels["alertname"] != "ShopFlap" || a.State != "firing" {
				continue
			}
			// It may resolve by itself first: then the next firing is.
			code, rbody := dashResolve(t.Context(), client, base, a.ID, dashResolveReason)
			return false, fmt.Sprintf("resolve %s: %d %s; history: %s", a.ID, code, rbody, body)
		}
		return false, "history: " + body
	})

	// The shop's error-ratio check runs every 15 s and turns the health
	// from pass to warn during the fault: the page shows the status read
	// just before the dump or the one just after.
	healthStatus := func() string {
		t.Helper()
		var health struct {
			Status string `json:"status"`
		}
		if _, body, err := dashGet(t.Context(), client, base+"/monitoring/api/health", &health); err != nil || health.Status == "" {
			t.Fatalf("GET /monitoring/api/health: %v %s", err, body)
		}
		return health.Status
	}
	before := healthStatus()

	// The page is read through a proxy that notes its chart queries.
	target, _ := url.Parse(base)
	var rangeMu sync.Mutex
	var ranges []url.Values
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/api/v1/query_range") {
			rangeMu.Lock()
			ranges = append(ranges, r.URL.Query())
			rangeMu.Unlock()
		}
		httputil.NewSingleHostReverseProxy(target).ServeHTTP(w, r)
	}))
	defer proxy.Close()

	start := time.Now()
	dom, stderr := dashChromium(t, bin, "--dump-dom", strings.Replace(page, base, proxy.URL, 1))
	t.Logf("chromium --dump-dom took %v", time.Since(start).Round(time.Millisecond))
	dashNoConsoleOutput(t, stderr)
	// The charts ask for the whole window once, then only for the points
	// after those they have and the last two again (RANGE_REFETCH in
	// dashboard.js): a refresh evaluates a few steps, not sixty. How many
	// are new depends on how late the refresh came, so each repeat is held
	// to the end of the same query's previous answer.
	rangeMu.Lock()
	asked := map[string]int{}
	lastEnd := map[string]float64{}
	repeats := 0
	for _, q := range ranges {
		start, _ := strconv.ParseFloat(q.Get("start"), 64)
		end, _ := strconv.ParseFloat(q.Get("end"), 64)
		step, _ := strconv.ParseFloat(q.Get("step"), 64)
		points := int((end-start)/step) + 1
		expr := q.Get("query")
		if asked[expr]++; asked[expr] == 1 {
			if points < 55 {
				t.Errorf("first query_range of %.50s…: %d points, want the 5-minute window's 60 or so", expr, points)
			}
		} else {
			repeats++
			if want := lastEnd[expr] - 2*step; start != want {
				t.Errorf("query_range of %.50s… again: start %s, want %.0f (the previous end %.0f less two steps)", expr, q.Get("start"), want, lastEnd[expr])
			}
			if points > 20 {
				t.Errorf("query_range of %.50s… again: %d points (start %s end %s step %s), want a few", expr, points, q.Get("start"), q.Get("end"), q.Get("step"))
			}
		}
		lastEnd[expr] = end
	}
	rangeMu.Unlock()
	if len(asked) < 4 || repeats < len(asked) {
		t.Errorf("%d chart queries asked %d times again over the page's refreshes, want the 4 asked again at least once", len(asked), repeats)
	}

	after := healthStatus()
	healthRE := regexp.MustCompile(`id="health-status"[^>]*>(` + regexp.QuoteMeta(before) + `|` + regexp.QuoteMeta(after) + `)<`)
	if !healthRE.MatchString(dom) {
		t.Errorf("the DOM does not show the health status %q (or %q, just after) in #health-status", before, after)
	}
	for _, want := range []string{
		`class="alert-name">ShopErrors<`, // the firing alert
		`class="alert-name">ShopBusy<`,   // the pending one
		"Requests/s by route",            // the charts were drawn
		`role="img"`,
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the DOM lacks %s", want)
		}
	}
	// The panels that read the monitoring API's fields show them: a field
	// the page reads under another name than the API writes leaves a dash
	// or nothing.
	for _, want := range []struct{ what, re string }{
		{"the alert's activeAt", `class="alert-meta">value [^<]* · active since `},
		{"the firing alert's startsAt", `class="alert-meta">[^<]*firing since `},
		{"the summary's totalRequests", `<div class="k">Requests</div><div class="v">[1-9]`},
		{"the summary's latency.p95Seconds", `<div class="k">p95</div><div class="v">[0-9]`},
		{"the summary's apdex.thresholdSeconds", `title="T = [0-9]`},
		{"the routes' apdexScore (its column)", `title="Apdex score \(0–1\)[^"]*"`},
		{"the system's goVersion and numCPU", `<dt>Go</dt><dd>go1\.[^<]*</dd><dt>CPUs</dt><dd>GOMAXPROCS \d+ of \d+</dd>`},
		{"the system's startedAt", `<dt>Up</dt><dd>[^<]*since `},
		{"the SLO list", `(?s)id="slo-list"[^>]*>.*?<tbody><tr><th scope="row">shop / `},
	} {
		if !regexp.MustCompile(want.re).MatchString(dom) {
			t.Errorf("the DOM does not show %s (%s)", want.what, want.re)
		}
	}
	// The alert history: the resolved firings of ShopFlap, one resolved by
	// hand with its reason, and how often it fired; its label as text.
	if m := regexp.MustCompile(`(?s)<section id="alert-history"([^>]*)>.*?</section>`).FindStringSubmatch(dom); m == nil {
		t.Error("the DOM has no alert history section")
	} else {
		if strings.Contains(m[1], "hidden") {
			t.Errorf("the alert history section is hidden: %q", m[1])
		}
		sec := m[0]
		for _, want := range []struct{ what, re string }{
			{"a resolved firing of ShopFlap, its start and end", `(?s)id="history-resolved".*?<tbody>.*?<tr><th scope="row"><span title="rule group dashboard-e2e">ShopFlap</span></th>` +
				`<td><ul class="chips" aria-label="Labels">.*?</ul></td><td><time datetime="[^"]+"[^>]*>[^<]*\d\d:\d\d:\d\d</time></td><td><time datetime="[^"]+"[^>]*>[^<]*\d\d:\d\d:\d\d</time></td>` +
				`<td class="num">\d[^<]* s</td>`},
			{"the reason of the resolution by hand", `(?s)id="history-resolved".*?<td class="output"><span class="muted">by hand: </span>` + regexp.QuoteMeta(dashResolveReason) + `</td>`},
			{"a firing that ended by itself", `(?s)id="history-resolved".*?<td class="output"><span class="muted">condition cleared</span></td>`},
			{"how often ShopFlap fired", `(?s)id="history-fired".*?<tr><th scope="row"><span title="rule group dashboard-e2e">ShopFlap</span></th><td>.*?</td><td class="num">[1-9]\d*</td>`},
			{"ShopErrors firing among the counts", `(?s)id="history-fired".*?>ShopErrors</span></th><td>.*?</td><td class="num">[1-9]\d*</td><td>.*?</td><td>.*?</td><td><span class="badge firing">firing</span>`},
			{"the label with markup, as text", regexp.QuoteMeta(`<li>owner=&lt;b id="history-injected"&gt;markup stays text&lt;/b&gt;</li>`)},
		} {
			if !regexp.MustCompile(want.re).MatchString(sec) {
				t.Errorf("the alert history does not show %s (%s)", want.what, want.re)
			}
		}
	}
	if strings.Contains(dom, `<b id="history-injected"`) {
		t.Error("a label was inserted as HTML")
	}
	if m := regexp.MustCompile(`<section id="slos"[^>]*>`).FindString(dom); m == "" || strings.Contains(m, "hidden") {
		t.Errorf("the SLO section is not shown: %q", m)
	}
	// The top route is the first row of the routes table and the first
	// series of the per-route charts.
	if m := regexp.MustCompile(`(?s)id="routes".*?<tbody><tr><th scope="row"><code>([^<]*)</code>`).FindStringSubmatch(dom); m == nil {
		t.Error("the DOM has no routes table")
	} else if m[1] != "POST /orders" && m[1] != "/orders" {
		t.Errorf("the first route of the table is %q, want /orders", m[1])
	}
	if !strings.Contains(dom, "<li><span class=\"sw c0\"></span>/orders ") {
		t.Error("/orders is not the first series of the per-route charts")
	}
	// Annotations are user data: shown as text, never parsed as markup.
	if !strings.Contains(summary, "<i id=") {
		t.Errorf("the alert's summary %q lost its markup before the page saw it", summary)
	}
	if strings.Contains(dom, `<i id="injected"`) {
		t.Error("the alert's summary was inserted as HTML")
	}
	// (A text node is serialized with &, < and > escaped, quotes as they are.)
	if !strings.Contains(dom, strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(summary)) {
		t.Errorf("the DOM does not show the summary %q as text", summary)
	}
	// Without a token the page offers no buttons that need one.
	if strings.Contains(dom, ">Resolve<") || strings.Contains(dom, ">Silence<") {
		t.Error("resolve or silence buttons shown without a token")
	}
	// The status line tells when the page last updated, with no errors.
	if m := regexp.MustCompile(`<span id="status"([^>]*)>([^<]*)</span>`).FindStringSubmatch(dom); m == nil {
		t.Error("no status in the DOM")
	} else if strings.Contains(m[1], "error") || m[2] != "" {
		t.Errorf("status: %q (attributes %q), want nothing to report", m[2], m[1])
	}
	if !regexp.MustCompile(`<span id="updated">Updated \d\d:\d\d:\d\d`).MatchString(dom) {
		t.Error("the page does not tell when it last updated")
	}
	// The slowest traced request of a route links to its trace, one that
	// reached the receiver.
	if m := regexp.MustCompile(`<a href="` + regexp.QuoteMeta(strings.TrimSuffix(dashTraceURL, "{trace_id}")) +
		`([0-9a-f]{32})" rel="noopener noreferrer" target="_blank"><code class="trace-id" title="trace ([0-9a-f]{32})">([0-9a-f]{32})</code></a>`).FindStringSubmatch(dom); m == nil {
		t.Error("the route table has no trace link")
	} else if m[1] != m[2] || m[1] != m[3] {
		t.Errorf("trace link %s shows %s (title %s)", m[1], m[3], m[2])
	} else if !slices.ContainsFunc(traces.Spans(), func(s otlptest.Span) bool { return s.TraceID() == m[1] }) {
		t.Errorf("the linked trace %s has no span at the receiver (%d spans)", m[1], len(traces.Spans()))
	}
	if t.Failed() {
		t.Logf("DOM:\n%s", dom)
	}

	// The screenshot.
	dir := os.Getenv("VITALS_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "dashboard.png")
	_ = os.Remove(shot)
	start = time.Now()
	_, stderr = dashChromium(t, bin, "--screenshot="+shot, "--window-size=1280,1600", "--hide-scrollbars", page)
	t.Logf("chromium --screenshot took %v", time.Since(start).Round(time.Millisecond))
	dashNoConsoleOutput(t, stderr)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
	if st, _ := f.Stat(); st.Size() == 0 || cfg.Width != 1280 || cfg.Height != 1600 {
		t.Errorf("screenshot %s: %d bytes, %dx%d, want 1280x1600", shot, st.Size(), cfg.Width, cfg.Height)
	}
	t.Logf("screenshot: %s", shot)
}

// dashTraffic sends requests to the shop until the test ends: every 20 ms
// an order (POST /orders, failing with 503 during the fault), and every
// fourth tick a product page and the catalogue, so that /orders leads the
// routes. It is bounded by a number of ticks as well as by the test.
func dashTraffic(t *testing.T, client *http.Client, base string) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		send := func(method, path, body string) {
			req, err := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(body))
			if err != nil {
				return
			}
			if body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			if resp, err := client.Do(req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
		for i := 0; i < 15000; i++ { // 5 minutes at most
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			send(http.MethodPost, "/orders", `{"product_id":1,"quantity":1,"currency":"EUR"}`)
			if i%4 == 0 {
				send(http.MethodGet, fmt.Sprintf("/products/%d", 1+i/4%3), "")
				send(http.MethodGet, "/products", "")
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
}

// dashGet GETs url and decodes its JSON body into v, when not nil.
func dashGet(ctx context.Context, client *http.Client, url string, v any) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, "", err
	}
	if v != nil {
		if resp.StatusCode != http.StatusOK {
			return resp.StatusCode, string(body), fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
		}
		if err := json.Unmarshal(body, v); err != nil {
			return resp.StatusCode, string(body), fmt.Errorf("GET %s: %w: %s", url, err, body)
		}
	}
	return resp.StatusCode, string(body), nil
}

// dashResolve resolves the alert id by hand, with the admin token, and
// returns the answer's status code and body (0 and the error if none).
func dashResolve(ctx context.Context, client *http.Client, base, id, reason string) (int, string) {
	body, _ := json.Marshal(map[string]string{"reason": reason})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/monitoring/api/alerts/"+url.PathEscape(id)+"/resolve", bytes.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	req.Header.Set("Authorization", "Bearer "+dashToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// dashChromium runs headless Chromium with args after the common flags,
// within 60 s, and returns its stdout and stderr. Chromium talks to
// 127.0.0.1 only: every other host name resolves to nothing, no proxy is
// used, and its background services are off. Its processes run in their
// own process group, which is killed when the run ends.
func dashChromium(t *testing.T, bin string, args ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	common := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--no-proxy-server", "--mute-audio",
		"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
		"--user-data-dir=" + t.TempDir(),
		"--virtual-time-budget=15000",
		"--enable-logging=stderr", "--v=0",
	}
	cmd := exec.CommandContext(ctx, bin, append(common, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // nothing of the user's profile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // helpers left behind, if any
	}
	if ctx.Err() != nil {
		t.Fatalf("chromium %v did not finish within 60 s\nstderr:\n%s", args, errb.String())
	}
	if err != nil {
		t.Fatalf("chromium %v: %v\nstderr:\n%s", args, err, errb.String())
	}
	return out.String(), errb.String()
}

// dashNoConsoleOutput fails the test if the page wrote to the console.
// With --enable-logging=stderr Chromium logs every console message of the
// page, whatever its level, as one line such as
//
//	[6292:6292:1127/002719.709132:INFO:CONSOLE:2] "an error", source: http://127.0.0.1:8765/t.html (2)
//
// (older versions: INFO:CONSOLE(2)); uncaught exceptions come as
// "Uncaught TypeError: ...". The level is INFO even for console.error, so
// the page must write nothing at all: it reports errors in its status line.
func dashNoConsoleOutput(t *testing.T, stderr string) {
	t.Helper()
	for _, line := range strings.Split(stderr, "\n") {
		if strings.Contains(line, ":CONSOLE") || strings.Contains(line, "Uncaught") {
			t.Errorf("console output from the page: %s", line)
		}
	}
}
