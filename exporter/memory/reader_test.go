package memory_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/goleak"

	"github.com/vitalsgo/vitals/clock/clocktest"
	"github.com/vitalsgo/vitals/exporter"
	"github.com/vitalsgo/vitals/exporter/memory"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is the shared hand-moved clock.
type clock = clocktest.Clock

func newClock() *clock { return clocktest.New(time.Unix(1_700_000_000, 0)) }

// newProvider returns a MeterProvider with the reader registered.
func newProvider(t *testing.T, r *memory.Reader, opts ...sdkmetric.Option) *sdkmetric.MeterProvider {
	t.Helper()
	mp := sdkmetric.NewMeterProvider(append(opts, r.MeterProviderOptions()...)...)
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return mp
}

func collect(t *testing.T, r *memory.Reader) {
	t.Helper()
	if err := r.Collect(t.Context()); err != nil {
		t.Fatalf("Collect: %v", err)
	}
}

// instant runs expr at ts and returns the vector's values keyed by the
// series' labels.
func instant(t *testing.T, r *memory.Reader, expr string, ts time.Time) map[string]float64 {
	t.Helper()
	res, err := r.Query(t.Context(), expr, ts)
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	out := map[string]float64{}
	switch v := res.Value.(type) {
	case memory.Vector:
		for _, s := range v {
			out[s.Metric.String()] = s.F
		}
	case memory.Scalar:
		out[""] = v.V
	default:
		t.Fatalf("%s: unexpected result type %T", expr, res.Value)
	}
	return out
}

func approx(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b))
}

// TestSameSeriesAsMetricsEndpoint checks that every sample on /metrics is in
// the reader with the same name, labels and value.
func TestSameSeriesAsMetricsEndpoint(t *testing.T) {
	clk := newClock()
	r := memory.New(memory.WithClock(clk))
	p, err := exporter.NewMeterProvider(t.Context(), exporter.MetricsConfig{ServiceName: "parity"}, exporter.WithReader(r.SDKReaders()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	if err := r.Instrument(p); err != nil {
		t.Fatal(err)
	}

	m := p.Meter("example.com/parity", metric.WithInstrumentationVersion("v1"))
	ctx := t.Context()
	c, _ := m.Int64Counter("orders", metric.WithUnit("{order}"))
	fc, _ := m.Float64Counter("revenue", metric.WithUnit("EUR"))
	ud, _ := m.Int64UpDownCounter("http.server.active_requests", metric.WithUnit("{request}"))
	g, _ := m.Float64Gauge("temperature", metric.WithUnit("Cel"))
	h, _ := m.Float64Histogram("http.server.request.duration", metric.WithUnit("s"))
	hb, _ := m.Int64Histogram("payload.size", metric.WithUnit("By"), metric.WithExplicitBucketBoundaries(100, 1000, 1e4))
	_, _ = m.Float64ObservableGauge("process.ratio", metric.WithUnit("1"), metric.WithFloat64Callback(func(_ context.Context, o metric.Float64Observer) error {
		o.Observe(0.25, metric.WithAttributes(attribute.String("kind", "a")))
		return nil
	}))
	for i := range 50 {
		route := metric.WithAttributes(attribute.String("http.route", "/r/"+strconv.Itoa(i%5)), attribute.String("weird-key", "x"))
		c.Add(ctx, 1, route)
		fc.Add(ctx, 2.5, route)
		ud.Add(ctx, int64(i%3)-1, route)
		g.Record(ctx, float64(i), route)
		h.Record(ctx, float64(i)/20, route)
		hb.Record(ctx, int64(i*300), route)
	}

	collect(t, r)
	srv := httptest.NewServer(p.PrometheusHandler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	samples, err := expfmt.ExtractSamples(&expfmt.DecodeOptions{Timestamp: model.TimeFromUnixNano(clk.Now().UnixNano())}, values(mfs)...)
	if err != nil {
		t.Fatal(err)
	}

	stored := map[string]float64{}
	res, err := r.Query(ctx, `{__name__=~".+"}`, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Value.(memory.Vector) {
		stored[canonical(s.Metric.Map())] = s.F
	}

	checked := 0
	for _, s := range samples {
		name := string(s.Metric[model.MetricNameLabel])
		if strings.HasPrefix(name, "vitals_memory_") {
			continue // the reader's own metrics change between collect and scrape
		}
		lm := map[string]string{}
		for k, v := range s.Metric {
			lm[string(k)] = string(v)
		}
		key := canonical(lm)
		got, ok := stored[key]
		if !ok {
			t.Errorf("series %s is on /metrics but not in the reader", key)
			continue
		}
		if !approx(got, float64(s.Value)) {
			t.Errorf("%s = %v in the reader, %v on /metrics", key, got, s.Value)
		}
		checked++
	}
	if checked < 100 {
		t.Errorf("only %d samples compared; the test is not covering what it should", checked)
	}
	for _, want := range []string{"orders_total", "revenue_EUR_total", "http_server_active_requests", "temperature_celsius", "http_server_request_duration_seconds_bucket", "payload_size_bytes_sum", "process_ratio", "target_info"} {
		found := false
		for k := range stored {
			if strings.HasPrefix(k, "__name__="+want+",") {
				found = true
			}
		}
		if !found {
			t.Errorf("no stored series named %s", want)
		}
	}
}

type dtoFamily = dto.MetricFamily

func values(m map[string]*dtoFamily) []*dtoFamily {
	out := make([]*dtoFamily, 0, len(m))
	for _, f := range m {
		out = append(out, f)
	}
	return out
}

// canonical renders a label map in a fixed order, with le values normalised
// to floats (the text format writes le="1", the reader stores le="1.0" as
// Prometheus does when it scrapes OpenMetrics).
func canonical(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i] == "__name__" || keys[j] == "__name__" {
			return keys[i] == "__name__"
		}
		return keys[i] < keys[j]
	})
	var b strings.Builder
	for _, k := range keys {
		v := l[k]
		if k == "le" {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				v = strconv.FormatFloat(f, 'g', -1, 64)
			}
		}
		fmt.Fprintf(&b, "%s=%s,", k, v)
	}
	return b.String()
}

func TestBucketLabelsAsPrometheusStoresThem(t *testing.T) {
	clk := newClock()
	r := memory.New(memory.WithClock(clk))
	mp := newProvider(t, r)
	h, _ := mp.Meter("t").Float64Histogram("lat", metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(0.005, 1, 10))
	h.Record(t.Context(), 0.5)
	collect(t, r)
	got := instant(t, r, `lat_seconds_bucket`, clk.Now())
	for _, le := range []string{"0.005", "1.0", "10.0", "+Inf"} {
		if _, ok := got[`{__name__="lat_seconds_bucket", le="`+le+`", otel_scope_name="t"}`]; !ok {
			t.Errorf("no bucket le=%q; have %v", le, got)
		}
	}
}

// scripted is an observable counter and gauge whose values the test sets
// before each collection.
type scripted struct {
	mu     sync.Mutex
	counts map[string]float64 // by label value of "id"
	gauge  float64
}

func (s *scripted) register(t *testing.T, mp metric.MeterProvider) {
	m := mp.Meter("script")
	_, err := m.Float64ObservableCounter("jobs", metric.WithFloat64Callback(func(_ context.Context, o metric.Float64Observer) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		for id, v := range s.counts {
			o.Observe(v, metric.WithAttributes(attribute.String("id", id)))
		}
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Float64ObservableGauge("queue", metric.WithFloat64Callback(func(_ context.Context, o metric.Float64Observer) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		o.Observe(s.gauge)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
}

func (s *scripted) set(counts map[string]float64, gauge float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts, s.gauge = counts, gauge
}

// TestPromQLOverScriptedSamples checks PromQL answers against hand-computed
// ones. Collections are every 10 s from t=0 to t=60 s:
//
//	jobs{id="a"}: 100 110 120   5  15  25  35   (a counter reset at 30 s)
//	jobs{id="b"}:   -   -   -  10  20  30  40   (appears at 30 s)
//	queue:          4   8   6   2   0   3   9
func TestPromQLOverScriptedSamples(t *testing.T) {
	clk := newClock()
	r := memory.New(memory.WithClock(clk), memory.WithInterval(10*time.Second))
	mp := newProvider(t, r)
	var s scripted
	s.register(t, mp)

	a := []float64{100, 110, 120, 5, 15, 25, 35}
	b := []float64{0, 0, 0, 10, 20, 30, 40}
	q := []float64{4, 8, 6, 2, 0, 3, 9}
	start := clk.Now()
	for i := range a {
		counts := map[string]float64{"a": a[i]}
		if i >= 3 {
			counts["b"] = b[i]
		}
		s.set(counts, q[i])
		if i > 0 {
			clk.Advance(10 * time.Second)
		}
		collect(t, r)
	}
	at := start.Add(60 * time.Second)
	const (
		ja = `{id="a"}`
		jb = `{id="b"}`
	)

	// The range (0 s, 60 s] holds a's samples at 10..60 s. Raw increase:
	// 35 - 110 + 120 (the value before the reset) = 45 over 50 s sampled.
	// The first sample is 10 s after the range start, under 1.1 times the
	// 10 s spacing, so Prometheus extrapolates to the start: 45 * 60/50 = 54.
	//
	// b's samples are at 30..60 s: raw 30 over 30 s. Its first sample is 30 s
	// after the range start, over the threshold, so it extrapolates half a
	// spacing (5 s); the zero point (30 * 10/30 = 10 s back) is farther, so
	// 5 s stands: 30 * 35/30 = 35.
	tests := []struct {
		expr string
		want map[string]float64
	}{
		{`increase(jobs_total[1m])`, map[string]float64{ja: 54, jb: 35}},
		{`rate(jobs_total[1m])`, map[string]float64{ja: 0.9, jb: 35.0 / 60}},
		{`irate(jobs_total[1m])`, map[string]float64{ja: 1, jb: 1}},
		{`sum(increase(jobs_total[1m]))`, map[string]float64{"{}": 89}},
		{`sum by (id) (jobs_total)`, map[string]float64{ja: 35, jb: 40}},
		{`resets(jobs_total[1m])`, map[string]float64{ja: 1, jb: 0}},
		// queue over (0, 60]: 8 6 2 0 3 9. delta: raw 9-8 = 1 over 50 s,
		// extrapolated to the range start: 1 * 60/50 = 1.2.
		{`delta(queue[1m])`, map[string]float64{"{}": 1.2}},
		{`avg_over_time(queue[1m])`, map[string]float64{"{}": 28.0 / 6}},
		{`max_over_time(queue[30s])`, map[string]float64{"{}": 9}},
		{`queue`, map[string]float64{`{__name__="queue", otel_scope_name="script"}`: 9}},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got := instant(t, r, tt.expr, at)
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, want := range tt.want {
				var v float64
				var ok bool
				for gk, gv := range got {
					if strings.Contains(gk, strings.Trim(k, "{}")) {
						v, ok = gv, true
					}
				}
				if !ok || !approx(v, want) {
					t.Errorf("%s: got %v, want %v", k, got, want)
				}
			}
		})
	}
}

// TestSeriesDisappearAsInPrometheus checks that a series that stops being
// reported is stale at once, as Prometheus marks it on the next scrape, not
// visible for the 5-minute lookback.
func TestSeriesDisappearAsInPrometheus(t *testing.T) {
	clk := newClock()
	r := memory.New(memory.WithClock(clk))
	mp := newProvider(t, r)
	var s scripted
	s.register(t, mp)
	s.set(map[string]float64{"a": 1, "b": 1}, 0)
	collect(t, r)
	s.set(map[string]float64{"a": 2}, 0)
	clk.Advance(10 * time.Second)
	collect(t, r)
	got := instant(t, r, `jobs_total`, clk.Now().Add(time.Second))
	if len(got) != 1 {
		t.Errorf("after b stopped being reported: %v, want only a", got)
	}
	// Before it disappeared, b is there.
	if got := instant(t, r, `jobs_total`, clk.Now().Add(-time.Second)); len(got) != 2 {
		t.Errorf("before: %v, want a and b", got)
	}
	// And it comes back when reported again.
	s.set(map[string]float64{"a": 3, "b": 4}, 0)
	clk.Advance(10 * time.Second)
	collect(t, r)
	if got := instant(t, r, `jobs_total`, clk.Now()); len(got) != 2 {
		t.Errorf("after b came back: %v", got)
	}
}

func TestHistogramQuantile(t *testing.T) {
	clk := newClock()
	r := memory.New(memory.WithClock(clk))
	mp := newProvider(t, r)
	h, _ := mp.Meter("t").Float64Histogram("req.duration", metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(0.1, 0.2, 0.4, 0.8))
	ctx := t.Context()
	get := metric.WithAttributes(attribute.String("route", "/get"))
	put := metric.WithAttributes(attribute.String("route", "/put"))
	// 40 requests in (0, 0.1], 40 in (0.1, 0.2], 20 in (0.2, 0.4].
	for range 40 {
		h.Record(ctx, 0.05, get)
		h.Record(ctx, 0.15, put)
	}
	for range 20 {
		h.Record(ctx, 0.3, get)
	}
	collect(t, r)

	// Summed over routes: 100 observations. The 0.95 quantile is rank 95,
	// in the (0.2, 0.4] bucket holding ranks 81..100: 0.2 + 0.2*(95-80)/20.
	got := instant(t, r, `histogram_quantile(0.95, sum by (le) (req_duration_seconds_bucket))`, clk.Now())
	if v := got["{}"]; !approx(v, 0.35) {
		t.Errorf("p95 = %v, want 0.35", got)
	}
	// Per route: /put only has (0.1, 0.2]: p50 = 0.1 + 0.1*20/40 = 0.15.
	got = instant(t, r, `histogram_quantile(0.5, sum by (le, route) (req_duration_seconds_bucket))`, clk.Now())
	if v := got[`{route="/put"}`]; !approx(v, 0.15) {
		t.Errorf("p50 of /put = %v, want 0.15", got)
	}
	got = instant(t, r, `sum(req_duration_seconds_count)`, clk.Now())
	if got["{}"] != 100 {
		t.Errorf("count = %v, want 100", got)
	}
}

func TestQueryRange(t *testing.T) {
	clk := newClock()
	r := memory.New(memory.WithClock(clk))
	mp := newProvider(t, r)
	var s scripted
	s.register(t, mp)
	start := clk.Now()
	for i := range 6 {
		s.set(nil, float64(i))
		if i > 0 {
			clk.Advance(10 * time.Second)
		}
		collect(t, r)
	}
	res, err := r.QueryRange(t.Context(), `queue * 2`, start, start.Add(50*time.Second), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	m := res.Value.(memory.Matrix)
	if len(m) != 1 || len(m[0].Floats) != 6 {
		t.Fatalf("got %v", m)
	}
	for i, p := range m[0].Floats {
		if p.F != float64(2*i) || p.T != start.Add(time.Duration(i)*10*time.Second).UnixMilli() {
			t.Errorf("point %d = %v", i, p)
		}
	}
}

func TestQueryErrors(t *testing.T) {
	r := memory.New()
	newProvider(t, r)
	now := time.Now()
	var bad *memory.BadQueryError
	for _, expr := range []string{`rate(x[5m]`, `nosuchfunction(x)`, `x{`, ``} {
		if _, err := r.Query(t.Context(), expr, now); !errors.As(err, &bad) {
			t.Errorf("%q: error %v is not a *BadQueryError", expr, err)
		}
	}
	for _, tc := range []struct {
		start, end time.Time
		step       time.Duration
	}{
		{now, now, 0},
		{now, now.Add(-time.Minute), time.Second},
		{now, now.Add(24 * time.Hour), time.Second},
	} {
		if _, err := r.QueryRange(t.Context(), `up`, tc.start, tc.end, tc.step); !errors.As(err, &bad) {
			t.Errorf("range %v..%v step %v: error %v is not a *BadQueryError", tc.start, tc.end, tc.step, err)
		}
	}
}

func TestSubqueryStepLimit(t *testing.T) {
	r := memory.New()
	newProvider(t, r)
	now := time.Now()
	var bad *memory.BadQueryError
	for _, expr := range []string{
		// 3 × 10¹² steps: without the limit the engine's per-step
		// bookkeeping for it aborts the process with "out of memory".
		`vector(1)[100y:1ms]`,
		`max_over_time(vector(1)[100y:1ms])`,
		`sum(rate(x[5m])) + count_over_time(vector(1)[100001s:1s])`,
		// Each subquery alone is within the limit; nested, the inner one
		// runs over the outer's day.
		`max_over_time(max_over_time(vector(1)[1h:100ms])[1d:1m])`,
	} {
		_, err := r.Query(t.Context(), expr, now)
		if !errors.As(err, &bad) || !strings.Contains(err.Error(), fmt.Sprint(memory.MaxSubquerySteps)) {
			t.Errorf("%s: %v, want a *BadQueryError naming the limit", expr, err)
		}
	}
	// A range query widens its subqueries by its own range.
	if _, err := r.QueryRange(t.Context(), `max_over_time(vector(1)[1h:1s])`, now.Add(-48*time.Hour), now, time.Minute); !errors.As(err, &bad) {
		t.Errorf("a 1h:1s subquery over two days: %v, want a *BadQueryError", err)
	}
	for _, expr := range []string{
		`count_over_time(vector(1)[30d:1m])`,
		`max_over_time(vector(1)[1h:100ms])`,
		`count_over_time(vector(1)[99999s:1s])`,
	} {
		if _, err := r.Query(t.Context(), expr, now); err != nil {
			t.Errorf("%s: %v", expr, err)
		}
	}
	if _, err := r.QueryRange(t.Context(), `max_over_time(vector(1)[1h:1s])`, now.Add(-10*time.Minute), now, time.Minute); err != nil {
		t.Errorf("a 1h:1s subquery over 10 minutes: %v", err)
	}
}

func TestQueryLimits(t *testing.T) {
	clk := newClock()
	r := memory.New(memory.WithClock(clk), memory.WithQueryLimits(0, 10))
	mp := newProvider(t, r)
	c, _ := mp.Meter("t").Int64Counter("hits")
	for i := range 50 {
		c.Add(t.Context(), 1, metric.WithAttributes(attribute.Int("i", i)))
	}
	collect(t, r)
	_, err := r.Query(t.Context(), `hits_total`, clk.Now())
	if !errors.As(err, new(promql.ErrTooManySamples)) {
		t.Errorf("a query over 50 samples with a limit of 10: %v, want ErrTooManySamples", err)
	}
}

func TestCollectOrder(t *testing.T) {
	clk := newClock()
	r := memory.New(memory.WithClock(clk))
	newProvider(t, r)
	collect(t, r)
	if err := r.Collect(t.Context()); !errors.Is(err, memory.ErrCollectOrder) {
		t.Errorf("a second collect at the same time: %v, want ErrCollectOrder", err)
	}
}

// TestBoundedUnderHighCardinality reports 100 000 distinct label values, 1000
// per collection, into a reader capped at 500 series with a 1-minute
// retention.
func TestBoundedUnderHighCardinality(t *testing.T) {
	clk := newClock()
	const maxSeries = 500
	r := memory.New(memory.WithClock(clk), memory.WithMaxSeries(maxSeries),
		memory.WithInterval(10*time.Second), memory.WithRetention(time.Minute))
	mp := newProvider(t, r, sdkmetric.WithCardinalityLimit(0))
	var s scripted
	s.register(t, mp)

	start := clk.Now()
	for round := range 100 {
		counts := make(map[string]float64, 1000)
		for i := range 1000 {
			counts[strconv.Itoa(round*1000+i)] = 1
		}
		s.set(counts, 0)
		if round > 0 {
			clk.Advance(10 * time.Second)
		}
		collect(t, r)
		if st := r.Stats(); st.Series > maxSeries {
			t.Fatalf("round %d: %d series held, cap %d", round, st.Series, maxSeries)
		}
	}
	st := r.Stats()
	// Each round offers 1000 new series. The 2 fixed series (queue,
	// target-less scope) take room first; after a retention without
	// reports, a round's series expire and the next rounds refill the room.
	if st.Dropped < 100*(1000-maxSeries) {
		t.Errorf("dropped %d samples, want at least %d", st.Dropped, 100*(1000-maxSeries))
	}
	if st.Collections > int(time.Minute/(10*time.Second))+2 {
		t.Errorf("%d collections held for a 1-minute retention at 10 s", st.Collections)
	}
	// Samples older than the retention are gone.
	if got := instant(t, r, `count(jobs_total)`, start.Add(10*time.Second)); len(got) != 0 {
		t.Errorf("samples from the first rounds are still queryable: %v", got)
	}
	// The store was full of older series until they expired, so the latest
	// rounds were dropped whole; the series stored last are there, up to the
	// cap, and marked stale since they stopped being reported.
	got := instant(t, r, `count(count_over_time(jobs_total[1m]))`, clk.Now())
	if got["{}"] == 0 || got["{}"] > maxSeries {
		t.Errorf("series seen in the last minute: %v", got)
	}
	if got := instant(t, r, `count(jobs_total)`, clk.Now()); len(got) != 0 {
		t.Errorf("series no longer reported are still current: %v", got)
	}
}

func TestReaderConcurrentSafe(t *testing.T) {
	clk := newClock()
	r := memory.New(memory.WithClock(clk))
	mp := newProvider(t, r)
	c, _ := mp.Meter("t").Int64Counter("hits")
	h, _ := mp.Meter("t").Float64Histogram("lat", metric.WithUnit("s"))
	ctx := t.Context()
	c.Add(ctx, 1) // something is recorded before the first collection
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				attrs := metric.WithAttributes(attribute.Int("w", w), attribute.Int("i", i%20))
				c.Add(ctx, 1, attrs)
				h.Record(ctx, float64(i%100)/100, attrs)
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for !stop.Load() {
				_, _ = r.Query(ctx, `sum by (w) (rate(hits_total[1m]))`, clk.Now())
				_, _ = r.Query(ctx, `histogram_quantile(0.9, sum by (le) (rate(lat_seconds_bucket[1m])))`, clk.Now())
			}
		})
	}
	for range 50 {
		clk.Advance(time.Second)
		collect(t, r)
	}
	stop.Store(true)
	wg.Wait()
	got := instant(t, r, `sum(hits_total)`, clk.Now())
	if got["{}"] == 0 {
		t.Error("nothing recorded")
	}
}

// steppingClock moves one second forward at every reading.
type steppingClock struct{ *clock }

func (s steppingClock) Now() time.Time { return s.Advance(time.Second) }

func TestRunCollectsOnEveryTick(t *testing.T) {
	r := memory.New(memory.WithClock(steppingClock{newClock()}))
	mp := newProvider(t, r)
	c, _ := mp.Meter("t").Int64Counter("hits")
	c.Add(t.Context(), 1)
	ctx, cancel := context.WithCancel(t.Context())
	tick := make(chan time.Time)
	done := make(chan error, 1)
	go func() { done <- r.RunTicks(ctx, tick) }()
	for range 3 {
		tick <- time.Time{}
	}
	// The loop took the third tick, so the first two collections are done.
	if n := r.Stats().Collections; n < 2 {
		t.Errorf("%d collections after three ticks", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

// TestRunOnTheClock: Run collects once an interval on the reader's clock,
// and Shutdown stops it and waits for it; a second Shutdown is refused.
func TestRunOnTheClock(t *testing.T) {
	clk := newClock()
	r := memory.New(memory.WithClock(clk), memory.WithInterval(10*time.Second))
	newProvider(t, r)
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	for i := range 3 {
		clk.BlockUntil(1) // Run waits for the next interval
		if n := r.Stats().Collections; n != i {
			t.Fatalf("%d collections before interval %d", n, i+1)
		}
		clk.Advance(10 * time.Second)
	}
	clk.BlockUntil(1)
	if n := r.Stats().Collections; n != 3 {
		t.Errorf("%d collections after three intervals, want 3", n)
	}
	if err := r.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	default:
		t.Error("Shutdown returned before Run did")
	}
	if err := r.Shutdown(t.Context()); !errors.Is(err, memory.ErrShutdown) {
		t.Errorf("second Shutdown = %v, want ErrShutdown", err)
	}
	if err := r.Run(context.Background()); !errors.Is(err, memory.ErrShutdown) {
		t.Errorf("Run after Shutdown = %v, want ErrShutdown at once", err)
	}
}

func TestRunStopsWhenProviderShutsDown(t *testing.T) {
	clk := newClock()
	r := memory.New(memory.WithClock(clk))
	mp := sdkmetric.NewMeterProvider(r.MeterProviderOptions()...)
	tick := make(chan time.Time, 1)
	done := make(chan error, 1)
	go func() { done <- r.RunTicks(context.Background(), tick) }()
	if err := mp.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	tick <- clk.Advance(time.Second)
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

// TestSamplesFollowRetention: with a retention shorter than a chunk's
// sample count (10 s at 1 s), what the store holds follows the retention,
// not the chunk size: a chunk spans at most a quarter of the retention.
func TestSamplesFollowRetention(t *testing.T) {
	clk := newClock()
	r := memory.New(memory.WithClock(clk), memory.WithInterval(time.Second), memory.WithRetention(10*time.Second))
	mp := newProvider(t, r)
	c, _ := mp.Meter("t").Int64Counter("hits")
	h, _ := mp.Meter("t").Float64Histogram("lat", metric.WithUnit("s"))
	for i := range 600 {
		c.Add(t.Context(), int64(i%7))
		h.Record(t.Context(), float64(i%13)/1000)
		clk.Advance(time.Second)
		collect(t, r)
	}
	st := r.Stats()
	// 11 collections in the retention, and at most a chunk of 2.5 s
	// before it: 14 samples a series.
	if perSeries := float64(st.Samples) / float64(st.Series); perSeries > 14 {
		t.Errorf("%d samples over %d series (%.1f each) for a 10 s retention at 1 s, want at most 14 each", st.Samples, st.Series, perSeries)
	}
	if st.HistogramSamples == 0 || st.HistogramSamples > 14 {
		t.Errorf("%d native histogram samples held for one series, want 1 to 14", st.HistogramSamples)
	}
}

// TestInstrumentUntilShutdown: the reader's own metrics are observed from
// Instrument on and removed at Shutdown.
func TestInstrumentUntilShutdown(t *testing.T) {
	r := memory.New(memory.WithClock(newClock()))
	manual := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(manual))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	if err := r.Instrument(mp); err != nil {
		t.Fatal(err)
	}
	names := func() []string {
		var rm metricdata.ResourceMetrics
		if err := manual.Collect(t.Context(), &rm); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				out = append(out, m.Name)
			}
		}
		return out
	}
	if got := names(); !slices.Contains(got, memory.MetricSeries) || !slices.Contains(got, memory.MetricSamplesDropped) {
		t.Errorf("after Instrument: %v, want %s and %s", got, memory.MetricSeries, memory.MetricSamplesDropped)
	}
	if err := r.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := names(); slices.Contains(got, memory.MetricSeries) {
		t.Errorf("after Shutdown: %v, want the reader's metrics gone", got)
	}
}
