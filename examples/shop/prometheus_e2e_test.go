package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAgreementWithPrometheus checks the promise of /monitoring/api/query:
// a PromQL expression that works against a Prometheus scraping the service
// gives the same answer in-process. It runs a real Prometheus (Debian's
// package, 2.42) scraping the shop every second while the shop's in-memory
// reader collects every second, drives orders for about 20 s, and then asks
// both the same instant queries at the same evaluation time.
func TestAgreementWithPrometheus(t *testing.T) {
	promBin := lookBinary(t, "prometheus")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_METRICS_EXPORTER", "")
	client := &http.Client{Timeout: 5 * time.Second}

	shopAddr := startShop(t)
	shopURL := "http://" + shopAddr
	prom := startPrometheus(t, promBin, shopAddr)
	promQuery := prom.url + "/api/v1/query"
	ourQuery := shopURL + "/monitoring/api/query"

	// Prometheus must scrape before the first order: the rate tolerance
	// below assumes both sides see every series from (at most one interval
	// after) its first increment.
	pollUntil(t, 30*time.Second, "Prometheus to scrape the shop", []*sideProcess{prom}, func() (bool, string) {
		v, err := queryVector(t.Context(), client, promQuery, `up{job="shop"}`, "")
		if err != nil {
			return false, err.Error()
		}
		return anyValue(v) == 1, fmt.Sprintf("up = %v", v)
	})

	const trafficFor = 20 * time.Second
	accepted, first, stop := driveOrders(t, client, shopURL, trafficFor)
	if accepted == 0 {
		t.Fatal("no order was accepted")
	}

	// Wait until both sides hold a sample taken after the last order (their
	// totals equal the accepted orders), and until tail has passed since the
	// traffic stopped, which lengthens the span the rates below cover.
	const tail = 5 * time.Second
	want := float64(accepted)
	pollUntil(t, 20*time.Second, "both sides to hold every accepted order", []*sideProcess{prom}, func() (bool, string) {
		p, perr := queryVector(t.Context(), client, promQuery, "sum(shop_orders_placed_total)", "")
		o, oerr := queryVector(t.Context(), client, ourQuery, "sum(shop_orders_placed_total)", "")
		status := fmt.Sprintf("Prometheus: %v (%v), in-process: %v (%v), want %v", p, perr, o, oerr, want)
		if perr != nil || oerr != nil {
			return false, status
		}
		return anyValue(p) == want && anyValue(o) == want && time.Since(stop) >= tail, status
	})

	// One evaluation time for every query on both sides, in the API's Unix
	// seconds with millisecond precision.
	evalAt := time.Now()
	ts := strconv.FormatFloat(float64(evalAt.UnixMilli())/1000, 'f', 3, 64)
	// The rate windows below are 1m: they must hold the whole traffic.
	if covered := evalAt.Sub(first); covered > 55*time.Second {
		t.Fatalf("the first order was %v before the evaluation time: a 1m window no longer holds the whole traffic", covered)
	}
	t.Logf("accepted %d orders from %v to %v; evaluating at %s (%v after the traffic stopped)",
		accepted, first.Format(time.TimeOnly), stop.Format(time.TimeOnly), ts, evalAt.Sub(stop).Round(time.Millisecond))

	// Rates. Each side samples every 1 s at its own phase, so the two see
	// different first and last samples of the traffic and rate()
	// extrapolates differently at the window's edges. With traffic of
	// duration D = 20 s at a steady pace and a flat tail of 5 s, each
	// series' increase N is seen over a sampled span S >= D - 1 s + 4 s =
	// 23 s, and:
	//   - start edge: the first sample comes a in (0, 1] s after the series'
	//     first order, missing a/D of N. Prometheus 2.42 extrapolates back to
	//     the counter's zero point when that is under 1.1 sample intervals
	//     away, restoring N exactly; the in-process engine (Prometheus 3)
	//     caps that extrapolation at half an interval, 0.5 s. Worst case
	//     the result is N * (1 - 1/D) * (1 + 0.5 s/S) = 0.971 N.
	//   - end edge: after the traffic the counter is flat, and the last
	//     sample is up to one interval before the evaluation time, so
	//     extrapolation to the window's end adds up to 1 s/S of N: at most
	//     1.044 N (and the extrapolation cannot add more than that at the
	//     start at the same time: 1.5 s/S only when a >= 0.45 s, which
	//     misses a/D first).
	// Both sides thus land within [0.971, 1.044] * N/60s: they differ by at
	// most 1.044/0.971 - 1 = 7.5 %, plus well under 1 % for the
	// discreteness of orders (one order in ~290 per series). 10 % keeps a
	// margin over that bound while still catching a wrong window, a wrong
	// series or a counter reset (each an error of 100 % or more).
	const rateTol = 0.10

	// The quantile. Every currency gets the same mix of amounts, 6 of 10
	// orders at most 250 and the other 4 in (250, 500], so the 0.95
	// quantile lies in the (250, 500] bucket:
	//   q = 250 + 250 * (0.95 - r) / (1 - r), r = rate(le=250)/rate(+Inf),
	// ideally r = 0.6 and q = 468.75. histogram_quantile is unchanged when
	// every bucket's rate is scaled alike; only a difference between the
	// extrapolations of the two bucket series of one side moves it, and by
	// the rate bound above that is at most 7.5 %: r in [0.556, 0.648], q in
	// [464.5, 471.8], within 0.95 % of 468.75 on either side. 2 % keeps a
	// margin while catching a wrong bucket (a 10 % move or more).
	const quantileTol = 0.02

	// The histogram's _sum is the one value the two sides do not share
	// bit for bit. /metrics and the in-memory reader are two readers of the
	// MeterProvider, and the SDK aggregates a cumulative histogram per
	// reader in a hot and a cold half, adding the cold half's total into the
	// hot one at each collection. Each side thus adds the same amounts in a
	// different grouping (at its own collection instants), and the float
	// sums can differ in the last bits (seen: 58197.39999999997 against
	// 58197.39999999998, one ulp). Each regrouping adds at most one rounding
	// of half an ulp, and there is one per collection of either side,
	// about 30 here: positive terms keep the relative difference under
	// 60 * 2^-53 < 1e-14. 1e-12 allows for that and nothing else: a lost or
	// doubled order moves the sum by at least 12.5/60000 = 2e-4.
	const sumTol = 1e-12

	for _, c := range []struct {
		expr string
		tol  float64 // relative; 0 for exact equality
	}{
		{"shop_orders_placed_total", 0},
		{"sum by (currency) (shop_orders_placed_total)", 0},
		{"shop_order_amount_bucket", 0},
		{"shop_order_amount_count", 0},
		{"shop_order_amount_sum", sumTol},
		{"rate(shop_orders_placed_total[1m])", rateTol},
		{"sum by (currency) (rate(shop_orders_placed_total[1m]))", rateTol},
		{"histogram_quantile(0.95, sum by (le) (rate(shop_order_amount_bucket[1m])))", quantileTol},
	} {
		// Prometheus attaches the target labels job and instance to every
		// series it scrapes; the in-process reader scrapes nothing, so it
		// has no target and no such labels. Those two, and only those, are
		// removed from Prometheus' answer: every other label (the name,
		// currency, otel_scope_name, le and its formatting) must match.
		p, err := queryVector(t.Context(), client, promQuery, c.expr, ts, "job", "instance")
		if err != nil {
			t.Errorf("Prometheus: %v", err)
			continue
		}
		o, err := queryVector(t.Context(), client, ourQuery, c.expr, ts)
		if err != nil {
			t.Errorf("in-process: %v", err)
			continue
		}
		compareVectors(t, c.expr, p, o, c.tol)
	}
}

// startShop runs the shop on a free port of 127.0.0.1, collecting every
// second, until the test ends, and returns its address.
func startShop(t *testing.T) string {
	t.Helper()
	return startShopWith(t, "-addr", "127.0.0.1:0", "-collect", "1s")
}

// An order the load generator places: amount = price of product * quantity.
type order struct {
	product, quantity int
}

// orderMix is the cycle of valid orders. Each currency gets all of it (see
// driveOrders): 6 of 10 amounts are at most 250 and 4 are in (250, 500],
// which the quantile's tolerance in TestAgreementWithPrometheus relies on.
var orderMix = []order{
	{3, 1},  // 12.50
	{1, 1},  // 24.90
	{3, 3},  // 37.50
	{1, 3},  // 74.70
	{2, 1},  // 89.00
	{1, 8},  // 199.20
	{2, 3},  // 267.00
	{2, 4},  // 356.00
	{2, 5},  // 445.00
	{1, 20}, // 498.00
}

var currencies = []string{"EUR", "USD", "GBP"}

// badOrders are rejected with 400 and must count nothing.
var badOrders = []string{
	`{"product_id":1,"quantity":0,"currency":"EUR"}`,
	`{"product_id":9,"quantity":1,"currency":"USD"}`,
	`{"product_id":2,"quantity":1,"currency":"gbp"}`,
}

// driveOrders posts an order every 20 ms for d, one in eight of them
// invalid, and returns how many were accepted, when the first accepted one
// was placed and when the traffic stopped. Valid order j has amount
// orderMix[j%10] and currency currencies[j%3]; as 10 and 3 are coprime,
// every currency gets every amount of the mix once in 30 orders.
func driveOrders(t *testing.T, client *http.Client, base string, d time.Duration) (accepted int, first, stop time.Time) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	end := time.NewTimer(d)
	defer end.Stop()
	var valid, bad, rejected int
	for i := 0; ; i++ {
		select {
		case <-tick.C:
		case <-end.C:
			t.Logf("placed %d orders: %d accepted, %d rejected", valid+bad, accepted, rejected)
			return accepted, first, time.Now()
		case <-t.Context().Done():
			t.Fatalf("driving orders: %v", t.Context().Err())
		}
		body, wantStatus := "", http.StatusCreated
		if i%8 == 7 {
			body, wantStatus = badOrders[bad%len(badOrders)], http.StatusBadRequest
			bad++
		} else {
			o := orderMix[valid%len(orderMix)]
			body = fmt.Sprintf(`{"product_id":%d,"quantity":%d,"currency":%q}`, o.product, o.quantity, currencies[valid%len(currencies)])
			valid++
		}
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/orders", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		at := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("POST /orders: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusCreated:
			if accepted == 0 {
				first = at
			}
			accepted++
		case http.StatusBadRequest:
			rejected++
		}
		if resp.StatusCode != wantStatus {
			t.Errorf("POST /orders %s: status %d, want %d", body, resp.StatusCode, wantStatus)
		}
	}
}

// apiResponse is the envelope of Prometheus' HTTP API, which
// /monitoring/api/query answers with too.
type apiResponse struct {
	Status    string   `json:"status"`
	ErrorType string   `json:"errorType"`
	Error     string   `json:"error"`
	Warnings  []string `json:"warnings"`
	Infos     []string `json:"infos"`
	Data      struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

// apiSample is one element of an instant vector in Prometheus' HTTP API:
// {"metric": {...}, "value": [<unix seconds>, "<value>"]}.
type apiSample struct {
	Metric map[string]string  `json:"metric"`
	Value  [2]json.RawMessage `json:"value"`
}

// vector maps the identity of each series of an instant vector (its labels,
// sorted, as in {a="1",b="2"}) to its value.
type vector map[string]float64

// queryVector asks endpoint (Prometheus' /api/v1/query or ours) for the
// instant vector expr at ts (Unix seconds; now when empty), with the labels
// drop removed from every series.
func queryVector(ctx context.Context, client *http.Client, endpoint, expr, ts string, drop ...string) (vector, error) {
	params := url.Values{"query": {expr}}
	if ts != "" {
		params.Set("time", ts)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"?"+params.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: reading the answer: %w", expr, err)
	}
	var r apiResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("%s: %s: %w: %s", expr, resp.Status, err, body)
	}
	if r.Status != "success" || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s: %s: %s", expr, resp.Status, r.ErrorType, r.Error)
	}
	if r.Data.ResultType != "vector" {
		return nil, fmt.Errorf("%s: result type %q, want vector", expr, r.Data.ResultType)
	}
	var samples []apiSample
	if err := json.Unmarshal(r.Data.Result, &samples); err != nil {
		return nil, fmt.Errorf("%s: %w: %s", expr, err, r.Data.Result)
	}
	v := make(vector, len(samples))
	for _, s := range samples {
		for _, name := range drop {
			delete(s.Metric, name)
		}
		key := labelsKey(s.Metric)
		if _, dup := v[key]; dup {
			return nil, fmt.Errorf("%s: two series %s", expr, key)
		}
		var str string
		if err := json.Unmarshal(s.Value[1], &str); err != nil {
			return nil, fmt.Errorf("%s: value of %s: %w", expr, key, err)
		}
		f, err := strconv.ParseFloat(str, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: value of %s: %w", expr, key, err)
		}
		v[key] = f
	}
	return v, nil
}

// labelsKey renders labels sorted by name, as {a="1",b="2"}.
func labelsKey(m map[string]string) string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(n)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(m[n]))
	}
	b.WriteByte('}')
	return b.String()
}

// anyValue returns the value of a one-series vector, NaN otherwise.
func anyValue(v vector) float64 {
	if len(v) != 1 {
		return math.NaN()
	}
	for _, f := range v {
		return f
	}
	return math.NaN()
}

// compareVectors fails the test unless prom and ours hold the same series,
// at least one, with values equal (tol 0) or within the relative tolerance
// tol of each other.
func compareVectors(t *testing.T, expr string, prom, ours vector, tol float64) {
	t.Helper()
	if len(prom) == 0 {
		t.Errorf("%s: Prometheus returned no series", expr)
	}
	if len(ours) == 0 {
		t.Errorf("%s: the in-process API returned no series", expr)
	}
	keys := make([]string, 0, len(prom)+len(ours))
	for k := range prom {
		keys = append(keys, k)
	}
	for k := range ours {
		if _, ok := prom[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		p, inProm := prom[k]
		o, inOurs := ours[k]
		switch {
		case !inOurs:
			t.Errorf("%s: series %s = %v only in Prometheus' answer", expr, k, p)
		case !inProm:
			t.Errorf("%s: series %s = %v only in the in-process answer", expr, k, o)
		case tol == 0:
			if o != p {
				t.Errorf("%s: %s = %v in-process, %v in Prometheus", expr, k, o, p)
			}
		default:
			diff := math.Abs(o-p) / math.Max(math.Abs(o), math.Abs(p))
			if math.IsNaN(diff) || diff > tol {
				t.Errorf("%s: %s = %v in-process, %v in Prometheus: %.2f %% apart, want at most %g %%", expr, k, o, p, 100*diff, 100*tol)
			} else {
				t.Logf("%s: %s = %v in-process, %v in Prometheus: %.2f %% apart", expr, k, o, p, 100*diff)
			}
		}
	}
}
