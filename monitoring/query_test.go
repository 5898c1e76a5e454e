package monitoring

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/vitalsgo/vitals/clock/clocktest"
	"github.com/vitalsgo/vitals/exporter/memory"
)

// testClock is the shared hand-moved clock.
type testClock struct{ *clocktest.Clock }

func (c *testClock) advance(d time.Duration) { c.Advance(d) }

type apiReply struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
			Values [][2]any          `json:"values"`
		} `json:"result"`
	} `json:"data"`
}

func startWithClock(t *testing.T, opts ...memory.Option) (*env, *testClock, *httptest.Server) {
	t.Helper()
	clk := &testClock{clocktest.New(time.Unix(1_700_000_000, 0))}
	v := newEnv(t, withMemory(append([]memory.Option{memory.WithClock(clk)}, opts...)...))
	srv := httptest.NewServer(v.Handler())
	t.Cleanup(srv.Close)
	return v, clk, srv
}

func call(t *testing.T, method, u string, form url.Values) (int, apiReply) {
	t.Helper()
	var resp *http.Response
	var err error
	if method == http.MethodPost {
		resp, err = http.PostForm(u, form)
	} else {
		resp, err = http.Get(u + "?" + form.Encode())
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type %q", ct)
	}
	var r apiReply
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, r
}

func TestQueryAPI(t *testing.T) {
	v, clk, srv := startWithClock(t)
	c, _ := v.Meter("shop").Int64Counter("orders")
	start := clk.Now()
	for i := range 3 {
		c.Add(t.Context(), 2, metric.WithAttributes(attribute.String("currency", "EUR")))
		if i > 0 {
			clk.advance(10 * time.Second)
		}
		if err := v.Memory().Collect(t.Context()); err != nil {
			t.Fatal(err)
		}
	}

	for _, method := range []string{http.MethodGet, http.MethodPost} {
		code, r := call(t, method, srv.URL+"/monitoring/api/query", url.Values{"query": {`orders_total`}})
		if code != http.StatusOK || r.Status != "success" || r.Data.ResultType != "vector" || len(r.Data.Result) != 1 {
			t.Fatalf("%s query: %d %+v", method, code, r)
		}
		res := r.Data.Result[0]
		if res.Metric["__name__"] != "orders_total" || res.Metric["currency"] != "EUR" || res.Metric["otel_scope_name"] != "shop" {
			t.Errorf("metric = %v", res.Metric)
		}
		// The value is [unix seconds, "string"], at the reader's clock by default.
		if ts, _ := res.Value[0].(float64); ts != float64(clk.Now().Unix()) || res.Value[1] != "6" {
			t.Errorf("value = %v", res.Value)
		}
	}

	code, r := call(t, http.MethodGet, srv.URL+"/monitoring/api/query_range", url.Values{
		"query": {`sum(orders_total)`},
		"start": {strconv.FormatInt(start.Unix(), 10)},
		"end":   {start.Add(20 * time.Second).Format(time.RFC3339)},
		"step":  {"10s"},
	})
	if code != http.StatusOK || r.Data.ResultType != "matrix" || len(r.Data.Result) != 1 {
		t.Fatalf("query_range: %d %+v", code, r)
	}
	var got []string
	for _, p := range r.Data.Result[0].Values {
		got = append(got, p[1].(string))
	}
	if strings.Join(got, ",") != "2,4,6" {
		t.Errorf("range values = %v, want 2,4,6", got)
	}

	code, r = call(t, http.MethodGet, srv.URL+"/monitoring/api/query", url.Values{"query": {`orders_total`}, "time": {strconv.FormatInt(start.Unix(), 10)}})
	if code != http.StatusOK || len(r.Data.Result) != 1 || r.Data.Result[0].Value[1] != "2" {
		t.Errorf("query at start: %d %+v", code, r)
	}
}

func TestQueryAPIErrors(t *testing.T) {
	v, _, srv := startWithClock(t, memory.WithQueryLimits(0, 1))
	c, _ := v.Meter("shop").Int64Counter("orders")
	c.Add(t.Context(), 1, metric.WithAttributes(attribute.String("a", "1")))
	c.Add(t.Context(), 1, metric.WithAttributes(attribute.String("a", "2")))
	if err := v.Memory().Collect(t.Context()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path     string
		form     url.Values
		code     int
		errType  string
		inReason string
	}{
		{"query", url.Values{"query": {`rate(orders_total[5m]`}}, 400, "bad_data", "unclosed"},
		{"query", url.Values{"query": {`nosuch(orders_total)`}}, 400, "bad_data", "unknown function"},
		{"query", url.Values{"query": {`orders_total`}, "time": {"yesterday"}}, 400, "bad_data", "'time'"},
		{"query", url.Values{"query": {`orders_total`}, "timeout": {"soon"}}, 400, "bad_data", "'timeout'"},
		{"query_range", url.Values{"query": {`orders_total`}, "end": {"1"}, "step": {"1"}}, 400, "bad_data", "'start'"},
		{"query_range", url.Values{"query": {`orders_total`}, "start": {"1"}, "end": {"2"}}, 400, "bad_data", "'step'"},
		{"query_range", url.Values{"query": {`orders_total`}, "start": {"1"}, "end": {"100000"}, "step": {"1"}}, 400, "bad_data", "11000"},
		{"query", url.Values{"query": {`orders_total`}}, 422, "execution", "too many samples"},
	}
	for _, tt := range tests {
		code, r := call(t, http.MethodGet, srv.URL+"/monitoring/api/"+tt.path, tt.form)
		if code != tt.code || r.Status != "error" || r.ErrorType != tt.errType || !strings.Contains(r.Error, tt.inReason) {
			t.Errorf("%s %v: %d %+v, want %d %s containing %q", tt.path, tt.form, code, r, tt.code, tt.errType, tt.inReason)
		}
	}
}

func TestWithoutQuerier(t *testing.T) {
	v := newEnv(t, withoutMemory())
	rec := httptest.NewRecorder()
	v.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/monitoring/api/query?query=up", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("query without the memory reader: %d", rec.Code)
	}
}

// TestConcurrentQueriesAreLimited fills every query slot and checks that a
// PromQL request waits for one (503 if its request ends first), that it runs
// once a slot frees, and that reads without PromQL are not held up.
func TestConcurrentQueriesAreLimited(t *testing.T) {
	v, _, srv := startWithClock(t)
	for range MaxConcurrentQueries {
		v.h.querySlots <- struct{}{}
	}
	for range MaxConcurrentSummaries {
		v.h.summarySlots <- struct{}{}
	}

	for _, path := range []string{"/monitoring/api/query?query=up", "/monitoring/api/query_range?query=up&start=0&end=60&step=15",
		"/monitoring/api/performance", "/monitoring/api/metrics", "/monitoring/api/slos", "/monitoring/api/export"} {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		rec := httptest.NewRecorder()
		v.Handler().ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, path, nil))
		var r apiReply
		if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v: %s", path, err, rec.Body)
		}
		if rec.Code != http.StatusServiceUnavailable || r.ErrorType != "unavailable" || !strings.Contains(r.Error, "query slots") {
			t.Errorf("%s with every slot taken and the request ended: %d %+v, want 503 unavailable naming the slots", path, rec.Code, r)
		}
	}
	if code, _ := call(t, http.MethodGet, srv.URL+"/monitoring/api/health", nil); code != http.StatusOK {
		t.Errorf("health details while the query slots are full: %d, want 200", code)
	}
	for range MaxConcurrentSummaries {
		<-v.h.summarySlots
	}

	done := make(chan int)
	go func() {
		resp, err := http.Get(srv.URL + "/monitoring/api/query?query=vector(1)")
		if err != nil {
			t.Error(err)
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	<-v.h.querySlots // one query finishes
	if code := <-done; code != http.StatusOK {
		t.Errorf("waiting query once a slot freed: %d, want 200", code)
	}
	if n := len(v.h.querySlots); n != MaxConcurrentQueries-1 {
		t.Errorf("%d slots taken after the query, want %d: the slot was not given back", n, MaxConcurrentQueries-1)
	}
}
