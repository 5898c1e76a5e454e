package memory

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/vitalsgo/vitals/clock/clocktest"
)

// feedStore appends the i-th append of a fixed script to st at t: a float
// series "f" with irregular values, a series "g" absent from time to time
// (stale markers), and a native histogram series "h" whose bucket layout
// grows (forward inserts), loses an empty bucket (backward inserts) and is
// absent from time to time too.
func feedStore(st *store, t int64, i int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.begin(t)
	add := func(name string, f func(s *series)) {
		lset := labels.FromStrings(labels.MetricName, name, "k", "v")
		s := st.get(lset, lset.Hash())
		f(s)
		st.touch(s, t)
	}
	add("f", func(s *series) { s.appendFloat(t, float64(i)*1.37+float64(i%7)/3) })
	if i%50 < 40 {
		add("g", func(s *series) { s.appendFloat(t, float64(i/3)) })
	}
	if i%90 < 80 {
		add("h", func(s *series) { s.appendHistogram(t, scriptHistogram(i)) })
	}
	st.end(t)
}

// scriptHistogram is a cumulative histogram after i appends: a bucket is
// added to its layout every 25 appends, and an empty bucket is in the
// layout at even i only.
func scriptHistogram(i int) *histogram.Histogram {
	n := 2 + i/25 // buckets 0..n-1 with counts
	h := &histogram.Histogram{Schema: 0, ZeroThreshold: 1e-128}
	var prev int64
	for b := range n {
		c := int64(i*(b+1) + 1)
		h.PositiveBuckets = append(h.PositiveBuckets, c-prev)
		h.Count += uint64(c)
		prev = c
	}
	h.Sum = float64(h.Count) * 0.25
	h.PositiveSpans = []histogram.Span{{Offset: 0, Length: uint32(n)}}
	if i%2 == 0 {
		// An empty bucket two past the last.
		h.PositiveSpans = append(h.PositiveSpans, histogram.Span{Offset: 1, Length: 1})
		h.PositiveBuckets = append(h.PositiveBuckets, -prev)
	}
	return h
}

// dumpStore writes every series of st with its chunks' bytes, for byte
// comparisons.
func dumpStore(st *store) string {
	st.mu.RLock()
	defer st.mu.RUnlock()
	var b bytes.Buffer
	fmt.Fprintf(&b, "times %v\n", st.times)
	for _, name := range []string{"f", "g", "h"} {
		for _, s := range st.byName[name] {
			lastH := "nil"
			if s.lastH != nil {
				// The decoded histogram may have the empty buckets
				// of its chunk's layout, and a counter reset hint.
				lastH = s.lastH.Copy().Compact(0).String()
			}
			fmt.Fprintf(&b, "%s mint=%d maxt=%d lastT=%d stale=%v lastF=%v lastH=%s\n", s.lset, s.mint, s.maxt, s.lastT, s.stale, s.lastF, lastH)
			for _, c := range s.closed {
				fmt.Fprintf(&b, "  closed maxt=%d hist=%v %x\n", c.maxt, c.hist, c.b)
			}
			fmt.Fprintf(&b, "  head %s %x\n", s.head.Encoding(), s.head.Bytes())
		}
	}
	return b.String()
}

// TestRestoredHeadContinuesExactly restores a store halfway through a
// script and appends the rest to it: its chunks must be byte for byte
// those of a store that got the whole script without a restart, wherever
// the head chunk was cut (so wherever its last byte was partly written),
// histogram recodings included.
func TestRestoredHeadContinuesExactly(t *testing.T) {
	const n = 600
	base := time.Unix(1_700_000_000, 0).UnixMilli()
	at := func(i int) int64 { return base + int64(i)*10_000 + int64(i%3)*7 }
	clk := clocktest.New(time.UnixMilli(at(n)))

	whole := New(WithClock(clk))
	for i := range n {
		feedStore(whole.store, at(i), i)
	}
	want := dumpStore(whole.store)

	for _, k := range []int{1, 2, 3, 7, 24, 25, 26, 81, 119, 120, 121, 239, 240, 241, 250, 333, 599} {
		t.Run(fmt.Sprint(k), func(t *testing.T) {
			first := New(WithClock(clocktest.New(time.UnixMilli(at(k - 1)))))
			for i := range k {
				feedStore(first.store, at(i), i)
			}
			var buf bytes.Buffer
			if err := first.SaveState(&buf); err != nil {
				t.Fatal(err)
			}
			second := New(WithClock(clocktest.New(time.UnixMilli(at(k - 1)))))
			if err := second.LoadState(&buf); err != nil {
				t.Fatal(err)
			}
			if got, want := dumpStore(second.store), dumpStore(first.store); got != want {
				t.Fatalf("restored store differs:\n%s\nwant\n%s", got, want)
			}
			for i := k; i < n; i++ {
				feedStore(second.store, at(i), i)
			}
			if got := dumpStore(second.store); got != want {
				t.Errorf("after the rest of the script:\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestHistogramLayoutCheck(t *testing.T) {
	c := &series{}
	for i := range 3 {
		c.appendHistogram(int64(i), scriptHistogram(i))
	}
	b := c.head.Bytes()
	if err := checkHistogramLayout(b); err != nil {
		t.Fatalf("a valid chunk: %v", err)
	}
	// A span of 2^20 buckets.
	big := &series{}
	h := &histogram.Histogram{Schema: 0, Count: 1, PositiveSpans: []histogram.Span{{Length: 1 << 20}}, PositiveBuckets: make([]int64, 1<<20)}
	h.PositiveBuckets[0] = 1
	big.appendHistogram(0, h)
	if err := checkHistogramLayout(big.head.Bytes()); err == nil {
		t.Error("a chunk of 2^20 buckets passed")
	}
	for n := range len(b) {
		if err := checkHistogramLayout(b[:n]); err == nil && n < 4 {
			t.Errorf("a chunk cut at %d bytes passed", n)
		}
	}
}
