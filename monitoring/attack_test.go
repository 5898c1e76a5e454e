package monitoring

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestSlowQueryBodiesHoldNoSlot is the slow-client attack: four connections
// each send a query request's headers with a Content-Length of 60 000 and
// 7 bytes of body, and stay open. Before the fix each took one of the four
// query slots before reading its body, and every PromQL endpoint waited
// until they hung up. Now the body is read first: a query from someone
// else answers at once, and the slow ones get 408 once their body is late.
func TestSlowQueryBodiesHoldNoSlot(t *testing.T) {
	v, _, _ := startWithClock(t)
	v.h.bodyTimeout = 500 * time.Millisecond // the 408 comes after this
	// entered tells when the handler has a request, so the test knows all
	// four are in before it asks its own query.
	entered := make(chan struct{}, MaxConcurrentQueries+1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		v.Handler().ServeHTTP(w, r)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	conns := make([]net.Conn, MaxConcurrentQueries)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /monitoring/api/query HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 60000\r\n\r\nquery=u")
		conns[i] = c
	}
	for range conns {
		<-entered
	}

	// Someone else's query is answered while the four wait for their
	// bodies. On the old code it waits for a slot until its own deadline.
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.PostForm(srv.URL+"/monitoring/api/query", url.Values{"query": {"vector(1)"}})
	if err != nil {
		t.Fatalf("a query while four clients send their bodies slowly: %v (the slots are held)", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("a query while four clients send their bodies slowly: %d, want 200", resp.StatusCode)
	}
	if n := len(v.h.querySlots); n != 0 {
		t.Errorf("%d query slots taken by clients still sending their bodies, want 0", n)
	}

	// Each slow client is told 408, and the connection is closed.
	for i, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("slow client %d: %v", i, err)
		}
		var body apiReply
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(body.Error, "did not arrive within") {
			t.Errorf("slow client %d: %d %+v, want 408 saying the body did not arrive", i, resp.StatusCode, body)
		}
	}
}

// TestHeavyQueriesDoNotStarveTheDashboard fills the query slots, as four
// anonymous heavy queries would, and checks that the summaries the
// dashboard polls still answer: they have slots of their own.
func TestHeavyQueriesDoNotStarveTheDashboard(t *testing.T) {
	v, _, srv := startWithClock(t)
	for range MaxConcurrentQueries {
		v.h.querySlots <- struct{}{}
	}
	defer func() {
		for range MaxConcurrentQueries {
			<-v.h.querySlots
		}
	}()
	client := &http.Client{Timeout: 5 * time.Second}
	for _, path := range []string{"/monitoring/api/performance", "/monitoring/api/slos"} {
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			t.Fatalf("%s with every query slot taken: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s with every query slot taken: %d, want 200", path, resp.StatusCode)
		}
	}
}

// TestQueryTimesTheEngineCannotRepresent: the engine counts nanoseconds in
// an int64, so time=1e10 (year 2286) used to come back as a wrapped,
// negative timestamp. Such times are refused, naming the limits; a
// negative timeout is a bad request, not a timeout.
func TestQueryTimesTheEngineCannotRepresent(t *testing.T) {
	_, _, srv := startWithClock(t)
	for _, tc := range []struct {
		path string
		form url.Values
		want string
	}{
		{"/monitoring/api/query", url.Values{"query": {"vector(time())"}, "time": {"1e10"}}, "outside the times the query engine can represent"},
		{"/monitoring/api/query", url.Values{"query": {"vector(time())"}, "time": {"-1e10"}}, "outside the times"},
		{"/monitoring/api/query", url.Values{"query": {"vector(time())"}, "time": {"2300-01-01T00:00:00Z"}}, "outside the times"},
		{"/monitoring/api/query", url.Values{"query": {"vector(time())"}, "time": {"1600-01-01T00:00:00Z"}}, "outside the times"},
		{"/monitoring/api/query_range", url.Values{"query": {"vector(time())"}, "start": {"0"}, "end": {"1e10"}, "step": {"1e9"}}, "outside the times"},
		{"/monitoring/api/query_range", url.Values{"query": {"vector(time())"}, "start": {"-9.3e9"}, "end": {"0"}, "step": {"1e9"}}, "outside the times"},
		{"/monitoring/api/query", url.Values{"query": {"vector(time())"}, "timeout": {"-1"}}, "'timeout'"},
		{"/monitoring/api/query", url.Values{"query": {"vector(time())"}, "timeout": {"0"}}, "'timeout'"},
		{"/monitoring/api/query", url.Values{"query": {"vector(time())"}, "timeout": {"-5s"}}, "'timeout'"},
	} {
		code, r := call(t, http.MethodGet, srv.URL+tc.path, tc.form)
		if code != http.StatusBadRequest || r.ErrorType != "bad_data" || !strings.Contains(r.Error, tc.want) {
			t.Errorf("%s?%s: %d %+v, want 400 bad_data saying %q", tc.path, tc.form.Encode(), code, r, tc.want)
		}
	}
	// The edges themselves still work, and the answer is the time asked.
	for _, ts := range []string{"9223372035", "-9223372035", "2262-04-11T00:00:00Z"} {
		code, r := call(t, http.MethodGet, srv.URL+"/monitoring/api/query", url.Values{"query": {"vector(time())"}, "time": {ts}})
		if code != http.StatusOK {
			t.Errorf("time=%s: %d %+v, want 200", ts, code, r)
		}
	}
	code, r := call(t, http.MethodGet, srv.URL+"/monitoring/api/query", url.Values{"query": {"vector(time())"}, "time": {"9223372035"}})
	if code != http.StatusOK || len(r.Data.Result) != 1 || r.Data.Result[0].Value[1] != "9223372035" {
		t.Errorf("time=9223372035 answered %d %+v: not the time asked", code, r.Data)
	}
}

// TestMetricsMatchIsASeriesSelector: match is parsed as a series selector,
// as Prometheus' /api/v1/series does; before, anything starting with "{"
// ran as PromQL.
func TestMetricsMatchIsASeriesSelector(t *testing.T) {
	_, _, srv := startWithClock(t)
	for _, bad := range []string{`{__name__="up"} or vector(1)`, `{__name__="up"}[5m]`, `sum({__name__=~".+"})`, `{__name__="up"} + 1`, `vector(1)`, `{`} {
		code, r := call(t, http.MethodGet, srv.URL+"/monitoring/api/metrics", url.Values{"match": {bad}})
		if code != http.StatusBadRequest || !strings.Contains(r.Error, "not a series selector") {
			t.Errorf("match=%s: %d %+v, want 400 saying it is not a series selector", bad, code, r)
		}
	}
	for _, good := range []string{`{__name__=~"go_.+"}`, `go_goroutines`, `go_goroutines{}`, `{__name__="go_goroutines", job!="x"}`} {
		if code, r := call(t, http.MethodGet, srv.URL+"/monitoring/api/metrics", url.Values{"match": {good}}); code != http.StatusOK {
			t.Errorf("match=%s: %d %+v, want 200", good, code, r)
		}
	}
}
