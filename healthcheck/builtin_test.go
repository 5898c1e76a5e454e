package healthcheck_test

import (
	"database/sql"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/vitalsgo/vitals/healthcheck"
)

func run(t *testing.T, c healthcheck.Checker, opts ...healthcheck.CheckOption) healthcheck.CheckResult {
	t.Helper()
	r := newRegistry(t)
	must(t, r.Register("c", c, opts...))
	return r.Check(t.Context(), healthcheck.Readiness).Checks[0]
}

func TestSQLPing(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "shop.db"))
	must(t, err)
	if _, err := db.Exec(`CREATE TABLE t (id INTEGER)`); err != nil {
		t.Fatal(err)
	}
	if res := run(t, healthcheck.SQLPing(db)); res.Status != healthcheck.StatusPass {
		t.Errorf("open database: %v %q", res.Status, res.Output)
	}
	db.Close()
	if res := run(t, healthcheck.SQLPing(db)); res.Status != healthcheck.StatusFail || !strings.Contains(res.Output, "closed") {
		t.Errorf("closed database: %v %q", res.Status, res.Output)
	}
}

func TestHTTPGet(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
		case "/moved":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		case "/hang":
			select {
			case <-hang:
			case <-r.Context().Done():
			}
		default:
			http.Error(w, "no", http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	defer close(hang)
	if res := run(t, healthcheck.HTTPGet(srv.Client(), srv.URL+"/ok")); res.Status != healthcheck.StatusPass || res.ObservedUnit != "s" {
		t.Errorf("200: %+v", res)
	}
	if res := run(t, healthcheck.HTTPGet(srv.Client(), srv.URL+"/moved")); res.Status != healthcheck.StatusPass {
		t.Errorf("302: %+v", res)
	}
	if res := run(t, healthcheck.HTTPGet(srv.Client(), srv.URL+"/broken")); res.Status != healthcheck.StatusFail || !strings.Contains(res.Output, "500") {
		t.Errorf("500: %+v", res)
	}
	if res := run(t, healthcheck.HTTPGet(srv.Client(), srv.URL+"/hang"), healthcheck.WithTimeout(20*time.Millisecond)); res.Output != "timeout after 20ms" {
		t.Errorf("hanging dependency: %+v", res)
	}
}

func TestTCPDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	open := ln.Addr().String()
	if res := run(t, healthcheck.TCPDial(open)); res.Status != healthcheck.StatusPass {
		t.Errorf("listening port: %+v", res)
	}
	ln.Close()
	if res := run(t, healthcheck.TCPDial(open)); res.Status != healthcheck.StatusFail || !strings.Contains(res.Output, "refused") {
		t.Errorf("closed port: %+v", res)
	}
}

func TestRuntimeChecks(t *testing.T) {
	if res := run(t, healthcheck.Memory(0.8, 0.95, 1<<50)); res.Status != healthcheck.StatusPass || res.ObservedValue.(uint64) == 0 {
		t.Errorf("heap far below the limit: %+v", res)
	}
	if res := run(t, healthcheck.Memory(0.8, 0.95, 1024)); res.Status != healthcheck.StatusFail || !strings.Contains(res.Output, "limit") {
		t.Errorf("heap above a 1 KiB limit: %+v", res)
	}
	if res := run(t, healthcheck.Goroutines(100000, 200000)); res.Status != healthcheck.StatusPass {
		t.Errorf("goroutines: %+v", res)
	}
	if res := run(t, healthcheck.Goroutines(0, 100000)); res.Status != healthcheck.StatusWarn {
		t.Errorf("goroutines above the warning: %+v", res)
	}
	if res := run(t, healthcheck.SchedulerLatency(time.Hour, 2*time.Hour)); res.Status != healthcheck.StatusPass || res.ObservedUnit != "s" {
		t.Errorf("scheduler latency: %+v", res)
	}
	if res := run(t, healthcheck.SchedulerLatency(-1, -1)); res.Status != healthcheck.StatusFail {
		t.Errorf("scheduler latency above a negative threshold: %+v", res)
	}
}
