package otlptest

import (
	"encoding/base64"
	"slices"
	"strconv"
	"strings"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
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
