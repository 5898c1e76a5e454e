package promconv

import (
	"errors"
	"math"

	dto "github.com/prometheus/client_model/go"
)

// mergeNative merges into the classic histograms of fams the native
// histograms of the series of nfams with the same family name and labels.
// Both come from Convert, so both are sorted by family name and each
// family's series by labels (cmpLabels order): one merge pass pairs them.
// It only replaces the Histogram field of metrics of fams, which Convert
// made for this call.
func mergeNative(fams, nfams []*dto.MetricFamily) {
	i := 0
	for _, nf := range nfams {
		if nf.GetType() != dto.MetricType_HISTOGRAM {
			continue
		}
		for i < len(fams) && fams[i].GetName() < nf.GetName() {
			i++
		}
		if i == len(fams) {
			return
		}
		if f := fams[i]; f.GetName() == nf.GetName() && f.GetType() == dto.MetricType_HISTOGRAM {
			mergeSeries(f.Metric, nf.Metric)
		}
	}
}

// mergeSeries pairs the series of one family in the two conversions.
func mergeSeries(ms, nms []*dto.Metric) {
	j := 0
	for _, m := range ms {
		c := -1
		for j < len(nms) {
			if c = cmpLabels(nms[j].Label, m.Label); c >= 0 {
				break
			}
			j++
		}
		if j == len(nms) {
			return
		}
		if c != 0 {
			continue
		}
		if h := withNative(m.Histogram, nms[j].Histogram); h != nil {
			m.Histogram = h
		}
		j++
	}
}

// withNative returns a new histogram with the classic buckets of c and the
// count, sum, native buckets and native exemplars of n, or nil if c is not
// a classic histogram or n not a native one. An explicit +Inf bucket of c
// (added for an exemplar above every bound) is given n's count, which the
// implied +Inf bucket has too.
func withNative(c, n *dto.Histogram) *dto.Histogram {
	if c == nil || n == nil || isNative(c) || !isNative(n) {
		return nil
	}
	h := &dto.Histogram{
		SampleCount:   n.SampleCount,
		SampleSum:     n.SampleSum,
		Bucket:        c.Bucket,
		Schema:        n.Schema,
		ZeroThreshold: n.ZeroThreshold,
		ZeroCount:     n.ZeroCount,
		NegativeSpan:  n.NegativeSpan,
		NegativeDelta: n.NegativeDelta,
		PositiveSpan:  n.PositiveSpan,
		PositiveDelta: n.PositiveDelta,
		Exemplars:     n.Exemplars,
	}
	if k := len(h.Bucket); k > 0 {
		if last := h.Bucket[k-1]; math.IsInf(last.GetUpperBound(), 1) && last.GetCumulativeCount() != h.GetSampleCount() {
			b := &dto.Bucket{CumulativeCount: h.SampleCount, UpperBound: last.UpperBound, Exemplar: last.Exemplar}
			h.Bucket = append(h.Bucket[:k-1:k-1], b)
		}
	}
	return h
}

// isNative reports whether h carries a native histogram, as Prometheus
// decides it: a span, a zero bucket or a schema. An empty native histogram
// from client_golang has a span of length 0 for this reason.
func isNative(h *dto.Histogram) bool {
	return h.Schema != nil || h.ZeroThreshold != nil || h.ZeroCount != nil || h.ZeroCountFloat != nil ||
		len(h.PositiveSpan) > 0 || len(h.NegativeSpan) > 0
}

// joinNew joins to err the errors of add that err does not already hold:
// the two conversions of a Gatherer of NewNativeGatherer report the same
// problems with a histogram's name or labels.
func joinNew(err, add error) error {
	if add == nil {
		return err
	}
	if err == nil {
		return add
	}
	seen := make(map[string]bool)
	for _, e := range unjoin(err) {
		seen[e.Error()] = true
	}
	errs := []error{err}
	for _, e := range unjoin(add) {
		if !seen[e.Error()] {
			errs = append(errs, e)
		}
	}
	if len(errs) == 1 {
		return err
	}
	return errors.Join(errs...)
}

// unjoin returns the errors errors.Join joined into err, or err alone.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
