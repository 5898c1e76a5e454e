package vitals_test

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"modernc.org/sqlite"

	"github.com/vitalsgo/vitals"
	"github.com/vitalsgo/vitals/bizmetrics"
)

// logSink is an sdklog.Exporter that keeps what it is given: the edge of
// a real LoggerProvider, where a collector would be.
type logSink struct {
	mu      sync.Mutex
	records []sdklog.Record
}

func (s *logSink) Export(_ context.Context, rs []sdklog.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range rs {
		s.records = append(s.records, r.Clone())
	}
	return nil
}
func (*logSink) Shutdown(context.Context) error   { return nil }
func (*logSink) ForceFlush(context.Context) error { return nil }

// find returns the records whose body is body.
func (s *logSink) find(body string) []sdklog.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []sdklog.Record
	for _, r := range s.records {
		if r.Body().AsString() == body {
			out = append(out, r)
		}
	}
	return out
}

// attr returns the string form of a record's attribute key.
func attr(r sdklog.Record, key string) string {
	v := ""
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		if string(kv.Key) == key {
			v = kv.Value.Emit()
			return false
		}
		return true
	})
	return v
}

// TestLogsCarryTheTrace: with a logger provider, Vitals' record of a
// server error and a panic, and the service's own records through
// v.LogHandler, reach the OTel logs bridge with the request's trace; the
// service's own handler gets request_id, trace_id and span_id too.
func TestLogsCarryTheTrace(t *testing.T) {
	vitals.CleanEnv(t)
	sink := &logSink{}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(sink)))
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	var own bytes.Buffer
	v, err := vitals.Start(t.Context(), vitals.WithLoggerProvider(lp), vitals.WithTracerProvider(tp),
		vitals.WithLogger(slog.New(slog.NewTextHandler(&own, nil))), vitals.WithoutRuntime())
	if err != nil {
		t.Fatal(err)
	}
	defer v.Shutdown(context.Background())
	var svcOut bytes.Buffer
	logger := slog.New(v.LogHandler(slog.NewTextHandler(&svcOut, nil)))

	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		logger.InfoContext(r.Context(), "looking up order")
		http.Error(w, "database down", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("GET /boom", func(http.ResponseWriter, *http.Request) { panic("boom") })
	srv := httptest.NewServer(v.Middleware(mux))
	defer srv.Close()
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	for _, path := range []string{"/orders/7?email=ada@example.com", "/boom"} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	for _, tc := range []struct{ body, route string }{
		{"server error", "/orders/{id}"},
		{"panic serving request", "/boom"},
		{"looking up order", ""},
	} {
		rs := sink.find(tc.body)
		if len(rs) != 1 {
			t.Errorf("%q: %d records through the logs bridge, want 1", tc.body, len(rs))
			continue
		}
		r := rs[0]
		if r.TraceID().String() != traceID || !r.SpanID().IsValid() {
			t.Errorf("%q: trace %s span %s, want the request's trace %s", tc.body, r.TraceID(), r.SpanID(), traceID)
		}
		if tc.route != "" && attr(r, "route") != tc.route {
			t.Errorf("%q: route %q, want %q", tc.body, attr(r, "route"), tc.route)
		}
	}
	if rs := sink.find("server error"); len(rs) == 1 && (attr(rs[0], "status") != "503" || attr(rs[0], "request_id") == "") {
		t.Errorf("server error record: status %q request_id %q", attr(rs[0], "status"), attr(rs[0], "request_id"))
	}
	// Nothing the client sent (the query) is in any record.
	for _, out := range []string{own.String(), svcOut.String()} {
		if strings.Contains(out, "ada@example.com") {
			t.Errorf("a log holds the query string:\n%s", out)
		}
	}
	if !strings.Contains(svcOut.String(), "trace_id="+traceID) || !strings.Contains(svcOut.String(), "request_id=") {
		t.Errorf("the service's own handler did not get the request's IDs:\n%s", svcOut.String())
	}
	if !strings.Contains(own.String(), `msg="server error"`) {
		t.Errorf("Vitals' logger did not get the server error:\n%s", own.String())
	}
}

// TestDatabaseSpansThroughStart: with tracing on, Start gives the business
// metrics its tracer provider, so a query through the database/sql wrapper
// made in a request is a client span of the request's server span.
func TestDatabaseSpansThroughStart(t *testing.T) {
	vitals.CleanEnv(t)
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	v, err := vitals.Start(t.Context(), vitals.WithTracerProvider(tp), vitals.WithoutRuntime())
	if err != nil {
		t.Fatal(err)
	}
	defer v.Shutdown(context.Background())
	c, err := sqlite.NewConnector("file:" + filepath.Join(t.TempDir(), "shop.db"))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(bizmetrics.WrapConnector(c, v.BizMetrics(), "sqlite"))
	defer db.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) {
		if _, err := db.ExecContext(r.Context(), "CREATE TABLE IF NOT EXISTS orders (id INTEGER)"); err != nil {
			t.Error(err)
		}
		if _, err := db.ExecContext(r.Context(), "INSERT INTO orders (id) VALUES (?)", 7); err != nil {
			t.Error(err)
		}
	})
	srv := httptest.NewServer(v.Middleware(mux))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/orders", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var server, client sdktrace.ReadOnlySpan
	for _, s := range spans.Ended() {
		switch s.Name() {
		case "POST /orders":
			server = s
		case "INSERT orders":
			client = s
		}
	}
	if server == nil || client == nil {
		var names []string
		for _, s := range spans.Ended() {
			names = append(names, s.Name())
		}
		t.Fatalf("spans %v, want POST /orders and INSERT orders", names)
	}
	if client.Parent().SpanID() != server.SpanContext().SpanID() || client.SpanKind() != trace.SpanKindClient {
		t.Errorf("the database span's parent is %v, want the server span %v", client.Parent().SpanID(), server.SpanContext().SpanID())
	}
}
