package vitals_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/vitalsgo/vitals"
	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/clock/clocktest"
	"github.com/vitalsgo/vitals/exporter/memory"
	"github.com/vitalsgo/vitals/healthcheck"
	"github.com/vitalsgo/vitals/instrument"
	"github.com/vitalsgo/vitals/internal/logtest"
	"github.com/vitalsgo/vitals/monitoring"
)

const secToken = "admin-tok-7f3e9c"

func secStart(t *testing.T, opts ...vitals.Option) *vitals.Vitals {
	t.Helper()
	vitals.CleanEnv(t)
	always := alerting.Group{Name: "sec", Rules: []alerting.Rule{{Alert: "AlwaysOn", Expr: "vector(1)"}}}
	opts = append([]vitals.Option{vitals.WithAlertRules(always), vitals.WithMemory(memory.WithInterval(time.Hour))}, opts...)
	v, err := vitals.Start(t.Context(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Shutdown(context.Background()) })
	return v
}

// docRoute is one row of the endpoint table of docs/security.md.
type docRoute struct {
	pattern string
	access  string // open, probe, read or admin
}

var docRow = regexp.MustCompile("^\\| `((?:[A-Z]+ )?/[^`]*)` \\| (open|probe|read|admin) \\|")

// documentedRoutes parses the endpoint table of docs/security.md.
func documentedRoutes(t *testing.T) []docRoute {
	t.Helper()
	f, err := os.Open("docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []docRoute
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := docRow.FindStringSubmatch(sc.Text()); m != nil {
			out = append(out, docRoute{pattern: m[1], access: m[2]})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) < 20 {
		t.Fatalf("found %d routes in docs/security.md's table: has its format changed?", len(out))
	}
	return out
}

// TestSecurityDocMatchesRoutes holds the endpoint table of docs/security.md
// and the handler's registered routes equal, both ways.
func TestSecurityDocMatchesRoutes(t *testing.T) {
	v := secStart(t)
	registered := v.RoutePatterns()
	var documented []string
	for _, r := range documentedRoutes(t) {
		if slices.Contains(documented, r.pattern) {
			t.Errorf("%q is documented twice", r.pattern)
		}
		documented = append(documented, r.pattern)
		if !slices.Contains(registered, r.pattern) {
			t.Errorf("docs/security.md documents %q, which the handler does not register", r.pattern)
		}
	}
	for _, p := range registered {
		if !slices.Contains(documented, p) {
			t.Errorf("the handler registers %q, which docs/security.md does not document", p)
		}
	}
}

// concreteRequest makes a request that reaches the route of pattern.
func concreteRequest(pattern, token string) *http.Request {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = http.MethodGet, pattern
	}
	path = strings.NewReplacer("{$}", "", "{file}", "dashboard.js", "{id}", "nope", "{name}", "job").Replace(path)
	if strings.HasSuffix(path, "/") && path != "/monitoring/" {
		path += "nope" // a catch-all
	}
	var body io.Reader
	ctype := ""
	switch {
	case strings.HasPrefix(path, "/monitoring/api/query"), strings.Contains(path, "/api/v1/query"),
		strings.Contains(path, "/api/v1/format_query"), strings.Contains(path, "/api/v1/series"), strings.Contains(path, "/api/v1/labels"):
		q := url.Values{"query": {"up"}, "start": {"0"}, "end": {"60"}, "step": {"15"}, "match[]": {"up"}}.Encode()
		if method == http.MethodPost {
			body, ctype = strings.NewReader(q), "application/x-www-form-urlencoded"
		} else {
			path += "?" + q
		}
	case path == "/monitoring/api/silences" && method == http.MethodPost:
		body, ctype = strings.NewReader(silenceJSON("AlwaysOn")), "application/json"
	case strings.HasSuffix(path, "/resolve"):
		body, ctype = strings.NewReader(`{"reason":"test"}`), "application/json"
	}
	req := httptest.NewRequest(method, path, body)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

func silenceJSON(alert string) string {
	return `{"matchers":[{"name":"alertname","value":"` + alert + `","isRegex":false,"isEqual":true}],"endsAt":"` +
		time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `","createdBy":"ops","comment":"test"}`
}

// TestSecurityEndpointAccess sends every documented route an anonymous
// request, a wrong token and the right token, in each configuration, and
// checks the access the table documents.
func TestSecurityEndpointAccess(t *testing.T) {
	routes := documentedRoutes(t)
	configs := []struct {
		name                string
		opts                []vitals.Option
		authorizer, protect bool
	}{
		{"default", nil, false, false},
		{"token", []vitals.Option{vitals.WithAdminToken(secToken)}, true, false},
		{"authorizer", []vitals.Option{vitals.WithAuthorizer(monitoring.BearerToken(secToken))}, true, false},
		{"token+protected-reads", []vitals.Option{vitals.WithAdminToken(secToken), vitals.WithProtectedReads()}, true, true},
		{"protected-reads-without-authorizer", []vitals.Option{vitals.WithProtectedReads()}, false, true},
	}
	callers := []struct{ name, token string }{{"anonymous", ""}, {"wrong-token", "wrong-" + secToken}, {"right-token", secToken}}
	for _, cfg := range configs {
		t.Run(cfg.name, func(t *testing.T) {
			v := secStart(t, cfg.opts...)
			h := v.Handler()
			for _, r := range routes {
				for _, c := range callers {
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, concreteRequest(r.pattern, c.token))
					authorized := cfg.authorizer && c.token == secToken
					var want int // 0: anything but 401 and 403
					switch {
					case r.access == "admin" && !cfg.authorizer, r.access == "read" && cfg.protect && !cfg.authorizer:
						want = http.StatusForbidden
					case r.access == "admin" && !authorized, r.access == "read" && cfg.protect && !authorized:
						want = http.StatusUnauthorized
					}
					got := rec.Code
					switch {
					case want == 0 && (got == http.StatusUnauthorized || got == http.StatusForbidden):
						t.Errorf("%s by %s: %d, want it served (%s route): %s", r.pattern, c.name, got, r.access, rec.Body)
					case want != 0 && got != want:
						t.Errorf("%s by %s: %d, want %d (%s route)", r.pattern, c.name, got, want, r.access)
					case want == 0 && got >= 500:
						t.Errorf("%s by %s: %d: %s", r.pattern, c.name, got, rec.Body)
					}
					if want == http.StatusUnauthorized && !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
						t.Errorf("%s by %s: 401 without a Bearer challenge", r.pattern, c.name)
					}
				}
			}
		})
	}
}

// TestSecurityAnonymousCannotChangeState: without the right token, no
// alert is resolved, no silence created or expired and no check run, with
// and without an authorizer configured; with it, each happens.
func TestSecurityAnonymousCannotChangeState(t *testing.T) {
	for _, withAuth := range []bool{false, true} {
		t.Run(fmt.Sprintf("authorizer=%v", withAuth), func(t *testing.T) {
			var opts []vitals.Option
			if withAuth {
				opts = append(opts, vitals.WithAdminToken(secToken))
			}
			v := secStart(t, opts...)
			var runs atomic.Int64
			if err := v.Health().Register("db", healthcheck.CheckFunc(func(context.Context) error {
				runs.Add(1)
				return nil
			})); err != nil {
				t.Fatal(err)
			}
			if err := v.Alerting().Eval(t.Context(), time.Now().Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			alerts := v.Alerting().Alerts()
			if len(alerts) != 1 || alerts[0].State != alerting.StateFiring {
				t.Fatalf("want one firing alert, got %+v", alerts)
			}
			id := alerts[0].ID
			silenceID, err := v.Alerting().Silences().Add(alerting.Silence{
				Matchers: []alerting.Matcher{{Name: "alertname", Value: "Other", IsEqual: true}},
				EndsAt:   time.Now().Add(time.Hour), CreatedBy: "ops", Comment: "kept",
			})
			if err != nil {
				t.Fatal(err)
			}
			activeSilences := func() int {
				n := 0
				for _, s := range v.Alerting().Silences().List() {
					if s.State(time.Now()) == alerting.SilenceStateActive {
						n++
					}
				}
				return n
			}
			do := func(method, path, token, body string) int {
				req := httptest.NewRequest(method, path, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				rec := httptest.NewRecorder()
				v.Handler().ServeHTTP(rec, req)
				return rec.Code
			}
			runsBefore := runs.Load()
			for _, token := range []string{"", "wrong", secToken} {
				if token == secToken && withAuth {
					continue // below
				}
				for _, call := range [][3]string{
					{"POST", "/monitoring/api/alerts/" + id + "/resolve", `{"reason":"x"}`},
					{"POST", "/monitoring/api/silences", silenceJSON("AlwaysOn")},
					{"DELETE", "/monitoring/api/silences/" + silenceID, ""},
					{"POST", "/monitoring/api/health/check", ""},
				} {
					if code := do(call[0], call[1], token, call[2]); code != http.StatusUnauthorized && code != http.StatusForbidden {
						t.Errorf("%s %s with token %q: %d", call[0], call[1], token, code)
					}
				}
			}
			if st := v.Alerting().Alerts()[0].State; st != alerting.StateFiring {
				t.Errorf("an unauthorized request resolved the alert: %v", st)
			}
			if n := activeSilences(); n != 1 {
				t.Errorf("%d active silences after unauthorized requests, want 1", n)
			}
			if runs.Load() != runsBefore {
				t.Errorf("an unauthorized request ran the checks")
			}
			if !withAuth {
				return
			}
			for _, call := range [][3]string{
				{"POST", "/monitoring/api/alerts/" + id + "/resolve", `{"reason":"x"}`},
				{"POST", "/monitoring/api/silences", silenceJSON("AlwaysOn")},
				{"DELETE", "/monitoring/api/silences/" + silenceID, ""},
				{"POST", "/monitoring/api/health/check", ""},
			} {
				if code := do(call[0], call[1], secToken, call[2]); code != http.StatusOK {
					t.Errorf("%s %s with the token: %d", call[0], call[1], code)
				}
			}
			if st := v.Alerting().Alerts()[0].State; st != alerting.StateResolved {
				t.Errorf("the token did not resolve the alert: %v", st)
			}
			if n := activeSilences(); n != 1 { // one created, one expired
				t.Errorf("%d active silences, want 1", n)
			}
			if runs.Load() != runsBefore+1 {
				t.Errorf("the token did not run the checks")
			}
		})
	}
}

// slowClock advances 2 s at each reading, so that every request takes
// longer than the default 1 s slow threshold.
type slowClock struct{ *clocktest.Clock }

func (c *slowClock) Now() time.Time { return c.Advance(2 * time.Second) }

// TestSecuritySecretsNeverLeak sends requests carrying secrets through
// v.Middleware on a loopback server (successes, 5xx, panics, all slow) and
// scans /metrics, the monitoring API and every log line for them.
func TestSecuritySecretsNeverLeak(t *testing.T) {
	logs := &logtest.Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	v := secStart(t, vitals.WithLogger(logger), vitals.WithAdminToken(secToken))
	secrets := map[string]string{
		"bearer":    "bearer-s3cret-9d1",
		"cookie":    "cookie-s3cret-4a2",
		"apikey":    "apikey-s3cret-77b",
		"qtoken":    "query-s3cret-e5f",
		"qpassword": "query-password-c0d",
		"body":      "body-password-a1b",
		"agent":     "agent-s3cret-0ff",
		"email":     "alice.sec@example.com",
		"xff":       "203.0.113.99",
		"loopback":  "127.0.0.1",
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) })
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "database unavailable", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/panic", func(http.ResponseWriter, *http.Request) { panic("handler failed") })
	mux.HandleFunc("/users/{email}", func(w http.ResponseWriter, r *http.Request) {})
	mux.Handle("/", v.Handler()) // as documented
	clock := &slowClock{clocktest.New(time.Unix(0, 0))}
	routed := httptest.NewServer(v.Middleware(mux, instrument.WithClock(clock)))
	defer routed.Close()
	// Without a router, the route comes from the raw path.
	raw := httptest.NewServer(v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "fail") {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}), instrument.WithClock(clock)))
	defer raw.Close()

	query := "?" + url.Values{"token": {secrets["qtoken"]}, "password": {secrets["qpassword"]}, "email": {secrets["email"]}}.Encode()
	var sent int
	for _, base := range []string{routed.URL, raw.URL} {
		for _, path := range []string{"/ok", "/fail", "/panic", "/users/" + secrets["email"], "/raw/" + secrets["email"] + "/fail",
			"/monitoring/api/alerts/nope/resolve"} {
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				req, err := http.NewRequestWithContext(t.Context(), method, base+path+query,
					strings.NewReader(`{"user":"alice","password":"`+secrets["body"]+`"}`))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+secrets["bearer"])
				if strings.Contains(path, "/resolve") {
					req.Header.Set("Authorization", "Bearer "+secToken)
				}
				req.Header.Set("Cookie", "session="+secrets["cookie"])
				req.Header.Set("X-Api-Key", secrets["apikey"])
				req.Header.Set("User-Agent", secrets["agent"])
				req.Header.Set("X-Forwarded-For", secrets["xff"])
				req.Header.Set(instrument.RequestIDHeader, "req-sec-1")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				sent++
			}
		}
	}

	if err := v.Memory().Collect(t.Context()); err != nil {
		t.Fatal(err)
	}
	scanned := map[string]string{"log": logs.String()}
	for _, path := range []string{"/metrics", "/monitoring/api/health", "/monitoring/api/system", "/monitoring/api/export",
		"/monitoring/api/alerts", "/monitoring/api/rules", "/monitoring/api/silences", "/monitoring/api/slos",
		"/monitoring/api/performance", "/monitoring/api/metrics", "/monitoring/api/query?query=" + url.QueryEscape(`{__name__=~".+"}`)} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Authorization", "Bearer "+secToken)
		rec := httptest.NewRecorder()
		v.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Errorf("%s: %d", path, rec.Code)
		}
		scanned[path] = rec.Body.String()
	}

	// The scan must have something to find: every request was slow, the
	// panics were logged, the requests are in the metrics.
	log := scanned["log"]
	// The two requests to v.Handler() through the routed server are its
	// own traffic, not recorded (SkipRecording).
	if n := strings.Count(log, `msg="slow request"`); n != sent-2 {
		t.Errorf("%d slow-request lines for %d requests, 2 of them the handler's own:\n%s", n, sent, log)
	}
	if n := strings.Count(log, `msg="panic serving request"`); n != 2 {
		t.Errorf("%d panic lines, want 2", n)
	}
	if !strings.Contains(log, "request_id=req-sec-1") || !strings.Contains(log, "status=503") || !strings.Contains(log, "status=500") {
		t.Errorf("the log lacks the request ID or the 5xx statuses:\n%s", log)
	}
	if !strings.Contains(scanned["/metrics"], `http_route="/users/{email}"`) || !strings.Contains(scanned["/metrics"], `http_route="/raw/{email}/fail"`) {
		t.Errorf("the requests are not in /metrics")
	}
	for where, text := range scanned {
		for name, s := range secrets {
			if i := strings.Index(text, s); i >= 0 {
				t.Errorf("%s carries the %s secret %q: …%s…", where, name, s, text[max(0, i-80):min(len(text), i+80)])
			}
		}
		for _, s := range []string{url.QueryEscape(secrets["email"]), url.PathEscape(secrets["email"])} {
			if strings.Contains(text, s) {
				t.Errorf("%s carries the escaped e-mail address %q", where, s)
			}
		}
	}
}

// TestSecurityLimits: bodies, query lengths, samples and time are bounded,
// and each refusal names its limit.
func TestSecurityLimits(t *testing.T) {
	v := secStart(t, vitals.WithAdminToken(secToken), vitals.WithMemory(memory.WithQueryLimits(0, 100)))
	c, _ := v.Meter("sec").Int64Counter("hits")
	for i := range 200 {
		c.Add(t.Context(), 1, metric.WithAttributes(attribute.Int("i", i)))
	}
	if err := v.Memory().Collect(t.Context()); err != nil {
		t.Fatal(err)
	}
	do := func(method, path, ctype, body string) (int, map[string]any) {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secToken)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		rec := httptest.NewRecorder()
		v.Handler().ServeHTTP(rec, req)
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %s: %d %v: %s", method, path, rec.Code, err, rec.Body)
		}
		return rec.Code, out
	}
	big := strings.Repeat("a", monitoring.MaxRequestBody)
	limit := fmt.Sprint(monitoring.MaxRequestBody)
	for _, tc := range []struct{ name, path, ctype, body string }{
		{"silence", "/monitoring/api/silences", "application/json",
			`{"matchers":[{"name":"alertname","value":"x","isEqual":true}],"createdBy":"ops","comment":"` + big + `"}`},
		{"resolve", "/monitoring/api/alerts/x/resolve", "application/json", `{"reason":"` + big + `"}`},
		{"query", "/monitoring/api/query", "application/x-www-form-urlencoded", "query=up&x=" + big},
		{"query_range", "/monitoring/api/query_range", "application/x-www-form-urlencoded", "query=up&start=0&end=1&step=1&x=" + big},
	} {
		code, body := do(http.MethodPost, tc.path, tc.ctype, tc.body)
		if code != http.StatusRequestEntityTooLarge || !strings.Contains(fmt.Sprint(body["error"]), limit) {
			t.Errorf("%s with a %d-byte body: %d %v, want 413 naming %s", tc.name, len(tc.body), code, body["error"], limit)
		}
	}
	// Just under the limit is read.
	if code, body := do(http.MethodPost, "/monitoring/api/query", "application/x-www-form-urlencoded",
		"query=vector(1)&x="+strings.Repeat("a", monitoring.MaxRequestBody-len("query=vector(1)&x="))); code != http.StatusOK {
		t.Errorf("a body of exactly the limit: %d %v", code, body)
	}

	long := "vector(1)" + strings.Repeat(" ", monitoring.MaxQueryLength)
	qlimit := fmt.Sprint(monitoring.MaxQueryLength)
	for _, path := range []string{
		"/monitoring/api/query?" + url.Values{"query": {long}}.Encode(),
		"/monitoring/api/query_range?" + url.Values{"query": {long}, "start": {"0"}, "end": {"60"}, "step": {"15"}}.Encode(),
		"/monitoring/api/metrics?" + url.Values{"match": {"{" + long + "}"}}.Encode(),
	} {
		code, body := do(http.MethodGet, path, "", "")
		if code != http.StatusBadRequest || body["errorType"] != "bad_data" || !strings.Contains(fmt.Sprint(body["error"]), qlimit) {
			t.Errorf("%.40s… with a %d-byte query: %d %v", path, len(long), code, body)
		}
	}
	if code, body := do(http.MethodGet, "/monitoring/api/query?"+url.Values{"query": {long[:monitoring.MaxQueryLength]}}.Encode(), "", ""); code != http.StatusOK {
		t.Errorf("a query of exactly the limit: %d %v", code, body)
	}

	// 200 series with a limit of 100 samples.
	code, body := do(http.MethodGet, "/monitoring/api/query?query=hits_total", "", "")
	if code != http.StatusUnprocessableEntity || body["errorType"] != "execution" || !strings.Contains(fmt.Sprint(body["error"]), "too many samples") {
		t.Errorf("a query over the sample limit: %d %v", code, body)
	}
	// A timeout too short for any query.
	code, body = do(http.MethodGet, "/monitoring/api/query?query=vector(1)&timeout=0.000000001", "", "")
	if code != http.StatusServiceUnavailable || body["errorType"] != "timeout" {
		t.Errorf("a query past its timeout: %d %v", code, body)
	}
	// Too many steps.
	code, body = do(http.MethodGet, "/monitoring/api/query_range?query=vector(1)&start=0&end=100000&step=1", "", "")
	if code != http.StatusBadRequest || !strings.Contains(fmt.Sprint(body["error"]), fmt.Sprint(memory.MaxPoints)) {
		t.Errorf("a range query of 100 000 steps: %d %v", code, body)
	}
	// A subquery of 3 × 10¹² steps: refused before the engine sets aside
	// memory per step, which would abort the process (found by fuzzing).
	code, body = do(http.MethodGet, "/monitoring/api/query?"+url.Values{"query": {"vector(1)[100y:1ms]"}}.Encode(), "", "")
	if code != http.StatusBadRequest || body["errorType"] != "bad_data" ||
		!strings.Contains(fmt.Sprint(body["error"]), fmt.Sprint(memory.MaxSubquerySteps)) || !strings.Contains(fmt.Sprint(body["error"]), "[100y:1ms]") {
		t.Errorf("a subquery of 3 × 10¹² steps: %d %v", code, body)
	}
	// Silences: at most alerting.MaxSilences active or pending.
	for i := range alerting.MaxSilences {
		if code, body := do(http.MethodPost, "/monitoring/api/silences", "application/json", silenceJSON(fmt.Sprint("A", i))); code != http.StatusOK {
			t.Fatalf("silence %d: %d %v", i, code, body)
		}
	}
	code, body = do(http.MethodPost, "/monitoring/api/silences", "application/json", silenceJSON("OneTooMany"))
	if code != http.StatusBadRequest || body["errorType"] != "bad_data" || !strings.Contains(fmt.Sprint(body["error"]), "MaxSilences") {
		t.Errorf("silence %d: %d %v, want 400 naming MaxSilences", alerting.MaxSilences+1, code, body)
	}
}
