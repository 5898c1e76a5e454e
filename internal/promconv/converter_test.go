package promconv_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/vitalsgo/vitals/internal/promconv"
)

func sum(name string, monotonic bool, points ...metricdata.DataPoint[int64]) metricdata.Metrics {
	return metricdata.Metrics{Name: name, Data: metricdata.Sum[int64]{
		DataPoints: points, IsMonotonic: monotonic, Temporality: metricdata.CumulativeTemporality,
	}}
}

func point(v int64, kv ...attribute.KeyValue) metricdata.DataPoint[int64] {
	return metricdata.DataPoint[int64]{Attributes: attribute.NewSet(kv...), Value: v}
}

func scope(name, version string, ms ...metricdata.Metrics) metricdata.ScopeMetrics {
	return metricdata.ScopeMetrics{Scope: instrumentation.Scope{Name: name, Version: version}, Metrics: ms}
}

func TestScopeVersionCollision(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	shutdown(t, mp)
	ctx := context.Background()
	for _, version := range []string{"v1.0.0", "v2.0.0"} {
		m := mp.Meter("example.com/lib", metric.WithInstrumentationVersion(version))
		c, err := m.Int64Counter("lib.calls")
		if err != nil {
			t.Fatal(err)
		}
		c.Add(ctx, 1, metric.WithAttributes(attribute.String("op", "get")))
		// Only v2 has this series: it collides with nothing.
		if version == "v2.0.0" {
			c.Add(ctx, 5, metric.WithAttributes(attribute.String("op", "put")))
		}
		// Another family of the same scopes without a collision.
		g, err := m.Int64Gauge("lib.version.gauge." + version[:2])
		if err != nil {
			t.Fatal(err)
		}
		g.Record(ctx, 1)
	}
	other, err := mp.Meter("example.com/other").Int64Counter("lib.calls")
	if err != nil {
		t.Fatal(err)
	}
	other.Add(ctx, 3, metric.WithAttributes(attribute.String("op", "get")))

	mfs, err := promconv.NewGatherer(reader, nil).Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	mf := find(mfs, "lib_calls_total")
	if mf == nil {
		t.Fatalf("lib_calls_total missing:\n%s", text(t, mfs))
	}
	want := []string{
		`{op="get",otel_scope_name="example.com/other"} 3`,
		`{op="get",otel_scope_name="example.com/lib",otel_scope_version="v1.0.0"} 1`,
		`{op="get",otel_scope_name="example.com/lib",otel_scope_version="v2.0.0"} 1`,
		`{op="put",otel_scope_name="example.com/lib",otel_scope_version="v2.0.0"} 5`,
	}
	var got []string
	for _, m := range mf.Metric {
		got = append(got, formatSeries(m))
	}
	if g, w := strings.Join(got, "\n"), strings.Join(want, "\n"); g != w {
		t.Errorf("series:\n%s\nwant:\n%s", g, w)
	}
	for _, name := range []string{"lib_version_gauge_v1", "lib_version_gauge_v2"} {
		mf := find(mfs, name)
		if mf == nil || len(mf.Metric) != 1 {
			t.Fatalf("%s: got %v, want one series", name, mf)
		}
		if v, ok := label(mf.Metric[0], "otel_scope_version"); ok {
			t.Errorf("%s has otel_scope_version=%q without a collision", name, v)
		}
	}
}

func formatSeries(m *dto.Metric) string {
	var parts []string
	for _, lp := range m.Label {
		parts = append(parts, fmt.Sprintf("%s=%q", lp.GetName(), lp.GetValue()))
	}
	v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
	return fmt.Sprintf("{%s} %g", strings.Join(parts, ","), v)
}

func TestConvertErrors(t *testing.T) {
	get := attribute.String("op", "get")
	tests := []struct {
		name      string
		scopes    []metricdata.ScopeMetrics
		want      []string // every series, as "family{labels} value"
		wantErrs  []string // substrings of the error
		wantNoErr bool
	}{{
		name: "type conflict keeps the first",
		scopes: []metricdata.ScopeMetrics{
			scope("a", "", sum("jobs", false, point(1, get))),
			scope("b", "", metricdata.Metrics{Name: "jobs", Data: metricdata.Histogram[int64]{
				DataPoints: []metricdata.HistogramDataPoint[int64]{{Count: 1, Bounds: []float64{1}, BucketCounts: []uint64{1, 0}}},
			}}),
			scope("c", "", sum("other", true, point(2))),
		},
		want:     []string{`jobs{op="get",otel_scope_name="a"} 1`, `other_total{otel_scope_name="c"} 2`},
		wantErrs: []string{`instrument "jobs" of scope "b"`, `family "jobs" would be a HISTOGRAM`, `instrument "jobs" of scope "a" made it a GAUGE first`},
	}, {
		name: "duplicate series after name translation",
		scopes: []metricdata.ScopeMetrics{
			scope("a", "v1", sum("foo.bar", true, point(1, get)), sum("foo_bar", true, point(2, get), point(3))),
		},
		want:     []string{`foo_bar_total{otel_scope_name="a"} 3`, `foo_bar_total{op="get",otel_scope_name="a"} 1`},
		wantErrs: []string{`family "foo_bar_total": dropped 1 series`},
	}, {
		name: "same scope name and version",
		scopes: []metricdata.ScopeMetrics{
			scope("a", "v1", sum("x", true, point(1, get))),
			scope("a", "v1", sum("x", true, point(2, get))),
		},
		want:     []string{`x_total{op="get",otel_scope_name="a"} 1`},
		wantErrs: []string{`family "x_total": dropped 1 series`},
	}, {
		name: "invalid attributes drop only their series",
		scopes: []metricdata.ScopeMetrics{
			scope("a", "", sum("x", true,
				point(1, get),
				point(2, attribute.String("otel.scope.name", "fake")),
				point(3, attribute.String("__reserved__", "r")),
				point(4, attribute.String("___", "u")),
				point(5, attribute.String("op", "\xff")),
			)),
		},
		want:     []string{`x_total{op="get",otel_scope_name="a"} 1`},
		wantErrs: []string{`instrument "x" of scope "a": dropped 4 of its series`, "reserved for the instrumentation scope"},
	}, {
		name: "invalid metric name",
		scopes: []metricdata.ScopeMetrics{
			scope("a", "", sum("...", false, point(1)), sum("ok", false, point(2))),
		},
		want:     []string{`ok{otel_scope_name="a"} 2`},
		wantErrs: []string{`instrument "..." of scope "a"`},
	}, {
		name: "histogram suffix collision keeps the first defined",
		scopes: []metricdata.ScopeMetrics{
			scope("a", "", metricdata.Metrics{Name: "lat", Data: metricdata.Histogram[float64]{
				DataPoints: []metricdata.HistogramDataPoint[float64]{{Count: 2, Sum: 3, Bounds: []float64{1}, BucketCounts: []uint64{1, 1}}},
			}}, sum("lat.count", false, point(9))),
		},
		want: []string{
			`lat_bucket{otel_scope_name="a",le="1"} 1`, `lat_bucket{otel_scope_name="a",le="+Inf"} 2`,
			`lat_sum{otel_scope_name="a"} 3`, `lat_count{otel_scope_name="a"} 2`,
		},
		wantErrs: []string{`family "lat_count" collides with the _count series of histogram family "lat"`},
	}, {
		name: "native histogram scale below -4",
		scopes: []metricdata.ScopeMetrics{
			scope("a", "", metricdata.Metrics{Name: "h", Data: metricdata.ExponentialHistogram[float64]{
				DataPoints: []metricdata.ExponentialHistogramDataPoint[float64]{
					{Count: 1, Sum: 100, Scale: -5, PositiveBucket: metricdata.ExponentialBucket{Offset: 0, Counts: []uint64{1}}},
					{Attributes: attribute.NewSet(get), Count: 1, Sum: 1, Scale: 0, ZeroCount: 1},
				},
			}}),
		},
		want: []string{
			`h_bucket{op="get",otel_scope_name="a",le="+Inf"} 1`,
			`h_sum{op="get",otel_scope_name="a"} 1`, `h_count{op="get",otel_scope_name="a"} 1`,
		},
		wantErrs: []string{`instrument "h" of scope "a": dropped 1 of its series`, "scale below minimum"},
	}, {
		name: "user metric named target_info",
		scopes: []metricdata.ScopeMetrics{
			scope("a", "", sum("target.info", false, point(1))),
		},
		want:     []string{`target_info{service_name="svc"} 1`},
		wantErrs: []string{`name "target_info" is reserved`},
	}, {
		name: "summaries are ignored",
		scopes: []metricdata.ScopeMetrics{
			scope("a", "", metricdata.Metrics{Name: "sum", Data: metricdata.Summary{
				DataPoints: []metricdata.SummaryDataPoint{{Count: 1, Sum: 1}},
			}}),
		},
		want:      nil,
		wantNoErr: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rm := &metricdata.ResourceMetrics{
				Resource:     resource.NewSchemaless(attribute.String("service.name", "svc")),
				ScopeMetrics: tt.scopes,
			}
			mfs, err := promconv.NewConverter(nil).Convert(nil, rm)
			got := samples(t, mfs)
			want := append([]string{`target_info{service_name="svc"} 1`}, tt.want...)
			if tt.name == "user metric named target_info" {
				want = tt.want
			}
			if g, w := strings.Join(got, "\n"), strings.Join(sortedCopy(want), "\n"); g != w {
				t.Errorf("samples:\n%s\nwant:\n%s", g, w)
			}
			if tt.wantNoErr {
				if err != nil {
					t.Errorf("error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, s := range tt.wantErrs {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

// samples returns the text-format sample lines of mfs, sorted.
func samples(t *testing.T, mfs []*dto.MetricFamily) []string {
	var lines []string
	for l := range strings.SplitSeq(text(t, mfs), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	return sortedCopy(lines)
}

func sortedCopy(s []string) []string {
	s = append([]string(nil), s...)
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

func TestBridgeScopeSkippedAndReportedOnce(t *testing.T) {
	var (
		mu       sync.Mutex
		reported []error
	)
	c := promconv.NewConverter(func(err error) {
		mu.Lock()
		defer mu.Unlock()
		reported = append(reported, err)
	})
	rm := &metricdata.ResourceMetrics{ScopeMetrics: []metricdata.ScopeMetrics{
		scope("go.opentelemetry.io/contrib/bridges/prometheus", "", sum("bridged", true, point(1))),
		scope("a", "", sum("native", true, point(2))),
	}}
	for range 3 {
		mfs, err := c.Convert(nil, rm)
		if err != nil {
			t.Errorf("Convert: %v", err)
		}
		if got, want := strings.Join(samples(t, mfs), "\n"), `native_total{otel_scope_name="a"} 2`; got != want {
			t.Errorf("samples:\n%s\nwant:\n%s", got, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reported) != 1 || !strings.Contains(reported[0].Error(), "bridge") {
		t.Errorf("the error handler got %v, want one error about the bridge", reported)
	}
}

func TestTypeConflictIsStableAcrossCalls(t *testing.T) {
	c := promconv.NewConverter(nil)
	gauge := scope("a", "", sum("jobs", false, point(1)))
	counterish := scope("b", "", metricdata.Metrics{Name: "jobs", Description: "other help", Data: metricdata.Histogram[int64]{
		DataPoints: []metricdata.HistogramDataPoint[int64]{{Count: 1}},
	}})
	for i, order := range [][]metricdata.ScopeMetrics{
		{gauge, counterish},
		{counterish, gauge}, // the SDK does not keep scope order stable
	} {
		gauge.Metrics[0].Description = fmt.Sprintf("help %d", i)
		mfs, err := c.Convert(nil, &metricdata.ResourceMetrics{ScopeMetrics: order})
		if err == nil {
			t.Errorf("call %d: no error", i)
		}
		if len(mfs) != 1 || mfs[0].GetType() != dto.MetricType_GAUGE {
			t.Fatalf("call %d: got %v, want the gauge family only", i, mfs)
		}
		if got, want := mfs[0].GetHelp(), "help 0"; got != want {
			t.Errorf("call %d: help %q, want the first seen %q", i, got, want)
		}
	}
}

func TestConvertAppendsSorted(t *testing.T) {
	existing := &dto.MetricFamily{Name: new("zzz")}
	rm := &metricdata.ResourceMetrics{
		Resource: resource.Empty(),
		ScopeMetrics: []metricdata.ScopeMetrics{
			scope("s", "", sum("b", true, point(1, attribute.String("k", "2")), point(2, attribute.String("k", "1")))),
			scope("", "", sum("a", false, point(3))),
		},
	}
	mfs, err := promconv.NewConverter(nil).Convert([]*dto.MetricFamily{existing}, rm)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	if got, want := strings.Join(names, ","), "zzz,a,b_total"; got != want {
		t.Errorf("families %s, want %s (no target_info for an empty resource)", got, want)
	}
	if got, want := samples(t, mfs[1:]), []string{`a 3`, `b_total{k="1",otel_scope_name="s"} 2`, `b_total{k="2",otel_scope_name="s"} 1`}; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("samples %q, want %q", got, want)
	}
	if got, want := mfs[2].Metric[0].Label[0].GetValue(), "1"; got != want {
		t.Errorf("first series has k=%q, want %q (sorted by label values)", got, want)
	}
}

func TestConcurrentConvert(t *testing.T) {
	c := promconv.NewConverter(nil)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				rm := &metricdata.ResourceMetrics{ScopeMetrics: []metricdata.ScopeMetrics{
					scope("s", "", sum(fmt.Sprintf("m%d", i%7), true,
						point(int64(g), attribute.String(fmt.Sprintf("key.%d", i%5), "v")))),
				}}
				mfs, err := c.Convert(nil, rm)
				if err != nil || len(mfs) != 1 {
					errs <- errors.Join(err, fmt.Errorf("got %d families", len(mfs)))
					return
				}
				if got, want := mfs[0].Metric[0].Label[0].GetName(), fmt.Sprintf("key_%d", i%5); got != want {
					errs <- fmt.Errorf("label %q, want %q", got, want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestReusedConverterMatchesFresh converts random data repeatedly with one
// Converter, whose caches (names, label sets, with their generation
// rotation) must never change the result, and checks the series order.
func TestReusedConverterMatchesFresh(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	keys := []string{"route", "method", "http.route", "http_route", "Route", "1st", "a.b", "a_b"}
	prefixes := []string{"", "/api/v1/", "/api/v1/users/", "x", "ü"}
	nul := false
	value := func() string {
		v := prefixes[rng.IntN(len(prefixes))]
		for range rng.IntN(4) {
			v += strconv.Itoa(rng.IntN(10))
		}
		if nul && rng.IntN(50) == 0 {
			v += "\x00nul" // takes the slow sorting path for its family
		}
		return v
	}
	scopes := []instrumentation.Scope{{Name: "s1", Version: "v1"}, {Name: "s1", Version: "v2"}, {Name: ""}, {Name: "s2"}}
	shared := promconv.NewConverter(nil)
	for round := range 16 {
		nul = round%4 == 3
		rm := &metricdata.ResourceMetrics{Resource: resource.NewSchemaless(attribute.String("service.name", "svc"))}
		for i, sc := range scopes {
			if i == 1 && round%2 == 0 {
				continue // no otel_scope_version (which re-sorts the slow way) in even rounds
			}
			seen := map[attribute.Distinct]bool{}
			var points []metricdata.DataPoint[int64]
			for range 150 + rng.IntN(300) {
				var kvs []attribute.KeyValue
				for range rng.IntN(4) {
					kvs = append(kvs, attribute.String(keys[rng.IntN(len(keys))], value()))
				}
				set := attribute.NewSet(kvs...)
				if seen[set.Equivalent()] {
					continue
				}
				seen[set.Equivalent()] = true
				points = append(points, metricdata.DataPoint[int64]{Attributes: set, Value: rng.Int64N(100)})
			}
			rm.ScopeMetrics = append(rm.ScopeMetrics, metricdata.ScopeMetrics{Scope: sc, Metrics: []metricdata.Metrics{
				sum("req", true, points...), sum("inflight", false, points[:len(points)/2]...),
			}})
		}
		got, gotErr := shared.Convert(nil, rm)
		want, wantErr := promconv.NewConverter(nil).Convert(nil, rm)
		if (gotErr == nil) != (wantErr == nil) {
			t.Errorf("round %d: error %v, fresh converter: %v", round, gotErr, wantErr)
		}
		if g, w := protoText(got), protoText(want); g != w {
			t.Fatalf("round %d: reused converter differs from a fresh one (-fresh +reused):\n%s", round, lineDiff(w, g))
		}
		for _, mf := range got {
			for i := 1; i < len(mf.Metric); i++ {
				if c := cmpMetric(mf.Metric[i-1], mf.Metric[i]); c >= 0 {
					t.Fatalf("round %d: %s series %d and %d out of order or duplicate: %s, %s", round, mf.GetName(), i-1, i,
						formatSeries(mf.Metric[i-1]), formatSeries(mf.Metric[i]))
				}
			}
		}
	}
}

func TestGatherReaderStates(t *testing.T) {
	t.Run("not registered", func(t *testing.T) {
		mfs, err := promconv.NewGatherer(sdkmetric.NewManualReader(), nil).Gather()
		if err == nil || len(mfs) != 0 {
			t.Errorf("got %d families, error %v; want an error", len(mfs), err)
		}
	})
	t.Run("shut down", func(t *testing.T) {
		reader := sdkmetric.NewManualReader()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		c, err := mp.Meter("m").Int64Counter("c")
		if err != nil {
			t.Fatal(err)
		}
		c.Add(context.Background(), 1)
		g := promconv.NewGatherer(reader, nil)
		if mfs, err := g.Gather(); err != nil || find(mfs, "c_total") == nil {
			t.Fatalf("before shutdown: %d families, error %v", len(mfs), err)
		}
		if err := mp.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if mfs, err := g.Gather(); err != nil || len(mfs) != 0 {
			t.Errorf("after shutdown: %d families, error %v; want nothing", len(mfs), err)
		}
	})
}

// TestExemplarConversionReused: an exemplar reported again in the same ID
// slice, with the same time and value, is the same converted exemplar; a
// new time or value (or a copy of the IDs, as the SDK's reservoirs make)
// converts anew, to equal labels.
func TestExemplarConversionReused(t *testing.T) {
	ids := make([]byte, 24)
	for i := range ids {
		ids[i] = byte(i + 1)
	}
	at := time.Unix(1_700_000_000, 0)
	hist := func(tid []byte, ts time.Time, v float64) *metricdata.ResourceMetrics {
		ex := metricdata.Exemplar[float64]{Time: ts, Value: v, TraceID: tid[:16:16], SpanID: tid[16:24]}
		return &metricdata.ResourceMetrics{Resource: resource.Empty(), ScopeMetrics: []metricdata.ScopeMetrics{
			scope("s", "", metricdata.Metrics{Name: "lat", Data: metricdata.Histogram[float64]{
				Temporality: metricdata.CumulativeTemporality,
				DataPoints: []metricdata.HistogramDataPoint[float64]{{
					Bounds: []float64{1}, BucketCounts: []uint64{1, 0}, Count: 1, Sum: v,
					Exemplars: []metricdata.Exemplar[float64]{ex},
				}},
			}}),
		}}
	}
	c := promconv.NewConverter(func(err error) { t.Error(err) })
	exemplarOf := func(rm *metricdata.ResourceMetrics) *dto.Exemplar {
		t.Helper()
		mfs, err := c.Convert(nil, rm)
		if err != nil || len(mfs) != 1 {
			t.Fatalf("convert: %v, %d families", err, len(mfs))
		}
		for _, b := range mfs[0].Metric[0].Histogram.Bucket {
			if b.Exemplar != nil {
				return b.Exemplar
			}
		}
		t.Fatal("no exemplar")
		return nil
	}
	first := exemplarOf(hist(ids, at, 0.5))
	if got := first.String(); !strings.Contains(got, `value:"0102030405060708090a0b0c0d0e0f10"`) || !strings.Contains(got, `value:"1112131415161718"`) {
		t.Errorf("exemplar %s, want the trace and span IDs as labels", got)
	}
	if again := exemplarOf(hist(ids, at, 0.5)); again != first {
		t.Error("the same exemplar reported again was converted anew")
	}
	for name, rm := range map[string]*metricdata.ResourceMetrics{
		"new value":  hist(ids, at, 0.6),
		"new time":   hist(ids, at.Add(time.Second), 0.5),
		"copied IDs": hist(bytes.Clone(ids), at, 0.5),
	} {
		got := exemplarOf(rm)
		if got == first {
			t.Errorf("%s: the cached conversion was reused", name)
		}
		if name == "copied IDs" && got.String() != first.String() {
			t.Errorf("%s: %s, want %s", name, got, first)
		}
	}
}
