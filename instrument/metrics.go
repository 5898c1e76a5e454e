package instrument

import (
	"context"
	"github.com/vitalsgo/vitals/internal/buckets"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// ScopeName is the instrumentation scope of the metrics this package records.
const ScopeName = "github.com/vitalsgo/vitals/instrument"

// The metrics the middleware records, by their OpenTelemetry names. On
// /metrics they are http_server_request_duration_seconds,
// http_server_active_requests, http_server_request_body_size_bytes,
// http_server_response_body_size_bytes and
// vitals_http_server_slow_requests_total.
const (
	MetricServerRequestDuration  = "http.server.request.duration"
	MetricServerActiveRequests   = "http.server.active_requests"
	MetricServerRequestBodySize  = "http.server.request.body.size"
	MetricServerResponseBodySize = "http.server.response.body.size"
	MetricServerSlowRequests     = "vitals.http.server.slow_requests"
)

// durationBoundaries are the semantic conventions' advice for
// http.server.request.duration, as otelhttp gives them.
var durationBoundaries = buckets.Seconds()

// methods are the values of http.request.method; the last is for any other.
var methods = [...]string{"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE", "_OTHER"}

const otherMethod = uint8(len(methods) - 1)

// methodIndex maps a request method to methods, upper-casing it as otelhttp
// does, without allocating for the standard spellings.
func methodIndex(m string) uint8 {
	switch m {
	case "GET":
		return 2
	case "POST":
		return 6
	case "PUT":
		return 7
	case "DELETE":
		return 1
	case "PATCH":
		return 5
	case "HEAD":
		return 3
	case "OPTIONS":
		return 4
	case "CONNECT":
		return 0
	case "TRACE":
		return 8
	}
	if len(m) > 7 {
		return otherMethod
	}
	for i, s := range methods[:otherMethod] {
		if strings.EqualFold(m, s) {
			return uint8(i)
		}
	}
	return otherMethod
}

// protoVersion returns network.protocol.version as otelhttp derives it from
// r.Proto ("HTTP/1.1" gives "1.1"), as a constant for the usual values.
func protoVersion(proto string) string {
	switch proto {
	case "HTTP/1.1":
		return "1.1"
	case "HTTP/2.0":
		return "2.0"
	case "HTTP/1.0":
		return "1.0"
	case "HTTP/3.0":
		return "3.0"
	}
	if _, v, ok := strings.Cut(proto, "/"); ok && len(v) <= 4 {
		return v
	}
	return ""
}

// attrKey identifies one attribute set of the request metrics.
type attrKey struct {
	method  uint8
	https   bool
	status  uint16
	version string
	route   string
	errType string
	host    string
	port    int
}

// attrVal holds the options to record with, built once per attribute set.
type attrVal struct {
	record []metric.RecordOption
	slow   []metric.AddOption
}

// maxAttrSets bounds the attribute-set cache; past it, sets are built per
// request (still correct, only slower).
const maxAttrSets = 20000

// fastKey identifies the usual attribute sets more cheaply than attrKey:
// one string and packed small values (see pack). Sets with a panic type or
// a server address go through attrKey.
type fastKey struct {
	route string
	bits  uint64
}

// versionIndex numbers the protocol versions fastKey can hold; 0 means
// another version (slow path).
func versionIndex(v string) uint64 {
	switch v {
	case "1.1":
		return 1
	case "2.0":
		return 2
	case "1.0":
		return 3
	case "3.0":
		return 4
	}
	return 0
}

// pack returns k's small values as fastKey bits, or false when k needs the
// slow path.
func (k attrKey) pack() (uint64, bool) {
	vi := versionIndex(k.version)
	if vi == 0 || k.host != "" || (k.errType != "" && k.status < 500) {
		return 0, false
	}
	var b uint64 = uint64(k.method) | vi<<4 | uint64(k.status)<<8
	if k.https {
		b |= 1 << 20
	}
	if k.errType != "" { // the status code, for a 5xx
		b |= 1 << 21
	}
	return b, true
}

type serverMetrics struct {
	fast sync.Map // fastKey → *attrVal

	duration metric.Float64Histogram
	reqSize  metric.Int64Histogram
	respSize metric.Int64Histogram
	slow     metric.Int64Counter
	reg      metric.Registration

	sets  sync.Map // attrKey → *attrVal
	nsets atomic.Int64

	// active counts requests in flight by method and scheme (0 http, 1 https).
	active [len(methods)][2]atomic.Int64
	seen   [len(methods)][2]atomic.Bool
}

func newServerMetrics(mp metric.MeterProvider, bodySizes bool) (*serverMetrics, error) {
	m := mp.Meter(ScopeName)
	sm := &serverMetrics{}
	var err error
	if sm.duration, err = m.Float64Histogram(MetricServerRequestDuration,
		metric.WithUnit("s"),
		metric.WithDescription("Duration of HTTP server requests."),
		metric.WithExplicitBucketBoundaries(durationBoundaries...)); err != nil {
		return nil, err
	}
	if bodySizes {
		if sm.reqSize, err = m.Int64Histogram(MetricServerRequestBodySize,
			metric.WithUnit("By"),
			metric.WithDescription("Size of HTTP server request bodies.")); err != nil {
			return nil, err
		}
		if sm.respSize, err = m.Int64Histogram(MetricServerResponseBodySize,
			metric.WithUnit("By"),
			metric.WithDescription("Size of HTTP server response bodies.")); err != nil {
			return nil, err
		}
	}
	if sm.slow, err = m.Int64Counter(MetricServerSlowRequests,
		metric.WithUnit("{request}"),
		metric.WithDescription("HTTP server requests slower than the slow-request threshold.")); err != nil {
		return nil, err
	}
	active, err := m.Int64ObservableUpDownCounter(MetricServerActiveRequests,
		metric.WithUnit("{request}"),
		metric.WithDescription("Number of active HTTP server requests."))
	if err != nil {
		return nil, err
	}
	var activeOpts [len(methods)][2]metric.ObserveOption
	for i, meth := range methods {
		for j, scheme := range []string{"http", "https"} {
			activeOpts[i][j] = metric.WithAttributeSet(attribute.NewSet(
				semconv.HTTPRequestMethodKey.String(meth), semconv.URLScheme(scheme)))
		}
	}
	sm.reg, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for i := range sm.active {
			for j := range sm.active[i] {
				if sm.seen[i][j].Load() {
					o.ObserveInt64(active, sm.active[i][j].Load(), activeOpts[i][j])
				}
			}
		}
		return nil
	}, active)
	if err != nil {
		return nil, err
	}
	return sm, nil
}

func (sm *serverMetrics) begin(method uint8, https bool) {
	j := 0
	if https {
		j = 1
	}
	sm.active[method][j].Add(1)
	if !sm.seen[method][j].Load() {
		sm.seen[method][j].Store(true)
	}
}

func (sm *serverMetrics) end(method uint8, https bool) {
	j := 0
	if https {
		j = 1
	}
	sm.active[method][j].Add(-1)
}

// cached returns the recording options for k if they are cached.
func (sm *serverMetrics) cached(k attrKey) (*attrVal, bool) {
	if bits, ok := k.pack(); ok {
		if v, ok := sm.fast.Load(fastKey{k.route, bits}); ok {
			return v.(*attrVal), true
		}
		return nil, false
	}
	if v, ok := sm.sets.Load(k); ok {
		return v.(*attrVal), true
	}
	return nil, false
}

// attrs returns the recording options for k, caching them.
func (sm *serverMetrics) attrs(k attrKey) *attrVal {
	if v, ok := sm.cached(k); ok {
		return v
	}
	v := buildAttrs(k)
	if sm.nsets.Load() >= maxAttrSets {
		return v
	}
	var actual any
	var loaded bool
	if bits, ok := k.pack(); ok {
		actual, loaded = sm.fast.LoadOrStore(fastKey{k.route, bits}, v)
	} else {
		actual, loaded = sm.sets.LoadOrStore(k, v)
	}
	if loaded {
		return actual.(*attrVal)
	}
	sm.nsets.Add(1)
	return v
}

func buildAttrs(k attrKey) *attrVal {
	scheme := "http"
	if k.https {
		scheme = "https"
	}
	kvs := make([]attribute.KeyValue, 0, 9)
	kvs = append(kvs,
		semconv.HTTPRequestMethodKey.String(methods[k.method]),
		semconv.URLScheme(scheme),
		semconv.NetworkProtocolName("http"),
	)
	if k.version != "" {
		kvs = append(kvs, semconv.NetworkProtocolVersion(k.version))
	}
	if k.status > 0 {
		kvs = append(kvs, semconv.HTTPResponseStatusCode(int(k.status)))
	}
	if k.route != "" {
		kvs = append(kvs, semconv.HTTPRoute(k.route))
	}
	if k.errType != "" {
		kvs = append(kvs, semconv.ErrorTypeKey.String(k.errType))
	}
	if k.host != "" {
		kvs = append(kvs, semconv.ServerAddress(k.host))
		if k.port > 0 {
			kvs = append(kvs, semconv.ServerPort(k.port))
		}
	}
	slow := attribute.NewSet(semconv.HTTPRequestMethodKey.String(methods[k.method]), semconv.HTTPRoute(k.route))
	return &attrVal{
		record: []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(kvs...))},
		slow:   []metric.AddOption{metric.WithAttributeSet(slow)},
	}
}

// splitHost returns server.address and server.port from a Host header as
// otelhttp does: the port only when it is not the scheme's default.
func splitHost(hostport string, https bool) (string, int) {
	host, portStr, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport, 0
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port <= 0 || (https && port == 443) || (!https && port == 80) {
		return host, 0
	}
	return host, port
}
