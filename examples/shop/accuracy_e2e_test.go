package main

import (
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vitalsgo/vitals/clock/clocktest"
	"github.com/vitalsgo/vitals/instrument"
)

// accuracyToken is the admin token of TestShopNumbersAreTrue's shop.
const accuracyToken = "accuracy-e2e-token"

// TestShopNumbersAreTrue runs the shop with two extra routes whose
// latencies are scripted (the middleware's clock is a hand-moved one that
// each request advances by its scripted duration, so the recorded durations
// are known exactly), sends 3 000 requests to them over loopback, and
// checks what a user sees against the exact figures of those durations:
// /monitoring/api/performance (counts exact, percentiles within 5 % of the
// nearest-rank percentile), the dashboard's window queries through
// /monitoring/api/query, and the figures the dashboard page shows in
// Debian's headless Chromium.
//
// The latencies are the issue's: a route lognormal around 400 µs (2 000
// requests), where the classic buckets (first bucket 0–5 ms) read p50
// 2.5 ms, p95 4.75 ms; a route bimodal at 200 µs and 80 ms (1 000); eight
// requests of 1.5 s (slow); every 17th request answers 500.
func TestShopNumbersAreTrue(t *testing.T) {
	clk := clocktest.New(time.Now())
	var next atomic.Int64 // the scripted duration of the request being served
	testHooks.middleware = []instrument.Option{instrument.WithClock(clk)}
	testHooks.routes = func(mux *http.ServeMux) {
		mux.HandleFunc("GET /scripted/{dist}", func(w http.ResponseWriter, r *http.Request) {
			clk.Advance(time.Duration(next.Load()))
			if r.URL.Query().Has("fail") {
				w.WriteHeader(http.StatusInternalServerError)
			}
		})
	}
	t.Cleanup(func() { testHooks.middleware, testHooks.routes = nil, nil })
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_METRICS_EXPORTER", "")
	base := "http://" + startShopWith(t, "-addr", "127.0.0.1:0", "-collect", "1s", "-admin-token", accuracyToken, "-default-rules=false")
	client := &http.Client{Timeout: 5 * time.Second}

	type request struct {
		route string
		d     time.Duration
		fail  bool
	}
	rng := rand.New(rand.NewPCG(17, 17))
	var reqs []request
	for i := range 2000 {
		reqs = append(reqs, request{"/scripted/{dist}", time.Duration(400e3 * math.Exp(0.8*rng.NormFloat64())), i%17 == 16})
	}
	for i := range 1000 {
		d := 200e3 * math.Exp(0.1*rng.NormFloat64())
		if i%3 == 0 {
			d = 80e6 * math.Exp(0.1*rng.NormFloat64())
		}
		reqs = append(reqs, request{"/scripted/{dist}", time.Duration(d), i%17 == 16})
	}
	for range 8 {
		reqs = append(reqs, request{"/scripted/{dist}", 1500 * time.Millisecond, false})
	}
	rng.Shuffle(len(reqs), func(i, j int) { reqs[i], reqs[j] = reqs[j], reqs[i] })
	var errs, slow int
	durations := make([]float64, 0, len(reqs))
	for i, q := range reqs {
		next.Store(int64(q.d))
		u := base + "/scripted/" + strconv.Itoa(i%2)
		if q.fail {
			u += "?fail=1"
			errs++
		}
		if q.d > time.Second {
			slow++
		}
		resp, err := client.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		durations = append(durations, q.d.Seconds())
	}
	slices.Sort(durations)
	n := len(reqs)

	// The summary, once a collection has seen every request.
	var perf struct {
		TotalRequests float64 `json:"totalRequests"`
		Errors        float64 `json:"errors"`
		SlowRequests  float64 `json:"slowRequests"`
		Latency       struct {
			P50 float64 `json:"p50Seconds"`
			P90 float64 `json:"p90Seconds"`
			P95 float64 `json:"p95Seconds"`
			P99 float64 `json:"p99Seconds"`
		} `json:"latency"`
		Apdex struct {
			Satisfied, Tolerating, Frustrated, Total float64
		} `json:"apdex"`
		TopRoutes []struct {
			Route    string  `json:"route"`
			Requests float64 `json:"requests"`
			Errors   float64 `json:"errors"`
		} `json:"topRoutes"`
	}
	pollUntil(t, 30*time.Second, "the summary to count every request", nil, func() (bool, string) {
		_, body, err := dashGet(t.Context(), client, base+"/monitoring/api/performance?window=5m", &perf)
		if err != nil {
			return false, err.Error()
		}
		if perf.TotalRequests != math.Trunc(perf.TotalRequests) {
			t.Fatalf("totalRequests %v is not a whole number", perf.TotalRequests)
		}
		return perf.TotalRequests == float64(n), body
	})
	if perf.Errors != float64(errs) || perf.SlowRequests != float64(slow) {
		t.Errorf("errors %v, slow %v; want %d, %d", perf.Errors, perf.SlowRequests, errs, slow)
	}
	if perf.Apdex.Total != float64(n) || perf.Apdex.Satisfied+perf.Apdex.Tolerating+perf.Apdex.Frustrated != float64(n) {
		t.Errorf("apdex counts %+v, want a total of %d", perf.Apdex, n)
	}
	// The default T = 0.5 s and 4T = 2 s are bucket bounds: exact.
	sat, tol := 0, 0
	for _, d := range durations {
		switch {
		case d <= 0.5:
			sat++
		case d <= 2:
			tol++
		}
	}
	if perf.Apdex.Satisfied != float64(sat) || perf.Apdex.Tolerating != float64(tol) {
		t.Errorf("apdex satisfied %v, tolerating %v; want %d, %d", perf.Apdex.Satisfied, perf.Apdex.Tolerating, sat, tol)
	}
	if len(perf.TopRoutes) != 1 || perf.TopRoutes[0].Route != "/scripted/{dist}" || perf.TopRoutes[0].Requests != float64(n) || perf.TopRoutes[0].Errors != float64(errs) {
		t.Errorf("top routes %+v, want /scripted/{dist} with %d requests, %d errors", perf.TopRoutes, n, errs)
	}
	for _, p := range []struct {
		q   float64
		got float64
	}{{0.5, perf.Latency.P50}, {0.9, perf.Latency.P90}, {0.95, perf.Latency.P95}, {0.99, perf.Latency.P99}} {
		want := nearestRank(durations, p.q)
		rel := (p.got - want) / want
		t.Logf("summary p%g: %.4g s, exact %.4g s (%+.2f %%)", 100*p.q, p.got, want, 100*rel)
		if math.Abs(rel) > 0.05 {
			t.Errorf("summary p%g = %.4g s, exact %.4g s: %+.1f %%", 100*p.q, p.got, want, 100*rel)
		}
	}

	// The dashboard's window queries (its windowDelta helper) through the
	// query API.
	const native = "http_server_request_duration_seconds"
	window := func(sel string) string {
		return "(sum(" + sel + ") - (sum(" + sel + " offset 5m) or sum(" + sel + ") * 0))"
	}
	query := func(expr string) float64 {
		t.Helper()
		var res struct {
			Data struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		_, body, err := dashGet(t.Context(), client, base+"/monitoring/api/query?query="+url.QueryEscape(expr), &res)
		if err != nil || len(res.Data.Result) != 1 {
			t.Fatalf("%s: %v %s", expr, err, body)
		}
		f, err := strconv.ParseFloat(res.Data.Result[0].Value[1].(string), 64)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	if got := query(window(native + "_count")); got != float64(n) {
		t.Errorf("the dashboard's request count: %v, want %d", got, n)
	}
	if got := query(window(`vitals_http_server_slow_requests_total`)); got != float64(slow) {
		t.Errorf("the dashboard's slow requests: %v, want %d", got, slow)
	}
	for _, q := range []float64{0.5, 0.95, 0.99} {
		got := query("histogram_quantile(" + strconv.FormatFloat(q, 'g', -1, 64) + ", " + window(native) + ")")
		want := nearestRank(durations, q)
		if rel := (got - want) / want; math.Abs(rel) > 0.05 {
			t.Errorf("the dashboard's p%g = %.4g s, exact %.4g s: %+.1f %%", 100*q, got, want, 100*rel)
		}
	}
	// What the classic buckets would have said, for the record.
	classic := query("histogram_quantile(0.5, sum by (le) (" + native + "_bucket))")
	t.Logf("p50 over the classic buckets: %.4g s against the exact %.4g s", classic, nearestRank(durations, 0.5))

	// The page itself.
	bin := lookBinary(t, "chromium")
	dom, stderr := dashChromium(t, bin, "--dump-dom", base+"/monitoring/#window=5m")
	dashNoConsoleOutput(t, stderr)
	kpi := func(name string) string {
		m := regexp.MustCompile(`<div class="k">` + regexp.QuoteMeta(name) + `</div><div class="v">([^<]*)<`).FindStringSubmatch(dom)
		if m == nil {
			t.Fatalf("the page shows no %s figure", name)
		}
		return m[1]
	}
	if got := kpi("Requests"); got != strconv.Itoa(n/1000)+","+strconv.Itoa(n%1000 + 1000)[1:] {
		t.Errorf("the page shows %q requests, want %d", got, n)
	}
	for _, p := range []struct {
		name string
		q    float64
	}{{"p50", 0.5}, {"p95", 0.95}, {"p99", 0.99}} {
		got, err := parseDuration(kpi(p.name))
		if err != nil {
			t.Fatal(err)
		}
		want := nearestRank(durations, p.q)
		if rel := (got - want) / want; math.Abs(rel) > 0.05 {
			t.Errorf("the page shows %s %q, exact %.4g s: %+.1f %%", p.name, kpi(p.name), want, 100*rel)
		}
	}
}

// nearestRank is the nearest-rank q-quantile of sorted values: the
// smallest value with at least q·n values at or below it.
func nearestRank(sorted []float64, q float64) float64 {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}

// parseDuration reads a duration as the dashboard writes it: "412 µs",
// "1.47 ms", "2.5 s".
func parseDuration(s string) (float64, error) {
	num, unit, _ := strings.Cut(s, " ")
	v, err := strconv.ParseFloat(strings.ReplaceAll(num, ",", ""), 64)
	if err != nil {
		return 0, err
	}
	switch unit {
	case "µs":
		return v / 1e6, nil
	case "ms":
		return v / 1e3, nil
	case "s":
		return v, nil
	}
	return 0, strconv.ErrSyntax
}
