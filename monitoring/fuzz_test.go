package monitoring

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/vitalsgo/vitals/exporter/memory"
)

// FuzzMonitoringAPI sends arbitrary parameters to the reading endpoints:
// every answer is a JSON success or a JSON error with the right status,
// never a panic or a 500.
func FuzzMonitoringAPI(f *testing.F) {
	for _, s := range []string{"up", "rate(x[5m]", "{__name__=~\".+\"}", "", "1e309", "-1", "15m", "abc", "2026-01-01T00:00:00Z", "sum(x) by (", "\x00"} {
		f.Add(s, s, s)
	}
	// Found by fuzzing: a subquery whose per-step bookkeeping in the engine
	// would take terabytes (the runtime aborts the process on it).
	f.Add("count_over_time(vector(1)[100y:1ms])", "", "")
	v := newEnv(f, withMemory(memory.WithInterval(time.Hour), memory.WithQueryLimits(time.Second, 100000)))
	f.Fuzz(func(t *testing.T, a, b, c string) {
		paths := []string{
			"/monitoring/api/query?" + url.Values{"query": {a}, "time": {b}, "timeout": {c}}.Encode(),
			"/monitoring/api/query_range?" + url.Values{"query": {a}, "start": {b}, "end": {c}, "step": {b}}.Encode(),
			"/monitoring/api/metrics?" + url.Values{"match": {a}}.Encode(),
			"/monitoring/api/performance?" + url.Values{"window": {a}}.Encode(),
		}
		for _, p := range paths {
			rec := httptest.NewRecorder()
			v.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
			switch rec.Code {
			case http.StatusOK, http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusServiceUnavailable:
			default:
				t.Fatalf("%s: %d %s", p, rec.Code, rec.Body.String())
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Fatalf("%s: content type %q", p, ct)
			}
		}
	})
}
