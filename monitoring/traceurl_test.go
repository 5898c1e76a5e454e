package monitoring_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vitalsgo/vitals/healthcheck"
	"github.com/vitalsgo/vitals/monitoring"
)

// TestTraceURL: a trace URL template is checked when the handler is made
// and served to the dashboard on /monitoring/api/system.
func TestTraceURL(t *testing.T) {
	health, err := healthcheck.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = health.Shutdown(t.Context()) })
	for _, bad := range []string{
		"https://tempo.example.com/trace/",            // no placeholder
		"javascript:alert(1)//{trace_id}",             // not http(s)
		"/trace/{trace_id}",                           // not absolute
		"https:///trace/{trace_id}",                   // no host
		"http://tempo.example.com/%zz/{trace_id}",     // not a URL
		"ftp://tempo.example.com/trace/{trace_id}",    // not http(s)
		"data:text/html,{trace_id}<script>x</script>", // not http(s)
	} {
		_, err := monitoring.New(monitoring.Config{Health: health, TraceURL: bad})
		if err == nil || !strings.Contains(err.Error(), "TraceURL") {
			t.Errorf("TraceURL %q: error %v, want one naming TraceURL", bad, err)
		}
	}
	const tmpl = "https://grafana.example.com/explore?traceId={trace_id}&orgId=1"
	h, err := monitoring.New(monitoring.Config{Health: health, TraceURL: tmpl})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/monitoring/api/system", nil))
	var sys struct {
		TraceURL string `json:"traceURL"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &sys); err != nil || sys.TraceURL != tmpl {
		t.Errorf("system: traceURL %q (%v), want %q", sys.TraceURL, err, tmpl)
	}
	h, err = monitoring.New(monitoring.Config{Health: health})
	if err != nil {
		t.Fatal(err)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/monitoring/api/system", nil))
	if strings.Contains(rec.Body.String(), "traceURL") {
		t.Errorf("system without a trace URL: %s", rec.Body.String())
	}
}
