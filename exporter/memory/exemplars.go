package memory

import (
	"context"
	"encoding/hex"
	"slices"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/labels"
)

// DefaultMaxExemplars is how many exemplars the reader keeps by default
// (WithMaxExemplars): the newest, across every series, as Prometheus'
// exemplar storage keeps a circular buffer of a fixed size.
const DefaultMaxExemplars = 10000

// exemplarStore keeps the newest exemplars of the collected histogram
// buckets in a circular buffer of fixed size. A bucket reports the same
// exemplar at every collection until a newer one replaces it: it is kept
// once. The buffer is allocated whole at the first exemplar, and an entry
// holds the trace and span IDs as bytes, not as label strings: what the
// store takes does not grow while it fills, and adding one allocates
// nothing (but for labels other than the two IDs, which the SDK adds only
// for attributes a view filters out).
type exemplarStore struct {
	mu   sync.RWMutex
	size int
	ring []storedExemplar // nil until the first exemplar
	next int              // where the next exemplar goes
	full bool             // the ring has wrapped
	// last is the newest exemplar kept of each series, by labels hash, to
	// skip repeats without converting them; it is rebuilt from the ring
	// when it outgrows it.
	last map[uint64]exemplarKey
}

// exemplarKey tells a bucket's exemplar from the one it reported before:
// by the converted exemplar itself, which the converter reuses while the
// measurement is the same, or else by its time and value.
type exemplarKey struct {
	d     *dto.Exemplar // nil when rebuilt from the ring
	ts    int64
	value float64
}

// storedExemplar is one exemplar of the series, whose labels it shares
// with the store's series.
type storedExemplar struct {
	series  labels.Labels
	value   float64
	ts      int64
	traceID [16]byte
	spanID  [8]byte
	ids     uint8          // hasTraceID | hasSpanID
	other   *labels.Labels // labels besides the IDs, sorted; nil mostly
}

const (
	hasTraceID = 1 << iota
	hasSpanID
)

// The labels OTel gives an exemplar of a sampled measurement (the
// OpenMetrics names Prometheus' OTLP translation uses).
const (
	traceIDLabel = "trace_id"
	spanIDLabel  = "span_id"
)

func newExemplarStore(size int) *exemplarStore {
	if size <= 0 {
		return nil
	}
	return &exemplarStore{size: size, last: map[uint64]exemplarKey{}}
}

// add keeps the exemplar a bucket of series (whose labels hash is hash)
// reported at now, unless it is the one kept last for that series. A
// repeat costs no allocation.
func (s *exemplarStore) add(series labels.Labels, hash uint64, d *dto.Exemplar, now int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, seen := s.last[hash]
	if seen && old.d == d {
		return
	}
	ts := now
	if d.Timestamp != nil {
		ts = d.Timestamp.AsTime().UnixMilli()
	}
	key := exemplarKey{d: d, ts: ts, value: d.GetValue()}
	if seen && old.ts == key.ts && old.value == key.value {
		s.last[hash] = key
		return
	}
	if s.ring == nil {
		s.ring = make([]storedExemplar, s.size)
	}
	e := storedExemplar{series: series, value: key.value, ts: ts}
	var other *labels.ScratchBuilder
	for _, p := range d.Label {
		name, value := p.GetName(), p.GetValue()
		switch {
		case name == traceIDLabel && e.ids&hasTraceID == 0 && decodeID(e.traceID[:], value):
			e.ids |= hasTraceID
		case name == spanIDLabel && e.ids&hasSpanID == 0 && decodeID(e.spanID[:], value):
			e.ids |= hasSpanID
		default:
			if other == nil {
				b := labels.NewScratchBuilder(len(d.Label))
				other = &b
			}
			other.Add(name, value)
		}
	}
	if other != nil {
		other.Sort()
		ls := other.Labels()
		e.other = &ls
	}
	s.ring[s.next] = e
	s.next++
	if s.next == len(s.ring) {
		s.next, s.full = 0, true
	}
	s.last[hash] = key
	if len(s.last) > 2*len(s.ring) {
		clear(s.last)
		for _, se := range s.ring {
			if se.series.Len() > 0 {
				s.last[se.series.Hash()] = exemplarKey{ts: se.ts, value: se.value}
			}
		}
	}
}

// decodeID decodes the lowercase hex ID v into dst, which it fills
// exactly; it reports false for anything else (such a label is then kept
// as it came).
func decodeID(dst []byte, v string) bool {
	if len(v) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, ok1 := unhex(v[2*i])
		lo, ok2 := unhex(v[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// exemplar returns e as Prometheus' exemplar, its labels sorted.
func (e *storedExemplar) exemplar() exemplar.Exemplar {
	n := 2
	if e.other != nil {
		n += e.other.Len()
	}
	b := labels.NewScratchBuilder(n)
	if e.other != nil {
		e.other.Range(func(l labels.Label) { b.Add(l.Name, l.Value) })
	}
	if e.ids&hasSpanID != 0 {
		b.Add(spanIDLabel, hex.EncodeToString(e.spanID[:]))
	}
	if e.ids&hasTraceID != 0 {
		b.Add(traceIDLabel, hex.EncodeToString(e.traceID[:]))
	}
	b.Sort()
	return exemplar.Exemplar{Labels: b.Labels(), Value: e.value, Ts: e.ts, HasTs: true}
}

// query returns the exemplars between start and end (milliseconds, both
// included) of the series that match any of sets, by series, oldest first
// within each; series are sorted by their labels.
func (s *exemplarStore) query(start, end int64, sets [][]*labels.Matcher) []exemplar.QueryResult {
	s.mu.RLock()
	defer s.mu.RUnlock()
	byHash := map[uint64]int{}
	var out []exemplar.QueryResult
	n := s.next
	if s.full {
		n = len(s.ring)
	}
	for i := range n {
		se := &s.ring[(s.next-n+i+len(s.ring))%len(s.ring)] // oldest first
		if se.ts < start || se.ts > end || !matchesAny(se.series, sets) {
			continue
		}
		h := se.series.Hash()
		j, ok := byHash[h]
		if !ok {
			j = len(out)
			byHash[h] = j
			out = append(out, exemplar.QueryResult{SeriesLabels: se.series})
		}
		out[j].Exemplars = append(out[j].Exemplars, se.exemplar())
	}
	slices.SortFunc(out, func(a, b exemplar.QueryResult) int { return labels.Compare(a.SeriesLabels, b.SeriesLabels) })
	return out
}

// matchesAny reports whether lset matches every matcher of one of sets.
func matchesAny(lset labels.Labels, sets [][]*labels.Matcher) bool {
	for _, ms := range sets {
		ok := true
		for _, m := range ms {
			if !m.Matches(lset.Get(m.Name)) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// Exemplars returns the exemplars the reader keeps between start and end
// (both included, to the millisecond) of the series that match any of
// sets, as Prometheus' exemplar querier does: a histogram bucket's exemplar carries
// the trace_id and span_id of a sampled request that fell in it. The
// reader keeps the newest WithMaxExemplars of them. Exemplars are recorded
// when the MeterProvider's exemplar filter lets them through: with traces
// (vitals.Start does this when it has a tracer provider).
func (r *Reader) Exemplars(_ context.Context, start, end time.Time, sets ...[]*labels.Matcher) ([]exemplar.QueryResult, error) {
	if r.exemplars == nil {
		return nil, nil
	}
	return r.exemplars.query(start.UnixMilli(), end.UnixMilli(), sets), nil
}
