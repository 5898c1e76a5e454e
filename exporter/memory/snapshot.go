package memory

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/vitalsgo/vitals/internal/lifecycle"
)

// StateVersion is the version of the format that SaveState writes and
// LoadState reads. It starts the payload, and callers that keep snapshots in
// versioned files (such as vitals.Start's state directory) record it there.
const StateVersion = 1

// Bounds that LoadState enforces on a snapshot, so that a corrupt or hostile
// one cannot make it allocate without bound.
const (
	maxSnapshotString  = 64 << 10 // a store's name, a label's name or value
	maxSnapshotLabels  = 64 << 10 // all the labels of a series, names and values
	maxSnapshotChunk   = 1 << 20  // the bytes of one chunk
	maxSnapshotBuckets = 1 << 16  // the buckets of a histogram chunk, per sign
	maxSnapshotStores  = 1 << 16
	maxSnapshotTimes   = 1 << 26
	maxSnapshotSeries  = 1 << 26
	maxSnapshotChunks  = 1 << 20 // closed chunks of one series
	// Preallocations from counts read in the snapshot are capped at
	// these; slices grow past them as the data actually arrives.
	preallocTimes  = 1 << 14
	preallocChunks = 64
)

// SaveState writes the reader's history to w (the collector's series and
// those of every named appender, NewNamedAppender) so that LoadState can give
// it back after a restart. Collections, appends and queries go on
// meanwhile. The payload has no checksum of its own: write it where one is
// kept. The package doc's Snapshots section has the details.
func (r *Reader) SaveState(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	e := encoder{w: bw}
	stores := r.snapshotStores()
	e.uvarint(StateVersion)
	e.uvarint(uint64(len(stores)))
	for _, ns := range stores {
		c := copyStore(ns.st)
		c.write(&e, ns.name)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("memory: snapshot: %w", err)
	}
	return nil
}

// namedStore is a store and the name it is saved under: "" for the
// collector's.
type namedStore struct {
	name string
	st   *store
}

// snapshotStores returns the stores that SaveState writes, the collector's
// first, then the named appenders' by name.
func (r *Reader) snapshotStores() []namedStore {
	r.appMu.Lock()
	out := make([]namedStore, 0, 1+len(r.named))
	out = append(out, namedStore{"", r.store})
	for name, a := range r.named {
		out = append(out, namedStore{name, a.st})
	}
	r.appMu.Unlock()
	slices.SortFunc(out[1:], func(a, b namedStore) int {
		switch {
		case a.name < b.name:
			return -1
		case a.name > b.name:
			return 1
		}
		return 0
	})
	return out
}

// storeCopy is what SaveState copies of a store under its read lock.
type storeCopy struct {
	retention int64
	times     []int64
	series    []seriesCopy
}

// seriesCopy is what SaveState copies of a series: its labels (never
// changed), its closed chunks (the slice copied, the bytes shared: they
// never change), a copy of the head chunk's bytes, and its bookkeeping.
type seriesCopy struct {
	lset              labels.Labels
	closed            []closedChunk
	head              []byte
	enc               chunkenc.Encoding
	mint, maxt, lastT int64
	stale             bool
	lastF             float64
}

// copyStore copies st under its read lock, into a few slabs so that the
// copy costs a few allocations, not several per series.
func copyStore(st *store) storeCopy {
	st.mu.RLock()
	defer st.mu.RUnlock()
	nclosed, nhead := 0, 0
	for _, list := range st.byName {
		for _, s := range list {
			nclosed += len(s.closed)
			if s.head != nil {
				nhead += len(s.head.Bytes())
			}
		}
	}
	closed := make([]closedChunk, 0, nclosed)
	heads := make([]byte, 0, nhead)
	c := storeCopy{
		retention: st.retention,
		times:     slices.Clone(st.times),
		series:    make([]seriesCopy, 0, st.n),
	}
	for _, list := range st.byName {
		for _, s := range list {
			if s.head == nil || s.head.NumSamples() == 0 {
				continue // never appended to: nothing to save
			}
			c0, h0 := len(closed), len(heads)
			closed = append(closed, s.closed...)
			heads = append(heads, s.head.Bytes()...)
			c.series = append(c.series, seriesCopy{
				lset:   s.lset,
				closed: closed[c0:len(closed):len(closed)],
				head:   heads[h0:len(heads):len(heads)],
				enc:    s.head.Encoding(),
				mint:   s.mint,
				maxt:   s.maxt,
				lastT:  s.lastT,
				stale:  s.stale,
				lastF:  s.lastF,
			})
		}
	}
	return c
}

// The payload SaveState writes, version 1. Integers are varints
// (encoding/binary: u for unsigned, s for signed zig-zag), strings and
// byte strings a uvarint length and the bytes:
//
//	payload   = u:version u:nstores store...
//	store     = string:name s:retention(ms) u:ntimes s:time... u:nseries series...
//	            (name "" for the collector's store; the first time absolute,
//	            each next one the difference from the previous, > 0)
//	series    = u:nlabels (string:name string:value)... (sorted by name)
//	            u:nclosed closed... head s:maxt s:lastT byte:flags [float]
//	closed    = byte:encoding s:maxt bytes:chunk
//	            (maxt the difference from the previous chunk's, the first
//	            one's from 0)
//	head      = byte:encoding bytes:chunk s:mint
//	flags     = 1 if the newest sample is a stale marker
//	float     = the newest sample, 8 bytes little-endian IEEE 754, for an
//	            XOR head only (a histogram's is decoded from the head)
//
// Encodings are chunkenc.Encoding values: XOR (1) or histogram (2).
// Series are sorted by labels, so that a snapshot of the same history is
// the same bytes.

// write encodes c, saved under name, to e.
func (c *storeCopy) write(e *encoder, name string) {
	slices.SortFunc(c.series, func(a, b seriesCopy) int { return labels.Compare(a.lset, b.lset) })
	e.string(name)
	e.varint(c.retention)
	e.uvarint(uint64(len(c.times)))
	var prev int64
	for _, t := range c.times {
		e.varint(t - prev)
		prev = t
	}
	e.uvarint(uint64(len(c.series)))
	writeLabel := func(l labels.Label) {
		e.string(l.Name)
		e.string(l.Value)
	}
	for i := range c.series {
		s := &c.series[i]
		e.uvarint(uint64(s.lset.Len()))
		s.lset.Range(writeLabel)
		e.uvarint(uint64(len(s.closed)))
		var prev int64
		for _, ch := range s.closed {
			e.byte(byte(ch.encoding()))
			e.varint(ch.maxt - prev)
			e.bytes(ch.b)
			prev = ch.maxt
		}
		e.byte(byte(s.enc))
		e.bytes(s.head)
		e.varint(s.mint)
		e.varint(s.maxt)
		e.varint(s.lastT)
		var flags byte
		if s.stale {
			flags |= 1
		}
		e.byte(flags)
		if s.enc == chunkenc.EncXOR {
			e.w.Write(binary.LittleEndian.AppendUint64(e.buf[:0], math.Float64bits(s.lastF))) //nolint:errcheck // see encoder
		}
	}
}

// encoder writes the elements of the format to a bufio.Writer, which keeps
// the first error for Flush.
type encoder struct {
	w   *bufio.Writer
	buf [binary.MaxVarintLen64]byte
}

func (e *encoder) uvarint(v uint64) {
	e.w.Write(binary.AppendUvarint(e.buf[:0], v)) //nolint:errcheck // see encoder
}

func (e *encoder) varint(v int64) {
	e.w.Write(binary.AppendVarint(e.buf[:0], v)) //nolint:errcheck // see encoder
}

func (e *encoder) byte(b byte) {
	e.w.WriteByte(b) //nolint:errcheck // see encoder
}

func (e *encoder) bytes(b []byte) {
	e.uvarint(uint64(len(b)))
	e.w.Write(b) //nolint:errcheck // see encoder
}

func (e *encoder) string(s string) {
	e.uvarint(uint64(len(s)))
	e.w.WriteString(s) //nolint:errcheck // see encoder
}

// Errors of LoadState, the same values in every package with a LoadState.
var (
	// ErrStateTooLate is returned by LoadState when the reader, or a named
	// appender it would restore, already holds samples: a snapshot is only
	// restored into a reader that has not collected yet.
	ErrStateTooLate = lifecycle.ErrStateTooLate
	// ErrStateVersion is returned (wrapped) by LoadState for a snapshot of
	// another format version than StateVersion.
	ErrStateVersion = lifecycle.ErrStateVersion
)

// LoadState loads into r a snapshot that SaveState wrote: the collector's
// series, and each named appender's into the named appender of that name
// created before the call. Neither r nor those appenders may hold samples
// yet (ErrStateTooLate). Today's retention and series limit apply. The
// snapshot is read and checked whole before anything changes: on any error,
// which names the store, series and chunk at fault, r is left as it was.
// Collections wait for LoadState to finish.
func (r *Reader) LoadState(rd io.Reader) error {
	r.collectMu.Lock()
	defer r.collectMu.Unlock()

	targets := map[string]*store{"": r.store}
	r.appMu.Lock()
	for name, a := range r.named {
		targets[name] = a.st
	}
	r.appMu.Unlock()
	for _, st := range targets {
		if !st.empty() {
			return ErrStateTooLate
		}
	}

	now := r.cfg.clock.Now().UnixMilli()
	d := decoder{r: bufio.NewReaderSize(rd, 64<<10), maxSeries: r.cfg.maxSeries}
	version, err := d.uvarint()
	if err != nil {
		return snapshotErr(fmt.Errorf("version: %w", err))
	}
	if version != StateVersion {
		return snapshotErr(fmt.Errorf("%w %d, this code reads %d", ErrStateVersion, version, StateVersion))
	}
	nstores, err := d.count(maxSnapshotStores)
	if err != nil {
		return snapshotErr(fmt.Errorf("number of stores: %w", err))
	}
	var loaded []*loadedStore
	seen := make(map[string]bool)
	for i := range nstores {
		name, err := d.string(maxSnapshotString)
		if err != nil {
			return snapshotErr(fmt.Errorf("store %d: name: %w", i, err))
		}
		if seen[name] {
			return snapshotErr(fmt.Errorf("%s: saved twice", storeName(name)))
		}
		seen[name] = true
		st := targets[name] // nil: read and check, then skip
		ls, err := d.store(st, now)
		if err != nil {
			return snapshotErr(fmt.Errorf("%s: %w", storeName(name), err))
		}
		if st != nil {
			loaded = append(loaded, ls)
		}
	}
	if _, err := d.r.ReadByte(); err == nil {
		return snapshotErr(errors.New("unexpected data after the last store"))
	} else if err != io.EOF {
		return snapshotErr(err)
	}

	// Install every store at once, or none: an appender may have
	// appended since the check above.
	for _, ls := range loaded {
		ls.st.mu.Lock()
	}
	defer func() {
		for _, ls := range loaded {
			ls.st.mu.Unlock()
		}
	}()
	for _, ls := range loaded {
		if len(ls.st.times) != 0 || ls.st.n != 0 {
			return ErrStateTooLate
		}
	}
	var dropped int64
	for _, ls := range loaded {
		ls.install()
		dropped += ls.dropped
		if ls.st == r.store {
			r.series.Store(int64(ls.st.n))
		}
	}
	r.dropped.Add(dropped)
	return nil
}

// empty reports whether st has never been appended to.
func (st *store) empty() bool {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return len(st.times) == 0 && st.n == 0
}

func storeName(name string) string {
	if name == "" {
		return "collector's store"
	}
	return fmt.Sprintf("store %q", name)
}

func snapshotErr(err error) error {
	return fmt.Errorf("memory: snapshot: %w", err)
}

// loadedStore is a store read from a snapshot, to be installed in st.
type loadedStore struct {
	st      *store
	times   []int64
	series  []*series
	dropped int64 // samples of the series beyond the series limit
}

// install gives st the loaded series. The caller holds st's write lock.
func (ls *loadedStore) install() {
	st := ls.st
	st.byHash = make(map[uint64][]*series, len(ls.series))
	st.byName = make(map[string][]*series)
	for _, s := range ls.series {
		s.span = st.chunkSpan()
		st.byHash[s.hash] = append(st.byHash[s.hash], s)
		name := s.lset.Get(labels.MetricName)
		s.pos = len(st.byName[name])
		st.byName[name] = append(st.byName[name], s)
	}
	st.n = len(ls.series)
	st.times = ls.times
	st.gen = 0 // the series' gen too: the first append marks the absent stale
}

// decoder reads the elements of the format, checking every length.
type decoder struct {
	r         *bufio.Reader
	maxSeries int
	scratch   labels.ScratchBuilder
	it        chunkenc.Iterator
}

// The reads below report the snapshot's end as io.ErrUnexpectedEOF: the
// format says where it ends.

func (d *decoder) uvarint() (uint64, error) {
	v, err := binary.ReadUvarint(d.r)
	return v, unexpected(err)
}

func (d *decoder) varint() (int64, error) {
	v, err := binary.ReadVarint(d.r)
	return v, unexpected(err)
}

func (d *decoder) byte() (byte, error) {
	b, err := d.r.ReadByte()
	return b, unexpected(err)
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// count reads a number of elements, at most limit.
func (d *decoder) count(limit int) (int, error) {
	n, err := d.uvarint()
	if err != nil {
		return 0, err
	}
	if n > uint64(limit) {
		return 0, fmt.Errorf("%d is over the limit of %d", n, limit)
	}
	return int(n), nil
}

// bytes reads a byte string of at most limit bytes into a new slice.
func (d *decoder) bytes(limit int) ([]byte, error) {
	n, err := d.count(limit)
	if err != nil {
		return nil, err
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(d.r, b); err != nil {
		return nil, unexpected(err)
	}
	return b, nil
}

func (d *decoder) string(limit int) (string, error) {
	b, err := d.bytes(limit)
	return string(b), err
}

// store reads a store. Its series are made for st, with st's retention and
// series limit, counted back from now; for a nil st (an appender absent
// now) the store is read and checked only.
func (d *decoder) store(st *store, now int64) (*loadedStore, error) {
	retention, err := d.varint()
	if err != nil {
		return nil, fmt.Errorf("retention: %w", err)
	}
	if retention < 0 {
		return nil, fmt.Errorf("negative retention %d ms", retention)
	}
	maxSeries := d.maxSeries
	if st != nil {
		retention, maxSeries = st.retention, st.maxSeries
	}
	cutoff := math.MinInt64 + retention
	if now > cutoff {
		cutoff = now - retention
	}

	ntimes, err := d.count(maxSnapshotTimes)
	if err != nil {
		return nil, fmt.Errorf("number of times: %w", err)
	}
	times := make([]int64, 0, min(ntimes, preallocTimes))
	var t int64
	for i := range ntimes {
		delta, err := d.varint()
		if err != nil {
			return nil, fmt.Errorf("time %d: %w", i, err)
		}
		next, ok := addInt64(t, delta)
		if !ok || (i > 0 && delta <= 0) {
			return nil, fmt.Errorf("time %d: not after the previous one", i)
		}
		t = next
		times = append(times, t)
	}
	newest := int64(math.MinInt64)
	if ntimes > 0 {
		newest = times[ntimes-1]
	}
	if st != nil && ntimes > 0 && newest > now {
		return nil, fmt.Errorf("the newest append, at %s, is after the reader's clock, %s",
			time.UnixMilli(newest).UTC().Format(time.RFC3339Nano), time.UnixMilli(now).UTC().Format(time.RFC3339Nano))
	}
	i := 0
	for i < len(times) && times[i] < cutoff {
		i++
	}
	times = slices.Delete(times, 0, i)

	nseries, err := d.count(maxSnapshotSeries)
	if err != nil {
		return nil, fmt.Errorf("number of series: %w", err)
	}
	if ntimes == 0 && nseries > 0 {
		return nil, fmt.Errorf("%d series but no appends", nseries)
	}
	ls := &loadedStore{st: st, times: times}
	if st != nil {
		ls.series = make([]*series, 0, min(nseries, maxSeries+1, preallocTimes))
	}
	seen := make(map[uint64][]*series)
	for j := range nseries {
		s, err := d.series(newest)
		if err != nil {
			return nil, fmt.Errorf("series %d: %w", j, err)
		}
		for _, o := range seen[s.hash] {
			if labels.Equal(o.lset, s.lset) {
				return nil, fmt.Errorf("series %d: %s saved twice", j, s.lset)
			}
		}
		if s.lastT < cutoff {
			continue // not reported within the retention, as end removes it
		}
		s.dropBefore(cutoff)
		if st == nil {
			continue
		}
		seen[s.hash] = append(seen[s.hash], s)
		ls.series = append(ls.series, s)
	}
	if len(ls.series) > maxSeries {
		// Keep the series reported last, as the others would be the
		// first to expire.
		slices.SortStableFunc(ls.series, func(a, b *series) int {
			switch {
			case a.lastT > b.lastT:
				return -1
			case a.lastT < b.lastT:
				return 1
			}
			return 0
		})
		for _, s := range ls.series[maxSeries:] {
			var z sizes
			s.sizes(&z)
			ls.dropped += int64(z.samples)
		}
		clear(ls.series[maxSeries:])
		ls.series = ls.series[:maxSeries]
	}
	return ls, nil
}

// series reads a series and rebuilds it: its closed chunks as saved, its
// head chunk appended again sample by sample, which also checks it and
// gives the head's appender its state. newest is the time of the store's
// last append.
func (d *decoder) series(newest int64) (*series, error) {
	lset, err := d.labels()
	if err != nil {
		return nil, err
	}
	s := &series{lset: lset, hash: lset.Hash()}
	nclosed, err := d.count(maxSnapshotChunks)
	if err != nil {
		return nil, fmt.Errorf("number of chunks: %w", err)
	}
	s.closed = make([]closedChunk, 0, min(nclosed, preallocChunks))
	var prev int64 // the previous chunk's maxt, from 0 in the format
	after := int64(math.MinInt64)
	for k := range nclosed {
		c, err := d.closedChunk(prev, after)
		if err != nil {
			return nil, fmt.Errorf("chunk %d: %w", k, err)
		}
		s.closed = append(s.closed, c)
		prev, after = c.maxt, c.maxt
	}

	encb, err := d.byte()
	if err != nil {
		return nil, fmt.Errorf("head chunk: %w", err)
	}
	enc := chunkenc.Encoding(encb)
	head, err := d.bytes(maxSnapshotChunk)
	if err != nil {
		return nil, fmt.Errorf("head chunk: %w", err)
	}
	mint, err := d.varint()
	if err != nil {
		return nil, fmt.Errorf("head chunk: %w", err)
	}
	maxt, err := d.varint()
	if err != nil {
		return nil, fmt.Errorf("maxt: %w", err)
	}
	lastT, err := d.varint()
	if err != nil {
		return nil, fmt.Errorf("lastT: %w", err)
	}
	flags, err := d.byte()
	if err != nil {
		return nil, fmt.Errorf("flags: %w", err)
	}
	if flags&^1 != 0 {
		return nil, fmt.Errorf("unknown flags %#x", flags)
	}
	s.stale = flags&1 != 0
	var lastF float64
	if enc == chunkenc.EncXOR {
		var b [8]byte
		if _, err := io.ReadFull(d.r, b[:]); err != nil {
			return nil, fmt.Errorf("newest sample: %w", unexpected(err))
		}
		lastF = math.Float64frombits(binary.LittleEndian.Uint64(b[:]))
	}

	if err := d.replayHead(s, enc, head, after); err != nil {
		return nil, fmt.Errorf("head chunk: %w", err)
	}
	switch {
	case s.mint != mint && len(s.closed) == nclosed:
		return nil, fmt.Errorf("head chunk starts at %d ms, saved as %d ms", s.mint, mint)
	case s.maxt != maxt:
		return nil, fmt.Errorf("newest sample at %d ms, saved as %d ms", s.maxt, maxt)
	case maxt > newest:
		return nil, fmt.Errorf("newest sample at %d ms, after the store's last append at %d ms", maxt, newest)
	case lastT > maxt:
		return nil, fmt.Errorf("last present sample at %d ms, after the newest at %d ms", lastT, maxt)
	case enc == chunkenc.EncXOR && math.Float64bits(lastF) != math.Float64bits(s.lastF):
		return nil, fmt.Errorf("newest sample %v, saved as %v", s.lastF, lastF)
	}
	s.lastT = lastT
	return s, nil
}

// labels reads the labels of a series: sorted by name, names unique and
// not empty, a metric name among them.
func (d *decoder) labels() (labels.Labels, error) {
	n, err := d.count(maxSnapshotLabels / 2)
	if err != nil {
		return labels.EmptyLabels(), fmt.Errorf("number of labels: %w", err)
	}
	d.scratch.Reset()
	size := 0
	prev := ""
	hasName := false
	for i := range n {
		name, err := d.string(maxSnapshotString)
		if err != nil {
			return labels.EmptyLabels(), fmt.Errorf("label %d: %w", i, err)
		}
		value, err := d.string(maxSnapshotString)
		if err != nil {
			return labels.EmptyLabels(), fmt.Errorf("label %d: %w", i, err)
		}
		if size += len(name) + len(value); size > maxSnapshotLabels {
			return labels.EmptyLabels(), fmt.Errorf("labels over %d bytes", maxSnapshotLabels)
		}
		if name == "" || (i > 0 && name <= prev) {
			return labels.EmptyLabels(), fmt.Errorf("label %d: name %q empty or not after %q", i, name, prev)
		}
		if name == labels.MetricName && value != "" {
			hasName = true
		}
		prev = name
		d.scratch.Add(name, value)
	}
	if !hasName {
		return labels.EmptyLabels(), errors.New("no metric name")
	}
	return d.scratch.Labels(), nil
}

// closedChunk reads a closed chunk whose maxt is saved as the difference
// from prev, and checks it: its samples after after, in order, the last at
// maxt.
func (d *decoder) closedChunk(prev, after int64) (closedChunk, error) {
	encb, err := d.byte()
	if err != nil {
		return closedChunk{}, err
	}
	delta, err := d.varint()
	if err != nil {
		return closedChunk{}, err
	}
	maxt, ok := addInt64(prev, delta)
	if !ok {
		return closedChunk{}, errors.New("maxt out of range")
	}
	b, err := d.bytes(maxSnapshotChunk)
	if err != nil {
		return closedChunk{}, err
	}
	enc := chunkenc.Encoding(encb)
	c := closedChunk{b: b, maxt: maxt, hist: enc == chunkenc.EncHistogram}
	last, err := d.check(enc, b, after, func(int64) {})
	if err != nil {
		return closedChunk{}, err
	}
	if last != maxt {
		return closedChunk{}, fmt.Errorf("last sample at %d ms, saved as %d ms", last, maxt)
	}
	return c, nil
}

// replayHead appends the samples of the head chunk saved as enc and b to
// s, whose closed chunks end at after. The head is encoded again rather
// than reopened: an appender made for a chunk read from bytes (FromData,
// then Appender) starts writing at the next byte boundary, which would
// corrupt a chunk whose last byte is partly written.
func (d *decoder) replayHead(s *series, enc chunkenc.Encoding, b []byte, after int64) error {
	nclosed := len(s.closed)
	_, err := d.check(enc, b, after, func(t int64) {
		if enc == chunkenc.EncHistogram {
			_, h := d.it.AtHistogram(nil)
			h = h.Copy()
			if h.CounterResetHint != histogram.GaugeType {
				// As collections append them: the chunk knows.
				h.CounterResetHint = histogram.UnknownCounterReset
			}
			s.appendHistogram(t, h)
		} else {
			_, v := d.it.At()
			s.appendFloat(t, v)
		}
	})
	if err != nil {
		return err
	}
	if enc == chunkenc.EncHistogram && len(s.closed) == nclosed {
		// The first append of a chunk cannot know whether the counter
		// reset before it; the saved chunk's header does.
		hb := s.head.Bytes()
		hb[2] = hb[2]&^chunkenc.CounterResetHeaderMask | b[2]&chunkenc.CounterResetHeaderMask
	}
	return nil
}

// check decodes the chunk enc, b, calling each for every sample while the
// iterator d.it is on it, and returns the time of the last sample. The
// samples must be after after and in order. Any panic of the decoder on
// bad bytes is an error.
func (d *decoder) check(enc chunkenc.Encoding, b []byte, after int64, each func(t int64)) (last int64, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("bad chunk data: %v", p)
		}
	}()
	var want chunkenc.ValueType
	switch enc {
	case chunkenc.EncXOR:
		want = chunkenc.ValFloat
		if len(b) < 2 {
			return 0, errors.New("XOR chunk shorter than its header")
		}
	case chunkenc.EncHistogram:
		want = chunkenc.ValHistogram
		if err := checkHistogramLayout(b); err != nil {
			return 0, err
		}
	default:
		return 0, fmt.Errorf("unknown chunk encoding %d", enc)
	}
	c, err := chunkenc.FromData(enc, b)
	if err != nil {
		return 0, err
	}
	n := c.NumSamples()
	if n == 0 {
		return 0, errors.New("no samples")
	}
	d.it = c.Iterator(d.it)
	last = after
	for i := 0; ; i++ {
		vt := d.it.Next()
		if vt == chunkenc.ValNone {
			if err := d.it.Err(); err != nil {
				return 0, fmt.Errorf("sample %d: %w", i, err)
			}
			if i != n {
				return 0, fmt.Errorf("%d samples of %d", i, n)
			}
			return last, nil
		}
		if vt != want {
			return 0, fmt.Errorf("sample %d: a %s in a %s chunk", i, vt, enc)
		}
		t := d.it.AtT()
		if t <= last {
			return 0, fmt.Errorf("sample %d: at %d ms, not after %d ms", i, t, last)
		}
		last = t
		each(t)
	}
}

// checkHistogramLayout reads the layout that starts a histogram chunk (its
// header: the number of samples and the counter reset flags; then the zero
// threshold, the schema and the spans, as chunkenc writes them) and checks
// that the schema is an exponential one and that the spans hold at most
// maxSnapshotBuckets buckets, as the decoder allocates them all up front.
func checkHistogramLayout(b []byte) error {
	if len(b) < 4 {
		return errors.New("histogram chunk shorter than its header")
	}
	br := bitReader{b: b[3:]}
	if th, err := br.bits(8); err != nil {
		return err
	} else if th == 255 {
		if _, err := br.bits(64); err != nil {
			return err
		}
	}
	schema, err := br.varbitInt()
	if err != nil {
		return err
	}
	if schema < math.MinInt32 || schema > math.MaxInt32 || !histogram.IsExponentialSchema(int32(schema)) {
		return fmt.Errorf("histogram schema %d", schema)
	}
	for _, sign := range []string{"positive", "negative"} {
		nspans, err := br.varbitUint()
		if err != nil {
			return err
		}
		var buckets uint64
		for range nspans {
			length, err := br.varbitUint()
			if err != nil {
				return err
			}
			if _, err := br.varbitInt(); err != nil {
				return err
			}
			if buckets += length; length > maxSnapshotBuckets || buckets > maxSnapshotBuckets {
				return fmt.Errorf("histogram chunk with over %d %s buckets", maxSnapshotBuckets, sign)
			}
		}
	}
	return nil
}

// bitReader reads the bit stream of a chunk, most significant bit first.
type bitReader struct {
	b   []byte
	pos uint64 // bits read
}

var errShortChunk = errors.New("chunk data ends early")

func (r *bitReader) bits(n uint8) (uint64, error) {
	if r.pos+uint64(n) > uint64(len(r.b))*8 {
		return 0, errShortChunk
	}
	var v uint64
	for range n {
		bit := r.b[r.pos/8] >> (7 - r.pos%8) & 1
		v = v<<1 | uint64(bit)
		r.pos++
	}
	return v, nil
}

// varbitSize reads the prefix of a varbit number (chunkenc's
// putVarbitInt and putVarbitUint) and returns the number of bits of its
// value.
func (r *bitReader) varbitSize() (uint8, error) {
	var ones uint8
	for ones < 8 {
		bit, err := r.bits(1)
		if err != nil {
			return 0, err
		}
		if bit == 0 {
			break
		}
		ones++
	}
	return [...]uint8{0, 3, 6, 9, 12, 18, 25, 56, 64}[ones], nil
}

func (r *bitReader) varbitUint() (uint64, error) {
	sz, err := r.varbitSize()
	if err != nil || sz == 0 {
		return 0, err
	}
	return r.bits(sz)
}

func (r *bitReader) varbitInt() (int64, error) {
	sz, err := r.varbitSize()
	if err != nil || sz == 0 {
		return 0, err
	}
	v, err := r.bits(sz)
	if err != nil {
		return 0, err
	}
	if sz < 64 && v > 1<<(sz-1) {
		v -= 1 << sz
	}
	return int64(v), nil
}

// addInt64 returns a+b, or false if it overflows.
func addInt64(a, b int64) (int64, bool) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, false
	}
	return s, true
}
