package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/vitalsgo/vitals"
	"github.com/vitalsgo/vitals/exporter"
	"github.com/vitalsgo/vitals/exporter/memory"
	"github.com/vitalsgo/vitals/instrument"
	"github.com/vitalsgo/vitals/internal/buckets"
)

// nativeSchema is the schema of every native histogram of the test: the
// aggregation's finest scale, or 8 (the finest /metrics serves, finer
// scales being merged down) if that is finer. The latencies of
// nativeScript span 39 buckets of that schema, which the aggregation's
// buckets.ExponentialMaxSize buckets hold without coarsening it.
var nativeSchema = min(buckets.ExponentialMaxScale, 8)

// nativeBucket is the native bucket of index k, in seconds: Prometheus'
// bucket k of schema s holds the values in (2^((k-1)/2^s), 2^(k/2^s)].
func nativeBucket(k int) (lower, upper float64) {
	n := float64(int(1) << nativeSchema)
	return math.Exp2(float64(k-1) / n), math.Exp2(float64(k) / n)
}

// nativeBase is the index of the bucket of 60 ms, the fastest latency.
func nativeBase() int { return int(math.Ceil(math.Log2(0.060) * float64(int(1)<<nativeSchema))) }

// nativeScript is the latency distribution the test drives: count
// requests in the bucket nativeBase()+offset, each taking that bucket's
// geometric midpoint. 200 requests over 39 buckets (at schema 4, 60 ms to
// 311 ms). The three quantiles compared fall exactly on the boundary
// between two adjacent non-empty buckets (see
// TestNativeHistogramsAgreeWithPrometheus):
//
//	q     rank  buckets up to and including  next bucket
//	0.5   100   offset 10 (cumulative 100)   offset 11 (30)
//	0.9   180   offset 15 (cumulative 180)   offset 16 (10)
//	0.99  198   offset 25 (cumulative 198)   offset 26 (1)
var nativeScript = []struct{ offset, count int }{
	{0, 10},
	{5, 30},
	{8, 40},
	{10, 20},
	{11, 30},
	{15, 50},
	{16, 10},
	{25, 8},
	{26, 1},
	{38, 1},
}

// nativeBoundaries are the quantiles compared and the bucket (offset) each
// ends: the quantile is that bucket's upper bound.
var nativeBoundaries = []struct {
	q      float64
	offset int
}{{0.5, 10}, {0.9, 15}, {0.99, 25}}

// scriptClock is the clock of the middleware timing the test's requests:
// it stands still until the handler advances it by the request's scripted
// duration, so that every request takes exactly what the script says. Only
// the /work route uses it, and its requests run one at a time.
type scriptClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *scriptClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *scriptClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (*scriptClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

func (*scriptClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

// TestNativeHistogramsAgreeWithPrometheus checks the native histograms of
// /metrics end to end: a real Prometheus (Debian's package, 2.42, with
// --enable-feature=native-histograms) scrapes a service started with
// OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION=base2_exponential_bucket_histogram
// every second, negotiating the protobuf format, and stores
// http_server_request_duration_seconds as a native histogram; the service's
// in-memory reader keeps it as one too. After a scripted latency
// distribution has been driven through the middleware and the traffic has
// stopped, histogram_quantile (0.5, 0.9, 0.99), histogram_count and
// histogram_sum of the sum of the series must be equal on both sides to
// 1e-9 relative, and equal to the values the script implies.
//
// Why the values are identical: both sides hold the same samples (every
// request was recorded before either side's last collection, which the
// test waits for) aggregated with the same parameters. /metrics' second
// reader and the in-memory reader's native reader both aggregate with
// buckets.Exponential() (400 buckets, scale up to 20), both see the
// requests in the same order from one goroutine (so even the float sums
// are added in the same order), and promconv converts both to native
// histograms of the same schema (nativeSchema: finer scales would be
// merged down to 8 alike). Counts and sums are therefore equal
// bit for bit; sum() adds the same per-series histograms on both sides.
//
// Why the quantiles are too, although the two PromQL engines differ:
// Prometheus 2.42 interpolates linearly inside a native bucket, counting
// from the lowest bucket, while the in-process engine (Prometheus 3)
// interpolates exponentially and, for q >= 0.5, counts from the highest
// bucket. Inside a bucket they disagree by up to a fraction of the bucket's
// width (4.4 % at schema 4). At a bucket boundary they agree: the script
// puts each rank q·200 exactly at the end of a bucket whose next bucket is
// non-empty, so counting up ends at the boundary as the upper bound of the
// lower bucket (fraction 1, whatever the interpolation) and counting down
// at the same boundary as the lower bound of the upper one (fraction 0).
// Both compute the bound as a power of two to within a few ulps, hence
// 1e-9. A quantile strictly inside a bucket would test the engines'
// interpolation, not Vitals.
func TestNativeHistogramsAgreeWithPrometheus(t *testing.T) {
	promBin := lookBinary(t, "prometheus")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_METRICS_EXPORTER", "")
	t.Setenv(exporter.EnvHistogramAggregation, "base2_exponential_bucket_histogram")
	client := &http.Client{Timeout: 5 * time.Second}

	// The service, on a real listener of 127.0.0.1.
	v, err := vitals.Start(t.Context(), vitals.WithServiceName("native-e2e"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := v.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	clk := &scriptClock{now: time.Now()}
	mux := http.NewServeMux()
	mux.Handle("/", v.Handler()) // scraped without the middleware
	mux.Handle("GET /work", v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ns, err := strconv.ParseInt(r.URL.Query().Get("ns"), 10, 64)
		status, serr := strconv.Atoi(r.URL.Query().Get("status"))
		if err != nil || serr != nil {
			http.Error(w, "bad script", http.StatusBadRequest)
			return
		}
		clk.advance(time.Duration(ns))
		w.WriteHeader(status)
	}), instrument.WithClock(clk)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	addr := ln.Addr().String()

	prom := startNativePrometheus(t, promBin, addr)
	promQuery := prom.url + "/api/v1/query"
	pollUntil(t, 30*time.Second, "Prometheus to scrape the service", []*sideProcess{prom}, func() (bool, string) {
		up, err := queryVector(t.Context(), client, promQuery, `up{job="native"}`, "")
		if err != nil {
			return false, err.Error()
		}
		return anyValue(up) == 1, fmt.Sprintf("up = %v", up)
	})

	// The traffic: the script in a fixed shuffled order, one request at a
	// time, a tenth of them 500s and a tenth 404s (other series, which
	// sum() adds back together).
	var durations []time.Duration
	for _, b := range nativeScript {
		lower, upper := nativeBucket(nativeBase() + b.offset)
		mid := math.Sqrt(lower * upper)
		for range b.count {
			durations = append(durations, time.Duration(math.Round(mid*1e9)))
		}
	}
	rand.New(rand.NewPCG(7, 42)).Shuffle(len(durations), func(i, j int) { durations[i], durations[j] = durations[j], durations[i] })
	var wantSum float64
	for i, d := range durations {
		status := http.StatusOK
		switch i % 10 {
		case 3:
			status = http.StatusInternalServerError
		case 7:
			status = http.StatusNotFound
		}
		u := fmt.Sprintf("http://%s/work?ns=%d&status=%d", addr, d.Nanoseconds(), status)
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET /work: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != status {
			t.Fatalf("GET %s: %d, want %d", u, resp.StatusCode, status)
		}
		wantSum += d.Seconds()
	}
	stop := time.Now()
	wantCount := float64(len(durations))

	// What Prometheus scrapes: every series with its classic buckets and
	// a native histogram of the schema the script is laid out in.
	checkExposition(t, client, "http://"+addr+"/metrics", len(durations))

	// In-process: a collection of the in-memory reader after the traffic.
	mem := v.Memory()
	inProcess := func(expr string, ts time.Time) (float64, error) {
		res, err := mem.Query(t.Context(), expr, ts)
		if err != nil {
			return 0, err
		}
		vec, err := res.Vector()
		if err != nil {
			return 0, err
		}
		if len(vec) != 1 || vec[0].H != nil {
			return 0, fmt.Errorf("%s: %v, want one float sample", expr, vec)
		}
		return vec[0].F, nil
	}
	const countExpr = "histogram_count(sum(http_server_request_duration_seconds))"
	var memAt time.Time
	pollUntil(t, 10*time.Second, "the in-memory reader to hold every request", nil, func() (bool, string) {
		if err := mem.Collect(t.Context()); err != nil && !errors.Is(err, memory.ErrCollectOrder) {
			return false, fmt.Sprintf("Collect: %v", err)
		}
		memAt = mem.Now()
		n, err := inProcess(countExpr, memAt)
		return err == nil && n == wantCount, fmt.Sprintf("count %v (%v), want %v", n, err, wantCount)
	})

	// Prometheus: every request, from at least two scrapes that began
	// after the traffic stopped.
	var promAt string
	pollUntil(t, 30*time.Second, "two scrapes by Prometheus after the traffic", []*sideProcess{prom}, func() (bool, string) {
		now := time.Now()
		promAt = strconv.FormatFloat(float64(now.UnixMilli())/1000, 'f', 3, 64)
		since := now.Sub(stop).Milliseconds()
		if since < 1 {
			return false, "no time has passed"
		}
		scrapes, err := queryVector(t.Context(), client, promQuery, fmt.Sprintf(`count_over_time(up{job="native"}[%dms])`, since), promAt, "job", "instance")
		if err != nil {
			return false, err.Error()
		}
		count, err := queryVector(t.Context(), client, promQuery, countExpr, promAt)
		if err != nil {
			return false, err.Error()
		}
		return anyValue(scrapes) >= 2 && anyValue(count) == wantCount,
			fmt.Sprintf("%v scrapes since the traffic stopped, count %v, want %v", scrapes, count, wantCount)
	})
	t.Logf("%d requests; comparing Prometheus at %s with the in-memory reader at %s", len(durations), promAt, memAt.Format(time.StampMilli))

	type check struct {
		expr string
		want float64
	}
	checks := []check{
		{countExpr, wantCount},
		{"histogram_sum(sum(http_server_request_duration_seconds))", wantSum},
	}
	for _, b := range nativeBoundaries {
		_, upper := nativeBucket(nativeBase() + b.offset)
		checks = append(checks, check{
			expr: fmt.Sprintf("histogram_quantile(%g, sum(http_server_request_duration_seconds))", b.q),
			want: upper,
		})
	}
	const tol = 1e-9
	near := func(a, b float64) bool { return math.Abs(a-b) <= tol*math.Max(math.Abs(a), math.Abs(b)) }
	for _, c := range checks {
		pv, err := queryVector(t.Context(), client, promQuery, c.expr, promAt, "job", "instance")
		if err != nil {
			t.Errorf("Prometheus: %v", err)
			continue
		}
		p := anyValue(pv)
		o, err := inProcess(c.expr, memAt)
		if err != nil {
			t.Errorf("in-process: %v", err)
			continue
		}
		if !near(p, o) {
			t.Errorf("%s = %v in Prometheus, %v in-process: want equal to %g relative", c.expr, p, o, tol)
		}
		if !near(o, c.want) {
			t.Errorf("%s = %v, want %v (from the script)", c.expr, o, c.want)
		}
		t.Logf("%s = %v in Prometheus, %v in-process, %v from the script", c.expr, p, o, c.want)
	}
}

// startNativePrometheus runs Prometheus (bin) with native histograms on, on
// a free port of 127.0.0.1, in job "native", scraping target's /metrics
// every second, until the test ends.
func startNativePrometheus(t *testing.T, bin, target string) *sideProcess {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	yml := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: native
    static_configs:
      - targets: [%q]
`, target)
	if err := os.WriteFile(config, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	return startSideProcess(t, "prometheus", dir, bin, func(listen string) []string {
		return []string{
			"--config.file=" + config,
			"--storage.tsdb.path=" + filepath.Join(dir, "data"),
			"--web.listen-address=" + listen,
			"--enable-feature=native-histograms",
		}
	})
}

// checkExposition scrapes url in the protobuf format, as Prometheus does
// with native histograms on, and checks that the request duration series
// carry classic buckets and a native histogram of nativeSchema, holding
// want requests in all.
func checkExposition(t *testing.T, client *http.Client, url string, want int) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	dec := expfmt.NewDecoder(resp.Body, expfmt.ResponseFormat(resp.Header))
	var total uint64
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decoding /metrics: %v", err)
		}
		if mf.GetName() != "http_server_request_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			h := m.GetHistogram()
			if len(h.GetBucket()) == 0 || h.Schema == nil || h.GetSchema() != int32(nativeSchema) || len(h.GetPositiveSpan()) == 0 {
				t.Errorf("/metrics: %v: want classic buckets and a native histogram of schema %d, got %v", m.GetLabel(), nativeSchema, h)
			}
			total += h.GetSampleCount()
		}
	}
	if total != uint64(want) {
		t.Errorf("/metrics: %d requests in http_server_request_duration_seconds, want %d", total, want)
	}
}
