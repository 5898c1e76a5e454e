package otlptest

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // accept gzip-compressed gRPC exports
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

const (
	// closeTimeout bounds the graceful part of Close before connections are
	// torn down forcibly.
	closeTimeout = 5 * time.Second
	// maxBodySize bounds HTTP request bodies (after decompression).
	maxBodySize = 32 << 20
	// protobufContentType is the OTLP/HTTP binary protobuf media type.
	protobufContentType = "application/x-protobuf"
)

// Behavior selects how a [Receiver] answers export requests.
type Behavior int

const (
	// Accept answers every export with success. It is the zero value.
	Accept Behavior = iota
	// Unavailable refuses exports: gRPC status codes.Unavailable, or HTTP 503
	// with the header "Retry-After: 1".
	Unavailable
	// Hang blocks the export until the request's context is done (e.g. the
	// exporter's timeout elapses) or the receiver is closed.
	Hang
)

// String returns the name of the behavior.
func (b Behavior) String() string {
	switch b {
	case Accept:
		return "Accept"
	case Unavailable:
		return "Unavailable"
	case Hang:
		return "Hang"
	default:
		return fmt.Sprintf("Behavior(%d)", int(b))
	}
}

// Request is one metrics export request received by a [Receiver].
type Request struct {
	// Metrics is the decoded request. It must not be modified.
	Metrics *colmetricpb.ExportMetricsServiceRequest
	// Header holds the HTTP request headers, or the gRPC metadata with keys
	// canonicalised by http.CanonicalHeaderKey.
	Header http.Header
	// Accepted reports whether the request was answered with success.
	Accepted bool
	// Behavior is the behavior in effect when the request arrived, i.e. the
	// one that answered it.
	Behavior Behavior
}

// TraceRequest is one traces export request received by a [Receiver].
type TraceRequest struct {
	// Traces is the decoded request. It must not be modified.
	Traces *coltracepb.ExportTraceServiceRequest
	// Header holds the HTTP request headers, or the gRPC metadata with keys
	// canonicalised by http.CanonicalHeaderKey.
	Header http.Header
	// Accepted reports whether the request was answered with success.
	Accepted bool
	// Behavior is the behavior in effect when the request arrived, i.e. the
	// one that answered it.
	Behavior Behavior
}

// LogRequest is one logs export request received by a [Receiver].
type LogRequest struct {
	// Logs is the decoded request. It must not be modified.
	Logs *collogspb.ExportLogsServiceRequest
	// Header holds the HTTP request headers, or the gRPC metadata with keys
	// canonicalised by http.CanonicalHeaderKey.
	Header http.Header
	// Accepted reports whether the request was answered with success.
	Accepted bool
	// Behavior is the behavior in effect when the request arrived.
	Behavior Behavior
}

// Receiver is an OTLP metrics, traces and logs receiver listening on
// 127.0.0.1. It records metrics exports ([Receiver.Requests]), traces
// exports ([Receiver.TraceRequests]) and logs exports
// ([Receiver.LogRequests]) separately, and answers all as
// [Receiver.SetBehavior] says. It is safe for concurrent use. Create one
// with [NewGRPC] or [NewHTTP].
type Receiver struct {
	addr     string
	endpoint string
	stop     func() // stops the server and waits for it; called once by Close

	closing   chan struct{} // closed by Close; releases hung handlers
	closeOnce sync.Once

	mu            sync.Mutex
	reqs          []Request
	attempts      int
	traceReqs     []TraceRequest
	traceAttempts int
	logReqs       []LogRequest
	logAttempts   int
	behavior      Behavior
	discard       bool          // answer requests without keeping them (Discard)
	changed       chan struct{} // closed and replaced whenever requests or attempts change
	serveErr      error         // unexpected error returned by the serve loop
}

func newReceiver(t testing.TB, addr string) (*Receiver, net.Listener) {
	t.Helper()
	if host, _, err := net.SplitHostPort(addr); err != nil || host != "127.0.0.1" {
		t.Fatalf("otlptest: address %q: want 127.0.0.1:PORT", addr)
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("otlptest: listen: %v", err)
	}
	return &Receiver{
		addr:    lis.Addr().String(),
		closing: make(chan struct{}),
		changed: make(chan struct{}),
	}, lis
}

// start runs serve in a goroutine and registers the receiver's shutdown with
// t.Cleanup. stop must make serve return.
func (r *Receiver) start(t testing.TB, serve func() error, stop func()) {
	served := make(chan struct{})
	go func() {
		defer close(served)
		// Closing before serve starts yields grpc.ErrServerStopped.
		err := serve()
		if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, grpc.ErrServerStopped) {
			r.mu.Lock()
			r.serveErr = err
			r.mu.Unlock()
		}
	}()
	r.stop = func() {
		stop()
		<-served
	}
	t.Cleanup(func() {
		r.Close()
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.serveErr != nil {
			t.Errorf("otlptest: serve: %v", r.serveErr)
		}
	})
}

// NewGRPC starts a gRPC OTLP receiver on 127.0.0.1, serving the metrics,
// trace and logs services; it is closed by t.Cleanup.
func NewGRPC(t testing.TB) *Receiver {
	t.Helper()
	return NewGRPCAt(t, "127.0.0.1:0")
}

// NewGRPCAt is NewGRPC listening on addr, "127.0.0.1:PORT": for a collector
// that comes back on the address it had, after [Receiver.Close] or on a
// port that was closed when the exporter started.
func NewGRPCAt(t testing.TB, addr string) *Receiver {
	t.Helper()
	r, lis := newReceiver(t, addr)
	r.endpoint = r.addr
	srv := grpc.NewServer()
	colmetricpb.RegisterMetricsServiceServer(srv, grpcService{r: r})
	coltracepb.RegisterTraceServiceServer(srv, grpcTraceService{r: r})
	collogspb.RegisterLogsServiceServer(srv, grpcLogsService{r: r})
	r.start(t, func() error { return srv.Serve(lis) }, func() {
		done := make(chan struct{})
		go func() {
			defer close(done)
			srv.GracefulStop()
		}()
		timer := time.NewTimer(closeTimeout)
		defer timer.Stop()
		select {
		case <-done:
		case <-timer.C:
			srv.Stop()
			<-done
		}
	})
	return r
}

// NewHTTP starts an HTTP/protobuf OTLP receiver on 127.0.0.1 serving POST
// /v1/metrics, POST /v1/traces and POST /v1/logs; it is closed by t.Cleanup. Other methods
// on those paths get 405 Method Not Allowed, other paths 404 Not Found.
func NewHTTP(t testing.TB) *Receiver {
	t.Helper()
	return NewHTTPAt(t, "127.0.0.1:0")
}

// NewHTTPAt is NewHTTP listening on addr, "127.0.0.1:PORT": for a collector
// that comes back on the address it had, after [Receiver.Close] or on a
// port that was closed when the exporter started.
func NewHTTPAt(t testing.TB, addr string) *Receiver {
	t.Helper()
	r, lis := newReceiver(t, addr)
	r.endpoint = "http://" + r.addr
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/metrics", r.serveHTTP)
	mux.HandleFunc("POST /v1/traces", r.serveTracesHTTP)
	mux.HandleFunc("POST /v1/logs", r.serveLogsHTTP)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	r.start(t, func() error { return srv.Serve(lis) }, func() {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			_ = srv.Close()
		}
	})
	return r
}

// Addr returns the listening address, "127.0.0.1:PORT".
func (r *Receiver) Addr() string { return r.addr }

// Endpoint returns the address to configure an exporter with:
// "127.0.0.1:PORT" for gRPC, "http://127.0.0.1:PORT" (no path) for HTTP.
func (r *Receiver) Endpoint() string { return r.endpoint }

// Requests returns a snapshot of every decoded metrics export request
// received so far, in arrival order, whatever the behavior that answered it.
// Hung requests are included as soon as they arrive.
func (r *Receiver) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

// TraceRequests returns a snapshot of every decoded traces export request
// received so far, in arrival order, whatever the behavior that answered it.
// Hung requests are included as soon as they arrive.
func (r *Receiver) TraceRequests() []TraceRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.traceReqs)
}

// Spans returns every span of the traces export requests received so far,
// in order of arrival (see [Spans]).
func (r *Receiver) Spans() []Span {
	return Spans(r.TraceRequests())
}

// Reset forgets the metrics, traces and logs requests received so far, for
// long tests that must not hold every export in memory; Attempts,
// TraceAttempts and LogAttempts still count them.
func (r *Receiver) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = nil
	r.traceReqs = nil
	r.logReqs = nil
	r.notifyLocked()
}

// LogRequests returns a snapshot of every decoded logs export request
// received so far, in arrival order, whatever the behavior that answered it.
func (r *Receiver) LogRequests() []LogRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.logReqs)
}

// LogAttempts returns how many logs export attempts have arrived,
// including refused, hung and undecodable ones.
func (r *Receiver) LogAttempts() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.logAttempts
}

// WaitLogs is [Receiver.Wait] for logs.
func (r *Receiver) WaitLogs(ctx context.Context, cond func([]LogRequest) bool) error {
	return waitFor(ctx, r, &r.logReqs, cond)
}

// Attempts returns how many metrics export attempts have arrived, including
// refused, hung and undecodable ones.
func (r *Receiver) Attempts() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.attempts
}

// TraceAttempts returns how many traces export attempts have arrived,
// including refused, hung and undecodable ones.
func (r *Receiver) TraceAttempts() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.traceAttempts
}

// Wait blocks until cond, called with a snapshot of the requests received so
// far, returns true, or until ctx is done, in which case it returns
// ctx.Err(). cond is called without any lock held.
func (r *Receiver) Wait(ctx context.Context, cond func([]Request) bool) error {
	return waitFor(ctx, r, &r.reqs, cond)
}

// waitFor blocks until cond, called with a snapshot of *list taken under
// r.mu, returns true, or until ctx is done. Every record and attempt of
// any signal wakes it.
func waitFor[T any](ctx context.Context, r *Receiver, list *[]T, cond func([]T) bool) error {
	for {
		r.mu.Lock()
		reqs, changed := slices.Clone(*list), r.changed
		r.mu.Unlock()
		if cond(reqs) {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// WaitTraces is [Receiver.Wait] for traces: it blocks until cond, called
// with a snapshot of the traces requests received so far, returns true, or
// until ctx is done, in which case it returns ctx.Err(). cond is called
// without any lock held.
func (r *Receiver) WaitTraces(ctx context.Context, cond func([]TraceRequest) bool) error {
	return waitFor(ctx, r, &r.traceReqs, cond)
}

// WaitSpans blocks until cond, called with the spans received so far (as
// [Receiver.Spans] returns them), returns true, or until ctx is done, in
// which case it returns ctx.Err().
func (r *Receiver) WaitSpans(ctx context.Context, cond func([]Span) bool) error {
	return r.WaitTraces(ctx, func(reqs []TraceRequest) bool { return cond(Spans(reqs)) })
}

// SetBehavior sets how subsequent export requests, metrics and traces
// alike, are answered.
func (r *Receiver) SetBehavior(b Behavior) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.behavior = b
}

// Discard makes r answer requests without keeping them: Requests,
// TraceRequests and LogRequests stay empty, the attempt counters still
// count. Over HTTP the body is read but not decoded; over gRPC it is
// decoded. For benchmarks, which share their process with the receiver:
// kept requests would grow its heap and slow the garbage collector's pace
// for the code measured, and decoding would take its CPU.
func (r *Receiver) Discard() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.discard = true
}

// Close releases any hung requests and stops the server, waiting for it to
// finish. It is idempotent and is called automatically by t.Cleanup.
func (r *Receiver) Close() {
	r.closeOnce.Do(func() {
		close(r.closing)
		r.stop()
	})
}

// notifyLocked wakes up every Wait. r.mu must be held.
func (r *Receiver) notifyLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// count adds an export attempt to *n, one of the attempt counters.
func (r *Receiver) count(n *int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	*n++
	r.notifyLocked()
}

// recordLogs stores a decoded logs request and returns the behavior to
// answer it with.
func (r *Receiver) recordLogs(m *collogspb.ExportLogsServiceRequest, h http.Header) Behavior {
	return record(r, &r.logReqs, func(b Behavior) LogRequest {
		return LogRequest{Logs: m, Header: h, Accepted: b == Accept, Behavior: b}
	})
}

// record appends to *list the request newReq makes for the behavior in
// effect, and returns that behavior.
func record[T any](r *Receiver, list *[]T, newReq func(Behavior) T) Behavior {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.behavior
	if !r.discard {
		*list = append(*list, newReq(b))
	}
	r.notifyLocked()
	return b
}

// recordTraces stores a decoded traces request and returns the behavior to
// answer it with.
func (r *Receiver) recordTraces(m *coltracepb.ExportTraceServiceRequest, h http.Header) Behavior {
	return record(r, &r.traceReqs, func(b Behavior) TraceRequest {
		return TraceRequest{Traces: m, Header: h, Accepted: b == Accept, Behavior: b}
	})
}

// recordMetrics stores a decoded metrics request and returns the behavior to
// answer it with.
func (r *Receiver) recordMetrics(m *colmetricpb.ExportMetricsServiceRequest, h http.Header) Behavior {
	return record(r, &r.reqs, func(b Behavior) Request {
		return Request{Metrics: m, Header: h, Accepted: b == Accept, Behavior: b}
	})
}

// hang blocks until ctx is done or the receiver is closing, and reports
// whether the receiver is closing.
func (r *Receiver) hang(ctx context.Context) (closing bool) {
	select {
	case <-ctx.Done():
		return false
	case <-r.closing:
		return true
	}
}

type grpcService struct {
	colmetricpb.UnimplementedMetricsServiceServer
	r *Receiver
}

// Export implements colmetricpb.MetricsServiceServer.
func (s grpcService) Export(ctx context.Context, req *colmetricpb.ExportMetricsServiceRequest) (*colmetricpb.ExportMetricsServiceResponse, error) {
	s.r.count(&s.r.attempts)
	if err := s.r.answerGRPC(ctx, s.r.recordMetrics(req, incomingHeader(ctx))); err != nil {
		return nil, err
	}
	return &colmetricpb.ExportMetricsServiceResponse{}, nil
}

type grpcTraceService struct {
	coltracepb.UnimplementedTraceServiceServer
	r *Receiver
}

// Export implements coltracepb.TraceServiceServer.
func (s grpcTraceService) Export(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	s.r.count(&s.r.traceAttempts)
	if err := s.r.answerGRPC(ctx, s.r.recordTraces(req, incomingHeader(ctx))); err != nil {
		return nil, err
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

type grpcLogsService struct {
	collogspb.UnimplementedLogsServiceServer
	r *Receiver
}

// Export implements collogspb.LogsServiceServer.
func (s grpcLogsService) Export(ctx context.Context, req *collogspb.ExportLogsServiceRequest) (*collogspb.ExportLogsServiceResponse, error) {
	s.r.count(&s.r.logAttempts)
	if err := s.r.answerGRPC(ctx, s.r.recordLogs(req, incomingHeader(ctx))); err != nil {
		return nil, err
	}
	return &collogspb.ExportLogsServiceResponse{}, nil
}

// incomingHeader returns the gRPC metadata of ctx with keys canonicalised
// by http.CanonicalHeaderKey.
func incomingHeader(ctx context.Context) http.Header {
	md, _ := metadata.FromIncomingContext(ctx)
	h := make(http.Header, len(md))
	for k, v := range md {
		k = http.CanonicalHeaderKey(k)
		h[k] = append(h[k], v...)
	}
	return h
}

// answerGRPC carries out behavior b for a gRPC export: nil for success,
// else the status error to answer with, after hanging for Hang.
func (r *Receiver) answerGRPC(ctx context.Context, b Behavior) error {
	switch b {
	case Accept:
		return nil
	case Hang:
		if r.hang(ctx) {
			return status.Error(codes.Unavailable, "otlptest: receiver closed")
		}
		return status.FromContextError(ctx.Err()).Err()
	default:
		return status.Error(codes.Unavailable, "otlptest: unavailable")
	}
}

func (r *Receiver) serveHTTP(w http.ResponseWriter, req *http.Request) {
	r.count(&r.attempts)
	if b, ok := r.discarded(req); ok {
		r.answerHTTP(w, req, b, &colmetricpb.ExportMetricsServiceResponse{})
		return
	}
	m := new(colmetricpb.ExportMetricsServiceRequest)
	if !decodeHTTP(w, req, m) {
		return
	}
	r.answerHTTP(w, req, r.recordMetrics(m, req.Header.Clone()), &colmetricpb.ExportMetricsServiceResponse{})
}

func (r *Receiver) serveTracesHTTP(w http.ResponseWriter, req *http.Request) {
	r.count(&r.traceAttempts)
	if b, ok := r.discarded(req); ok {
		r.answerHTTP(w, req, b, &coltracepb.ExportTraceServiceResponse{})
		return
	}
	m := new(coltracepb.ExportTraceServiceRequest)
	if !decodeHTTP(w, req, m) {
		return
	}
	r.answerHTTP(w, req, r.recordTraces(m, req.Header.Clone()), &coltracepb.ExportTraceServiceResponse{})
}

func (r *Receiver) serveLogsHTTP(w http.ResponseWriter, req *http.Request) {
	r.count(&r.logAttempts)
	if b, ok := r.discarded(req); ok {
		r.answerHTTP(w, req, b, &collogspb.ExportLogsServiceResponse{})
		return
	}
	m := new(collogspb.ExportLogsServiceRequest)
	if !decodeHTTP(w, req, m) {
		return
	}
	r.answerHTTP(w, req, r.recordLogs(m, req.Header.Clone()), &collogspb.ExportLogsServiceResponse{})
}

// discarded reads the body of req without decoding it when r discards
// requests (Discard), and returns the behavior to answer with; ok is false
// when r keeps requests, with the body untouched.
func (r *Receiver) discarded(req *http.Request) (b Behavior, ok bool) {
	r.mu.Lock()
	b, ok = r.behavior, r.discard
	r.mu.Unlock()
	if ok {
		_, _ = io.Copy(io.Discard, io.LimitReader(req.Body, maxBodySize+1))
	}
	return b, ok
}

// decodeHTTP decodes the body of an OTLP/HTTP export into m, reporting
// whether it could; if not, it has answered with an error.
func decodeHTTP(w http.ResponseWriter, req *http.Request, m proto.Message) bool {
	if mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type")); mt != protobufContentType {
		writeStatus(w, http.StatusUnsupportedMediaType, codes.InvalidArgument, "otlptest: unsupported Content-Type "+req.Header.Get("Content-Type"))
		return false
	}
	var body io.Reader = req.Body
	switch enc := req.Header.Get("Content-Encoding"); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			writeStatus(w, http.StatusBadRequest, codes.InvalidArgument, "otlptest: gzip: "+err.Error())
			return false
		}
		defer zr.Close()
		body = zr
	default:
		writeStatus(w, http.StatusUnsupportedMediaType, codes.InvalidArgument, "otlptest: unsupported Content-Encoding "+enc)
		return false
	}
	data, err := io.ReadAll(io.LimitReader(body, maxBodySize+1))
	if err == nil && len(data) > maxBodySize {
		err = errors.New("body too large")
	}
	if err != nil {
		writeStatus(w, http.StatusBadRequest, codes.InvalidArgument, "otlptest: read body: "+err.Error())
		return false
	}
	if err := proto.Unmarshal(data, m); err != nil {
		writeStatus(w, http.StatusBadRequest, codes.InvalidArgument, "otlptest: decode: "+err.Error())
		return false
	}
	return true
}

// answerHTTP carries out behavior b for an OTLP/HTTP export: ok for
// success, else an error status, after hanging for Hang.
func (r *Receiver) answerHTTP(w http.ResponseWriter, req *http.Request, b Behavior, ok proto.Message) {
	switch b {
	case Accept:
		writeProto(w, http.StatusOK, ok)
	case Hang:
		if r.hang(req.Context()) {
			writeStatus(w, http.StatusServiceUnavailable, codes.Unavailable, "otlptest: receiver closed")
		}
	default:
		w.Header().Set("Retry-After", "1")
		writeStatus(w, http.StatusServiceUnavailable, codes.Unavailable, "otlptest: unavailable")
	}
}

// writeStatus answers with an OTLP/HTTP error: a google.rpc.Status body.
func writeStatus(w http.ResponseWriter, httpCode int, code codes.Code, msg string) {
	writeProto(w, httpCode, status.New(code, msg).Proto())
}

func writeProto(w http.ResponseWriter, httpCode int, m proto.Message) {
	data, err := proto.Marshal(m)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", protobufContentType)
	w.WriteHeader(httpCode)
	_, _ = w.Write(data)
}
