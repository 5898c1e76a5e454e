package promconv_test

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
)

// normalize returns deep copies of mfs without the labels drop selects,
// sorted by family name and label values, with exemplar labels sorted by
// name and timestamps that differ between two readers of one provider
// (exemplar times, native histogram start times) cleared. It reports
// exemplars without a timestamp.
func normalize(t *testing.T, mfs []*dto.MetricFamily, drop func(name, value string) bool) []*dto.MetricFamily {
	t.Helper()
	exemplar := func(e *dto.Exemplar) {
		if e == nil {
			return
		}
		if e.Timestamp == nil {
			t.Errorf("exemplar %v has no timestamp", e)
		}
		e.Timestamp = nil
		slices.SortFunc(e.Label, func(a, b *dto.LabelPair) int { return strings.Compare(a.GetName(), b.GetName()) })
	}
	out := make([]*dto.MetricFamily, 0, len(mfs))
	for _, mf := range mfs {
		mf = proto.Clone(mf).(*dto.MetricFamily)
		for _, m := range mf.Metric {
			if drop != nil {
				m.Label = slices.DeleteFunc(m.Label, func(lp *dto.LabelPair) bool { return drop(lp.GetName(), lp.GetValue()) })
			}
			if c := m.Counter; c != nil {
				exemplar(c.Exemplar)
			}
			if h := m.Histogram; h != nil {
				h.CreatedTimestamp = nil
				for _, b := range h.Bucket {
					exemplar(b.Exemplar)
				}
				for _, e := range h.Exemplars {
					exemplar(e)
				}
			}
		}
		slices.SortFunc(mf.Metric, func(a, b *dto.Metric) int { return cmpMetric(a, b) })
		out = append(out, mf)
	}
	slices.SortFunc(out, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	return out
}

func cmpMetric(a, b *dto.Metric) int {
	if c := cmp.Compare(len(a.Label), len(b.Label)); c != 0 {
		return c
	}
	for i := range a.Label {
		if c := strings.Compare(a.Label[i].GetValue(), b.Label[i].GetValue()); c != 0 {
			return c
		}
	}
	for i := range a.Label {
		if c := strings.Compare(a.Label[i].GetName(), b.Label[i].GetName()); c != 0 {
			return c
		}
	}
	return 0
}

// text encodes mfs in the Prometheus text format.
func text(t *testing.T, mfs []*dto.MetricFamily) string {
	t.Helper()
	var b strings.Builder
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatalf("encoding %s: %v", mf.GetName(), err)
		}
	}
	return b.String()
}

// protoText renders mfs completely (native histograms and exemplars included).
func protoText(mfs []*dto.MetricFamily) string {
	var b strings.Builder
	for _, mf := range mfs {
		b.WriteString(prototext.Format(mf))
		b.WriteString("\n")
	}
	return b.String()
}

// lineDiff returns the lines only in want ("-") or only in got ("+").
func lineDiff(want, got string) string {
	count := map[string]int{}
	for l := range strings.SplitSeq(want, "\n") {
		count[l]++
	}
	for l := range strings.SplitSeq(got, "\n") {
		count[l]--
	}
	var b strings.Builder
	for l := range strings.SplitSeq(want, "\n") {
		if count[l] > 0 {
			b.WriteString("- " + l + "\n")
			count[l]--
		}
	}
	for l := range strings.SplitSeq(got, "\n") {
		if count[l] < 0 {
			b.WriteString("+ " + l + "\n")
			count[l]++
		}
	}
	return b.String()
}

func find(mfs []*dto.MetricFamily, name string) *dto.MetricFamily {
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf
		}
	}
	return nil
}

func label(m *dto.Metric, name string) (string, bool) {
	for _, lp := range m.Label {
		if lp.GetName() == name {
			return lp.GetValue(), true
		}
	}
	return "", false
}

func shutdown(t *testing.T, mp *sdkmetric.MeterProvider) {
	t.Cleanup(func() {
		if err := mp.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
}
