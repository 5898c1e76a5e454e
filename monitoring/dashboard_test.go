package monitoring

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

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
		"api/health":      {"GET", "/monitoring/api/health", 200},
		"api/alerts":      {"GET", "/monitoring/api/alerts", 200},
		"api/silences":    {"GET", "/monitoring/api/silences", 200},
		"api/system":      {"GET", "/monitoring/api/system", 200},
		"api/performance": {"GET", "/monitoring/api/performance?window=5m", 200},
		"api/query":       {"GET", "/monitoring/api/query?query=vector(1)", 200},
		"api/query_range": {"GET", "/monitoring/api/query_range?query=vector(1)&start=0&end=60&step=15", 200},
		"api/alerts/":     {"POST", "/monitoring/api/alerts/abc/resolve", 401},
		"api/silences/":   {"DELETE", "/monitoring/api/silences/abc", 401},
	}
	used := map[string]bool{}
	for _, m := range regexp.MustCompile(`"(api/[a-z_/]*)`).FindAllStringSubmatch(embedded(t, "dashboard.js"), -1) {
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
