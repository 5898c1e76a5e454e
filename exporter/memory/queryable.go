package memory

import (
	"context"
	"slices"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"
)

var _ storage.Queryable = (*Reader)(nil)

// Querier implements storage.Queryable over the stored series, so that the
// Prometheus PromQL engine (or anything else that reads a Prometheus
// storage) can run over them. Times are milliseconds, both inclusive.
func (r *Reader) Querier(mint, maxt int64) (storage.Querier, error) {
	return &querier{stores: r.allStores(), mint: mint, maxt: maxt}, nil
}

type querier struct {
	stores     []*store // the collector's, then each appender's
	mint, maxt int64
}

// Select copies the matching samples out of the store under its read lock,
// so that evaluation never races with a collection.
func (q *querier) Select(_ context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	mint, maxt := q.mint, q.maxt
	if hints != nil {
		mint, maxt = max(mint, hints.Start), min(maxt, hints.End)
	}
	// One slab of points and one of series for the whole selection, so
	// that a selection costs a few allocations, not several per series.
	var out []storage.Series
	for _, st := range q.stores {
		st.mu.RLock()
		matched := st.matching(ms)
		slab := make([]fpoint, 0, len(matched)*min(st.tl.count(), 64))
		series := make([]listSeries, 0, len(matched))
		for _, s := range matched {
			n := len(slab)
			slab = st.points(slab, s, mint, maxt)
			if len(slab) == n {
				continue
			}
			series = append(series, listSeries{lset: s.lset, pts: slab[n:len(slab):len(slab)]})
		}
		st.mu.RUnlock()
		for i := range series {
			out = append(out, &series[i])
		}
	}
	if sortSeries {
		slices.SortFunc(out, func(a, b storage.Series) int { return labels.Compare(a.Labels(), b.Labels()) })
	}
	return &seriesSet{list: out, i: -1}
}

func (q *querier) LabelValues(_ context.Context, name string, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	seen := map[string]struct{}{}
	for _, st := range q.stores {
		st.mu.RLock()
		for _, s := range st.matching(ms) {
			if v := s.lset.Get(name); v != "" {
				seen[v] = struct{}{}
			}
		}
		st.mu.RUnlock()
	}
	return limit(sortedKeys(seen), hints), nil, nil
}

func (q *querier) LabelNames(_ context.Context, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	seen := map[string]struct{}{}
	for _, st := range q.stores {
		st.mu.RLock()
		for _, s := range st.matching(ms) {
			s.lset.Range(func(l labels.Label) { seen[l.Name] = struct{}{} })
		}
		st.mu.RUnlock()
	}
	return limit(sortedKeys(seen), hints), nil, nil
}

func (*querier) Close() error { return nil }

func sortedKeys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func limit(s []string, hints *storage.LabelHints) []string {
	if hints != nil && hints.Limit > 0 && len(s) > hints.Limit {
		return s[:hints.Limit]
	}
	return s
}

type seriesSet struct {
	list []storage.Series
	i    int
}

func (s *seriesSet) Next() bool {
	s.i++
	return s.i < len(s.list)
}
func (s *seriesSet) At() storage.Series              { return s.list[s.i] }
func (*seriesSet) Err() error                        { return nil }
func (*seriesSet) Warnings() annotations.Annotations { return nil }
func (l *listSeries) Labels() labels.Labels          { return l.lset }
func (l *listSeries) Iterator(it chunkenc.Iterator) chunkenc.Iterator {
	return storage.NewListSeriesIterator(l.pts)
}

// listSeries is a series copied out of the store.
type listSeries struct {
	lset labels.Labels
	pts  points
}

// points is a storage.Samples over float samples. Get returns a pointer
// into the slice, so iterating allocates nothing per sample.
type points []fpoint

func (p points) Get(i int) chunks.Sample { return &p[i] }
func (p points) Len() int                { return len(p) }

func (p *fpoint) T() int64                    { return p.t }
func (*fpoint) ST() int64                     { return 0 }
func (p *fpoint) F() float64                  { return p.f }
func (*fpoint) H() *histogram.Histogram       { return nil }
func (*fpoint) FH() *histogram.FloatHistogram { return nil }
func (*fpoint) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (p *fpoint) Copy() chunks.Sample         { c := *p; return &c }
