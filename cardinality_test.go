package vitals_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql"
	"go.opentelemetry.io/otel/attribute"

	"github.com/vitalsgo/vitals"
	"github.com/vitalsgo/vitals/bizmetrics"
	"github.com/vitalsgo/vitals/exporter"
	"github.com/vitalsgo/vitals/exporter/memory"
	"github.com/vitalsgo/vitals/instrument"
)

// attackSize is the number of distinct values of the first attack.
const attackSize = 100_000

// attacker sends distinct random values through the HTTP middleware and
// every user-supplied label value of bizmetrics.
type attacker struct {
	rng     *rand.Rand
	handler http.Handler
	biz     *bizmetrics.Metrics
	custom  *bizmetrics.Counter
	sent    int // requests so far, for the method's parity
}

// word returns n random lower-case letters: a path segment NormalizePath
// keeps as it is, the worst case for the route cap.
func (a *attacker) word(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(a.rng.IntN(26))
	}
	return string(b)
}

// run sends n requests and n values of each kind. Every value is new: 12
// random letters (26^12 possibilities: a collision among 2·10^5 draws has
// a probability under 10^-6).
func (a *attacker) run(ctx context.Context, t *testing.T, n int) {
	t.Helper()
	for range n {
		// Even requests are GETs, odd ones a random method (recorded as
		// _OTHER); every path is new and unrouted, so the route is the
		// normalised path itself, until the route cap.
		method := http.MethodGet
		if a.sent%2 == 1 {
			method = "X" + strings.ToUpper(a.word(6))
		}
		a.sent++
		r := httptest.NewRequestWithContext(ctx, method, "/"+a.word(12)+"/"+a.word(6), nil)
		w := httptest.NewRecorder()
		a.handler.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("request %d: status %d", a.sent, w.Code)
		}

		v := a.word(12)
		if err := a.biz.Registration(ctx, v); err != nil {
			t.Fatal(err)
		}
		if err := a.biz.CountCache(ctx, v, bizmetrics.CacheGet, bizmetrics.CacheHit); err != nil {
			t.Fatal(err)
		}
		if err := a.biz.APICall(ctx, v); err != nil {
			t.Fatal(err)
		}
		a.biz.RecordDB(ctx, v, v, v, time.Millisecond, nil)
		// Four letters are never an ISO 4217 code: rejected, counted.
		if err := a.biz.Order(ctx, strings.ToUpper(v[:4]), 10); !errors.Is(err, bizmetrics.ErrInvalidCurrency) {
			t.Fatalf("order in %q: %v, want ErrInvalidCurrency", v[:4], err)
		}
		tm := a.biz.Time(ctx, v)
		tm.Stop()
		a.custom.Add(ctx, 1, attribute.String("customer", v))
	}
}

// newAttack starts Vitals with opts after the test's own, and an attacker
// on its middleware (over a handler that answers 200 to every path) and
// its bizmetrics, with a custom counter whose label the attacker controls.
// The memory reader collects only when the test asks: Run's first tick is
// an hour away.
func newAttack(t *testing.T, opts ...memory.Option) (*vitals.Vitals, *attacker) {
	t.Helper()
	vitals.CleanEnv(t)
	ctx := t.Context()
	v, err := vitals.Start(ctx, vitals.WithServiceName("attack"), vitals.WithoutRuntime(),
		vitals.WithMemory(append([]memory.Option{memory.WithInterval(time.Hour)}, opts...)...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := v.Shutdown(context.WithoutCancel(ctx)); err != nil {
			t.Error(err)
		}
	})
	custom, err := v.BizMetrics().Counter("logins", "{login}", "Logins by customer: a label an attacker controls.")
	if err != nil {
		t.Fatal(err)
	}
	return v, &attacker{
		rng: rand.New(rand.NewPCG(1, 2)),
		handler: v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusOK)
		})),
		biz:    v.BizMetrics(),
		custom: custom,
	}
}

// TestCardinalityAttack sends 100 000 distinct random paths and methods
// through the middleware, and 100 000 distinct values through every
// user-supplied label of bizmetrics, then secondAttack others, and checks that
// every series count on /metrics and in the memory reader stays at its cap,
// that the overflow is visible and the totals exact, and that the second
// attack grows neither the series nor the heap.
//
// Everything the attack leaves fits the memory reader's default series cap
// (memory.DefaultMaxSeries): it holds exactly what /metrics shows.
// TestCardinalityAttackMemoryCap attacks past that cap.
func TestCardinalityAttack(t *testing.T) {
	ctx := t.Context()
	v, a := newAttack(t)

	// Baseline: every instrument has recorded once, with a fixed value
	// for the custom counter, and the reader has collected.
	a.run(ctx, t, 1)
	if err := v.Memory().Collect(ctx); err != nil {
		t.Fatal(err)
	}
	heap0 := heapAlloc()

	began := time.Now()
	a.run(ctx, t, attackSize-1)
	first := time.Since(began)
	series1 := checkCaps(ctx, t, v, attackSize)
	heap1 := heapAlloc()

	began = time.Now()
	a.run(ctx, t, secondAttack)
	second := time.Since(began)
	series2 := checkCaps(ctx, t, v, attackSize+secondAttack)
	heap2 := heapAlloc()

	// The second attack adds no series anywhere.
	for name, n1 := range series1 {
		if n2 := series2[name]; n1 != n2 {
			t.Errorf("%s: %d series after the first attack, %d after the second", name, n1, n2)
		}
	}
	if len(series2) != len(series1) {
		t.Errorf("%d metric families after the first attack, %d after the second", len(series1), len(series2))
	}

	// Memory. The first attack fills every capped set: 500 routes, the
	// bizmetrics handles, the SDK's aggregation state of each attribute set
	// and the memory reader's copy of every series (with the histogram
	// buckets, some 15 000). The second attack finds every set full: it may
	// keep nothing. What it can add is noise: the Prometheus handler pools
	// the SDK's collection buffers (about 1 MB for these series), and
	// whether a second buffer is alive at the measurement varies from run
	// to run (seen: -0.01 and +0.97 MB). Keeping anything per value, even
	// 32 bytes of each of its 100 000 values, would add 3.2 MB (under the
	// race detector, 20 000 values: the bound is scaled to 0.6 MB + 1 MB
	// of noise).
	grew1 := int64(heap1) - int64(heap0)
	grew2 := int64(heap2) - int64(heap1)
	t.Logf("%d distinct paths, methods and label values, then %d more (%v, %v): heap %.1f MB before, %+.2f MB after the first %d (caps filled, %d series in the memory reader), %+.2f MB after the next %d; /metrics series: %s",
		attackSize, secondAttack, first.Round(time.Millisecond), second.Round(time.Millisecond),
		mb(int64(heap0)), mb(grew1), attackSize, v.Memory().Stats().Series, mb(grew2), secondAttack, seriesSummary(series2))
	if grew1 > 64<<20 {
		t.Errorf("the heap grew by %.1f MB while the caps filled; want under 64 MB", mb(grew1))
	}
	if limit := int64(1<<20 + 20*secondAttack); grew2 > limit {
		t.Errorf("the heap grew by %.2f MB in the second attack, with every cap full; want under %.2f MB", mb(grew2), mb(limit))
	}
}

// capped names, for each metric the attack reaches, the cap it hits and
// the number of series /metrics shows once it has.
var capped = []struct {
	name   string // as on /metrics
	series int
	cap    string
}{
	// 500 routes (instrument.DefaultMaxRoutes) + _OTHER. The first 500
	// requests each admit a route, alternately as GET and as _OTHER; every
	// later one is (GET|_OTHER, _OTHER): 500 + 2.
	{"http_server_request_duration_seconds", instrument.DefaultMaxRoutes + 2, "instrument.WithMaxRoutes (500) + _OTHER"},
	// 50 sources (WithMaxSources) + _OTHER.
	{"app_registrations_total", 51, "bizmetrics.WithMaxSources (50) + _OTHER"},
	// 20 cache names (WithMaxCacheNames) + _OTHER, each reported with hit
	// and miss from the moment it is bound.
	{"app_cache_operations_total", 2 * 21, "bizmetrics.WithMaxCacheNames (20) + _OTHER, × hit, miss"},
	// 200 operations (WithMaxAPIOperations) + _OTHER.
	{"app_api_calls_total", 201, "bizmetrics.WithMaxAPIOperations (200) + _OTHER"},
	// One value is sent as system, operation and collection at once: the
	// first 50 admit all three (50 systems and operations,
	// WithMaxDBOperations), the next 150 only the collection (200,
	// WithMaxDBCollections), then every one is (_OTHER, _OTHER, _OTHER):
	// 50 + 150 + 1.
	{"db_client_operation_duration_seconds", 201, "bizmetrics.WithMaxDBOperations (50) and WithMaxDBCollections (200)"},
	// Currencies are validated against ISO 4217: random ones are rejected
	// as invalid_currency; invalid_amount is reported from the start, at 0.
	{"app_orders_rejected_total", 2, "currencies are validated: error_type is an enum"},
	// 100 timer names (WithMaxTimerNames) + _OTHER. (Timer attributes are
	// attacked in TestCardinalityAttackMemoryCap.)
	{"app_timer_duration_seconds", 101, "bizmetrics.WithMaxTimerNames (100) + _OTHER"},
	// 2000 customers (WithMaxAttributeSets) + otel_metric_overflow, under
	// the SDK's limit of 2000: 1999 + overflow.
	{"app_logins_total", exporter.DefaultCardinalityLimit, "bizmetrics.WithMaxAttributeSets and exporter.DefaultCardinalityLimit (2000)"},
}

// checkCaps collects the memory reader, reads /metrics, and checks every
// capped metric there and in the memory reader; sent is the number of
// attack values so far. It returns the series count of every family on
// /metrics (histograms: labelled series, not buckets).
func checkCaps(ctx context.Context, t *testing.T, v *vitals.Vitals, sent int) map[string]int {
	t.Helper()
	mem := v.Memory()
	if err := mem.Collect(ctx); err != nil {
		t.Fatal(err)
	}
	fams := scrape(t, v)
	for _, c := range capped {
		f := fams[c.name]
		if f == nil {
			t.Errorf("%s is not on /metrics", c.name)
			continue
		}
		if got := len(f.GetMetric()); got != c.series {
			t.Errorf("%s: %d series on /metrics, want %d (%s)", c.name, got, c.series, c.cap)
		}
		// The memory reader holds the same series: one per labelled
		// series, or per bucket of a histogram.
		sel := c.name
		if f.GetType() == dto.MetricType_HISTOGRAM {
			sel += "_count"
		}
		if got := queryScalar(ctx, t, mem, "count("+sel+")"); got != float64(c.series) {
			t.Errorf("memory reader: count(%s) = %v, want %d", sel, got, c.series)
		}
	}
	// The totals stay exact and the overflow is labelled.
	for _, c := range []struct {
		expr string
		want int
	}{
		{`sum(http_server_request_duration_seconds_count)`, sent},
		{`sum(http_server_request_duration_seconds_count{http_route="_OTHER"})`, sent - instrument.DefaultMaxRoutes},
		{`sum(http_server_request_duration_seconds_count{http_request_method="_OTHER"})`, sent / 2},
		{`sum(app_registrations_total)`, sent},
		{`sum(app_registrations_total{registration_source="_OTHER"})`, sent - 50},
		{`sum(app_api_calls_total)`, sent},
		{`sum(app_api_calls_total{api_operation="_OTHER"})`, sent - 200},
		{`sum(db_client_operation_duration_seconds_count)`, sent},
		{`sum(db_client_operation_duration_seconds_count{db_system_name="_OTHER",db_operation_name="_OTHER",db_collection_name="_OTHER"})`, sent - 200},
		{`sum(app_cache_operations_total{cache_result="hit"})`, sent},
		{`sum(app_cache_operations_total{cache_name="_OTHER",cache_result="hit"})`, sent - 20},
		{`sum(app_timer_duration_seconds_count)`, sent},
		{`sum(app_timer_duration_seconds_count{timer_name="_OTHER"})`, sent - 100},
		{`sum(app_logins_total)`, sent},
		{`sum(app_logins_total{otel_metric_overflow="true"})`, sent - (exporter.DefaultCardinalityLimit - 1)},
		{`sum(app_orders_rejected_total{error_type="invalid_currency"})`, sent},
	} {
		if got := queryScalar(ctx, t, mem, c.expr); got != float64(c.want) {
			t.Errorf("memory reader: %s = %v, want %d", c.expr, got, c.want)
		}
	}
	counts := map[string]int{}
	total := 0
	for name, f := range fams {
		counts[name] = len(f.GetMetric())
		n := len(f.GetMetric())
		if f.GetType() == dto.MetricType_HISTOGRAM && n > 0 {
			// Buckets (+Inf included), _sum and _count, and the native
			// histogram the memory reader keeps beside them.
			n *= len(f.GetMetric()[0].GetHistogram().GetBucket()) + 3
			if c := queryScalar(ctx, t, mem, "count("+name+")"); c != float64(len(f.GetMetric())) {
				t.Errorf("memory reader: %v native histograms of %s, want one per series on /metrics (%d)", c, name, len(f.GetMetric()))
			}
		}
		total += n
	}
	// The memory reader holds exactly what /metrics shows, a native
	// histogram per classic one, and up.
	total++
	if st := mem.Stats(); st.Series != total || st.Dropped != 0 {
		t.Errorf("memory reader: %+v; want %d series (those /metrics shows, a native histogram per histogram series, and up)", st, total)
	}
	// Scrape again: the SDK's collection buffers, pooled per scrape, are
	// then at their size for this many series.
	scrape(t, v)
	return counts
}

// TestCardinalityAttackMemoryCap sends 3000 distinct values of a timer's
// attribute, the worst label there is: a histogram, whose 1899 attribute
// sets (the timer names share the SDK's limit of 2000 sets: 1999 less one
// overflow set for each of the 100 other names and _OTHER, then this
// name's overflow set) make some 32 000 series with their buckets, past
// the memory reader's default cap.
// The reader stays at memory.DefaultMaxSeries, counts what it drops, and
// keeps sampling the series it held before the attack, so the in-process
// rules still see the HTTP traffic.
func TestCardinalityAttackMemoryCap(t *testing.T) {
	ctx := t.Context()
	v, a := newAttack(t)
	mem := v.Memory()
	get := func() {
		t.Helper()
		w := httptest.NewRecorder()
		a.handler.ServeHTTP(w, httptest.NewRequestWithContext(ctx, http.MethodGet, "/checkout", nil))
		if w.Code != http.StatusOK {
			t.Fatalf("GET /checkout: %d", w.Code)
		}
	}
	get()
	if err := mem.Collect(ctx); err != nil {
		t.Fatal(err)
	}
	const requests = `sum(http_server_request_duration_seconds_count{http_route="/checkout"})`
	if got := queryScalar(ctx, t, mem, requests); got != 1 {
		t.Fatalf("%s = %v before the attack, want 1", requests, got)
	}
	for range 3000 {
		tm := a.biz.Time(ctx, "checkout", attribute.String("customer", a.word(12)))
		tm.Stop()
	}
	get()
	fams := scrape(t, v)
	timer := fams["app_timer_duration_seconds"].GetMetric()
	if want := bizmetrics.DefaultMaxAttributeSets - 1 - bizmetrics.DefaultMaxTimerNames; len(timer) != want {
		t.Errorf("app_timer_duration_seconds: %d series on /metrics, want %d", len(timer), want)
	}
	var checkout uint64
	for _, m := range timer {
		for _, l := range m.GetLabel() {
			if l.GetName() == "timer_name" && l.GetValue() == "checkout" {
				checkout += m.GetHistogram().GetSampleCount()
			}
		}
	}
	if checkout != 3000 {
		t.Errorf(`sum(app_timer_duration_seconds_count{timer_name="checkout"}) = %d, want 3000`, checkout)
	}
	for i := range 2 {
		if err := mem.Collect(ctx); err != nil {
			t.Fatal(err)
		}
		st := mem.Stats()
		if st.Series != memory.DefaultMaxSeries || st.Dropped == 0 {
			t.Errorf("collection %d: %+v; want %d series and drops counted", i, st, memory.DefaultMaxSeries)
		}
		t.Logf("collection %d after 3000 timer attribute sets: %+v", i, st)
	}
	if got := queryScalar(ctx, t, mem, requests); got != 2 {
		t.Errorf("%s = %v after the attack, want 2: the reader stopped sampling a series it held", requests, got)
	}
}

// scrape reads /metrics through the handler.
func scrape(t *testing.T, v *vitals.Vitals) map[string]*dto.MetricFamily {
	t.Helper()
	w := httptest.NewRecorder()
	v.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d", w.Code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(w.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// queryScalar runs an instant query that yields one sample and returns its
// value.
func queryScalar(ctx context.Context, t *testing.T, mem *memory.Reader, expr string) float64 {
	t.Helper()
	res, err := mem.Query(ctx, expr, mem.Now())
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	vec, ok := res.Value.(promql.Vector)
	if !ok || len(vec) != 1 {
		t.Fatalf("%s: got %v, want one sample", expr, res.Value)
	}
	return vec[0].F
}

// seriesSummary lists the series count of each capped metric.
func seriesSummary(counts map[string]int) string {
	var b strings.Builder
	for i, c := range capped {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", c.name, counts[c.name])
	}
	return b.String()
}

// heapAlloc returns the live heap after a full collection.
func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// mb returns n bytes in MiB.
func mb(n int64) float64 { return float64(n) / (1 << 20) }
