package main

import (
	"compress/gzip"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// sink is the OTLP/HTTP backend the collector's otlp_http exporter sends
// to: it decodes every export request (protobuf, gzip or not) and keeps
// the spans, the log records and the exemplars of
// http.server.request.duration it carried.
type sink struct {
	url string

	mu        sync.Mutex
	spans     []span
	logs      []logRecord
	exemplars []exemplar
	posts     map[string]int // export requests received, by path
	errs      []string       // requests it could not decode
}

// span is what the checks need of a span that arrived.
type span struct {
	traceID pcommon.TraceID
	id      pcommon.SpanID
	parent  pcommon.SpanID
	name    string
	kind    ptrace.SpanKind
	attrs   map[string]any
}

// logRecord is what the checks need of a log record that arrived.
type logRecord struct {
	traceID pcommon.TraceID
	spanID  pcommon.SpanID
	body    string
	attrs   map[string]any
}

// exemplar is an exemplar of an http.server.request.duration histogram
// bucket, with the series it is on (from /metrics or from OTLP).
type exemplar struct {
	traceID, spanID string // lowercase hex, as in trace context
	method, route   string
	status          int64
}

func (e exemplar) String() string {
	return fmt.Sprintf("%s %s %d: trace %s span %s", e.method, e.route, e.status, e.traceID, e.spanID)
}

// startSink runs a sink on a free port of 127.0.0.1 until the test ends.
func startSink(t *testing.T) *sink {
	t.Helper()
	s := &sink{posts: map[string]int{}}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

// ServeHTTP takes an export request of OTLP/HTTP's binary encoding and
// answers it as a backend that accepted everything.
func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err == nil {
		err = s.take(r.URL.Path, body)
	}
	s.mu.Lock()
	s.posts[r.URL.Path]++
	if err != nil {
		s.errs = append(s.errs, fmt.Sprintf("POST %s: %v", r.URL.Path, err))
	}
	s.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var resp interface{ MarshalProto() ([]byte, error) }
	switch r.URL.Path {
	case "/v1/traces":
		resp = ptraceotlp.NewExportResponse()
	case "/v1/logs":
		resp = plogotlp.NewExportResponse()
	default:
		resp = pmetricotlp.NewExportResponse()
	}
	b, _ := resp.MarshalProto()
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(b)
}

// readBody returns the request's body, gunzipped if need be.
func readBody(r *http.Request) ([]byte, error) {
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-protobuf" {
		return nil, fmt.Errorf("%s with Content-Type %q, want POST of application/x-protobuf", r.Method, r.Header.Get("Content-Type"))
	}
	var body io.Reader = r.Body
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "":
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, err
		}
		body = zr
	default:
		return nil, fmt.Errorf("Content-Encoding %q", enc)
	}
	return io.ReadAll(body)
}

// take decodes the export request body that came to path and keeps what
// the checks need.
func (s *sink) take(path string, body []byte) error {
	switch path {
	case "/v1/traces":
		req := ptraceotlp.NewExportRequest()
		if err := req.UnmarshalProto(body); err != nil {
			return err
		}
		s.addSpans(req.Traces())
	case "/v1/logs":
		req := plogotlp.NewExportRequest()
		if err := req.UnmarshalProto(body); err != nil {
			return err
		}
		rls := req.Logs().ResourceLogs()
		for i := range rls.Len() {
			sls := rls.At(i).ScopeLogs()
			for j := range sls.Len() {
				lrs := sls.At(j).LogRecords()
				for k := range lrs.Len() {
					lr := lrs.At(k)
					s.mu.Lock()
					s.logs = append(s.logs, logRecord{traceID: lr.TraceID(), spanID: lr.SpanID(),
						body: lr.Body().AsString(), attrs: lr.Attributes().AsRaw()})
					s.mu.Unlock()
				}
			}
		}
	case "/v1/metrics":
		req := pmetricotlp.NewExportRequest()
		if err := req.UnmarshalProto(body); err != nil {
			return err
		}
		s.addExemplars(req.Metrics())
	default:
		return fmt.Errorf("unknown path")
	}
	return nil
}

func (s *sink) addSpans(td ptrace.Traces) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rss := td.ResourceSpans()
	for i := range rss.Len() {
		sss := rss.At(i).ScopeSpans()
		for j := range sss.Len() {
			spans := sss.At(j).Spans()
			for k := range spans.Len() {
				sp := spans.At(k)
				s.spans = append(s.spans, span{traceID: sp.TraceID(), id: sp.SpanID(), parent: sp.ParentSpanID(),
					name: sp.Name(), kind: sp.Kind(), attrs: sp.Attributes().AsRaw()})
			}
		}
	}
}

// addExemplars keeps the exemplars of the http.server.request.duration
// histograms in md.
func (s *sink) addExemplars(md pmetric.Metrics) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rms := md.ResourceMetrics()
	for i := range rms.Len() {
		sms := rms.At(i).ScopeMetrics()
		for j := range sms.Len() {
			ms := sms.At(j).Metrics()
			for k := range ms.Len() {
				m := ms.At(k)
				if m.Name() != "http.server.request.duration" || m.Type() != pmetric.MetricTypeHistogram {
					continue
				}
				dps := m.Histogram().DataPoints()
				for l := range dps.Len() {
					dp := dps.At(l)
					attr := func(k string) pcommon.Value {
						if v, ok := dp.Attributes().Get(k); ok {
							return v
						}
						return pcommon.NewValueEmpty()
					}
					exs := dp.Exemplars()
					for n := range exs.Len() {
						s.exemplars = append(s.exemplars, exemplar{
							traceID: exs.At(n).TraceID().String(), spanID: exs.At(n).SpanID().String(),
							method: attr("http.request.method").Str(), route: attr("http.route").Str(),
							status: attr("http.response.status_code").Int(),
						})
					}
				}
			}
		}
	}
}

// snapshot returns copies of what has arrived so far.
func (s *sink) snapshot() ([]span, []logRecord, []exemplar) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.spans), slices.Clone(s.logs), slices.Clone(s.exemplars)
}

// summary says what has arrived, for failure messages: export requests by
// path, spans by name, log records by body, exemplars and decoding errors.
func (s *sink) summary() string {
	spans, logs, exemplars := s.snapshot()
	s.mu.Lock()
	posts, errs := maps.Clone(s.posts), slices.Clone(s.errs)
	s.mu.Unlock()
	byName, byBody := map[string]int{}, map[string]int{}
	for _, sp := range spans {
		byName[sp.name]++
	}
	for _, lr := range logs {
		byBody[lr.body]++
	}
	return fmt.Sprintf("the sink got export requests %s; %d spans: %s; %d log records: %s; %d exemplars of http.server.request.duration; decoding errors: %q",
		counts(posts), len(spans), counts(byName), len(logs), counts(byBody), len(exemplars), errs)
}

// counts formats m as "key×n" in key order.
func counts(m map[string]int) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, fmt.Sprintf("%q×%d", k, m[k]))
	}
	return "[" + strings.Join(out, ", ") + "]"
}
