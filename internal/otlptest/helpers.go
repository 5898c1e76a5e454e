package otlptest

import (
	"encoding/base64"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// ResourceAttributes returns the attributes of the request's first
// ResourceMetrics, with every value in string form (see [ValueString]). It
// returns an empty map if the request has no resource.
func (r Request) ResourceAttributes() map[string]string {
	attrs := map[string]string{}
	if rms := r.Metrics.GetResourceMetrics(); len(rms) > 0 {
		for _, a := range rms[0].GetResource().GetAttributes() {
			attrs[a.GetKey()] = ValueString(a.GetValue())
		}
	}
	return attrs
}

// ResourceAttributes returns the attributes of the request's first
// ResourceSpans, with every value in string form (see [ValueString]). It
// returns an empty map if the request has no resource.
func (r TraceRequest) ResourceAttributes() map[string]string {
	var res *resourcepb.Resource
	if rss := r.Traces.GetResourceSpans(); len(rss) > 0 {
		res = rss[0].GetResource()
	}
	return attributes(res.GetAttributes())
}

// Span is one span of a traces export request, with the resource and the
// instrumentation scope the request gives it.
type Span struct {
	// Span is the decoded span. It must not be modified.
	Span *tracepb.Span
	// Resource is the resource of the span's ResourceSpans; it may be nil.
	Resource *resourcepb.Resource
	// Scope is the instrumentation scope of the span's ScopeSpans; it may
	// be nil.
	Scope *commonpb.InstrumentationScope
	// Accepted reports whether the request carrying the span was answered
	// with success.
	Accepted bool
}

// Name returns the span's name.
func (s Span) Name() string { return s.Span.GetName() }

// TraceID returns the span's trace ID in lower-case hex, as in a W3C
// traceparent header.
func (s Span) TraceID() string { return hex.EncodeToString(s.Span.GetTraceId()) }

// SpanID returns the span's ID in lower-case hex.
func (s Span) SpanID() string { return hex.EncodeToString(s.Span.GetSpanId()) }

// ParentSpanID returns the ID of the span's parent in lower-case hex, or ""
// for a root span.
func (s Span) ParentSpanID() string { return hex.EncodeToString(s.Span.GetParentSpanId()) }

// Attributes returns the span's attributes, with every value in string form
// (see [ValueString]).
func (s Span) Attributes() map[string]string { return attributes(s.Span.GetAttributes()) }

// ResourceAttributes returns the attributes of the span's resource, with
// every value in string form (see [ValueString]).
func (s Span) ResourceAttributes() map[string]string {
	return attributes(s.Resource.GetAttributes())
}

// Spans returns every span in reqs, in order of arrival, whatever the
// behavior that answered the request carrying it (see [Span.Accepted]): a
// span refused and exported again appears twice.
func Spans(reqs []TraceRequest) []Span {
	var spans []Span
	for _, req := range reqs {
		for _, rs := range req.Traces.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				for _, sp := range ss.GetSpans() {
					spans = append(spans, Span{Span: sp, Resource: rs.GetResource(), Scope: ss.GetScope(), Accepted: req.Accepted})
				}
			}
		}
	}
	return spans
}

// SpanNames returns the sorted, de-duplicated names of every span in reqs.
func SpanNames(reqs []TraceRequest) []string {
	var names []string
	for _, s := range Spans(reqs) {
		names = append(names, s.Name())
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// FindSpans returns every span named name in reqs, in order of arrival.
func FindSpans(reqs []TraceRequest, name string) []Span {
	var found []Span
	for _, s := range Spans(reqs) {
		if s.Name() == name {
			found = append(found, s)
		}
	}
	return found
}

// LogRecord is one log record of a logs export request.
type LogRecord struct {
	// Record is the decoded record. It must not be modified.
	Record *logspb.LogRecord
	// Accepted reports whether the request carrying the record was
	// answered with success.
	Accepted bool
}

// Body returns the record's body in string form (see [ValueString]).
func (l LogRecord) Body() string { return ValueString(l.Record.GetBody()) }

// TraceID returns the record's trace ID in lower-case hex, or "".
func (l LogRecord) TraceID() string { return hex.EncodeToString(l.Record.GetTraceId()) }

// SpanID returns the record's span ID in lower-case hex, or "".
func (l LogRecord) SpanID() string { return hex.EncodeToString(l.Record.GetSpanId()) }

// Attributes returns the record's attributes, with every value in string
// form (see [ValueString]).
func (l LogRecord) Attributes() map[string]string { return attributes(l.Record.GetAttributes()) }

// LogRecords returns every log record in reqs, in order of arrival.
func LogRecords(reqs []LogRequest) []LogRecord {
	var out []LogRecord
	for _, req := range reqs {
		for _, rl := range req.Logs.GetResourceLogs() {
			for _, sl := range rl.GetScopeLogs() {
				for _, lr := range sl.GetLogRecords() {
					out = append(out, LogRecord{Record: lr, Accepted: req.Accepted})
				}
			}
		}
	}
	return out
}

// attributes returns kvs as a map, with every value in string form (see
// [ValueString]).
func attributes(kvs []*commonpb.KeyValue) map[string]string {
	attrs := make(map[string]string, len(kvs))
	for _, a := range kvs {
		attrs[a.GetKey()] = ValueString(a.GetValue())
	}
	return attrs
}

// ValueString returns the string form of an OTLP attribute value: strings
// as is, booleans and numbers as formatted by strconv, bytes in standard
// base64, arrays as "[a,b]" and key-value lists as "{k=v,...}". A nil or
// empty value yields "".
func ValueString(v *commonpb.AnyValue) string {
	switch v := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return v.StringValue
	case *commonpb.AnyValue_BoolValue:
		return strconv.FormatBool(v.BoolValue)
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(v.IntValue, 10)
	case *commonpb.AnyValue_DoubleValue:
		return strconv.FormatFloat(v.DoubleValue, 'g', -1, 64)
	case *commonpb.AnyValue_BytesValue:
		return base64.StdEncoding.EncodeToString(v.BytesValue)
	case *commonpb.AnyValue_ArrayValue:
		parts := make([]string, 0, len(v.ArrayValue.GetValues()))
		for _, e := range v.ArrayValue.GetValues() {
			parts = append(parts, ValueString(e))
		}
		return "[" + strings.Join(parts, ",") + "]"
	case *commonpb.AnyValue_KvlistValue:
		parts := make([]string, 0, len(v.KvlistValue.GetValues()))
		for _, kv := range v.KvlistValue.GetValues() {
			parts = append(parts, kv.GetKey()+"="+ValueString(kv.GetValue()))
		}
		return "{" + strings.Join(parts, ",") + "}"
	default:
		return ""
	}
}

// MetricNames returns the sorted, de-duplicated names of every metric in
// reqs.
func MetricNames(reqs []Request) []string {
	var names []string
	for _, req := range reqs {
		eachMetric(req, func(m *metricpb.Metric) { names = append(names, m.GetName()) })
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// FindMetric returns every metric named name in reqs, in order of arrival.
func FindMetric(reqs []Request, name string) []*metricpb.Metric {
	var found []*metricpb.Metric
	for _, req := range reqs {
		eachMetric(req, func(m *metricpb.Metric) {
			if m.GetName() == name {
				found = append(found, m)
			}
		})
	}
	return found
}

func eachMetric(req Request, f func(*metricpb.Metric)) {
	for _, rm := range req.Metrics.GetResourceMetrics() {
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				f(m)
			}
		}
	}
}
