package memory

import (
	"math"
	"slices"
	"sync"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
)

// absentBits marks a collection in which a series was not reported. It is a
// NaN payload distinct from Prometheus' stale marker and never leaves the
// store: the first absent point after a present one is served as a stale
// marker, as Prometheus writes one when a series disappears from a scrape.
const absentBits uint64 = 0x7ff0000000000003

func isAbsent(v float64) bool { return math.Float64bits(v) == absentBits }

var absent = math.Float64frombits(absentBits)

// timeline is the ring of collection timestamps shared by every series
// appended at those collections. Storing a timestamp once per collection,
// not once per sample, halves the memory of a sample to its 8-byte value.
type timeline struct {
	times []int64 // ring of capacity cap(times); the entry of seq is times[seq%cap]
	first uint64  // oldest seq still held
	next  uint64  // seq of the next collection
}

func newTimeline(capacity int) *timeline {
	return &timeline{times: make([]int64, capacity)}
}

func (tl *timeline) capacity() uint64 { return uint64(len(tl.times)) }

// push appends a collection at t (milliseconds) and returns its seq.
func (tl *timeline) push(t int64) uint64 {
	seq := tl.next
	tl.times[seq%tl.capacity()] = t
	tl.next++
	if tl.next-tl.first > tl.capacity() {
		tl.first = tl.next - tl.capacity()
	}
	return seq
}

// lastTime returns the time of the latest collection, or false if none.
func (tl *timeline) lastTime() (int64, bool) {
	if tl.next == tl.first {
		return 0, false
	}
	return tl.times[(tl.next-1)%tl.capacity()], true
}

func (tl *timeline) at(seq uint64) int64 { return tl.times[seq%tl.capacity()] }

// count returns the number of collections held.
func (tl *timeline) count() int { return int(tl.next - tl.first) }

// series is one labelled time series: a ring of values, one per collection
// of its timeline since it first appeared.
type series struct {
	lset  labels.Labels
	hash  uint64
	vals  []float64 // grows to the timeline's capacity, then is a ring
	head  int       // index in vals of the value of seq first
	first uint64    // seq of the oldest value held
	last  uint64    // seq of the newest value held
	lastT int64     // time of the newest present value, for removal
	pos   int       // index in the store's byName slice, for removal
}

// put appends v at seq, filling collections the series missed with absent.
func (s *series) put(seq uint64, v float64, capacity int) {
	if len(s.vals) == 0 || seq-s.last >= uint64(capacity) {
		s.vals, s.head, s.first = s.vals[:0], 0, seq
	} else {
		for q := s.last + 1; q < seq; q++ {
			s.push(absent, capacity)
		}
	}
	s.push(v, capacity)
	s.last = seq
}

func (s *series) push(v float64, capacity int) {
	if len(s.vals) < capacity {
		if len(s.vals) == cap(s.vals) {
			// Grow with an exact capacity so that a full series holds
			// exactly one value per collection of the retention.
			n := min(max(2*cap(s.vals), 4), capacity)
			grown := make([]float64, len(s.vals), n)
			copy(grown, s.vals)
			s.vals = grown
		}
		s.vals = append(s.vals, v)
		return
	}
	s.vals[s.head] = v
	s.head = (s.head + 1) % capacity
	s.first++
}

// value returns the value held for seq, if any.
func (s *series) value(seq uint64) (float64, bool) {
	if len(s.vals) == 0 || seq < s.first || seq > s.last {
		return 0, false
	}
	return s.vals[(s.head+int(seq-s.first))%len(s.vals)], true
}

// fpoint is one float sample.
type fpoint struct {
	t int64
	f float64
}

// store holds the series of one timeline, bounded in series and samples.
type store struct {
	mu        sync.RWMutex
	tl        *timeline
	byHash    map[uint64][]*series
	byName    map[string][]*series
	n         int
	maxSeries int
}

func newStore(capacity, maxSeries int) *store {
	return &store{
		tl:        newTimeline(capacity),
		byHash:    make(map[uint64][]*series),
		byName:    make(map[string][]*series),
		maxSeries: maxSeries,
	}
}

// get returns the series with labels lset (hash h), creating it when there
// is room. The caller holds the write lock. lset may be scratch memory: it
// is copied when a series is created.
func (st *store) get(lset labels.Labels, h uint64) *series {
	for _, s := range st.byHash[h] {
		if labels.Equal(s.lset, lset) {
			return s
		}
	}
	if st.n >= st.maxSeries {
		return nil
	}
	s := &series{lset: lset.Copy(), hash: h}
	st.byHash[h] = append(st.byHash[h], s)
	name := s.lset.Get(labels.MetricName)
	s.pos = len(st.byName[name])
	st.byName[name] = append(st.byName[name], s)
	st.n++
	return s
}

// removeOlderThan drops the series with no present value at or after
// cutoff. The caller holds the write lock.
func (st *store) removeOlderThan(cutoff int64) int {
	removed := 0
	for name, list := range st.byName {
		for i := 0; i < len(list); {
			s := list[i]
			if s.lastT >= cutoff {
				i++
				continue
			}
			last := len(list) - 1
			list[i] = list[last]
			list[i].pos = i
			list[last] = nil
			list = list[:last]
			st.unhash(s)
			removed++
		}
		if len(list) == 0 {
			delete(st.byName, name)
		} else {
			st.byName[name] = list
		}
	}
	st.n -= removed
	return removed
}

func (st *store) unhash(s *series) {
	list := st.byHash[s.hash]
	i := slices.Index(list, s)
	list = slices.Delete(list, i, i+1)
	if len(list) == 0 {
		delete(st.byHash, s.hash)
	} else {
		st.byHash[s.hash] = list
	}
}

// points copies the samples of s between mint and maxt (inclusive, ms) into
// dst. The first collection a series missed after being present is served
// as a Prometheus stale marker. The caller holds the read lock.
func (st *store) points(dst []fpoint, s *series, mint, maxt int64) []fpoint {
	tl := st.tl
	from := max(s.first, tl.first)
	prevPresent := false
	for seq := from; seq < tl.next; seq++ {
		t := tl.at(seq)
		if t > maxt {
			break
		}
		v, ok := s.value(seq)
		if !ok || isAbsent(v) {
			if prevPresent && t >= mint {
				dst = append(dst, fpoint{t, math.Float64frombits(value.StaleNaN)})
			}
			if !ok {
				break // nothing after the series' newest value
			}
			prevPresent = false
			continue
		}
		prevPresent = true
		if t >= mint {
			dst = append(dst, fpoint{t, v})
		}
	}
	return dst
}

// matching returns the series that match every matcher. The caller holds the
// read lock.
func (st *store) matching(ms []*labels.Matcher) []*series {
	var candidates [][]*series
	if name, ok := equalName(ms); ok {
		candidates = [][]*series{st.byName[name]}
	} else {
		for _, list := range st.byName {
			candidates = append(candidates, list)
		}
	}
	var out []*series
	for _, list := range candidates {
		for _, s := range list {
			if matchesAll(s.lset, ms) {
				out = append(out, s)
			}
		}
	}
	return out
}

func equalName(ms []*labels.Matcher) (string, bool) {
	for _, m := range ms {
		if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
			return m.Value, true
		}
	}
	return "", false
}

func matchesAll(lset labels.Labels, ms []*labels.Matcher) bool {
	for _, m := range ms {
		if !m.Matches(lset.Get(m.Name)) {
			return false
		}
	}
	return true
}
