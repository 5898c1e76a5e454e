package memory

import (
	"bytes"
	dto "github.com/prometheus/client_model/go"
	"math"
	"slices"
	"sync"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// samplesPerChunk is how many samples a chunk holds before a new one is cut:
// 40 minutes at the default 10 s interval, twice Prometheus' head chunks,
// as each chunk costs about 60 bytes of bookkeeping whatever its size. A
// float chunk is also cut before it passes chunkenc.MaxBytesPerXORChunk, a
// histogram chunk at chunkenc.TargetBytesPerHistogramChunk once it holds
// chunkenc.MinSamplesPerHistogramChunk samples, as in Prometheus.
const samplesPerChunk = 240

// chunksPerRetention bounds a chunk's time span to a fraction of the
// retention: a chunk is dropped only once all of it is out of the
// retention, so the samples held span at most the retention and one chunk.
// With a retention shorter than samplesPerChunk intervals (10 s at 1 s)
// chunks are cut by time, not by count, and memory follows the retention.
const chunksPerRetention = 4

// staleHistogram is the stale marker of a native histogram series: a sum of
// Prometheus' stale NaN, as Prometheus writes it.
var staleHistogram = &histogram.Histogram{Sum: math.Float64frombits(value.StaleNaN)}

// closedChunk is a chunk that is never appended to again, so that queries
// read it without a lock. It keeps the encoded bytes only (the chunk object
// is made again when a query reads it), in a slice of their exact length.
type closedChunk struct {
	b    []byte
	maxt int64 // time of the last sample; the first is after the previous chunk's
	hist bool  // a histogram chunk, else XOR
}

// encoding returns the chunk encoding of c.
func (c *closedChunk) encoding() chunkenc.Encoding {
	if c.hist {
		return chunkenc.EncHistogram
	}
	return chunkenc.EncXOR
}

// chunk returns the chunk object over c's bytes, for reading.
func (c *closedChunk) chunk() (chunkenc.Chunk, error) {
	return chunkenc.FromData(c.encoding(), c.b)
}

// series is one labelled time series: its closed chunks, oldest first, and
// the chunk it appends to. Samples are kept in Prometheus' own encodings
// (XOR for floats, the histogram chunk for native histograms), about one
// to two bytes per float sample at a regular interval.
type series struct {
	lset   labels.Labels
	hash   uint64
	closed []closedChunk
	head   chunkenc.Chunk // nil until the first sample
	app    chunkenc.Appender
	mint   int64 // time of the head's first sample
	span   int64 // the longest time a chunk spans (store.chunkSpan); 0: no limit
	maxt   int64 // time of the newest sample, stale markers included
	lastT  int64 // time of the newest present (not stale) sample
	stale  bool  // the newest sample is a stale marker
	// The newest sample (at maxt, stale markers included), which most
	// instant queries ask for: lastH for a histogram series, else lastF.
	lastF float64
	lastH *histogram.Histogram
	gen   uint64
	pos   int // index in the store's byName slice, for removal
	// lastEx is the exemplar a bucket series last gave the exemplar
	// store: the converter reports the same one until a newer measurement
	// replaces it, and a repeat is skipped here without the store's lock.
	lastEx *dto.Exemplar
}

// isHistogram reports whether the head chunk holds native histograms.
func (s *series) isHistogram() bool {
	return s.head != nil && s.head.Encoding() == chunkenc.EncHistogram
}

// close moves the head chunk, if it has samples, to the closed ones.
func (s *series) close() {
	if s.head == nil || s.head.NumSamples() == 0 {
		return
	}
	if len(s.closed) == cap(s.closed) {
		// Grow by two, not by doubling: a series holds about
		// retention / 40 min chunks, each slot 40 bytes.
		grown := make([]closedChunk, len(s.closed), len(s.closed)+2)
		copy(grown, s.closed)
		s.closed = grown
	}
	s.closed = append(s.closed, closedChunk{
		b:    bytes.Clone(s.head.Bytes()),
		maxt: s.maxt,
		hist: s.head.Encoding() == chunkenc.EncHistogram,
	})
}

// cut closes the head chunk and starts a new one of encoding enc.
func (s *series) cut(enc chunkenc.Encoding, t int64) {
	s.close()
	if enc == chunkenc.EncHistogram {
		s.head = chunkenc.NewHistogramChunk()
	} else {
		s.head = chunkenc.NewXORChunk()
	}
	s.app, _ = s.head.Appender() // never fails on a new chunk
	s.mint = t
}

// appendFloat appends a float sample (or a stale marker).
func (s *series) appendFloat(t int64, v float64) {
	if s.head == nil || s.head.Encoding() != chunkenc.EncXOR || s.head.NumSamples() >= samplesPerChunk ||
		(s.span > 0 && t-s.mint >= s.span) || len(s.head.Bytes()) >= chunkenc.MaxBytesPerXORChunkBeforeAppend {
		s.cut(chunkenc.EncXOR, t)
	}
	s.app.Append(0, t, v)
	s.maxt, s.lastF, s.lastH = t, v, nil
}

// appendHistogram appends a native histogram sample (or a stale marker),
// keeping h as the newest sample: h must not change afterwards. The
// histogram chunk starts a new chunk itself when the bucket layout cannot
// be extended or the counter resets.
func (s *series) appendHistogram(t int64, h *histogram.Histogram) {
	s.lastH = h
	if s.head == nil || s.head.Encoding() != chunkenc.EncHistogram ||
		s.head.NumSamples() >= samplesPerChunk || (s.span > 0 && t-s.mint >= s.span) ||
		(s.head.NumSamples() >= chunkenc.MinSamplesPerHistogramChunk && len(s.head.Bytes()) >= chunkenc.TargetBytesPerHistogramChunk) {
		prev := s.app
		if !s.isHistogram() {
			prev = nil
		}
		s.cut(chunkenc.EncHistogram, t)
		// The previous appender tells the new chunk whether the counter
		// reset between them; it never does in-process.
		_, _, s.app, _ = s.app.AppendHistogram(prev, 0, t, h, false)
		s.maxt = t
		return
	}
	c, recoded, app, err := s.app.AppendHistogram(nil, 0, t, h, false)
	if err != nil {
		return // unreachable with appendOnly false
	}
	switch {
	case c == nil:
	case recoded:
		// The head was rewritten with a wider bucket layout.
		s.head = c
	default:
		s.close()
		s.head, s.mint = c, t
	}
	s.app = app
	s.maxt = t
}

// markStale appends a stale marker of the series' kind at t.
func (s *series) markStale(t int64) {
	if s.isHistogram() {
		s.appendHistogram(t, staleHistogram)
	} else {
		s.appendFloat(t, math.Float64frombits(value.StaleNaN))
	}
	s.stale = true
}

// dropBefore drops the closed chunks that end before cutoff.
func (s *series) dropBefore(cutoff int64) {
	i := 0
	for i < len(s.closed) && s.closed[i].maxt < cutoff {
		i++
	}
	if i > 0 {
		s.closed = slices.Delete(s.closed, 0, i)
	}
}

// chunks appends to dst the chunks of s that hold samples between mint and
// maxt: the closed ones shared, the head copied, as it changes with the next
// append. The caller holds the read lock.
func (s *series) chunks(dst []chunkenc.Chunk, mint, maxt int64) []chunkenc.Chunk {
	prev := int64(math.MinInt64) // the previous chunk's last sample
	for _, c := range s.closed {
		if c.maxt >= mint && prev < maxt {
			if cc, err := c.chunk(); err == nil {
				dst = append(dst, cc)
			}
		}
		prev = c.maxt
	}
	if s.head != nil && s.head.NumSamples() > 0 && s.maxt >= mint && s.mint <= maxt {
		if c, err := chunkenc.FromData(s.head.Encoding(), bytes.Clone(s.head.Bytes())); err == nil {
			dst = append(dst, c)
		}
	}
	return dst
}

// newest returns the newest sample of s between mint and maxt. The newest
// sample of all is kept decoded; an older one is decoded from its chunk
// without materialising the samples before it. The caller holds the read
// lock.
func (s *series) newest(mint, maxt int64) (sample, bool) {
	if s.head == nil || s.head.NumSamples() == 0 {
		return sample{}, false
	}
	if s.maxt <= maxt {
		if s.maxt < mint {
			return sample{}, false
		}
		smp := sample{t: s.maxt, f: s.lastF}
		if s.lastH != nil {
			smp.fh = s.lastH.ToFloat(nil)
		}
		return smp, true
	}
	// The chunk holding the newest sample at or before maxt: the head if
	// its first sample is, else the newest closed chunk whose first
	// sample is (each starts after the previous one's last sample).
	if s.mint <= maxt {
		return newestIn(s.head, mint, maxt)
	}
	for i := len(s.closed) - 1; i >= 0; i-- {
		c := &s.closed[i]
		if c.maxt < mint {
			break
		}
		if i > 0 && s.closed[i-1].maxt >= maxt {
			continue // the whole chunk is after maxt
		}
		cc, err := c.chunk()
		if err != nil {
			break
		}
		if smp, ok := newestIn(cc, mint, maxt); ok || i == 0 || s.closed[i-1].maxt < mint {
			return smp, ok
		}
		// Every sample of the chunk is after maxt: the previous chunk's
		// last one is the newest.
	}
	return sample{}, false
}

// newestIn decodes the newest sample of c between mint and maxt, walking
// the chunk twice (times only, then to the sample) so that no sample but
// the one returned is materialised.
func newestIn(c chunkenc.Chunk, mint, maxt int64) (sample, bool) {
	it := c.Iterator(nil)
	n := 0
	for it.Next() != chunkenc.ValNone && it.AtT() <= maxt {
		n++
	}
	if n == 0 {
		return sample{}, false
	}
	it = c.Iterator(it)
	var vt chunkenc.ValueType
	for range n {
		vt = it.Next()
	}
	smp := sample{t: it.AtT()}
	if smp.t < mint {
		return sample{}, false
	}
	if vt == chunkenc.ValHistogram {
		_, smp.fh = it.AtFloatHistogram(nil)
	} else {
		_, smp.f = it.At()
	}
	return smp, true
}

// sizes adds the bytes and the number of the encoded samples of s to z.
func (s *series) sizes(z *sizes) {
	add := func(b []byte, hist bool) {
		// Every encoding starts with the number of samples, two bytes
		// big-endian.
		n := int(b[0])<<8 | int(b[1])
		z.bytes += len(b)
		z.samples += n
		if hist {
			z.histBytes += len(b)
			z.histSamples += n
		}
	}
	for _, c := range s.closed {
		add(c.b, c.hist)
	}
	if s.head != nil {
		add(s.head.Bytes(), s.isHistogram())
	}
}

// sizes are the bytes and numbers of samples of a store, all and native
// histograms only.
type sizes struct {
	bytes, samples         int
	histBytes, histSamples int
}

// store holds series appended at increasing times, bounded in series and
// in time.
type store struct {
	mu        sync.RWMutex
	byHash    map[uint64][]*series
	byName    map[string][]*series
	n         int
	maxSeries int
	retention int64   // milliseconds
	times     []int64 // times of the appends held, oldest first
	gen       uint64  // number of the current append
}

func newStore(retention int64, maxSeries int) *store {
	return &store{
		byHash:    make(map[uint64][]*series),
		byName:    make(map[string][]*series),
		maxSeries: maxSeries,
		retention: retention,
	}
}

// lastTime returns the time of the latest append, or false if none.
func (st *store) lastTime() (int64, bool) {
	if len(st.times) == 0 {
		return 0, false
	}
	return st.times[len(st.times)-1], true
}

// begin starts an append at t, which the caller has checked is after the
// previous one. The caller holds the write lock.
func (st *store) begin(t int64) {
	st.gen++
	st.times = append(st.times, t)
}

// touch records that s is present in the current append at t.
func (st *store) touch(s *series, t int64) {
	s.gen = st.gen
	s.lastT = t
	s.stale = false
}

// end finishes the append at t: a series that was present in the previous
// append and not in this one gets a stale marker, as Prometheus writes one
// when a series disappears from a scrape; chunks and series older than the
// retention are dropped. The caller holds the write lock.
func (st *store) end(t int64) {
	cutoff := t - st.retention
	i := 0
	for i < len(st.times) && st.times[i] < cutoff {
		i++
	}
	if i > 0 {
		st.times = slices.Delete(st.times, 0, i)
	}
	removed := 0
	for name, list := range st.byName {
		for i := 0; i < len(list); {
			s := list[i]
			if s.gen != st.gen && !s.stale {
				s.markStale(t)
			}
			if s.lastT >= cutoff {
				s.dropBefore(cutoff)
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
	s := &series{lset: lset.Copy(), hash: h, stale: true, span: st.chunkSpan()}
	st.byHash[h] = append(st.byHash[h], s)
	name := s.lset.Get(labels.MetricName)
	s.pos = len(st.byName[name])
	st.byName[name] = append(st.byName[name], s)
	st.n++
	return s
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

// chunkSpan is the longest time a series' chunk spans.
func (st *store) chunkSpan() int64 { return max(1, st.retention/chunksPerRetention) }

// cutoff is the time before which samples are out of the retention. The
// caller holds the read lock.
func (st *store) cutoff() int64 {
	last, ok := st.lastTime()
	if !ok {
		return math.MinInt64
	}
	return last - st.retention
}

// sizes returns the bytes of the encoded samples held and their number.
// The caller holds the read lock.
func (st *store) sizes() sizes {
	var z sizes
	for _, list := range st.byName {
		for _, s := range list {
			s.sizes(&z)
		}
	}
	return z
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
