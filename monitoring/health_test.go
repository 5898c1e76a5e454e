package monitoring

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vitalsgo/vitals/healthcheck"
)

func request(t *testing.T, h http.Handler, method, path, token string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func TestHealthEndpoints(t *testing.T) {
	v := newEnv(t, withService(healthcheck.ServiceInfo{ReleaseID: "1.4.0", Description: "shop"}), withAuthorizer(BearerToken("s3cret")))
	var runs atomic.Int64
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(v.Health().Register("db", healthcheck.CheckFunc(func(context.Context) error {
		runs.Add(1)
		return errors.New("dial tcp 10.0.0.5:5432: refused")
	})))
	must(v.Health().Register("loop", healthcheck.CheckFunc(func(context.Context) error { return nil }), healthcheck.WithKinds(healthcheck.Liveness)))
	h := v.Handler()

	if code, _ := request(t, h, "GET", "/livez", ""); code != http.StatusOK {
		t.Errorf("/livez: %d", code)
	}
	if code, body := request(t, h, "GET", "/readyz", ""); code != http.StatusServiceUnavailable || strings.Contains(body, "10.0.0.5") {
		t.Errorf("/readyz: %d %s", code, body)
	}
	if code, body := request(t, h, "GET", "/healthz", "s3cret"); code != http.StatusServiceUnavailable || !strings.Contains(body, "10.0.0.5") ||
		!strings.Contains(body, `"releaseId":"1.4.0"`) || !strings.Contains(body, `"description":"shop"`) {
		t.Errorf("/healthz authorized: %d %s", code, body)
	}

	code, body := request(t, h, "GET", "/monitoring/api/health", "")
	if code != http.StatusOK || strings.Contains(body, "10.0.0.5") || strings.Contains(body, "runs") {
		t.Errorf("health details unauthorized: %d %s", code, body)
	}
	code, body = request(t, h, "GET", "/monitoring/api/health", "s3cret")
	var rep struct {
		Status       healthcheck.Status
		Checks       []map[string]any
		SlowestCheck string
	}
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatal(err)
	}
	if code != http.StatusOK || rep.Status != healthcheck.StatusFail || len(rep.Checks) != 2 || rep.SlowestCheck == "" {
		t.Errorf("health details authorized: %d %+v", code, rep)
	}
	// An authorized entry is the check's healthcheck.CheckResult, field
	// for field.
	results := map[string]healthcheck.CheckResult{}
	for _, r := range v.Health().Results() {
		results[r.Name] = r
	}
	for _, c := range rep.Checks {
		if c["name"] == "db" && (c["runs"] == 0.0 || c["timeoutSeconds"] != 5.0 || !strings.Contains(c["output"].(string), "refused") ||
			c["kinds"] != "readiness" || c["lastRun"] == nil) {
			t.Errorf("db details %v", c)
		}
		b, err := json.Marshal(results[c["name"].(string)])
		if err != nil {
			t.Fatal(err)
		}
		var want map[string]any
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		for k := range want {
			if _, ok := c[k]; !ok {
				t.Errorf("%v: the report lacks CheckResult's %q", c["name"], k)
			}
		}
		for k := range c {
			if _, ok := want[k]; !ok {
				t.Errorf("%v: the report has %q, which CheckResult has not", c["name"], k)
			}
		}
	}

	before := runs.Load()
	if code, _ := request(t, h, "POST", "/monitoring/api/health/check", ""); code != http.StatusUnauthorized {
		t.Errorf("run all without credentials: %d", code)
	}
	if code, _ := request(t, h, "POST", "/monitoring/api/health/check", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("run all with a wrong token: %d", code)
	}
	if runs.Load() != before {
		t.Error("an unauthorized request ran the checks")
	}
	if code, body := request(t, h, "POST", "/monitoring/api/health/check", "s3cret"); code != http.StatusOK || !strings.Contains(body, `"status":"fail"`) || runs.Load() != before+1 {
		t.Errorf("run all authorized: %d %s (runs %d → %d)", code, body, before, runs.Load())
	}
}

func TestMutatingEndpointsNeedAnAuthorizer(t *testing.T) {
	v := newEnv(t)
	if code, body := request(t, v.Handler(), "POST", "/monitoring/api/health/check", "anything"); code != http.StatusForbidden || !strings.Contains(body, "WithAuthorizer") {
		t.Errorf("without an authorizer: %d %s", code, body)
	}
}

func TestBearerToken(t *testing.T) {
	auth := BearerToken("abc")
	// The scheme is case-insensitive (RFC 9110, section 11.1); nothing else is loose.
	for hdr, want := range map[string]bool{
		"Bearer abc": true, "bearer abc": true, "BEARER abc": true, "bEaReR abc": true, "Bearer   abc": true,
		"Bearer abcd": false, "Bearer ab": false, "Bearer abc ": false, "Bearerabc": false, "Bearer\tabc": false,
		"Basic abc": false, "Bearer": false, "Bearer ": false, "Token abc": false, "abc": false, "": false,
	} {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Authorization", hdr)
		if got := auth(req); got != want {
			t.Errorf("%q: %v, want %v", hdr, got, want)
		}
	}
	empty := BearerToken("")
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer ")
	if empty(req) {
		t.Error("an empty token accepted a request")
	}
}
