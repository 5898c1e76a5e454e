package memory_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/vitalsgo/vitals/exporter/memory"
)

const sloRetention = 30 * 24 * time.Hour

// workload is a reader fed every 10 s by a script: counters jobs_total{id}
// (a steady; b until it disappears at step 300; c from step 100), a gauge
// queue, a histogram lat_seconds (classic buckets and native) whose range
// widens over the first steps, and a named appender "slo" with a 30-day
// retention fed every minute.
type workload struct {
	t    *testing.T
	clk  *clock
	r    *memory.Reader
	s    *scripted
	lat  metric.Float64Histogram
	slo  *memory.Appender
	step int // steps run, from the workload's start
	obs  []float64
}

func newWorkload(t *testing.T, clk *clock, opts ...memory.Option) *workload {
	t.Helper()
	r := memory.New(append([]memory.Option{memory.WithClock(clk)}, opts...)...)
	w := &workload{t: t, clk: clk, r: r, s: &scripted{}}
	w.slo = r.NewNamedAppender("slo", time.Minute, sloRetention)
	mp := newProvider(t, r)
	w.s.register(t, mp)
	w.lat, _ = mp.Meter("t").Float64Histogram("lat", metric.WithUnit("s"))
	return w
}

// observation is the value lat records at step i.
func observation(i int) float64 { return 0.001 * float64(1+i%5) }

// run runs n steps: advance the clock 10 s, record, collect.
func (w *workload) run(n int) {
	w.t.Helper()
	for range n {
		w.clk.Advance(10 * time.Second)
		i := w.step
		w.step++
		counts := map[string]float64{"a": float64(3 * i)}
		if i < 300 {
			counts["b"] = float64(i * i % 1000)
		}
		if i >= 100 {
			counts["c"] = float64(i - 100)
		}
		w.s.set(counts, float64(i%7))
		v := observation(i)
		w.lat.Record(w.t.Context(), v)
		w.obs = append(w.obs, v)
		collect(w.t, w.r)
		if i%6 == 0 {
			if err := w.slo.Append(w.clk.Now(), memory.Vector{{Metric: labels.FromStrings("__name__", "slo:ratio", "slo", "api"), F: float64(i) / 1000}}); err != nil {
				w.t.Fatal(err)
			}
		}
	}
}

// rangeQueries returns the results of range queries over the hour before
// end (the appender's series over the day before), as text.
func rangeQueries(t *testing.T, r *memory.Reader, end time.Time) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, expr := range []string{
		`jobs_total`, `rate(jobs_total[5m])`, `queue`,
		`lat_seconds_bucket`, `lat_seconds_count`, `rate(lat_seconds_sum[5m])`,
		`histogram_count(lat_seconds)`, `histogram_quantile(0.9, lat_seconds)`, `rate(lat_seconds[5m])`,
		`slo:ratio`,
	} {
		start, step := end.Add(-time.Hour), 10*time.Second
		if expr == `slo:ratio` {
			start, step = end.Add(-24*time.Hour), time.Minute
		}
		res, err := r.QueryRange(t.Context(), expr, start, end, step)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		m, ok := res.Value.(memory.Matrix)
		if !ok || len(m) == 0 {
			t.Fatalf("%s: no result: %v", expr, res.Value)
		}
		out[expr] = m.String()
	}
	return out
}

func snapshot(t *testing.T, r *memory.Reader) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := r.SaveState(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// restored returns a new reader at clk, with the "slo" appender, into which
// b was restored.
func restored(t *testing.T, clk *clock, b []byte, opts ...memory.Option) *memory.Reader {
	t.Helper()
	r := memory.New(append([]memory.Option{memory.WithClock(clk)}, opts...)...)
	r.NewNamedAppender("slo", time.Minute, sloRetention)
	if err := r.LoadState(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSnapshotRoundTrip(t *testing.T) {
	clk := newClock()
	w := newWorkload(t, clk)
	w.run(720) // 2 h
	end := clk.Now()
	before := rangeQueries(t, w.r, end)
	b := snapshot(t, w.r)

	r := restored(t, clk, b)
	after := rangeQueries(t, r, end)
	for expr, want := range before {
		if after[expr] != want {
			t.Errorf("%s after restore:\n%s\nwant\n%s", expr, after[expr], want)
		}
	}
	if got, want := r.Stats(), w.r.Stats(); got != want {
		t.Errorf("stats after restore: %+v, want %+v", got, want)
	}
	// The same history makes the same snapshot.
	if b2 := snapshot(t, r); !bytes.Equal(b2, b) {
		t.Errorf("snapshot of the restored reader: %d bytes, differs from the %d of the original", len(b2), len(b))
	}
	// Series stale at the snapshot (b since step 300) stay so.
	if got := instant(t, r, `jobs_total{id="b"}`, end); len(got) != 0 {
		t.Errorf("a stale series is back: %v", got)
	}
	t.Logf("snapshot of %d series, 2 h: %d bytes", r.Stats().Series, len(b))
}

// TestRestoreThenCollect restarts a workload after 30 minutes of downtime:
// a new reader and MeterProvider (whose counters start again from zero),
// the snapshot restored, and collections going on.
func TestRestoreThenCollect(t *testing.T) {
	clk := newClock()
	w := newWorkload(t, clk)
	w.run(360) // 1 h; b is stale since step 300
	stopped := clk.Now()
	b := snapshot(t, w.r)
	before := rangeQueries(t, w.r, stopped)
	clk.Advance(30 * time.Minute)

	w2 := newWorkload(t, clk)
	if err := w2.r.LoadState(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	// The history is there, up to the last collection, and the lookback
	// does not reach over the downtime.
	if got := instant(t, w2.r, `sum by (id) (jobs_total)`, stopped.Add(time.Minute)); len(got) != 2 || got[`{id="a"}`] != 3*359 {
		t.Errorf("a minute after the last collection: %v, want a = %d and c", got, 3*359)
	}
	if got := instant(t, w2.r, `jobs_total`, clk.Now()); len(got) != 0 {
		t.Errorf("after 30 minutes of downtime: %v, want nothing", got)
	}

	// The restarted process's histogram first sees what the old one had
	// seen, then values in buckets it had not: the restored head chunk
	// gets a wider layout.
	for _, v := range w.obs {
		w2.lat.Record(t.Context(), v)
	}
	w2.obs = append(w2.obs, w.obs...)
	// c is not reported any more: marked stale at the first collection;
	// b comes back.
	for j := range 90 {
		clk.Advance(10 * time.Second)
		w2.s.set(map[string]float64{"a": float64(3 * j), "b": float64(j)}, 1)
		if j >= 5 {
			v := 0.05 * float64(j%3+1)
			w2.lat.Record(t.Context(), v)
			w2.obs = append(w2.obs, v)
		}
		collect(t, w2.r)
	}
	now := clk.Now()
	got := instant(t, w2.r, `sum by (id) (jobs_total)`, now)
	if len(got) != 2 || got[`{id="a"}`] != 3*89 || got[`{id="b"}`] != 89 {
		t.Errorf("after the restart: %v, want a = %d and b = 89", got, 3*89)
	}
	if got := instant(t, w2.r, `sum(histogram_count(lat_seconds))`, now); got["{}"] != float64(len(w2.obs)) {
		t.Errorf("histogram_count = %v, want %d", got, len(w2.obs))
	}
	if got := instant(t, w2.r, `sum(lat_seconds_count)`, now); got["{}"] != float64(len(w2.obs)) {
		t.Errorf("lat_seconds_count = %v, want %d", got, len(w2.obs))
	}
	// The hour before the downtime reads as it did, histograms included,
	// though their head chunks were recoded since.
	after := rangeQueries(t, w2.r, stopped)
	for expr, want := range before {
		if after[expr] != want {
			t.Errorf("%s after restore and collections:\n%s\nwant\n%s", expr, after[expr], want)
		}
	}
	// One reset, at the restart; a rate over the last 10 minutes sees the
	// new process only.
	if got := instant(t, w2.r, `sum(resets(jobs_total{id="a"}[3h]))`, now); got["{}"] != 1 {
		t.Errorf("resets: %v, want 1", got)
	}
	if got := instant(t, w2.r, `sum(rate(jobs_total{id="a"}[10m]))`, now); !approx(got["{}"], 0.3) {
		t.Errorf("rate over the new process: %v, want 0.3", got)
	}
	// Across the gap, the engine sees the samples of a store that never
	// restarted: compare with an appender fed the same samples.
	ref := memory.New(memory.WithClock(clk))
	app := ref.NewAppender(10 * time.Second)
	res, err := w2.r.Query(t.Context(), `{__name__=~"jobs_total|lat_seconds_count"}[3h]`, now)
	if err != nil {
		t.Fatal(err)
	}
	m := res.Value.(memory.Matrix)
	times := map[int64]memory.Vector{}
	for _, s := range m {
		for _, p := range s.Floats {
			times[p.T] = append(times[p.T], promql.Sample{Metric: s.Metric, F: p.F, T: p.T})
		}
	}
	sorted := make([]int64, 0, len(times))
	for ts := range times {
		sorted = append(sorted, ts)
	}
	slices.Sort(sorted)
	for _, ts := range sorted {
		if err := app.Append(time.UnixMilli(ts), times[ts]); err != nil {
			t.Fatal(err)
		}
	}
	for _, expr := range []string{
		`rate(jobs_total[1h])`, `increase(jobs_total[45m])`, `irate(jobs_total[1h])`,
		`resets(jobs_total[2h])`, `jobs_total`, `rate(lat_seconds_count[40m])`,
	} {
		start := stopped.Add(-20 * time.Minute)
		want, err := ref.QueryRange(t.Context(), expr, start, now, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		got, err := w2.r.QueryRange(t.Context(), expr, start, now, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := got.Value.String(), want.Value.String(); g != w {
			t.Errorf("%s across the gap:\n%s\nwant, from a store that never restarted,\n%s", expr, g, w)
		}
	}
}

func TestRestoreCollectOrder(t *testing.T) {
	clk := newClock()
	w := newWorkload(t, clk)
	w.run(10)
	b := snapshot(t, w.r)

	r := restored(t, clk, b) // the clock has not moved
	newProvider(t, r)
	if err := r.Collect(t.Context()); !errors.Is(err, memory.ErrCollectOrder) {
		t.Errorf("a collection at the restored last time: %v", err)
	}
	if err := r.NewNamedAppender("x", 0, 0).Append(clk.Now(), nil); err != nil {
		t.Errorf("an appender absent from the snapshot: %v", err)
	}
	clk.Advance(time.Second)
	if err := r.Collect(t.Context()); err != nil {
		t.Errorf("a collection after it: %v", err)
	}

	// A snapshot from the future is refused.
	early := memory.New(memory.WithClock(newClock()))
	if err := early.LoadState(bytes.NewReader(b)); err == nil || !strings.Contains(err.Error(), "after the reader's clock") {
		t.Errorf("a snapshot newer than the clock: %v", err)
	}
}

func TestRestoreRetention(t *testing.T) {
	clk := newClock()
	w := newWorkload(t, clk)
	w.run(1080) // 3 h
	b := snapshot(t, w.r)
	full := w.r.Stats()

	// A retention of 1 h: the chunks that end before it are dropped.
	r := restored(t, clk, b, memory.WithRetention(time.Hour))
	st := r.Stats()
	if st.Collections != 361 {
		t.Errorf("collections within 1 h: %d, want 361", st.Collections)
	}
	// Chunks of 240 samples (40 min): up to 1 h 40 min of each series.
	if st.Samples > full.Samples*2/3 || st.Samples < full.Samples/4 {
		t.Errorf("%d samples kept of %d", st.Samples, full.Samples)
	}
	// b was last reported at 50 min, over an hour before: removed.
	if st.Series != full.Series-1 {
		t.Errorf("%d series kept of %d, want all but b", st.Series, full.Series)
	}

	// Seven hours later, the collected series are all out of the
	// default retention, the appender's are not.
	clk.Advance(7 * time.Hour)
	r = restored(t, clk, b)
	if st := r.Stats(); st.Series != 0 || st.Collections != 0 {
		t.Errorf("after 7 h: %+v, want nothing", st)
	}
	if got := instant(t, r, `count_over_time(slo:ratio[11h])`, clk.Now()); got[`{slo="api"}`] != 180 {
		t.Errorf("the appender's series: %v, want 180 samples", got)
	}
}

func TestRestoreSeriesLimit(t *testing.T) {
	clk := newClock()
	w := newWorkload(t, clk)
	w.run(120)
	b := snapshot(t, w.r)
	n := w.r.Stats().Series
	r := restored(t, clk, b, memory.WithMaxSeries(5))
	st := r.Stats()
	if st.Series != 5 || st.Dropped == 0 {
		t.Errorf("restored with a limit of 5 of %d: %+v", n, st)
	}
	// The series kept answer queries (the appender's has a store and a
	// limit of its own).
	if got := instant(t, r, `count({__name__!=""})`, clk.Now()); got["{}"] != 5+1 {
		t.Errorf("series queried: %v, want 5 and the appender's", got)
	}
}

func TestRestoreAfterCollect(t *testing.T) {
	clk := newClock()
	w := newWorkload(t, clk)
	w.run(3)
	b := snapshot(t, w.r)
	if err := w.r.LoadState(bytes.NewReader(b)); !errors.Is(err, memory.ErrStateTooLate) {
		t.Errorf("restore into the reader that collected: %v", err)
	}
	// A reader whose named appender has appended is not empty either.
	r := memory.New(memory.WithClock(clk))
	if err := r.NewNamedAppender("slo", time.Minute, sloRetention).Append(clk.Now(), nil); err != nil {
		t.Fatal(err)
	}
	if err := r.LoadState(bytes.NewReader(b)); !errors.Is(err, memory.ErrStateTooLate) {
		t.Errorf("restore into a reader whose appender appended: %v", err)
	}
	// Nor is one restored already.
	r = restored(t, clk, b)
	if err := r.LoadState(bytes.NewReader(b)); !errors.Is(err, memory.ErrStateTooLate) {
		t.Errorf("a second restore: %v", err)
	}
}

// smallSnapshot is a snapshot of a few series of every kind (counters,
// one of them stale, a native histogram and its classic series, an
// appender's series), for the tests of bad input.
func smallSnapshot(tb testing.TB) []byte {
	clk := newClock()
	r := memory.New(memory.WithClock(clk))
	slo := r.NewNamedAppender("slo", time.Minute, sloRetention)
	mp := sdkmetric.NewMeterProvider(r.MeterProviderOptions()...)
	defer func() { _ = mp.Shutdown(context.Background()) }()
	ctx := context.Background()
	var i int
	_, err := mp.Meter("t").Int64ObservableCounter("jobs", metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
		o.Observe(int64(i), metric.WithAttributes(attribute.String("id", "a")))
		if i < 20 {
			o.Observe(1, metric.WithAttributes(attribute.String("id", "b")))
		}
		return nil
	}))
	if err != nil {
		tb.Fatal(err)
	}
	lat, _ := mp.Meter("t").Float64Histogram("lat", metric.WithUnit("s"))
	for i = range 30 {
		clk.Advance(10 * time.Second)
		lat.Record(ctx, observation(i))
		if err := r.Collect(ctx); err != nil {
			tb.Fatal(err)
		}
		if err := slo.Append(clk.Now(), memory.Vector{{Metric: labels.FromStrings("__name__", "slo:ratio"), F: float64(i)}}); err != nil {
			tb.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := r.SaveState(&buf); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// restoreBad restores b into a reader, reporting whether it was accepted;
// a refused snapshot must leave the reader empty and collecting.
func restoreBad(t *testing.T, b []byte) bool {
	t.Helper()
	clk := newClock()
	clk.Advance(time.Hour)
	r := memory.New(memory.WithClock(clk))
	r.NewNamedAppender("slo", time.Minute, sloRetention)
	mp := sdkmetric.NewMeterProvider(r.MeterProviderOptions()...)
	defer func() { _ = mp.Shutdown(context.Background()) }()
	err := r.LoadState(bytes.NewReader(b))
	if err == nil {
		// Accepted (a changed value, say): it must read, and snapshot
		// and restore again.
		end := clk.Now()
		if _, err := r.Query(t.Context(), `{__name__!=""}[2h]`, end); err != nil {
			t.Errorf("query after restoring a changed snapshot: %v", err)
		}
		for _, expr := range []string{`{__name__!=""}`, `rate(jobs_total[5m])`, `rate(lat_seconds[5m])`, `histogram_quantile(0.9, lat_seconds)`} {
			if _, err := r.QueryRange(t.Context(), expr, end.Add(-time.Hour), end, time.Minute); err != nil {
				t.Errorf("%s after restoring a changed snapshot: %v", expr, err)
			}
		}
		var buf bytes.Buffer
		if err := r.SaveState(&buf); err != nil {
			t.Fatal(err)
		}
		r2 := memory.New(memory.WithClock(clk))
		r2.NewNamedAppender("slo", time.Minute, sloRetention)
		if err := r2.LoadState(&buf); err != nil {
			t.Errorf("restoring the snapshot of an accepted snapshot: %v", err)
		}
		return true
	}
	if !strings.HasPrefix(err.Error(), "memory: snapshot: ") {
		t.Errorf("error %q", err)
	}
	if st := r.Stats(); st.Series != 0 || st.Collections != 0 {
		t.Errorf("a refused snapshot left %+v", st)
	}
	clk.Advance(time.Second)
	if err := r.Collect(t.Context()); err != nil && !errors.Is(err, memory.ErrCollectOrder) {
		t.Errorf("collect after a refused snapshot: %v", err)
	}
	return false
}

func TestRestoreBadInput(t *testing.T) {
	b := smallSnapshot(t)
	t.Logf("snapshot of %d bytes", len(b))
	if !restoreBad(t, b) {
		t.Fatal("the intact snapshot was refused")
	}
	// Every truncation is refused.
	for n := range len(b) {
		if restoreBad(t, b[:n]) {
			t.Errorf("truncated to %d bytes: accepted", n)
		}
	}
	// Trailing bytes are refused.
	if restoreBad(t, append(bytes.Clone(b), 0)) {
		t.Error("a trailing byte was accepted")
	}
	// Any byte changed: an error or a readable history, never a panic.
	refused, every := 0, 1
	if testing.Short() {
		every = 5
	}
	for i := 0; i < len(b); i += every {
		for _, x := range []byte{0x01, 0xff} {
			c := bytes.Clone(b)
			c[i] ^= x
			if !restoreBad(t, c) {
				refused++
			}
		}
	}
	t.Logf("%d of %d changed snapshots refused", refused, 2*((len(b)+every-1)/every))
	// An error names what is wrong.
	clk := newClock()
	clk.Advance(time.Hour)
	err := memory.New(memory.WithClock(clk)).LoadState(bytes.NewReader(b[:len(b)/2]))
	if err == nil || !strings.Contains(err.Error(), "series") {
		t.Errorf("error for a truncated snapshot: %v", err)
	}
	t.Logf("for example: %v", err)
	// A snapshot of another format version is refused as such (the version
	// is its first byte, a uvarint).
	c := bytes.Clone(b)
	c[0] = memory.StateVersion + 1
	if err := memory.New(memory.WithClock(clk)).LoadState(bytes.NewReader(c)); !errors.Is(err, memory.ErrStateVersion) {
		t.Errorf("a snapshot of version %d: %v, want ErrStateVersion", c[0], err)
	}
}

func FuzzRestore(f *testing.F) {
	b := smallSnapshot(f)
	f.Add(b)
	f.Add(b[:len(b)/2])
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		restoreBad(t, b)
	})
}

// TestSnapshotDuringCollections snapshots while collections and appends
// go on (run with -race): every snapshot restores.
func TestSnapshotDuringCollections(t *testing.T) {
	clk := newClock()
	w := newWorkload(t, clk)
	w.run(50)
	var stop atomic.Bool
	var wg sync.WaitGroup
	var snaps [][]byte
	wg.Go(func() {
		for !stop.Load() {
			var buf bytes.Buffer
			if err := w.r.SaveState(&buf); err != nil {
				t.Error(err)
				return
			}
			snaps = append(snaps, buf.Bytes())
		}
	})
	w.run(200)
	stop.Store(true)
	wg.Wait()
	for i, b := range snaps {
		r := memory.New(memory.WithClock(clk))
		r.NewNamedAppender("slo", time.Minute, sloRetention)
		if err := r.LoadState(bytes.NewReader(b)); err != nil {
			t.Errorf("snapshot %d: %v", i, err)
		}
	}
	t.Logf("%d snapshots", len(snaps))
}
