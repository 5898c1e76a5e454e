package healthcheck_test

import (
	"context"
	"database/sql"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	_ "modernc.org/sqlite"

	"github.com/vitalsgo/vitals/exporter/memory"
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
	if res := run(t, healthcheck.HTTPGet(srv.Client(), srv.URL+"/hang"), healthcheck.Timeout(20*time.Millisecond)); res.Output != "timeout after 20ms" {
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
	if res := run(t, healthcheck.Heap(0.8, 0.95, 1<<50)); res.Status != healthcheck.StatusPass || res.ObservedValue.(uint64) == 0 {
		t.Errorf("heap far below the limit: %+v", res)
	}
	if res := run(t, healthcheck.Heap(0.8, 0.95, 1024)); res.Status != healthcheck.StatusFail || !strings.Contains(res.Output, "limit") {
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

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

func TestMetricThreshold(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	mem := memory.New(memory.WithClock(fixedClock(now)))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(mem.SDKReader()))
	defer mp.Shutdown(context.Background())
	g, _ := mp.Meter("t").Float64Gauge("error.ratio")
	g.Record(t.Context(), 0.03, metric.WithAttributes())
	must(t, mem.Collect(t.Context()))

	tests := []struct {
		expr       string
		warn, fail float64
		want       healthcheck.Status
	}{
		{`error_ratio`, 0.05, 0.1, healthcheck.StatusPass},
		{`error_ratio`, 0.01, 0.1, healthcheck.StatusWarn},
		{`error_ratio`, 0.01, 0.02, healthcheck.StatusFail},
		{`scalar(error_ratio) * 10`, 0.01, 0.2, healthcheck.StatusFail},
		{`no_such_series`, 0, 0, healthcheck.StatusPass},
		{`rate(error_ratio[5m]`, 0, 0, healthcheck.StatusFail},
	}
	for _, tt := range tests {
		res := run(t, healthcheck.MetricThreshold(mem, tt.expr, tt.warn, tt.fail))
		if res.Status != tt.want {
			t.Errorf("%s (warn %v, fail %v): %v %q, want %v", tt.expr, tt.warn, tt.fail, res.Status, res.Output, tt.want)
		}
	}
}
