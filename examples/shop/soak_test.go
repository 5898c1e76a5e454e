//go:build soak

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"

	"github.com/vitalsgo/vitals/internal/otlptest"
)

// Soak parameters: the issue asks for at least 2000 requests/s for 60 s.
const (
	soakRate     = 2100 // requests/s the generator paces at; 2000 must be achieved
	soakMinRate  = 2000
	soakDuration = 60 * time.Second
	// soakWarmup runs the same load first, so that everything that grows
	// up to a bound has reached it before the heap is measured: the memory
	// reader's series (-retention 10s at -collect 1s: 11 collections and a
	// chunk of at most 2.5 s, steady after 13 s), connection pools, caches,
	// the SDK's attribute sets, the histogram buckets' exemplars (one per
	// bucket hit so far: the rare slow buckets fill last), the state file's
	// first saves.
	soakWarmup  = 30 * time.Second
	soakWorkers = 64
)

// soakKind is one kind of request the generator sends, with the route
// template the shop records it under.
type soakKind struct {
	method, route string
	url           string
	body          []byte
}

// soakStatuses is the range of status codes counted per kind.
const soakStatuses = 600

// soakGen is an open-loop load generator: a scheduler issues requests at a
// fixed rate, whatever the latency, to a bounded pool of workers, which
// record the status of every response and every failure. Everything it
// records into is allocated before the warm-up, so the heap measurements
// see the shop, not the generator.
type soakGen struct {
	client *http.Client
	kinds  []soakKind
	mix    [100]uint8 // kind of the i-th request of every hundred

	jobs   chan uint8
	counts [][soakStatuses]atomic.Int64 // per kind, per status
	failed atomic.Int64                 // transport errors
	missed atomic.Int64                 // due but not sent: every worker busy and the queue full
	sent   atomic.Int64

	mu        sync.Mutex
	latencies []time.Duration // of the measured phase; capacity set in advance
	recording atomic.Bool
}

func newSoakGen(base string, capacity int) *soakGen {
	g := &soakGen{
		client: &http.Client{
			Timeout: 10 * time.Second,
			Transport: &http.Transport{
				MaxIdleConns:        soakWorkers,
				MaxIdleConnsPerHost: soakWorkers,
				MaxConnsPerHost:     soakWorkers,
				IdleConnTimeout:     5 * time.Minute,
			},
		},
		jobs:      make(chan uint8, 4096),
		latencies: make([]time.Duration, 0, capacity),
	}
	// Mostly cheap reads (cache hits), some writes, some 404s and 409s.
	g.kinds = []soakKind{
		{http.MethodGet, "/products/{id}", base + "/products/1", nil},
		{http.MethodGet, "/products/{id}", base + "/products/3", nil},
		{http.MethodGet, "/products", base + "/products", nil},
		{http.MethodGet, "/products/{id}", base + "/products/99", nil}, // 404
		{http.MethodPost, "/orders", base + "/orders", []byte(`{"product_id":2,"quantity":1,"currency":"EUR"}`)},
		{http.MethodPost, "/orders", base + "/orders", []byte(`{"product_id":1,"quantity":0,"currency":"EUR"}`)}, // 400
		{http.MethodPost, "/users", base + "/users", []byte(`{"email":"soak@example.com","source":"web"}`)},      // 201 once, then 409
	}
	shares := []int{35, 25, 15, 5, 12, 3, 5}
	i := 0
	for k, n := range shares {
		for range n {
			g.mix[i] = uint8(k)
			i++
		}
	}
	g.counts = make([][soakStatuses]atomic.Int64, len(g.kinds))
	return g
}

// startWorkers starts the workers, which run until stop is called.
func (g *soakGen) startWorkers(ctx context.Context) (stop func()) {
	var wg sync.WaitGroup
	for range soakWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range g.jobs {
				g.do(ctx, k)
			}
		}()
	}
	return func() {
		close(g.jobs)
		wg.Wait()
	}
}

func (g *soakGen) do(ctx context.Context, k uint8) {
	kind := &g.kinds[k]
	var body io.Reader
	if kind.body != nil {
		body = bytes.NewReader(kind.body)
	}
	req, err := http.NewRequestWithContext(ctx, kind.method, kind.url, body)
	if err != nil {
		g.failed.Add(1)
		return
	}
	if kind.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	began := time.Now()
	resp, err := g.client.Do(req)
	if err != nil {
		g.failed.Add(1)
		return
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	d := time.Since(began)
	if err != nil {
		g.failed.Add(1) // the server has counted it, we cannot know how
		return
	}
	if resp.StatusCode > 0 && resp.StatusCode < soakStatuses {
		g.counts[k][resp.StatusCode].Add(1)
	} else {
		g.failed.Add(1)
	}
	if g.recording.Load() {
		g.mu.Lock()
		if len(g.latencies) < cap(g.latencies) {
			g.latencies = append(g.latencies, d)
		}
		g.mu.Unlock()
	}
}

// pace issues requests at soakRate for d, open loop: every millisecond it
// queues the requests due by then. It returns the requests issued and the
// time from the first to the last response.
func (g *soakGen) pace(ctx context.Context, d time.Duration, seq *int) (issued int64, took time.Duration) {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	sentBefore := g.sent.Load()
	for {
		now := <-tick.C
		elapsed := now.Sub(start)
		if elapsed > d {
			elapsed = d
		}
		due := int64(elapsed.Seconds() * soakRate)
		for issued < due {
			issued++
			select {
			case g.jobs <- g.mix[*seq%len(g.mix)]:
				*seq++
				g.sent.Add(1)
			default:
				g.missed.Add(1)
			}
		}
		if elapsed >= d || ctx.Err() != nil {
			break
		}
	}
	// Wait until the queue has drained and every answer is counted.
	for g.answered() < g.sent.Load() {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return g.sent.Load() - sentBefore, time.Since(start)
		}
	}
	return g.sent.Load() - sentBefore, time.Since(start)
}

// answered is the number of requests that got an answer or failed.
func (g *soakGen) answered() int64 {
	n := g.failed.Load()
	for k := range g.counts {
		for s := range g.counts[k] {
			n += g.counts[k][s].Load()
		}
	}
	return n
}

// want returns the expected request counts by method, route and status.
func (g *soakGen) want() map[[3]string]int64 {
	want := map[[3]string]int64{}
	for k, kind := range g.kinds {
		for s := range g.counts[k] {
			if n := g.counts[k][s].Load(); n > 0 {
				want[[3]string{kind.method, kind.route, strconv.Itoa(s)}] += n
			}
		}
	}
	return want
}

// TestSoak runs the shop for a minute under 2000 requests/s from an
// open-loop generator, with the memory reader (every second), the default
// alert rules, the health checks and an OTLP exporter (every second, to a
// real receiver) all running, and checks that the request counts on
// /metrics and in the last OTLP export equal what was sent, exactly; that
// the heap after the run is within 10 % of the heap after the warm-up; and
// that the goroutines come back to their baseline once the connections
// close.
//
// Run it with: go test -tags soak -run Soak -count=1 -v ./examples/shop/
func TestSoak(t *testing.T) {
	// CI shows the end of the output, and on failure the shop's output
	// comes after the errors: they are repeated last, with the summary.
	f := &failures{t: t}
	var summary string
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("soak FAILED:\n  %s\n%s", strings.Join(f.msgs, "\n  "), summary)
		}
	})
	recv := otlptest.NewHTTP(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", recv.Endpoint())
	t.Setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_METRICS_EXPORTER", "")
	t.Setenv("OTEL_METRIC_EXPORT_INTERVAL", "1000")
	// Traces go to the same receiver (on by default with an endpoint):
	// batches every second, so that the baseline below sees their
	// connection too.
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "1000")
	began := time.Now()

	// The memory reader keeps 10 s (12 collections at -collect 1s) instead
	// of the default hour: its rings then are full after the warm-up, so
	// "no growth" means what it should (with 1 h, every series' ring grows
	// for an hour by design, up to 1802 values).
	addr, stopShop := runShop(t, "-addr", "127.0.0.1:0", "-collect", "1s", "-retention", "10s",
		"-data", t.TempDir())
	base := "http://" + addr
	if resp, err := http.Get(base + "/monitoring/api/rules"); err != nil {
		t.Fatal(err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Contains(b, []byte("HighErrorRate")) {
			t.Fatalf("rules: %d %s", resp.StatusCode, b)
		}
	}
	http.DefaultClient.CloseIdleConnections()

	genCtx, genCancel := context.WithCancel(t.Context())
	defer genCancel()
	g := newSoakGen(base, int(soakRate*soakDuration.Seconds()*1.1))
	// The baseline: the shop running, its OTLP exporters connected (after
	// a first export of metrics and one of the spans of the request
	// above: each keep-alive connection is three goroutines, the
	// receiver's included), no load connection.
	wctx, wcancel := context.WithTimeout(t.Context(), 10*time.Second)
	err := recv.Wait(wctx, func(r []otlptest.Request) bool { return len(r) > 0 })
	if err == nil {
		err = recv.WaitTraces(wctx, func(r []otlptest.TraceRequest) bool { return len(r) > 0 })
	}
	wcancel()
	if err != nil {
		t.Fatalf("no OTLP export of metrics and spans within 10 s: %v", err)
	}
	goroutines0 := waitGoroutines(f, 0, 0)
	stopWorkers := g.startWorkers(genCtx)
	seq := 0

	warm, warmTook := g.pace(genCtx, soakWarmup, &seq)
	// The heap is measured with the generator's connections closed: each
	// keep-alive connection holds about 12 KB of buffers in the client and
	// the server, and how many of the 64 are open depends on the last
	// latency spike (seen: 0.5 MB between two measurements), not on what
	// the service keeps.
	g.client.CloseIdleConnections()
	heapWarm := heapAfterGC(recv.Reset)

	g.recording.Store(true)
	sent0 := g.sent.Load()
	issued, took := g.pace(genCtx, soakDuration, &seq)
	g.recording.Store(false)
	measured := g.sent.Load() - sent0
	rate := float64(measured) / took.Seconds()
	g.client.CloseIdleConnections()
	heapAfter := heapAfterGC(recv.Reset)

	stopWorkers()
	if n := g.failed.Load(); n > 0 {
		f.Errorf("%d requests failed (transport errors): the counts cannot be exact", n)
	}
	if n := g.missed.Load(); n > 0 {
		f.Errorf("%d requests were due but every worker was busy and the queue full", n)
	}
	if rate < soakMinRate {
		f.Errorf("achieved %.0f requests/s over %v (%d of %d issued); want at least %d", rate, took.Round(time.Millisecond), measured, issued, soakMinRate)
	}

	// Request counts on /metrics, exactly as sent.
	want := g.want()
	fams, err := scrapeFamilies(g.client, base+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	got := map[[3]string]int64{}
	for _, m := range fams["http_server_request_duration_seconds"].GetMetric() {
		l := map[string]string{}
		for _, p := range m.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		k := [3]string{l["http_request_method"], l["http_route"], l["http_response_status_code"]}
		if k[1] == "/metrics" || k[1] == "/monitoring/api/rules" {
			continue // the test's own requests
		}
		got[k] += int64(m.GetHistogram().GetSampleCount())
	}
	compareCounts(f, "/metrics", got, want)

	// Goroutines: back to the baseline once the connections are closed.
	g.client.CloseIdleConnections()
	goroutinesAfter := waitGoroutines(f, goroutines0, 10*time.Second)

	// Heap: within 10 % of the warm-up's.
	if float64(heapAfter) > 1.10*float64(heapWarm) {
		f.Errorf("heap after the run %.1f MB, after the warm-up %.1f MB: grew %.1f %%, want at most 10 %%",
			mb(heapAfter), mb(heapWarm), 100*(float64(heapAfter)/float64(heapWarm)-1))
	}

	// OTLP: the shop's shutdown exports a last time; with cumulative
	// temporality, its counts are the totals.
	stopShop()
	reqs := recv.Requests()
	if len(reqs) == 0 {
		t.Fatal("the OTLP receiver got no export after the run")
	}
	otlp, temporality := otlpCounts(reqs[len(reqs)-1])
	if temporality != metricpb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE {
		f.Errorf("OTLP temporality %v, want cumulative", temporality)
	}
	compareCounts(f, "the last OTLP export", otlp, want)

	lat := g.latencies
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	summary = fmt.Sprintf("soak: warm-up %d requests in %v; measured %d requests in %v = %.0f/s (target %d/s, %d workers); latency p50 %v p99 %v max %v; heap after warm-up %.1f MB, after the run %.1f MB (%+.1f %%); goroutines %d before, %d after; %d OTLP exports received; total %v",
		warm, warmTook.Round(time.Millisecond), measured, took.Round(time.Millisecond), rate, soakRate, soakWorkers,
		pct(0.50), pct(0.99), pct(1), mb(heapWarm), mb(heapAfter), 100*(float64(heapAfter)/float64(heapWarm)-1),
		goroutines0, goroutinesAfter, recv.Attempts(), time.Since(began).Round(time.Second))
	t.Log(summary)
}

// compareCounts reports every (method, route, status) whose count differs.
func compareCounts(t *failures, where string, got, want map[[3]string]int64) {
	t.Helper()
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %s %s %s counted %d times, sent %d", where, k[0], k[1], k[2], got[k], w)
		}
	}
	for k, n := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: %s %s %s counted %d times, never sent", where, k[0], k[1], k[2], n)
		}
	}
}

// otlpCounts sums http.server.request.duration's counts in req by method,
// route and status, leaving out the test's own requests.
func otlpCounts(req otlptest.Request) (map[[3]string]int64, metricpb.AggregationTemporality) {
	got := map[[3]string]int64{}
	var temporality metricpb.AggregationTemporality
	for _, m := range otlptest.FindMetric([]otlptest.Request{req}, "http.server.request.duration") {
		temporality = m.GetHistogram().GetAggregationTemporality()
		for _, dp := range m.GetHistogram().GetDataPoints() {
			l := map[string]string{}
			for _, a := range dp.GetAttributes() {
				l[a.GetKey()] = otlptest.ValueString(a.GetValue())
			}
			k := [3]string{l["http.request.method"], l["http.route"], l["http.response.status_code"]}
			if k[1] == "/metrics" || k[1] == "/monitoring/api/rules" {
				continue
			}
			got[k] += int64(dp.GetCount())
		}
	}
	return got, temporality
}

// waitGoroutines polls runtime.NumGoroutine until it is at most limit, or
// for limit 0 until it is stable over 100 ms of polling, and returns it.
// It fails the test if within is over first.
func waitGoroutines(t *failures, limit int, within time.Duration) int {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	if limit == 0 {
		// The baseline: the least count seen over half a second, so that a
		// goroutine of a connection being torn down is not counted.
		least := runtime.NumGoroutine()
		for range 50 {
			<-tick.C
			least = min(least, runtime.NumGoroutine())
		}
		return least
	}
	deadline := time.Now().Add(within)
	for {
		n := runtime.NumGoroutine()
		if n <= limit {
			return n
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("%d goroutines %v after the load stopped, baseline %d:\n%s", n, within, limit, buf)
			return n
		}
		<-tick.C
	}
}

// heapAfterGC returns the live heap: the least HeapAlloc after full
// collections (two each, so that sync.Pool's victim cache is emptied) over
// three seconds of 20 samples. The shop keeps running while it is
// measured, and an OTLP export, a collection of the memory reader or a
// rule evaluation in flight holds a few hundred KB to a MB for a moment:
// on a heap of about 5 MB, a single sample varies by 20 %. Each of them
// runs at least once a second, so the least of samples spread over 3 s is
// the heap between them, what the service keeps. reset, called before
// each sample, empties the test's OTLP receiver, which keeps every export
// it is sent (a few hundred KB a second) and is not the service.
// failures reports errors as t.Errorf does and keeps their first lines.
type failures struct {
	t    *testing.T
	msgs []string
}

func (f *failures) Helper() { f.t.Helper() }

func (f *failures) Errorf(format string, args ...any) {
	f.t.Helper()
	msg := fmt.Sprintf(format, args...)
	first, _, _ := strings.Cut(msg, "\n")
	f.msgs = append(f.msgs, first)
	f.t.Error(msg)
}

func heapAfterGC(reset func()) uint64 {
	tick := time.NewTicker(150 * time.Millisecond)
	defer tick.Stop()
	least := uint64(math.MaxUint64)
	for i := range 20 {
		if i > 0 {
			<-tick.C
		}
		reset()
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		least = min(least, ms.HeapAlloc)
	}
	return least
}

// mb returns n bytes in MiB.
func mb(n uint64) float64 { return float64(n) / (1 << 20) }
