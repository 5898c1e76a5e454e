package monitoring

import (
	"encoding/json"
	"io/fs"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/exporter"
)

// serveDashboard runs one request through the dashboard handler.
func serveDashboard(t *testing.T, method, path string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	dashboardHandler().ServeHTTP(rec, req)
	return rec
}

func embedded(t *testing.T, name string) string {
	t.Helper()
	b, err := dashboardFS.ReadFile("dashboard/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDashboardServesFiles(t *testing.T) {
	for _, c := range []struct {
		path, file, ctype string
	}{
		{"/monitoring/", "index.html", "text/html; charset=utf-8"},
		{"/monitoring/index.html", "index.html", "text/html; charset=utf-8"},
		{"/monitoring/dashboard.js", "dashboard.js", "text/javascript; charset=utf-8"},
		{"/monitoring/dashboard.css", "dashboard.css", "text/css; charset=utf-8"},
		// Mounted under a prefix, or behind http.StripPrefix.
		{"/admin/monitoring/", "index.html", "text/html; charset=utf-8"},
		{"/admin/monitoring/dashboard.js", "dashboard.js", "text/javascript; charset=utf-8"},
		{"/", "index.html", "text/html; charset=utf-8"},
		{"", "index.html", "text/html; charset=utf-8"},
	} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL.Path = c.path // "" as http.StripPrefix("/monitoring/", ...) leaves it
		rec := httptest.NewRecorder()
		dashboardHandler().ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Errorf("GET %q: %d", c.path, rec.Code)
			continue
		}
		h := rec.Header()
		if got := h.Get("Content-Type"); got != c.ctype {
			t.Errorf("GET %q: Content-Type %q, want %q", c.path, got, c.ctype)
		}
		if got := h.Get("Cache-Control"); got != "no-cache" {
			t.Errorf("GET %q: Cache-Control %q, want no-cache", c.path, got)
		}
		if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %q: X-Content-Type-Options %q", c.path, got)
		}
		if h.Get("ETag") == "" {
			t.Errorf("GET %q: no ETag", c.path)
		}
		if rec.Body.String() != embedded(t, c.file) {
			t.Errorf("GET %q: the body is not %s", c.path, c.file)
		}
	}
}

func TestDashboardPageHeaders(t *testing.T) {
	rec := serveDashboard(t, http.MethodGet, "/monitoring/", nil)
	csp := rec.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %s", csp, want)
		}
	}
	if got := rec.Header().Get("X-Frame-Options"); got != "DENY" {
		t.Errorf("X-Frame-Options %q", got)
	}
	// A reload revalidates: same ETag, 304, no body.
	etag := rec.Header().Get("ETag")
	rec = serveDashboard(t, http.MethodGet, "/monitoring/", map[string]string{"If-None-Match": etag})
	if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Errorf("If-None-Match %s: %d with %d bytes, want 304 and none", etag, rec.Code, rec.Body.Len())
	}
	rec = serveDashboard(t, http.MethodHead, "/monitoring/dashboard.js", nil)
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 || rec.Header().Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Errorf("HEAD: %d, %d bytes, %q", rec.Code, rec.Body.Len(), rec.Header().Get("Content-Type"))
	}
}

func TestDashboardRefusesTheRest(t *testing.T) {
	for _, path := range []string{"/monitoring/nope.js", "/monitoring/dashboard", "/monitoring/api/", "/monitoring/api/index.html", "/monitoring/..%2fdashboard.go"} {
		if rec := serveDashboard(t, http.MethodGet, path, nil); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, rec.Code)
		}
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		rec := serveDashboard(t, m, "/monitoring/", nil)
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d, Allow %q, Content-Type %q", m, rec.Code, rec.Header().Get("Allow"), rec.Header().Get("Content-Type"))
		}
	}
}

// TestDashboardWorksOffline checks that no embedded file references another
// host: no CDN, no web font, no absolute URL. The only http:// strings
// allowed are XML namespace names, which are identifiers that are never
// fetched (document.createElementNS needs the SVG one).
func TestDashboardWorksOffline(t *testing.T) {
	namespaces := []string{"http://www.w3.org/2000/svg"}
	absURL := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}[^\s"'<>)]*`)
	srcHref := regexp.MustCompile(`(?i)\b(src|href|action)\s*=\s*["']?([^"'\s>]*)`)
	var names []string
	err := fs.WalkDir(dashboardFS, "dashboard", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		names = append(names, p)
		b, err := dashboardFS.ReadFile(p)
		if err != nil {
			return err
		}
		text := string(b)
		for _, m := range absURL.FindAllString(text, -1) {
			if !slices.Contains(namespaces, m) {
				t.Errorf("%s references %s: the page must work offline, with its own files only", p, m)
			}
		}
		for _, m := range srcHref.FindAllStringSubmatch(text, -1) {
			if v := m[2]; v != "data:," && (strings.Contains(v, ":") || strings.HasPrefix(v, "/")) {
				t.Errorf("%s: %s=%q is not a relative URL", p, m[1], v)
			}
		}
		for _, bad := range []string{"@import", "url(", "<iframe", "<object", "<embed"} {
			if strings.Contains(text, bad) {
				t.Errorf("%s contains %s", p, bad)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"dashboard/dashboard.css", "dashboard/dashboard.js", "dashboard/index.html"}; !slices.Equal(names, want) {
		t.Errorf("embedded files %v, want %v", names, want)
	}
	// Every file index.html loads is embedded and served.
	for _, m := range srcHref.FindAllStringSubmatch(embedded(t, "index.html"), -1) {
		if v := m[2]; v != "data:," {
			if rec := serveDashboard(t, http.MethodGet, "/monitoring/"+v, nil); rec.Code != http.StatusOK {
				t.Errorf("index.html loads %s, which answers %d", v, rec.Code)
			}
		}
	}
	// Scripts are files, which the Content-Security-Policy allows; inline
	// scripts and handlers it would block.
	html := embedded(t, "index.html")
	if regexp.MustCompile(`<script(\s[^>]*)?>\s*[^<\s]`).MatchString(html) || regexp.MustCompile(`(?i)\son[a-z]+\s*=`).MatchString(html) {
		t.Error("index.html has an inline script or event handler")
	}
}

// TestDashboardScriptInsertsTextOnly guards the rule that API data reaches
// the DOM as text: the script uses no HTML sink, no eval, and no dialogs or
// console (errors go to the status line).
func TestDashboardScriptInsertsTextOnly(t *testing.T) {
	js := embedded(t, "dashboard.js")
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setTimeout(\"", "alert(", "confirm(", "prompt(", "console.", "localStorage", "javascript:"} {
		if strings.Contains(js, bad) {
			t.Errorf("dashboard.js uses %s", bad)
		}
	}
	// URLs are relative, so that the page works under any prefix.
	if regexp.MustCompile(`["'\x60]/(monitoring|api)\b`).MatchString(js) {
		t.Error("dashboard.js has an absolute path to the API")
	}
}

// TestDashboardUsesServedEndpoints checks that every API path the script
// calls is a route of Handler, so that the page and the mux cannot drift
// apart: reads answer 200, and the mutating calls reach their handler (401
// without a token, rather than 404 or 405).
func TestDashboardUsesServedEndpoints(t *testing.T) {
	for _, name := range []string{exporter.EnvMetricsExporter, exporter.EnvEndpoint, exporter.EnvMetricsEndpoint} {
		t.Setenv(name, "")
	}
	v := newEnv(t, withAdminToken("tok"))

	calls := map[string]struct {
		method, path string
		want         int
	}{
		"api/health":                        {"GET", "/monitoring/api/health", 200},
		"api/alerts":                        {"GET", "/monitoring/api/alerts", 200},
		"api/alerts/history":                {"GET", "/monitoring/api/alerts/history", 200},
		"api/silences":                      {"GET", "/monitoring/api/silences", 200},
		"api/system":                        {"GET", "/monitoring/api/system", 200},
		"api/performance":                   {"GET", "/monitoring/api/performance?window=5m", 200},
		"prometheus/api/v1/query":           {"GET", "/monitoring/prometheus/api/v1/query?query=vector(1)", 200},
		"prometheus/api/v1/query_range":     {"GET", "/monitoring/prometheus/api/v1/query_range?query=vector(1)&start=0&end=60&step=15", 200},
		"prometheus/api/v1/query_exemplars": {"GET", "/monitoring/prometheus/api/v1/query_exemplars?query=up&start=0&end=60", 200},
		"api/alerts/":                       {"POST", "/monitoring/api/alerts/abc/resolve", 401},
		"api/silences/":                     {"DELETE", "/monitoring/api/silences/abc", 401},
	}
	used := map[string]bool{}
	for _, m := range regexp.MustCompile(`"((?:prometheus/)?api/[a-z0-9_/]*)`).FindAllStringSubmatch(embedded(t, "dashboard.js"), -1) {
		used[m[1]] = true
	}
	for p := range used {
		if _, ok := calls[p]; !ok {
			t.Errorf("dashboard.js calls %s, which this test does not know", p)
		}
	}
	for p, c := range calls {
		if !used[p] {
			t.Errorf("dashboard.js no longer calls %s: update the test", p)
			continue
		}
		req := httptest.NewRequest(c.method, c.path, nil)
		rec := httptest.NewRecorder()
		v.Handler().ServeHTTP(rec, req)
		if rec.Code != c.want || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: %d %q, want %d JSON: %s", c.method, c.path, rec.Code, rec.Header().Get("Content-Type"), c.want, rec.Body)
		}
	}
	// The silence the page creates: POST api/silences with the token.
	body := `{"matchers":[{"name":"alertname","value":"X","isRegex":false,"isEqual":true}],"endsAt":"2999-01-01T00:00:00.000Z","createdBy":"vitals dashboard","comment":"silenced from the dashboard"}`
	req := httptest.NewRequest(http.MethodPost, "/monitoring/api/silences", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer tok")
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	v.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "silenceID") {
		t.Errorf("POST api/silences as the page sends it: %d %s", rec.Code, rec.Body)
	}

	// Once Handler mounts the page, it is the embedded one.
	rec = httptest.NewRecorder()
	v.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/monitoring/", nil))
	switch rec.Code {
	case http.StatusOK:
		if rec.Body.String() != embedded(t, "index.html") || rec.Header().Get("Content-Type") != "text/html; charset=utf-8" {
			t.Errorf("GET /monitoring/ through Handler: not the dashboard (%q)", rec.Header().Get("Content-Type"))
		}
	case http.StatusNotFound:
		t.Log("Handler does not mount the dashboard at /monitoring/ yet")
	default:
		t.Errorf("GET /monitoring/ through Handler: %d", rec.Code)
	}
}

// windowDelta is dashboard.js's windowDelta, which
// TestDashboardWindowFigures checks the script still has: the exact change
// over the window w of the cumulative series sel, summed by the labels by.
func windowDelta(sel, by, w string) string {
	agg := "sum"
	if by != "" {
		agg = "sum by (" + by + ")"
	}
	end := agg + " (" + sel + ")"
	return "(" + end + " - (" + agg + " (" + sel + " offset " + w + ") or " + end + " * 0))"
}

// dashboardCode is dashboard.js without its comments: the code that builds
// the queries.
func dashboardCode(t *testing.T) string {
	t.Helper()
	js := regexp.MustCompile(`(?m)^\s*//.*$`).ReplaceAllString(embedded(t, "dashboard.js"), "")
	return regexp.MustCompile(`(?m)\s// .*$`).ReplaceAllString(js, "")
}

// TestDashboardWindowFigures checks how the page counts and measures its
// window: counts are exact differences of the cumulative counters
// (windowDelta), never increase(), which extrapolates ("3.2 requests");
// latency percentiles read the native histograms, within 4.4 %, never the
// classic buckets, whose first is 0 to 5 ms (only the scheduler's latency
// has no native form). Then it runs windowDelta's expressions, as the page
// composes them, through api/query and checks their answers.
func TestDashboardWindowFigures(t *testing.T) {
	code := dashboardCode(t)
	if !strings.Contains(code, `return "(" + end + " - (" + agg + " (" + sel + " offset " + w + ") or " + end + " * 0))";`) {
		t.Error("dashboard.js's windowDelta is not this test's windowDelta any more: update one or the other")
	}
	if strings.Contains(code, "increase(") {
		t.Error("dashboard.js counts with increase(): window counts are windowDelta's exact differences")
	}
	for _, m := range regexp.MustCompile(`\w+_bucket\b`).FindAllString(code, -1) {
		if m != "go_schedule_duration_seconds_bucket" {
			t.Errorf("dashboard.js reads %s: percentiles read the native histogram (no suffix), within 4.4 %%", m)
		}
	}
	for _, want := range []string{
		`"histogram_quantile(0.95, sum(rate(" + N + "[" + r + "])))"`,                                    // traffic p95 chart
		`"histogram_quantile(0.95, sum by (http_route) (rate(" + N + "{" + sel + "}[" + r + "])))"`,      // p95 by route chart
		`"histogram_quantile(0.95, sum(rate(db_client_operation_duration_seconds[" + r + "])))"`,         // database p95 chart
		`"histogram_quantile(" + q + ", " + win(N, "") + ")"`,                                            // KPI percentiles
		`"histogram_quantile(0.95, " + win(N + "{" + sel + "}", "http_route") + ")"`,                     // route table p95
		`"histogram_quantile(0.99, sum by (le) (rate(go_schedule_duration_seconds_bucket[" + r + "])))"`, // scheduler: classic only
	} {
		if !strings.Contains(code, want) {
			t.Errorf("dashboard.js lacks %s", want)
		}
	}
	// The page says which figures are counts and which are estimates.
	for _, want := range []string{"exact count", "within 4.4 %", "req/s", "per minute"} {
		if !strings.Contains(code+embedded(t, "index.html"), want) {
			t.Errorf("the page never says %q", want)
		}
	}

	// Three collections 30 s apart, then one more: at the last, the 60 s
	// window starts at the second. Before it, /a had 5 requests, 50 of
	// its latencies at 2 s; in it, /a has 4 more and /b is born with 5,
	// and 100 requests take 400 µs.
	v, clk, srv := startWithClock(t)
	ctx := t.Context()
	m := v.Meter("test")
	reqs, _ := m.Int64Counter("requests")
	lat, _ := m.Float64Histogram("latency", metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.1, 1, 5))
	route := func(r string) metric.MeasurementOption { return metric.WithAttributes(attribute.String("route", r)) }
	collect := func() {
		if err := v.Memory().Collect(ctx); err != nil {
			t.Fatal(err)
		}
	}
	reqs.Add(ctx, 3, route("/a"))
	for range 50 {
		lat.Record(ctx, 2, route("/a"))
	}
	collect()
	clk.advance(30 * time.Second)
	reqs.Add(ctx, 2, route("/a"))
	collect()
	clk.advance(30 * time.Second)
	reqs.Add(ctx, 4, route("/a"))
	reqs.Add(ctx, 5, route("/b"))
	for range 100 {
		lat.Record(ctx, 400e-6, route("/b"))
	}
	collect()
	clk.advance(30 * time.Second)
	collect()

	query := func(expr string) map[string]string {
		t.Helper()
		code, r := call(t, http.MethodGet, srv.URL+"/monitoring/api/query", url.Values{"query": {expr}})
		if code != http.StatusOK || r.Status != "success" {
			t.Fatalf("%s: %d %s", expr, code, r.Error)
		}
		out := map[string]string{}
		for _, s := range r.Data.Result {
			out[s.Metric["route"]+s.Metric["part"]], _ = s.Value[1].(string)
		}
		return out
	}
	const w = "60s"
	if got := query(windowDelta("requests_total", "", w)); got[""] != "9" {
		t.Errorf("requests of the window: %v, want 9", got)
	}
	// Ranked as the top routes are, and /b, born in the window, counted
	// from zero.
	if got := query("topk(5, " + windowDelta("requests_total", "route", w) + " > 0)"); got["/a"] != "4" || got["/b"] != "5" || len(got) != 2 {
		t.Errorf("requests of the window by route: %v, want /a 4, /b 5", got)
	}
	// In arithmetic, and joined as union joins the page's queries.
	share := "100 * " + windowDelta(`requests_total{route="/b"}`, "", w) + " / " + windowDelta("requests_total", "", w)
	p95 := "histogram_quantile(0.95, " + windowDelta("latency_seconds", "", w) + ")"
	got := query(`label_replace(` + share + `, "part", "share", "", "") or label_replace(` + p95 + `, "part", "p95", "", "")`)
	if f, _ := strconv.ParseFloat(got["share"], 64); math.Abs(f-500.0/9) > 1e-9 {
		t.Errorf("share of /b in the window: %v, want %v", got["share"], 500.0/9)
	}
	// The window's p95 is that of its 400 µs requests alone, within 4.4 %,
	// where the classic buckets would say 4.75 ms and the cumulative
	// histogram 2 s.
	if f, _ := strconv.ParseFloat(got["p95"], 64); math.Abs(f-400e-6)/400e-6 > 0.044 {
		t.Errorf("p95 of the window: %v s, want 400 µs within 4.4 %%", got["p95"])
	}
	if got := query("histogram_quantile(0.95, " + windowDelta("latency_seconds", "route", w) + ")"); got["/b"] == "" {
		t.Errorf("p95 of the window by route: %v, want /b", got)
	} else if f, _ := strconv.ParseFloat(got["/b"], 64); math.Abs(f-400e-6)/400e-6 > 0.044 {
		t.Errorf("p95 of /b in the window: %v s, want 400 µs within 4.4 %%", got["/b"])
	}
}

// jsonFields returns the JSON names of the fields of the struct v.
func jsonFields(v any) map[string]bool {
	out := map[string]bool{}
	rt := reflect.TypeOf(v)
	for i := range rt.NumField() {
		if name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			out[name] = true
		}
	}
	return out
}

// TestDashboardShowsAlertHistory checks that the page has the alert history
// section, accessible as the others are (a heading that labels it, and the
// containers the script fills), that the script fetches
// api/alerts/history, and that the fields it reads are those the API writes
// (alerting.AlertHistory, HistoryEntry and FiredCount): a field read under
// another name would show a dash or nothing.
func TestDashboardShowsAlertHistory(t *testing.T) {
	html := embedded(t, "index.html")
	sec := regexp.MustCompile(`(?s)<section id="alert-history"[^>]*>.*?</section>`).FindString(html)
	if sec == "" {
		t.Fatal("index.html has no section alert-history")
	}
	for _, want := range []string{
		`aria-labelledby="h-alert-history"`,
		`<h2 id="h-alert-history">Alert history`,
		`<div id="history-resolved" class="table-wrap" aria-labelledby="h-history-resolved">`,
		`<h3 id="h-history-resolved">`,
		`<div id="history-fired" class="table-wrap" aria-labelledby="h-history-fired">`,
		`<h3 id="h-history-fired">`,
	} {
		if !strings.Contains(sec, want) {
			t.Errorf("the alert history section lacks %s:\n%s", want, sec)
		}
	}
	// Next to the alerts: right after their section.
	if a, hs := strings.Index(html, `<section id="alerts"`), strings.Index(html, `<section id="alert-history"`); a < 0 || hs < a ||
		strings.Contains(html[a+1:hs], "<section") {
		t.Error("the alert history section does not follow the alerts section")
	}

	code := dashboardCode(t)
	if !strings.Contains(code, `api("api/alerts/history")`) {
		t.Error(`dashboard.js does not fetch api("api/alerts/history")`)
	}
	for _, id := range []string{"alert-history", "history-resolved", "history-fired"} {
		if !strings.Contains(code, `$("`+id+`")`) {
			t.Errorf("dashboard.js does not fill #%s", id)
		}
	}
	// The fields the page reads, each a JSON name of the API's types.
	api := map[string]map[string]bool{
		"AlertHistory": jsonFields(alerting.AlertHistory{}),
		"HistoryEntry": jsonFields(alerting.HistoryEntry{}),
		"FiredCount":   jsonFields(alerting.FiredCount{}),
	}
	for typ, fields := range map[string][]string{
		"AlertHistory": {"resolved", "fired"},
		"HistoryEntry": {"labels", "group", "rule", "startsAt", "endsAt", "resolvedReason"},
		"FiredCount":   {"labels", "group", "rule", "count", "since", "lastStartsAt", "firing"},
	} {
		for _, f := range fields {
			if !api[typ][f] {
				t.Errorf("alerting.%s has no JSON field %q, which dashboard.js reads", typ, f)
			}
			if !regexp.MustCompile(`\.` + f + `\b`).MatchString(code) {
				t.Errorf("dashboard.js does not read %s.%s", typ, f)
			}
		}
	}

	// The endpoint answers what the page reads: both lists, empty rather
	// than null on a service whose alerts never fired.
	v := newEnv(t)
	rec := httptest.NewRecorder()
	v.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/monitoring/api/alerts/history", nil))
	var got map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &got); rec.Code != http.StatusOK || err != nil {
		t.Fatalf("GET /monitoring/api/alerts/history: %d %v: %s", rec.Code, err, rec.Body)
	}
	for _, k := range []string{"resolved", "fired"} {
		if string(got[k]) != "[]" {
			t.Errorf("GET /monitoring/api/alerts/history: %s is %s, want []", k, got[k])
		}
	}
}
