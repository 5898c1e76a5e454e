package memory

import (
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/model/labels"
	"google.golang.org/protobuf/proto"
)

func dtoExemplar(v float64, pairs ...string) *dto.Exemplar {
	d := &dto.Exemplar{Value: proto.Float64(v)}
	for i := 0; i < len(pairs); i += 2 {
		d.Label = append(d.Label, &dto.LabelPair{Name: proto.String(pairs[i]), Value: proto.String(pairs[i+1])})
	}
	return d
}

// TestExemplarLabelsRoundTrip: what a query returns is the exemplar's
// labels as they came, sorted, whether the IDs are kept as bytes (lowercase
// hex of the right length) or, being anything else, as labels; labels
// besides the IDs (attributes a view filtered out) are kept.
func TestExemplarLabelsRoundTrip(t *testing.T) {
	series := labels.FromStrings("__name__", "latency_seconds_bucket", "le", "0.1")
	for _, tc := range []struct {
		name  string
		pairs []string
	}{
		{"ids", []string{"trace_id", "0af7651916cd43dd8448eb211c80319c", "span_id", "b7ad6b7169203331"}},
		{"ids and an attribute", []string{"user_tier", "gold", "trace_id", "0af7651916cd43dd8448eb211c80319c", "span_id", "b7ad6b7169203331"}},
		{"upper-case trace id", []string{"trace_id", "0AF7651916CD43DD8448EB211C80319C", "span_id", "b7ad6b7169203331"}},
		{"short span id", []string{"trace_id", "0af7651916cd43dd8448eb211c80319c", "span_id", "b7ad"}},
		{"no ids", []string{"user_tier", "gold"}},
		{"none", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newExemplarStore(4)
			s.add(series, series.Hash(), dtoExemplar(0.05, tc.pairs...), 1000)
			res := s.query(0, 2000, [][]*labels.Matcher{{labels.MustNewMatcher(labels.MatchEqual, "le", "0.1")}})
			if len(res) != 1 || len(res[0].Exemplars) != 1 {
				t.Fatalf("query = %v, want one exemplar", res)
			}
			e := res[0].Exemplars[0]
			if want := labels.FromStrings(tc.pairs...); !labels.Equal(e.Labels, want) {
				t.Errorf("labels = %v, want %v", e.Labels, want)
			}
			if e.Value != 0.05 || e.Ts != 1000 || !e.HasTs {
				t.Errorf("exemplar = %+v, want value 0.05 at 1000", e)
			}
		})
	}
}

// TestExemplarStoreDoesNotGrow: once the first exemplar is kept, keeping
// more (with trace and span IDs, as the SDK gives them) allocates nothing:
// the store's memory is what it takes at the first.
func TestExemplarStoreDoesNotGrow(t *testing.T) {
	series := labels.FromStrings("__name__", "latency_seconds_bucket", "le", "0.1")
	s := newExemplarStore(100)
	exs := make([]*dto.Exemplar, 1000)
	for i := range exs {
		exs[i] = dtoExemplar(float64(i), "span_id", "b7ad6b7169203331", "trace_id", "0af7651916cd43dd8448eb211c80319c")
	}
	s.add(series, series.Hash(), exs[0], 0)
	i := 1
	allocs := testing.AllocsPerRun(500, func() {
		s.add(series, series.Hash(), exs[i], int64(i))
		i++
	})
	if allocs != 0 {
		t.Errorf("keeping an exemplar allocates %.1f times, want 0", allocs)
	}
	if n := len(s.query(0, 1<<40, [][]*labels.Matcher{{labels.MustNewMatcher(labels.MatchEqual, "le", "0.1")}})[0].Exemplars); n != 100 {
		t.Errorf("kept %d exemplars, want the ring's 100", n)
	}
}
