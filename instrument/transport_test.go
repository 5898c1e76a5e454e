package instrument_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/vitalsgo/vitals/clock/clocktest"
	"github.com/vitalsgo/vitals/instrument"
)

// clProvider returns an SDK meter provider read by hand.
func clProvider(t testing.TB) (*sdkmetric.MeterProvider, *sdkmetric.ManualReader) {
	t.Helper()
	r := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return mp, r
}

// clTracer returns an SDK tracer provider whose spans land in the recorder.
func clTracer(t testing.TB) (*sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	t.Helper()
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, sr
}

// clMetric collects r and returns the metric of this package named name,
// or nil.
func clMetric(t testing.TB, r *sdkmetric.ManualReader, name string) *metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != instrument.ScopeName {
			continue
		}
		for i, m := range sm.Metrics {
			if m.Name == name {
				return &sm.Metrics[i]
			}
		}
	}
	return nil
}

// clAttrs returns a set as a map of emitted values.
func clAttrs(s attribute.Set) map[string]string {
	out := map[string]string{}
	for _, kv := range s.ToSlice() {
		out[string(kv.Key)] = kv.Value.Emit()
	}
	return out
}

// clPoint is a duration histogram point, flattened.
type clPoint struct {
	attrs map[string]string
	count uint64
	sum   float64
}

// clDurations returns the points of http.client.request.duration, checking
// the instrument's unit and buckets.
func clDurations(t testing.TB, r *sdkmetric.ManualReader) []clPoint {
	t.Helper()
	m := clMetric(t, r, instrument.MetricClientRequestDuration)
	if m == nil {
		return nil
	}
	if m.Unit != "s" {
		t.Errorf("unit %q, want s", m.Unit)
	}
	h, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("%s is a %T, want a float64 histogram", m.Name, m.Data)
	}
	var out []clPoint
	for _, dp := range h.DataPoints {
		want := []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}
		if !slices.Equal(dp.Bounds, want) {
			t.Errorf("bounds %v, want the semantic conventions' %v", dp.Bounds, want)
		}
		out = append(out, clPoint{clAttrs(dp.Attributes), dp.Count, dp.Sum})
	}
	return out
}

// clActive returns the values of http.client.active_requests by their
// attributes (as "k=v,k=v").
func clActive(t testing.TB, r *sdkmetric.ManualReader) map[string]int64 {
	t.Helper()
	m := clMetric(t, r, instrument.MetricClientActiveRequests)
	if m == nil {
		return nil
	}
	if m.Unit != "{request}" {
		t.Errorf("unit %q, want {request}", m.Unit)
	}
	s, ok := m.Data.(metricdata.Sum[int64])
	if !ok || s.IsMonotonic {
		t.Fatalf("%s is a %T (monotonic %v), want an int64 up-down counter", m.Name, m.Data, s.IsMonotonic)
	}
	out := map[string]int64{}
	for _, dp := range s.DataPoints {
		out[clKey(clAttrs(dp.Attributes))] += dp.Value
	}
	return out
}

// clKey renders attributes in a stable order.
func clKey(a map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(a)) {
		parts = append(parts, k+"="+a[k])
	}
	return strings.Join(parts, ",")
}

// clServer serves h on 127.0.0.1 and returns it with its port.
func clServer(t testing.TB, h http.HandlerFunc) (*httptest.Server, string) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return srv, u.Port()
}

// clClient returns a client with its own connections through Transport.
func clClient(t testing.TB, opts ...instrument.TransportOption) *http.Client {
	t.Helper()
	base := &http.Transport{}
	t.Cleanup(base.CloseIdleConnections)
	return &http.Client{Transport: instrument.Transport(base, opts...)}
}

// clDo sends a request and reads and closes the response body.
func clDo(t testing.TB, c *http.Client, ctx context.Context, method, target string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	return resp, err
}

// clRelease returns a function that closes release once; it is also
// called at cleanup, registered after the server so that it runs first and
// a failed test does not leave the server's handlers blocked.
func clRelease(t testing.TB, release chan struct{}) func() {
	var once sync.Once
	f := func() { once.Do(func() { close(release) }) }
	t.Cleanup(f)
	return f
}

// clOK answers 200 "ok".
func clOK(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }

// clBase is a RoundTripper that answers without a network: with resp
// (a fresh copy each time, with body if set) or with err.
type clBase struct {
	resp   *http.Response
	body   func() io.ReadCloser
	err    func(*http.Request) error
	got    []*http.Request
	closed int
}

func (b *clBase) RoundTrip(r *http.Request) (*http.Response, error) {
	b.got = append(b.got, r)
	if b.err != nil {
		if err := b.err(r); err != nil {
			return nil, err
		}
	}
	if b.resp == nil {
		return nil, nil
	}
	resp := *b.resp
	resp.Request = r
	if b.body != nil {
		resp.Body = b.body()
	}
	return &resp, nil
}

func (b *clBase) CloseIdleConnections() { b.closed++ }

func clResponse(status int) *http.Response {
	return &http.Response{StatusCode: status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{}, Body: http.NoBody}
}

func TestTransportDurationMetric(t *testing.T) {
	mp, reader := clProvider(t)
	clk := clocktest.New(time.Time{})
	_, port := clServer(t, func(w http.ResponseWriter, r *http.Request) {
		clk.Advance(250 * time.Millisecond) // the server's time, as the client sees it
		code, _ := strconv.Atoi(r.URL.Query().Get("status"))
		w.WriteHeader(code)
		_, _ = io.WriteString(w, "body")
	})
	c := clClient(t, instrument.WithMeterProvider(mp), instrument.WithClock(clk))
	target := "http://127.0.0.1:" + port
	requests := []struct {
		method string
		status int
	}{
		{"GET", 200}, {"POST", 404}, {"PUT", 503}, {"get", 200}, {"FOO", 200}, {"DELETE", 302},
	}
	for _, rq := range requests {
		// Path and query carry what must never become an attribute.
		if _, err := clDo(t, c, context.Background(), rq.method, target+"/users/alice/orders?token=s3cr3t&status="+strconv.Itoa(rq.status)); err != nil {
			t.Fatal(err)
		}
	}
	base := map[string]string{
		"server.address":           "127.0.0.1",
		"server.port":              port,
		"url.scheme":               "http",
		"network.protocol.name":    "http",
		"network.protocol.version": "1.1",
	}
	with := func(kv ...string) string {
		a := maps.Clone(base)
		for i := 0; i+1 < len(kv); i += 2 {
			a[kv[i]] = kv[i+1]
		}
		return clKey(a)
	}
	want := map[string]uint64{
		with("http.request.method", "GET", "http.response.status_code", "200"):                       2, // "get" too
		with("http.request.method", "POST", "http.response.status_code", "404", "error.type", "404"): 1,
		with("http.request.method", "PUT", "http.response.status_code", "503", "error.type", "503"):  1,
		with("http.request.method", "_OTHER", "http.response.status_code", "200"):                    1,
		with("http.request.method", "DELETE", "http.response.status_code", "302"):                    1,
	}
	got := map[string]uint64{}
	for _, p := range clDurations(t, reader) {
		got[clKey(p.attrs)] += p.count
		if wantSum := 0.25 * float64(p.count); p.sum != wantSum {
			t.Errorf("%v: sum %v s, want %v", p.attrs, p.sum, wantSum)
		}
		for k, v := range p.attrs {
			if strings.HasPrefix(k, "url.") && k != "url.scheme" || k == "http.route" ||
				strings.Contains(v, "alice") || strings.Contains(v, "s3cr3t") {
				t.Errorf("attribute %s=%q: the URL's path or query became an attribute", k, v)
			}
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("duration points:\n got %v\nwant %v", got, want)
	}
}

// TestTransportDurationEndsAtHeaders: the duration is the time to the
// response headers; reading the body afterwards adds nothing.
func TestTransportDurationEndsAtHeaders(t *testing.T) {
	mp, reader := clProvider(t)
	clk := clocktest.New(time.Time{})
	release := make(chan struct{})
	_, port := clServer(t, func(w http.ResponseWriter, _ *http.Request) {
		clk.Advance(100 * time.Millisecond)
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-release
		_, _ = io.WriteString(w, "late body")
	})
	unblock := clRelease(t, release)
	c := clClient(t, instrument.WithMeterProvider(mp), instrument.WithClock(clk))
	resp, err := c.Get("http://127.0.0.1:" + port + "/")
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		ps := clDurations(t, reader)
		if len(ps) != 1 || ps[0].count != 1 || ps[0].sum != 0.1 {
			t.Fatalf("%s: points %+v, want one request of 0.1 s", when, ps)
		}
	}
	check("headers received, body unread")
	clk.Advance(5 * time.Second) // the caller takes its time over the body
	unblock()
	body, err := io.ReadAll(resp.Body)
	if err != nil || string(body) != "late body" {
		t.Fatalf("body %q, %v", body, err)
	}
	_ = resp.Body.Close()
	check("body read")
}

func TestTransportActiveRequests(t *testing.T) {
	mp, reader := clProvider(t)
	entered, release := make(chan struct{}), make(chan struct{})
	_, port := clServer(t, func(w http.ResponseWriter, _ *http.Request) {
		entered <- struct{}{}
		<-release
		clOK(w, nil)
	})
	unblock := clRelease(t, release)
	c := clClient(t, instrument.WithMeterProvider(mp))
	done := make(chan error, 1)
	go func() {
		_, err := clDo(t, c, context.Background(), http.MethodPost, "http://127.0.0.1:"+port+"/orders")
		done <- err
	}()
	key := clKey(map[string]string{
		"http.request.method": "POST", "server.address": "127.0.0.1", "server.port": port, "url.scheme": "http",
	})
	select {
	case <-entered:
	case err := <-done:
		t.Fatalf("request ended before reaching the server: %v", err)
	}
	if got := clActive(t, reader); got[key] != 1 || len(got) != 1 {
		t.Errorf("during the request: %v, want %s = 1", got, key)
	}
	unblock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := clActive(t, reader); got[key] != 0 || len(got) != 1 {
		t.Errorf("after the request: %v, want %s = 0", got, key)
	}
}

// TestTransportSharedProvider: two transports on one provider add up, as
// two clients of one service would.
func TestTransportSharedProvider(t *testing.T) {
	mp, reader := clProvider(t)
	entered, release := make(chan struct{}), make(chan struct{})
	_, port := clServer(t, func(w http.ResponseWriter, _ *http.Request) {
		entered <- struct{}{}
		<-release
	})
	unblock := clRelease(t, release)
	done := make(chan error, 2)
	for range 2 {
		c := clClient(t, instrument.WithMeterProvider(mp))
		go func() {
			_, err := clDo(t, c, context.Background(), http.MethodGet, "http://127.0.0.1:"+port+"/")
			done <- err
		}()
	}
	for range 2 {
		select {
		case <-entered:
		case err := <-done:
			t.Fatalf("request ended before reaching the server: %v", err)
		}
	}
	key := clKey(map[string]string{
		"http.request.method": "GET", "server.address": "127.0.0.1", "server.port": port, "url.scheme": "http",
	})
	if got := clActive(t, reader); got[key] != 2 {
		t.Errorf("two requests in flight through two transports: %v, want %s = 2", got, key)
	}
	unblock()
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	var n uint64
	for _, p := range clDurations(t, reader) {
		n += p.count
	}
	if got := clActive(t, reader); got[key] != 0 || n != 2 {
		t.Errorf("after: active %v, %d requests recorded; want 0 and 2", got, n)
	}
}

func TestTransportConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().(*net.TCPAddr)
	_ = l.Close() // nothing listens there now
	mp, reader := clProvider(t)
	tp, sr := clTracer(t)
	c := clClient(t, instrument.WithMeterProvider(mp), instrument.WithTracerProvider(tp))
	if _, err := clDo(t, c, context.Background(), http.MethodGet, "http://"+addr.String()+"/x"); err == nil {
		t.Fatal("request to a closed port succeeded")
	}
	want := map[string]string{
		"http.request.method": "GET",
		"server.address":      "127.0.0.1",
		"server.port":         strconv.Itoa(addr.Port),
		"url.scheme":          "http",
		"error.type":          instrument.ClientErrorConnRefused,
	}
	ps := clDurations(t, reader)
	if len(ps) != 1 || !maps.Equal(ps[0].attrs, want) {
		t.Errorf("points %+v, want one with %v", ps, want)
	}
	if got := clActive(t, reader); got[clKey(map[string]string{
		"http.request.method": "GET", "server.address": "127.0.0.1", "server.port": strconv.Itoa(addr.Port), "url.scheme": "http",
	})] != 0 || len(got) != 1 {
		t.Errorf("active %v, want one series at 0", got)
	}
	spans := sr.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans ended, want 1", len(spans))
	}
	s := spans[0]
	if s.Status().Code != codes.Error || s.Status().Description == "" {
		t.Errorf("span status %+v, want Error with the error's text", s.Status())
	}
	if a := clAttrs(attribute.NewSet(s.Attributes()...)); a["error.type"] != instrument.ClientErrorConnRefused {
		t.Errorf("span attributes %v, want error.type %s", a, instrument.ClientErrorConnRefused)
	}
}

// TestTransportTimeoutAndCancel: the caller's deadline and cancellation,
// against a real server.
func TestTransportTimeoutAndCancel(t *testing.T) {
	mp, reader := clProvider(t)
	entered := make(chan struct{}, 1)
	_, port := clServer(t, func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-r.Context().Done() // until the client gives up
	})
	c := clClient(t, instrument.WithMeterProvider(mp))
	target := "http://127.0.0.1:" + port + "/"

	// A deadline already passed: the request fails without waiting.
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(1, 0))
	defer cancel()
	if _, err := clDo(t, c, ctx, http.MethodGet, target); err == nil {
		t.Fatal("request past its deadline succeeded")
	}
	// Canceled while the server holds the request.
	ctx, cancel = context.WithCancel(context.Background())
	go func() {
		<-entered
		cancel()
	}()
	if _, err := clDo(t, c, ctx, http.MethodGet, target); err == nil {
		t.Fatal("canceled request succeeded")
	}
	// http.Client's Timeout, already over when the request is sent.
	short := &http.Client{Transport: c.Transport, Timeout: time.Nanosecond}
	if _, err := clDo(t, short, context.Background(), http.MethodGet, target); err == nil {
		t.Fatal("request past the client's timeout succeeded")
	}
	got := map[string]uint64{}
	for _, p := range clDurations(t, reader) {
		got[p.attrs["error.type"]] += p.count
	}
	want := map[string]uint64{instrument.ClientErrorTimeout: 2, instrument.ClientErrorCanceled: 1}
	if !maps.Equal(got, want) {
		t.Errorf("error types %v, want %v", got, want)
	}
}

// TestTransportResponseEnded: the server closes the connection without
// answering.
func TestTransportResponseEnded(t *testing.T) {
	mp, reader := clProvider(t)
	_, port := clServer(t, func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	})
	c := clClient(t, instrument.WithMeterProvider(mp))
	if _, err := clDo(t, c, context.Background(), http.MethodGet, "http://127.0.0.1:"+port+"/"); err == nil {
		t.Fatal("request to a closing server succeeded")
	}
	ps := clDurations(t, reader)
	if len(ps) != 1 || ps[0].attrs["error.type"] != instrument.ClientErrorResponseEnded {
		t.Errorf("points %+v, want error.type %s", ps, instrument.ClientErrorResponseEnded)
	}
}

func TestTransportErrorTypes(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want string
	}{
		{"deadline", nil, context.DeadlineExceeded, instrument.ClientErrorTimeout},
		{"canceled context", canceled, context.Canceled, instrument.ClientErrorCanceled},
		{"wrapped cancel", nil, &url.Error{Op: "Get", Err: context.Canceled}, instrument.ClientErrorCanceled},
		{"dial timeout", nil, &net.OpError{Op: "dial", Err: &net.DNSError{IsTimeout: true}}, instrument.ClientErrorTimeout},
		{"refused", nil, &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, instrument.ClientErrorConnRefused},
		{"reset", nil, &net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, instrument.ClientErrorConnReset},
		{"broken pipe", nil, &net.OpError{Op: "write", Err: os.NewSyscallError("write", syscall.EPIPE)}, instrument.ClientErrorConnReset},
		{"EOF", nil, io.EOF, instrument.ClientErrorResponseEnded},
		{"unexpected EOF", nil, io.ErrUnexpectedEOF, instrument.ClientErrorResponseEnded},
		{"DNS", nil, &net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}}, instrument.ClientErrorNameResolution},
		{"TLS record", nil, tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, instrument.ClientErrorTLS},
		{"certificate", nil, &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, instrument.ClientErrorTLS},
		{"alert", nil, tls.AlertError(42), instrument.ClientErrorTLS},
		{"other network", nil, &net.OpError{Op: "dial", Err: errors.New("no route to host")}, instrument.ClientErrorConnection},
		{"unknown", nil, errors.New("boom"), "*errors.errorString"},
		{"no response and no error", nil, nil, "_OTHER"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mp, reader := clProvider(t)
			tp, sr := clTracer(t)
			base := &clBase{err: func(*http.Request) error { return tc.err }}
			rt := instrument.Transport(base, instrument.WithMeterProvider(mp), instrument.WithTracerProvider(tp))
			ctx := tc.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://api.example.com/v1/x", nil)
			if resp, err := rt.RoundTrip(req); resp != nil || !errors.Is(err, tc.err) {
				t.Fatalf("RoundTrip = %v, %v; want the base's nil, %v", resp, err, tc.err)
			}
			want := map[string]string{
				"http.request.method": "GET", "server.address": "api.example.com", "server.port": "443",
				"url.scheme": "https", "error.type": tc.want,
			}
			if ps := clDurations(t, reader); len(ps) != 1 || !maps.Equal(ps[0].attrs, want) {
				t.Errorf("points %+v, want one with %v", ps, want)
			}
			if spans := sr.Ended(); len(spans) != 1 || spans[0].Status().Code != codes.Error ||
				clAttrs(attribute.NewSet(spans[0].Attributes()...))["error.type"] != tc.want {
				t.Errorf("spans %v, want one with status Error and error.type %s", spans, tc.want)
			}
		})
	}
}

func TestTransportServerAddressCap(t *testing.T) {
	mp, reader := clProvider(t)
	var ports []string
	for range 3 {
		_, port := clServer(t, clOK)
		ports = append(ports, port)
	}
	c := clClient(t, instrument.WithMeterProvider(mp), instrument.WithMaxServerAddresses(2))
	for _, target := range []string{
		"http://127.0.0.1:" + ports[0] + "/a",
		"http://127.0.0.1:" + ports[1] + "/b",
		"http://127.0.0.1:" + ports[2] + "/c", // a third pair: over the cap
		"http://localhost:" + ports[0] + "/d", // another host, same port: over too
		"http://127.0.0.1:" + ports[0] + "/e", // admitted already
	} {
		if _, err := clDo(t, c, context.Background(), http.MethodGet, target); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]uint64{}
	for _, p := range clDurations(t, reader) {
		got[p.attrs["server.address"]+":"+p.attrs["server.port"]] += p.count
		if p.attrs["server.address"] == "_OTHER" {
			if _, ok := p.attrs["server.port"]; ok {
				t.Errorf("overflow point %v has a server.port", p.attrs)
			}
		}
	}
	want := map[string]uint64{
		"127.0.0.1:" + ports[0]: 2,
		"127.0.0.1:" + ports[1]: 1,
		"_OTHER:":               2,
	}
	if !maps.Equal(got, want) {
		t.Errorf("requests by address %v, want %v", got, want)
	}
	active := clActive(t, reader)
	if v, ok := active[clKey(map[string]string{"http.request.method": "GET", "server.address": "_OTHER", "url.scheme": "http"})]; !ok || v != 0 || len(active) != 3 {
		t.Errorf("active requests %v, want 3 series at 0, one of them _OTHER", active)
	}
}

func TestTransportSpans(t *testing.T) {
	tp, sr := clTracer(t)
	type seen struct{ traceparent, baggage string }
	got := make(chan seen, 1)
	_, port := clServer(t, func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Header.Get("Traceparent"), r.Header.Get("Baggage")}
		code, _ := strconv.Atoi(r.URL.Query().Get("status"))
		w.WriteHeader(code)
		_, _ = io.WriteString(w, "body")
	})
	c := clClient(t, instrument.WithTracerProvider(tp))
	ctx, parent := tp.Tracer("test").Start(context.Background(), "parent")
	defer parent.End()
	member, _ := baggage.NewMember("tenant", "acme")
	bag, _ := baggage.New(member)
	ctx = baggage.ContextWithBaggage(ctx, bag)

	for _, tc := range []struct {
		status int
		want   codes.Code
	}{{200, codes.Unset}, {404, codes.Error}, {500, codes.Error}} {
		sr.Reset()
		target := "http://user:pw@127.0.0.1:" + port + "/users/alice?token=s3cr3t&status=" + strconv.Itoa(tc.status)
		if _, err := clDo(t, c, ctx, http.MethodGet, target); err != nil {
			t.Fatal(err)
		}
		spans := sr.Ended()
		if len(spans) != 1 {
			t.Fatalf("%d spans ended, want 1", len(spans))
		}
		s := spans[0]
		if s.Name() != "GET" || s.SpanKind() != trace.SpanKindClient {
			t.Errorf("span %q of kind %v, want GET of kind client", s.Name(), s.SpanKind())
		}
		if s.Parent().SpanID() != parent.SpanContext().SpanID() || s.SpanContext().TraceID() != parent.SpanContext().TraceID() {
			t.Errorf("span is not the child of the span in the request's context")
		}
		if s.Status().Code != tc.want || s.Status().Description != "" {
			t.Errorf("status %d: span status %+v, want %v without description", tc.status, s.Status(), tc.want)
		}
		attrs := clAttrs(attribute.NewSet(s.Attributes()...))
		want := map[string]string{
			"http.request.method":       "GET",
			"server.address":            "127.0.0.1",
			"server.port":               port,
			"url.full":                  "http://127.0.0.1:" + port + "/users/alice",
			"http.response.status_code": strconv.Itoa(tc.status),
			"network.protocol.version":  "1.1",
		}
		if tc.status >= 400 {
			want["error.type"] = strconv.Itoa(tc.status)
		}
		if !maps.Equal(attrs, want) {
			t.Errorf("span attributes\n got %v\nwant %v", attrs, want)
		}
		sv := <-got
		wantTP := "00-" + s.SpanContext().TraceID().String() + "-" + s.SpanContext().SpanID().String() + "-01"
		if sv.traceparent != wantTP || sv.baggage != "tenant=acme" {
			t.Errorf("server received traceparent %q, baggage %q; want %q, tenant=acme", sv.traceparent, sv.baggage, wantTP)
		}
	}
}

func TestTransportSpanName(t *testing.T) {
	tp, sr := clTracer(t)
	base := &clBase{resp: clResponse(200)}
	rt := instrument.Transport(base, instrument.WithTracerProvider(tp),
		instrument.WithTransportSpanName(func(r *http.Request) string {
			if strings.HasPrefix(r.URL.Path, "/users/") {
				return r.Method + " /users/{id}"
			}
			return ""
		}))
	for _, tc := range []struct{ method, path, want string }{
		{"GET", "/users/42", "GET /users/{id}"},
		{"POST", "/orders", "POST"},
		{"PURGE", "/cache", "HTTP"}, // not a standard method
	} {
		sr.Reset()
		req, _ := http.NewRequest(tc.method, "http://127.0.0.1:1"+tc.path, nil)
		if _, err := rt.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
		if spans := sr.Ended(); len(spans) != 1 || spans[0].Name() != tc.want {
			t.Errorf("%s %s: spans %v, want one named %q", tc.method, tc.path, spans, tc.want)
		}
	}
	sr.Reset()
	req, _ := http.NewRequest("PURGE", "http://127.0.0.1:1/cache", nil)
	_, _ = rt.RoundTrip(req)
	if a := clAttrs(attribute.NewSet(sr.Ended()[0].Attributes()...)); a["http.request.method"] != "_OTHER" || a["http.request.method_original"] != "PURGE" {
		t.Errorf("attributes %v, want http.request.method _OTHER and http.request.method_original PURGE", a)
	}
}

// TestTransportRequestNotModified: what the caller passed is left as it
// was; trace context goes on a copy.
func TestTransportRequestNotModified(t *testing.T) {
	tp, _ := clTracer(t)
	remote := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{1, 2, 3},
		SpanID:     trace.SpanID{4, 5, 6},
		TraceFlags: trace.FlagsSampled,
		Remote:     true,
	})
	for _, tc := range []struct {
		name      string
		opts      []instrument.TransportOption
		ctx       context.Context
		wantCopy  bool
		wantTrace string // the traceparent's span ID, "" for any
	}{
		{"tracing", []instrument.TransportOption{instrument.WithTracerProvider(tp)}, context.Background(), true, ""},
		{"no tracing, trace in context", nil, trace.ContextWithSpanContext(context.Background(), remote), true, remote.SpanID().String()},
		{"no tracing, no trace", nil, context.Background(), false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mp, _ := clProvider(t)
			base := &clBase{resp: clResponse(200)}
			rt := instrument.Transport(base, append(tc.opts, instrument.WithMeterProvider(mp))...)
			req, _ := http.NewRequestWithContext(tc.ctx, http.MethodGet, "http://127.0.0.1:1/x?y=1", nil)
			req.Header.Set("X-Caller", "1")
			before, url := req.Header.Clone(), req.URL.String()
			if _, err := rt.RoundTrip(req); err != nil {
				t.Fatal(err)
			}
			if !maps.EqualFunc(req.Header, before, slices.Equal) || req.URL.String() != url || req.Context() != tc.ctx {
				t.Errorf("caller's request changed: header %v, URL %s", req.Header, req.URL)
			}
			sent := base.got[0]
			if (sent != req) != tc.wantCopy {
				t.Fatalf("request sent is a copy: %v, want %v", sent != req, tc.wantCopy)
			}
			tpHeader := sent.Header.Get("Traceparent")
			if tc.wantCopy && (tpHeader == "" || sent.Header.Get("X-Caller") != "1") {
				t.Errorf("request sent has header %v, want the caller's and a traceparent", sent.Header)
			}
			if tc.wantTrace != "" && !strings.Contains(tpHeader, tc.wantTrace) {
				t.Errorf("traceparent %q, want the context's span %s", tpHeader, tc.wantTrace)
			}
		})
	}
}

// clBody is a response body that records its closing.
type clBody struct {
	r      io.Reader
	err    error // returned instead of io.EOF, when set
	closed atomic.Int32
}

func (b *clBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF && b.err != nil {
		err = b.err
	}
	return n, err
}

func (b *clBody) Close() error { b.closed.Add(1); return nil }

// clConn is a body that is also a writer, as a 101 response's.
type clConn struct {
	clBody
	written []byte
}

func (c *clConn) Write(p []byte) (int, error) {
	c.written = append(c.written, p...)
	return len(p), nil
}

func TestTransportBody(t *testing.T) {
	roundTrip := func(t *testing.T, rt http.RoundTripper) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/x", nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	t.Run("without tracing the body is the base's", func(t *testing.T) {
		mp, _ := clProvider(t)
		body := &clBody{r: strings.NewReader("x")}
		rt := instrument.Transport(&clBase{resp: clResponse(200), body: func() io.ReadCloser { return body }}, instrument.WithMeterProvider(mp))
		if resp := roundTrip(t, rt); resp.Body != io.ReadCloser(body) {
			t.Errorf("body %T, want the base's own", resp.Body)
		}
	})

	t.Run("span ends at EOF, close closes once", func(t *testing.T) {
		tp, sr := clTracer(t)
		body := &clBody{r: strings.NewReader("hello")}
		rt := instrument.Transport(&clBase{resp: clResponse(200), body: func() io.ReadCloser { return body }}, instrument.WithTracerProvider(tp))
		resp := roundTrip(t, rt)
		if n := len(sr.Ended()); n != 0 {
			t.Fatalf("%d spans ended before the body was read, want 0", n)
		}
		if b, err := io.ReadAll(resp.Body); err != nil || string(b) != "hello" {
			t.Fatalf("body %q, %v", b, err)
		}
		if n := len(sr.Ended()); n != 1 {
			t.Fatalf("%d spans ended at EOF, want 1", n)
		}
		_ = resp.Body.Close()
		_ = resp.Body.Close()
		if n, c := len(sr.Ended()), body.closed.Load(); n != 1 || c != 2 {
			t.Errorf("after two closes: %d spans ended, body closed %d times; want 1 and 2 (closes passed on)", n, c)
		}
	})

	t.Run("close without reading ends the span", func(t *testing.T) {
		tp, sr := clTracer(t)
		body := &clBody{r: strings.NewReader("unread")}
		rt := instrument.Transport(&clBase{resp: clResponse(200), body: func() io.ReadCloser { return body }}, instrument.WithTracerProvider(tp))
		resp := roundTrip(t, rt)
		_ = resp.Body.Close()
		if n, c := len(sr.Ended()), body.closed.Load(); n != 1 || c != 1 {
			t.Errorf("%d spans ended, body closed %d times; want 1 and 1", n, c)
		}
	})

	t.Run("no body ends the span at once", func(t *testing.T) {
		tp, sr := clTracer(t)
		rt := instrument.Transport(&clBase{resp: clResponse(204)}, instrument.WithTracerProvider(tp))
		if resp := roundTrip(t, rt); resp.Body != http.NoBody {
			t.Errorf("body %T, want http.NoBody", resp.Body)
		}
		if n := len(sr.Ended()); n != 1 {
			t.Errorf("%d spans ended, want 1", n)
		}
	})

	t.Run("read error marks the span", func(t *testing.T) {
		tp, sr := clTracer(t)
		body := &clBody{r: strings.NewReader("part"), err: io.ErrUnexpectedEOF}
		rt := instrument.Transport(&clBase{resp: clResponse(200), body: func() io.ReadCloser { return body }}, instrument.WithTracerProvider(tp))
		resp := roundTrip(t, rt)
		if _, err := io.ReadAll(resp.Body); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("read error %v, want the body's", err)
		}
		_ = resp.Body.Close()
		spans := sr.Ended()
		if len(spans) != 1 || spans[0].Status().Code != codes.Error ||
			clAttrs(attribute.NewSet(spans[0].Attributes()...))["error.type"] != instrument.ClientErrorResponseEnded {
			t.Errorf("spans %v, want one with status Error and error.type %s", spans, instrument.ClientErrorResponseEnded)
		}
	})

	t.Run("a span sampled out leaves the body alone", func(t *testing.T) {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))
		t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		body := &clBody{r: strings.NewReader("x")}
		base := &clBase{resp: clResponse(200), body: func() io.ReadCloser { return body }}
		rt := instrument.Transport(base, instrument.WithTracerProvider(tp))
		if resp := roundTrip(t, rt); resp.Body != io.ReadCloser(body) {
			t.Errorf("body %T, want the base's own", resp.Body)
		}
		if tp := base.got[0].Header.Get("Traceparent"); !strings.HasSuffix(tp, "-00") {
			t.Errorf("traceparent %q, want one that says not sampled", tp)
		}
	})

	t.Run("a writable body stays writable, no other becomes so", func(t *testing.T) {
		tp, sr := clTracer(t)
		conn := &clConn{clBody: clBody{r: strings.NewReader("")}}
		resp101 := clResponse(http.StatusSwitchingProtocols)
		rt := instrument.Transport(&clBase{resp: resp101, body: func() io.ReadCloser { return conn }}, instrument.WithTracerProvider(tp))
		resp := roundTrip(t, rt)
		w, ok := resp.Body.(io.ReadWriteCloser)
		if !ok {
			t.Fatalf("body %T lost its Write", resp.Body)
		}
		if _, err := w.Write([]byte("ping")); err != nil || string(conn.written) != "ping" {
			t.Errorf("write: %v, wrote %q", err, conn.written)
		}
		_ = w.Close()
		if n := len(sr.Ended()); n != 1 {
			t.Errorf("%d spans ended, want 1", n)
		}

		plain := &clBody{r: strings.NewReader("x")}
		rt = instrument.Transport(&clBase{resp: clResponse(200), body: func() io.ReadCloser { return plain }}, instrument.WithTracerProvider(tp))
		if _, ok := roundTrip(t, rt).Body.(io.Writer); ok {
			t.Error("a read-only body became a writer")
		}
	})
}

func TestTransportNilBaseAndCloseIdle(t *testing.T) {
	mp, reader := clProvider(t)
	_, port := clServer(t, clOK)
	c := &http.Client{Transport: instrument.Transport(nil, instrument.WithMeterProvider(mp))}
	if _, err := clDo(t, c, context.Background(), http.MethodGet, "http://127.0.0.1:"+port+"/"); err != nil {
		t.Fatal(err)
	}
	c.CloseIdleConnections()
	if ps := clDurations(t, reader); len(ps) != 1 {
		t.Errorf("points %+v, want one request through http.DefaultTransport", ps)
	}

	base := &clBase{resp: clResponse(200)}
	(&http.Client{Transport: instrument.Transport(base)}).CloseIdleConnections()
	if base.closed != 1 {
		t.Errorf("base's CloseIdleConnections called %d times, want 1", base.closed)
	}
}

// TestTransportAllocations: the metrics add no allocation to a request,
// answered or failed.
func TestTransportAllocations(t *testing.T) {
	mp, _ := clProvider(t)
	refused := &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for _, tc := range []struct {
		name string
		base http.RoundTripper
		max  int // addresses, 0 for the default
	}{
		{"200", &clStatic{resp: clResponse(200)}, 0},
		{"503", &clStatic{resp: clResponse(503)}, 0},
		{"connection refused", &clStatic{err: refused}, 0},
		{"over the address cap", &clStatic{resp: clResponse(200)}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := instrument.Transport(tc.base, instrument.WithMeterProvider(mp), instrument.WithMaxServerAddresses(tc.max))
			if tc.max > 0 { // fill the budget with another address
				other, _ := http.NewRequest(http.MethodGet, "http://other.example.com/", nil)
				_, _ = rt.RoundTrip(other)
			}
			req, _ := http.NewRequest(http.MethodGet, "http://api.example.com:8080/orders/42", nil)
			allocs := func(rt http.RoundTripper) float64 {
				_, _ = rt.RoundTrip(req) // cache the attribute set
				return testing.AllocsPerRun(1000, func() { _, _ = rt.RoundTrip(req) })
			}
			bare, instrumented := allocs(tc.base), allocs(rt)
			if instrumented != bare {
				t.Errorf("%v allocations per request, %v bare: want none added", instrumented, bare)
			}
		})
	}
}

// clStatic answers every request with the same response or error, without
// allocating.
type clStatic struct {
	resp *http.Response
	err  error
}

func (s *clStatic) RoundTrip(*http.Request) (*http.Response, error) {
	if s.err != nil {
		return nil, s.err
	}
	return s.resp, nil
}

// TestTransportUnregistersWhenUnreachable: a Transport dropped stops
// observing active requests.
func TestTransportUnregistersWhenUnreachable(t *testing.T) {
	mp, reader := clProvider(t)
	func() {
		rt := instrument.Transport(&clStatic{resp: clResponse(200)}, instrument.WithMeterProvider(mp))
		req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/", nil)
		if _, err := rt.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
	}()
	if got := clActive(t, reader); len(got) != 1 {
		t.Fatalf("active %v, want one series", got)
	}
	for range 100 {
		runtime.GC()
		runtime.Gosched()
		if len(clActive(t, reader)) == 0 {
			return
		}
	}
	t.Error("the dropped Transport's active requests are still observed")
}

// TestTransportConcurrent runs many requests at once over several servers,
// with tracing, for the race detector and the totals.
func TestTransportConcurrent(t *testing.T) {
	mp, reader := clProvider(t)
	tp, sr := clTracer(t)
	var targets []string
	for range 3 {
		_, port := clServer(t, clOK)
		targets = append(targets, "http://127.0.0.1:"+port+"/")
	}
	c := clClient(t, instrument.WithMeterProvider(mp), instrument.WithTracerProvider(tp))
	const workers, each = 8, 25
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				if _, err := clDo(t, c, context.Background(), http.MethodGet, targets[(w+i)%len(targets)]); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	var n uint64
	for _, p := range clDurations(t, reader) {
		n += p.count
	}
	if n != workers*each || len(sr.Ended()) != workers*each {
		t.Errorf("%d requests recorded, %d spans; want %d", n, len(sr.Ended()), workers*each)
	}
	for k, v := range clActive(t, reader) {
		if v != 0 {
			t.Errorf("active %s = %d after all requests, want 0", k, v)
		}
	}
}

// clPanicking is a base transport that panics.
type clPanicking struct{}

func (clPanicking) RoundTrip(*http.Request) (*http.Response, error) { panic("base transport bug") }

// TestTransportBasePanics: a panic in the base goes on to the caller and
// leaves no request active and no span open.
func TestTransportBasePanics(t *testing.T) {
	mp, reader := clProvider(t)
	tp, sr := clTracer(t)
	rt := instrument.Transport(clPanicking{}, instrument.WithMeterProvider(mp), instrument.WithTracerProvider(tp))
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/", nil)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the base's panic did not reach the caller")
			}
		}()
		_, _ = rt.RoundTrip(req)
	}()
	for k, v := range clActive(t, reader) {
		if v != 0 {
			t.Errorf("active %s = %d after the panic, want 0", k, v)
		}
	}
	if spans := sr.Ended(); len(spans) != 1 || spans[0].Status().Code != codes.Error {
		t.Errorf("spans %v, want one ended with status Error", spans)
	}
}

// TestSharedOptions checks that one set of option values configures both
// Middleware and Transport: the same provider records both sides' metrics
// on the same clock, and the client span is the parent of the server span
// through the same propagator.
func TestSharedOptions(t *testing.T) {
	mp, reader := clProvider(t)
	tp, sr := clTracer(t)
	clk := clocktest.New(time.Time{})
	shared := []instrument.SharedOption{
		instrument.WithMeterProvider(mp),
		instrument.WithTracerProvider(tp),
		instrument.WithPropagators(propagation.TraceContext{}),
		instrument.WithClock(clk),
		instrument.WithLogger(slog.New(slog.DiscardHandler)),
	}
	var mwOpts []instrument.Option
	var trOpts []instrument.TransportOption
	for _, o := range shared {
		mwOpts = append(mwOpts, o)
		trOpts = append(trOpts, o)
	}
	_, port := clServer(t, instrument.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		clk.Advance(250 * time.Millisecond)
		clOK(w, r)
	}), mwOpts...).ServeHTTP)
	c := clClient(t, trOpts...)
	if _, err := clDo(t, c, context.Background(), "GET", "http://127.0.0.1:"+port+"/"); err != nil {
		t.Fatal(err)
	}

	for _, name := range []string{instrument.MetricServerRequestDuration, instrument.MetricClientRequestDuration} {
		m := clMetric(t, reader, name)
		if m == nil {
			t.Errorf("%s: missing", name)
			continue
		}
		h, ok := m.Data.(metricdata.Histogram[float64])
		if !ok || len(h.DataPoints) != 1 || h.DataPoints[0].Sum != 0.25 {
			t.Errorf("%s: %+v, want one point of 0.25 s", name, m.Data)
		}
	}
	var client, server sdktrace.ReadOnlySpan
	for _, s := range sr.Ended() {
		switch s.SpanKind() {
		case trace.SpanKindClient:
			client = s
		case trace.SpanKindServer:
			server = s
		}
	}
	if client == nil || server == nil {
		t.Fatalf("spans %v, want a client and a server span", sr.Ended())
	}
	if server.Parent().SpanID() != client.SpanContext().SpanID() {
		t.Errorf("server span's parent %v, want the client span %v", server.Parent().SpanID(), client.SpanContext().SpanID())
	}
}
