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
	return &querier{stores: r.allStores(), mint: mint, maxt: maxt, lookback: r.cfg.lookback.Milliseconds()}, nil
}

type querier struct {
	stores     []*store // the collector's, then each appender's
	mint, maxt int64
	lookback   int64 // the engine's lookback delta, milliseconds
}

// single reports whether hints select an instant vector evaluated at one
// time: no range, no step (not in a range query or a subquery), and the
// engine's lookback delta before End. The engine then uses only the newest
// sample at or before End, so Select returns only that one: it saves
// decoding, and for native histograms the engine's allocation of every
// histogram it steps over in the lookback window.
func (q *querier) single(hints *storage.SelectHints) bool {
	return hints != nil && hints.Step == 0 && hints.Range == 0 && hints.End-hints.Start < q.lookback
}

// Select returns the matching series as iterators over their chunks: the
// closed chunks are shared (they never change), the chunk being appended to
// is copied under the read lock, so that evaluation never races with a
// collection. Chunks that end before the retention are not read.
func (q *querier) Select(_ context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	mint, maxt := q.mint, q.maxt
	if hints != nil {
		mint, maxt = max(mint, hints.Start), min(maxt, hints.End)
	}
	if q.single(hints) {
		return q.selectNewest(sortSeries, mint, maxt, ms)
	}
	var out []storage.Series
	for _, st := range q.stores {
		st.mu.RLock()
		from := max(mint, st.cutoff())
		matched := st.matching(ms)
		// One slab of chunk references and one of series for the whole
		// selection, so that a selection costs a few allocations, not
		// several per series.
		slab := make([]chunkenc.Chunk, 0, len(matched)*2)
		list := make([]chunkSeries, 0, len(matched))
		for _, s := range matched {
			n := len(slab)
			slab = s.chunks(slab, from, maxt)
			if len(slab) == n {
				continue
			}
			list = append(list, chunkSeries{lset: s.lset, chunks: slab[n:len(slab):len(slab)]})
		}
		st.mu.RUnlock()
		for i := range list {
			out = append(out, &list[i])
		}
	}
	if sortSeries {
		slices.SortFunc(out, func(a, b storage.Series) int { return labels.Compare(a.Labels(), b.Labels()) })
	}
	return &seriesSet{list: out, i: -1}
}

// selectNewest returns, for each matching series, its newest sample between
// mint and maxt only.
func (q *querier) selectNewest(sortSeries bool, mint, maxt int64, ms []*labels.Matcher) storage.SeriesSet {
	var out []storage.Series
	for _, st := range q.stores {
		st.mu.RLock()
		mint := max(mint, st.cutoff())
		matched := st.matching(ms)
		list := make([]sampleSeries, 0, len(matched))
		for _, s := range matched {
			if smp, ok := s.newest(mint, maxt); ok {
				list = append(list, sampleSeries{lset: s.lset, smp: smp})
			}
		}
		st.mu.RUnlock()
		for i := range list {
			out = append(out, &list[i])
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
func (s *chunkSeries) Labels() labels.Labels         { return s.lset }

// chunkSeries is a selected series: its chunks, oldest first.
type chunkSeries struct {
	lset   labels.Labels
	chunks []chunkenc.Chunk
}

// Iterator returns an iterator over the samples of the series: the chunk's
// own for one chunk, Prometheus' chain of them for several (they never
// overlap).
func (s *chunkSeries) Iterator(it chunkenc.Iterator) chunkenc.Iterator {
	if len(s.chunks) == 1 {
		return s.chunks[0].Iterator(it)
	}
	iters := make([]chunkenc.Iterator, len(s.chunks))
	for i, c := range s.chunks {
		iters[i] = c.Iterator(nil)
	}
	return storage.ChainSampleIteratorFromIterators(it, iters)
}

// sampleSeries is a series of one sample.
type sampleSeries struct {
	lset labels.Labels
	smp  sample
}

func (s *sampleSeries) Labels() labels.Labels { return s.lset }

func (s *sampleSeries) Iterator(chunkenc.Iterator) chunkenc.Iterator {
	return storage.NewListSeriesIterator(samples{&s.smp})
}

// sample is one float or native histogram sample. A histogram is handed
// out as a float histogram of its own, which the engine may change.
type sample struct {
	t  int64
	f  float64
	fh *histogram.FloatHistogram // nil for a float sample
}

func (p *sample) T() int64                      { return p.t }
func (*sample) ST() int64                       { return 0 }
func (p *sample) F() float64                    { return p.f }
func (*sample) H() *histogram.Histogram         { return nil }
func (p *sample) FH() *histogram.FloatHistogram { return p.fh }
func (p *sample) Copy() chunks.Sample           { c := *p; return &c }
func (p *sample) Type() chunkenc.ValueType {
	if p.fh != nil {
		return chunkenc.ValFloatHistogram
	}
	return chunkenc.ValFloat
}

// samples is a storage.Samples over samples.
type samples []*sample

func (s samples) Get(i int) chunks.Sample { return s[i] }
func (s samples) Len() int                { return len(s) }
