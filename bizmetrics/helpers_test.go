package bizmetrics_test

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"go.uber.org/goleak"

	"github.com/vitalsgo/vitals/bizmetrics"
	"github.com/vitalsgo/vitals/clock/clocktest"
	"github.com/vitalsgo/vitals/exporter"
	"github.com/vitalsgo/vitals/exporter/memory"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is a hand-moved clock, safe for concurrent use. With step set,
// every Now advances it by step first, so that each timed operation takes
// exactly step.
type clock struct {
	*clocktest.Clock
	step time.Duration // set before the clock is shared
}

func newClock() *clock {
	return &clock{Clock: clocktest.New(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))}
}

func (c *clock) Now() time.Time { return c.Advance(c.step) }

// env is a real provider (the exporter's, with /metrics) with the memory
// reader, and Metrics on it.
type env struct {
	p   *exporter.MeterProvider
	mem *memory.Reader
	clk *clock // the memory reader's clock
	m   *bizmetrics.Metrics
	srv *httptest.Server
}

func newEnv(t testing.TB, opts ...bizmetrics.Option) *env {
	t.Helper()
	clk := newClock()
	mem := memory.New(memory.WithClock(clk))
	p, err := exporter.NewMeterProvider(context.Background(), exporter.MetricsConfig{ServiceName: "shop"}, exporter.WithReader(mem.SDKReaders()...))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p.PrometheusHandler())
	t.Cleanup(func() {
		srv.Close()
		_ = p.Shutdown(context.Background())
	})
	m, err := bizmetrics.New(append([]bizmetrics.Option{bizmetrics.WithMeterProvider(p)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return &env{p: p, mem: mem, clk: clk, m: m, srv: srv}
}

// scrape GETs /metrics and returns every sample, keyed by its series in
// canonical form: name{label="value",...} with labels sorted, without
// otel_scope_name.
func (e *env) scrape(t testing.TB) map[string]float64 {
	t.Helper()
	resp, err := http.Get(e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for name, mf := range mfs {
		for _, s := range mf.GetMetric() {
			labels := labelMap(s)
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				out[series(name, labels)] = s.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[series(name, labels)] = s.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				h := s.GetHistogram()
				out[series(name+"_count", labels)] = float64(h.GetSampleCount())
				out[series(name+"_sum", labels)] = h.GetSampleSum()
				for _, b := range h.GetBucket() {
					bl := map[string]string{"le": strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64)}
					for k, v := range labels {
						bl[k] = v
					}
					out[series(name+"_bucket", bl)] = float64(b.GetCumulativeCount())
				}
			}
		}
	}
	return out
}

func labelMap(m *dto.Metric) map[string]string {
	l := map[string]string{}
	for _, lp := range m.GetLabel() {
		if lp.GetName() != "otel_scope_name" {
			l[lp.GetName()] = lp.GetValue()
		}
	}
	return l
}

// series formats a series canonically.
func series(name string, labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + `="` + labels[k] + `"`)
	}
	b.WriteByte('}')
	return b.String()
}

// collect makes the memory reader collect, 10 s after the last collection.
func (e *env) collect(t testing.TB) {
	t.Helper()
	e.clk.Advance(10 * time.Second)
	if err := e.mem.Collect(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// query runs an instant PromQL query on the memory reader at its clock's
// time and returns the samples keyed as scrape keys them (the metric name
// first when the result keeps it).
func (e *env) query(t testing.TB, expr string) map[string]float64 {
	t.Helper()
	res, err := e.mem.Query(context.Background(), expr, e.clk.Now())
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	out := map[string]float64{}
	switch v := res.Value.(type) {
	case memory.Vector:
		for _, s := range v {
			ls := map[string]string{}
			name := ""
			s.Metric.Range(func(l labels.Label) {
				switch l.Name {
				case "__name__":
					name = l.Value
				case "otel_scope_name":
				default:
					ls[l.Name] = l.Value
				}
			})
			out[series(name, ls)] = s.F
		}
	case memory.Scalar:
		out[""] = v.V
	default:
		t.Fatalf("%s: result %T", expr, res.Value)
	}
	return out
}

// approx reports whether a and b are equal to within 1e-12 relative: rates
// divide by the window, and the last bit may differ.
func approx(a, b float64) bool {
	return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b))
}

// checkSharesSDKLimit checks the _count series of histogram name after
// kept+extra values of label each recorded per times with distinct other
// attributes, more sets than the SDK keeps: no series lacks label (the SDK's
// overflow set has none), the series fit the SDK's limit, and sum by
// (label) is exact: per for each of the kept values, which depend on the
// race, and extra × per for Overflow.
func checkSharesSDKLimit(t *testing.T, got map[string]float64, name, label string, kept, extra, per int) {
	t.Helper()
	sums := map[string]float64{}
	n := 0
	re := regexp.MustCompile(label + `="([^"]*)"`)
	for s, v := range got {
		if !strings.HasPrefix(s, name+"_count") {
			continue
		}
		n++
		m := re.FindStringSubmatch(s)
		if m == nil {
			t.Errorf("%s = %v: a series without %s (the SDK's overflow set)", s, v, label)
			continue
		}
		sums[m[1]] += v
	}
	if n > exporter.DefaultCardinalityLimit-1 {
		t.Errorf("%d %s series, more than the SDK keeps (%d)", n, name, exporter.DefaultCardinalityLimit-1)
	}
	for value, v := range sums {
		if value != bizmetrics.Overflow && v != float64(per) {
			t.Errorf("sum by %s %s = %v, want %d", label, value, v, per)
		}
	}
	if sums[bizmetrics.Overflow] != float64(extra*per) {
		t.Errorf("sum by %s %s = %v, want %d", label, bizmetrics.Overflow, sums[bizmetrics.Overflow], extra*per)
	}
	if len(sums) != kept+1 {
		t.Errorf("%d values of %s, want %d", len(sums), label, kept+1)
	}
	t.Logf("%d %s series for %d values of %s × %d sets", n, name, kept+extra, label, per)
}
