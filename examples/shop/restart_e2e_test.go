package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// restartRules are the rules of the restart tests: one alert that fires at
// once, one pending for an hour, one that a silence mutes.
const restartRules = `groups:
  - name: restart
    interval: 1s
    rules:
      - alert: RestartFiring
        expr: vector(1)
        labels:
          severity: warning
        annotations:
          summary: always firing
      - alert: RestartPending
        expr: vector(1)
        for: 1h
      - alert: RestartMuted
        expr: vector(1)
`

const restartToken = "restart-e2e-token"

// shopProcess is the example binary running as a process of its own.
type shopProcess struct {
	cmd  *exec.Cmd
	base string
	mu   sync.Mutex
	out  bytes.Buffer // stdout and stderr: the shop's log
	done chan struct{}
}

// buildShop builds the example once per test.
func buildShop(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "shop")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startShopProcess runs bin with args and waits until it listens.
func startShopProcess(t *testing.T, bin string, args ...string) *shopProcess {
	t.Helper()
	p := &shopProcess{done: make(chan struct{})}
	p.cmd = exec.Command(bin, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	p.cmd.Env = append(os.Environ(), "OTEL_EXPORTER_OTLP_ENDPOINT=", "OTEL_METRICS_EXPORTER=")
	pr, pw := io.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = pw, pw
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.out.WriteString(line + "\n")
			p.mu.Unlock()
			if a, ok := strings.CutPrefix(line, "shop listening on "); ok {
				addr <- strings.TrimSpace(a)
			}
		}
	}()
	go func() {
		_ = p.cmd.Wait()
		pw.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("shop log:\n%s", p.log())
		}
	})
	select {
	case a := <-addr:
		p.base = a
	case <-p.done:
		t.Fatalf("the shop exited before it listened:\n%s", p.log())
	case <-time.After(30 * time.Second):
		t.Fatalf("the shop did not listen within 30 s:\n%s", p.log())
	}
	return p
}

func (p *shopProcess) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// stop sends SIGTERM and waits for the shop to exit.
func (p *shopProcess) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the shop did not exit within 30 s of SIGTERM:\n%s", p.log())
	}
}

// get decodes the JSON answer of GET path.
func (p *shopProcess) get(t *testing.T, path string, v any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, p.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+restartToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s", path, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v\n%s", path, err, body)
	}
}

// post sends body (JSON, or nothing) to path with the admin token and
// fails the test on a transport error; the status is the shop's business.
func (p *shopProcess) post(t *testing.T, path, body string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, p.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+restartToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// budgets returns each SLO's remaining error budget, for those that have
// one.
func (p *shopProcess) budgets(t *testing.T) map[string]float64 {
	t.Helper()
	var r struct {
		SLOs []struct {
			Name   string   `json:"name"`
			Budget *float64 `json:"errorBudgetRemaining"`
		} `json:"slos"`
	}
	p.get(t, "/monitoring/api/slos", &r)
	out := map[string]float64{}
	for _, s := range r.SLOs {
		if s.Budget != nil {
			out[s.Name] = *s.Budget
		}
	}
	return out
}

// sloSamples counts the samples of the SLOs' 5-minute error ratios over
// their 30-day windows: what their budgets are computed from.
func (p *shopProcess) sloSamples(t *testing.T) int {
	t.Helper()
	return int(p.instant(t, `sum(count_over_time(slo:sli_error:ratio_rate5m[30d]))`))
}

// instant returns the value of a PromQL query that yields one sample, or
// -1 when it yields none.
func (p *shopProcess) instant(t *testing.T, query string) float64 {
	t.Helper()
	return p.query(t, query, "")
}

// instantAt is instant evaluated at ts.
func (p *shopProcess) instantAt(t *testing.T, query string, ts time.Time) float64 {
	t.Helper()
	return p.query(t, query, fmt.Sprintf("&time=%.3f", float64(ts.UnixMilli())/1000))
}

func (p *shopProcess) query(t *testing.T, query, at string) float64 {
	t.Helper()
	var r struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	p.get(t, "/monitoring/api/query?query="+url.QueryEscape(query)+at, &r)
	if len(r.Data.Result) != 1 {
		return -1
	}
	s, _ := r.Data.Result[0].Value[1].(string)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("query %s: value %q", query, s)
	}
	return f
}

type restartAlert struct {
	Labels     map[string]string `json:"labels"`
	State      string            `json:"state"`
	ActiveAt   time.Time         `json:"activeAt"`
	StartsAt   time.Time         `json:"startsAt"`
	SilencedBy []string          `json:"silencedBy"`
}

func (p *shopProcess) alerts(t *testing.T) map[string]restartAlert {
	t.Helper()
	var r struct {
		Alerts []restartAlert `json:"alerts"`
	}
	p.get(t, "/monitoring/api/alerts", &r)
	out := map[string]restartAlert{}
	for _, a := range r.Alerts {
		out[a.Labels["alertname"]] = a
	}
	return out
}

// notified counts the log notifier's lines for alertname in state.
func (p *shopProcess) notified(alertname, state string) int {
	n := 0
	for line := range strings.Lines(p.log()) {
		// The log notifier's line, through the default logger:
		// "... WARN alert alertname=X state=firing ...".
		if strings.Contains(line, " alert alertname="+alertname+" ") && strings.Contains(line, " state="+state+" ") {
			n++
		}
	}
	return n
}

// TestRestartKeepsState restarts the example binary, a real process, with
// its -data directory: a silence created before the restart still mutes
// after it; an alert firing before is firing after with the same start
// time and is not notified again; a pending alert keeps its progress (its
// start moves by the downtime, as in Prometheus); a query over the last
// hour returns the samples from before the restart; the SLOs' error
// budgets are the same and their windows keep the samples from before; a
// notification that a hanging receiver had not taken when the shutdown
// deadline passed is delivered after the restart.
func TestRestartKeepsState(t *testing.T) {
	bin := buildShop(t)
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yml")
	if err := os.WriteFile(rules, []byte(restartRules), 0o644); err != nil {
		t.Fatal(err)
	}
	hook := newRestartReceiver(t)
	args := []string{"-data", filepath.Join(dir, "data"), "-collect", "1s", "-rules", rules, "-default-rules=false",
		"-admin-token", restartToken, "-state-every", "1s", "-alert-webhook", hook.srv.URL}
	first := startShopProcess(t, bin, args...)
	started := time.Now()

	// Orders fail: the availability SLO spends its budget. Two batches,
	// collected apart: a rate needs the counter to grow between samples.
	first.post(t, "/admin/fault?duration=1h", "")
	for batch := 1; batch <= 2; batch++ {
		for range 10 {
			first.post(t, "/orders", `{"user_id":1,"product_id":1,"quantity":1,"currency":"EUR"}`)
		}
		pollUntil(t, 30*time.Second, "the failed orders to be collected", nil, func() (bool, string) {
			n := first.instant(t, `sum(http_server_request_duration_seconds_count{http_route="/orders"})`)
			return n == float64(10*batch), fmt.Sprint(n)
		})
	}

	// A silence for RestartMuted, before its first notification (30 s of
	// group wait).
	sil := fmt.Sprintf(`{"matchers":[{"name":"alertname","value":"RestartMuted","isEqual":true}],"startsAt":%q,"endsAt":%q,"createdBy":"e2e","comment":"muted across restarts"}`,
		time.Now().UTC().Format(time.RFC3339), time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, first.base+"/monitoring/api/silences", strings.NewReader(sil))
	req.Header.Set("Authorization", "Bearer "+restartToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST silence: %s %s", resp.Status, body)
	}

	// Wait for RestartFiring's first notification, and for the SLOs'
	// budgets (their rules run every minute).
	pollUntil(t, 60*time.Second, "RestartFiring to be notified", nil, func() (bool, string) {
		return first.notified("RestartFiring", "firing") == 1, first.log()
	})
	var budgetsBefore map[string]float64
	pollUntil(t, 150*time.Second, "the SLOs' error budgets", nil, func() (bool, string) {
		budgetsBefore = first.budgets(t)
		return len(budgetsBefore) == 2 && first.sloSamples(t) >= 1, fmt.Sprint(budgetsBefore)
	})
	if budgetsBefore["availability"] >= 0 {
		t.Errorf("availability budget %v with every order failing, want overspent", budgetsBefore["availability"])
	}
	sloSamplesBefore := first.sloSamples(t)
	before := first.alerts(t)
	if before["RestartFiring"].State != "firing" || before["RestartPending"].State != "pending" {
		t.Fatalf("before the restart: %+v", before)
	}
	if first.notified("RestartMuted", "firing") != 0 {
		t.Errorf("the silenced alert was notified")
	}
	// A sample from before the restart, to find after it.
	var series struct {
		Data struct {
			Result []struct {
				Values [][2]any `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	rangeQuery := func(p *shopProcess, from time.Time) int {
		series.Data.Result = nil
		q := url.QueryEscape(`sum(vitals_memory_series)`)
		p.get(t, fmt.Sprintf("/monitoring/api/query_range?query=%s&start=%d&end=%d&step=1", q, from.Unix(), time.Now().Unix()), &series)
		if len(series.Data.Result) != 1 {
			return 0
		}
		return len(series.Data.Result[0].Values)
	}
	pointsBefore := rangeQuery(first, started)
	if n := hook.count(); n == 0 {
		t.Fatal("the webhook receiver saw no attempt before the restart")
	}
	stopping := time.Now() // the last evaluation was before this
	first.stop(t)
	stopped := time.Now()
	if !strings.Contains(first.log(), "notifications not delivered before the shutdown deadline") {
		t.Errorf("the first shop did not report its undelivered notification:\n%s", first.log())
	}

	hook.answer()
	second := startShopProcess(t, bin, args...)
	restarted := time.Now()
	after := second.alerts(t)
	// The budgets are those from before, and the SLO windows hold their
	// samples from before the restart (plus those evaluated since).
	if budgets := second.budgets(t); fmt.Sprint(budgets) != fmt.Sprint(budgetsBefore) {
		t.Errorf("error budgets after the restart %v, before %v", budgets, budgetsBefore)
	}
	pollUntil(t, 30*time.Second, "an SLO evaluation after the restart", nil, func() (bool, string) {
		n := second.sloSamples(t)
		return n > sloSamplesBefore, fmt.Sprintf("%d samples of the 5m error ratio, %d before the restart", n, sloSamplesBefore)
	})
	// The notification the receiver hung on is delivered now.
	pollUntil(t, 30*time.Second, "the kept notification to reach the receiver", nil, func() (bool, string) {
		return hook.delivered("RestartFiring"), second.log()
	})
	// The pending alert keeps its progress toward its hour: as in
	// Prometheus, its start moves later by the downtime only (the time the
	// service was down does not count), well short of the restart.
	if b, a := before["RestartPending"], after["RestartPending"]; a.State != "pending" || a.ActiveAt.Before(b.ActiveAt) ||
		a.ActiveAt.Sub(b.ActiveAt) > restarted.Sub(stopping)+2*time.Second {
		t.Errorf("RestartPending: pending since %v before the restart, %s since %v after (down %v)", b.ActiveAt, a.State, a.ActiveAt, restarted.Sub(stopping))
	}
	for _, name := range []string{"RestartFiring", "RestartMuted"} {
		b, a := before[name], after[name]
		if a.State != b.State || !a.ActiveAt.Equal(b.ActiveAt) || !a.StartsAt.Equal(b.StartsAt) {
			t.Errorf("%s: before the restart %s since %v (firing since %v), after %s since %v (firing since %v)",
				name, b.State, b.ActiveAt, b.StartsAt, a.State, a.ActiveAt, a.StartsAt)
		}
	}
	if len(after["RestartMuted"].SilencedBy) != 1 {
		t.Errorf("RestartMuted after the restart is silenced by %v, want the silence from before", after["RestartMuted"].SilencedBy)
	}
	// The points from before the restart are still there.
	if n := rangeQuery(second, started); n < pointsBefore {
		t.Errorf("a range query from the first start has %d points after the restart, %d before it", n, pointsBefore)
	}
	var firstPoint float64
	if len(series.Data.Result) == 1 && len(series.Data.Result[0].Values) > 0 {
		firstPoint, _ = series.Data.Result[0].Values[0][0].(float64)
	}
	if firstPoint == 0 || firstPoint > float64(stopped.Unix()) {
		t.Errorf("the first point after the restart is at %v, want one before the restart at %v", firstPoint, stopped.Unix())
	}
	// Past the group wait, nothing was notified again.
	pollUntil(t, 60*time.Second, "the restarted shop to evaluate past its group wait", nil, func() (bool, string) {
		return time.Since(stopped) > 40*time.Second, ""
	})
	if n := second.notified("RestartFiring", "firing"); n != 0 {
		t.Errorf("RestartFiring was notified %d times again after the restart", n)
	}
	if n := second.notified("RestartMuted", "firing"); n != 0 {
		t.Errorf("the silenced RestartMuted was notified after the restart")
	}
}

// TestRestartPastOutageTolerance: after a downtime longer than the outage
// tolerance (here 1 ms), alerts are not restored, as in Prometheus: the
// pending alert starts its For over, the firing one fires anew.
func TestRestartPastOutageTolerance(t *testing.T) {
	bin := buildShop(t)
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yml")
	if err := os.WriteFile(rules, []byte(restartRules), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-data", filepath.Join(dir, "data"), "-collect", "1s", "-rules", rules, "-default-rules=false",
		"-admin-token", restartToken, "-for-outage-tolerance", "1ms"}
	first := startShopProcess(t, bin, args...)
	var before map[string]restartAlert
	pollUntil(t, 30*time.Second, "the alerts to be evaluated", nil, func() (bool, string) {
		before = first.alerts(t)
		return before["RestartPending"].State == "pending" && before["RestartFiring"].State == "firing", fmt.Sprint(before)
	})
	first.stop(t)
	stopped := time.Now()

	second := startShopProcess(t, bin, args...)
	var after map[string]restartAlert
	pollUntil(t, 30*time.Second, "the alerts to be evaluated after the restart", nil, func() (bool, string) {
		after = second.alerts(t)
		return after["RestartPending"].State == "pending" && after["RestartFiring"].State == "firing", fmt.Sprint(after)
	})
	if a := after["RestartPending"]; !a.ActiveAt.After(stopped) {
		t.Errorf("RestartPending active since %v after the restart, want its For started over after the stop at %v (before: %v)", a.ActiveAt, stopped, before["RestartPending"].ActiveAt)
	}
	if a := after["RestartFiring"]; !a.StartsAt.After(stopped) {
		t.Errorf("RestartFiring firing since %v after the restart, want a new firing after the stop at %v", a.StartsAt, stopped)
	}
}

// restartReceiver is a webhook receiver that hangs until answer is
// called, then accepts every notification.
type restartReceiver struct {
	srv      *httptest.Server
	mu       sync.Mutex
	attempts int
	bodies   []string
	open     chan struct{}
}

func newRestartReceiver(t *testing.T) *restartReceiver {
	r := &restartReceiver{open: make(chan struct{})}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.attempts++
		r.mu.Unlock()
		select {
		case <-r.open:
		case <-req.Context().Done(): // the sender gave up
			return
		}
		r.mu.Lock()
		r.bodies = append(r.bodies, string(body))
		r.mu.Unlock()
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *restartReceiver) answer() { close(r.open) }

func (r *restartReceiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.attempts
}

// delivered reports whether a notification accepted after answer fired
// alertname.
func (r *restartReceiver) delivered(alertname string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range r.bodies {
		var m struct {
			Alerts []struct {
				Status string            `json:"status"`
				Labels map[string]string `json:"labels"`
			} `json:"alerts"`
		}
		if json.Unmarshal([]byte(b), &m) != nil {
			continue
		}
		for _, a := range m.Alerts {
			if a.Labels["alertname"] == alertname && a.Status == "firing" {
				return true
			}
		}
	}
	return false
}

// TestKilledDuringSavesNeverCorrupts kills the example binary with SIGKILL
// at random points while it saves its state every 100 ms, 50 times, and
// restarts it each time: it always starts, never reports a corrupt state
// file (a crash leaves the old file or the new one, never a torn one),
// keeps the silence created at the beginning, and loses at most the last
// save interval and collection of metric history (the figure is logged).
func TestKilledDuringSavesNeverCorrupts(t *testing.T) {
	bin := buildShop(t)
	dir := t.TempDir()
	args := []string{"-data", filepath.Join(dir, "data"), "-collect", "100ms", "-admin-token", restartToken, "-state-every", "100ms"}
	p := startShopProcess(t, bin, args...)
	sil := fmt.Sprintf(`{"matchers":[{"name":"alertname","value":"Anything","isEqual":true}],"startsAt":%q,"endsAt":%q,"createdBy":"e2e","comment":"kept"}`,
		time.Now().UTC().Format(time.RFC3339), time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, p.base+"/monitoring/api/silences", strings.NewReader(sil))
	req.Header.Set("Authorization", "Bearer "+restartToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// Every kill below must find history from before it: the state the
	// loop starts from has at least one collection (a loaded process
	// killed before its own first save keeps only what it loaded).
	pollUntil(t, 30*time.Second, "a collection in the history before the first kill", nil, func() (bool, string) {
		v := p.instantAt(t, `max(timestamp(vitals_memory_series))`, time.Now())
		return v >= 0, fmt.Sprintf("max(timestamp(vitals_memory_series)) = %v", v)
	})
	// The silence and the history are saved at the next save; a clean
	// stop makes sure.
	p.stop(t)

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	const kills = 50
	var killedAt time.Time
	var lost []time.Duration
	for i := range kills {
		p = startShopProcess(t, bin, args...)
		if log := p.log(); strings.Contains(log, "state file skipped") {
			t.Fatalf("kill %d: a state file was found corrupt at start:\n%s", i, log)
		}
		if i > 0 {
			// The newest sample from before the kill: what the kill lost
			// is the time since.
			last := p.instantAt(t, `max(timestamp(vitals_memory_series))`, killedAt)
			if last < 0 {
				t.Fatalf("kill %d: no metric history from before the kill", i)
			}
			lost = append(lost, killedAt.Sub(time.UnixMilli(int64(last*1000))))
		}
		var sils struct {
			Silences []struct {
				Comment string `json:"comment"`
			} `json:"silences"`
		}
		p.get(t, "/monitoring/api/silences", &sils)
		if len(sils.Silences) != 1 || sils.Silences[0].Comment != "kept" {
			t.Fatalf("kill %d: silences %+v, want the one created first", i, sils.Silences)
		}
		// Kill it at a random point of its saves: within 0 to 500 ms.
		timer := time.NewTimer(time.Duration(rng.Int64N(int64(500 * time.Millisecond))))
		<-timer.C
		killedAt = time.Now()
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	slices.Sort(lost)
	worst := lost[len(lost)-1]
	t.Logf("metric history lost by a SIGKILL, saving every 100 ms and collecting every 100 ms: median %v, worst %v of %d kills",
		lost[len(lost)/2].Round(time.Millisecond), worst.Round(time.Millisecond), len(lost))
	// One save interval and one collection, plus the time a save of this
	// store takes on a loaded machine.
	if worst > time.Second {
		t.Errorf("a kill lost %v of metric history, want at most about the save interval and the collection interval (200 ms)", worst)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "data", "state"))
	var names []string
	tmps := 0
	for _, e := range entries {
		names = append(names, e.Name())
		if strings.Contains(e.Name(), ".bad-") {
			t.Errorf("a state file was quarantined: %s", e.Name())
		}
		if strings.Contains(e.Name(), ".tmp-") {
			tmps++
		}
	}
	// Each start removes what the previous kill left half-written: at
	// most the last kill's two temporary files remain.
	if tmps > 2 {
		t.Errorf("%d temporary files left behind", tmps)
	}
	t.Logf("after %d kills the state directory holds %s", kills, strconv.Quote(strings.Join(names, " ")))
}
