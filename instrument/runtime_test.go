package instrument_test

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	goruntime "runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	contrib "go.opentelemetry.io/contrib/instrumentation/runtime"
	"go.opentelemetry.io/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/goleak"

	"github.com/vitalsgo/vitals/exporter"
	"github.com/vitalsgo/vitals/exporter/memory"
	"github.com/vitalsgo/vitals/instrument"
)

// rtMetric is one collected metric and the scope that reported it.
type rtMetric struct {
	scope string
	metricdata.Metrics
}

// rtSetup starts the runtime metrics on an SDK provider whose manual reader
// has the runtime producer; the provider shuts down at the end of the test.
func rtSetup(t *testing.T, opts ...instrument.RuntimeOption) (*sdkmetric.ManualReader, *instrument.Runtime) {
	t.Helper()
	reader := sdkmetric.NewManualReader(sdkmetric.WithProducer(instrument.RuntimeProducer()))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	rt, err := instrument.StartRuntime(append([]instrument.RuntimeOption{instrument.WithMeterProvider(mp)}, opts...)...)
	if err != nil {
		t.Fatalf("StartRuntime: %v", err)
	}
	t.Cleanup(func() { _ = rt.Shutdown(context.Background()) })
	return reader, rt
}

// rtCollect collects reader once and returns its metrics by name.
func rtCollect(t *testing.T, reader sdkmetric.Reader) map[string]rtMetric {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(t.Context(), &rm); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	out := map[string]rtMetric{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if _, dup := out[m.Name]; dup {
				t.Errorf("%s reported twice", m.Name)
			}
			out[m.Name] = rtMetric{scope: sm.Scope.Name, Metrics: m}
		}
	}
	return out
}

// rtGet returns the metric named name, checking its unit and scope.
func rtGet(t *testing.T, ms map[string]rtMetric, name, unit, scope string) (metricdata.Aggregation, bool) {
	t.Helper()
	m, ok := ms[name]
	if !ok {
		t.Errorf("%s: missing", name)
		return nil, false
	}
	if m.Unit != unit {
		t.Errorf("%s: unit %q, want %q", name, m.Unit, unit)
	}
	if m.scope != scope {
		t.Errorf("%s: scope %q, want %q", name, m.scope, scope)
	}
	return m.Data, true
}

// rtInt returns the value of an int64 sum or gauge with a single point.
func rtInt(t *testing.T, ms map[string]rtMetric, name, unit string, monotonic bool) int64 {
	t.Helper()
	data, ok := rtGet(t, ms, name, unit, contrib.ScopeName)
	if !ok {
		return 0
	}
	s, ok := data.(metricdata.Sum[int64])
	if !ok {
		t.Errorf("%s: %T, want an int64 sum", name, data)
		return 0
	}
	if s.IsMonotonic != monotonic || s.Temporality != metricdata.CumulativeTemporality {
		t.Errorf("%s: monotonic %v, temporality %v; want %v, cumulative", name, s.IsMonotonic, s.Temporality, monotonic)
	}
	if len(s.DataPoints) != 1 {
		t.Errorf("%s: %d points, want 1", name, len(s.DataPoints))
		return 0
	}
	return s.DataPoints[0].Value
}

// churn starts and ends goroutines that yield, so that the scheduler has
// runnable goroutines to measure.
func churn() {
	var wg sync.WaitGroup
	for range 200 {
		wg.Go(goruntime.Gosched)
	}
	wg.Wait()
}

// TestRuntimeMetrics checks every Go runtime metric: presence, unit, kind
// and a plausible value.
func TestRuntimeMetrics(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	const limit = 1 << 40
	prev := debug.SetMemoryLimit(limit)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })

	reader, _ := rtSetup(t)
	churn()
	goruntime.GC()
	ms := rtCollect(t, reader)

	if data, ok := rtGet(t, ms, "go.memory.used", "By", contrib.ScopeName); ok {
		s, _ := data.(metricdata.Sum[int64])
		byType := map[string]int64{}
		for _, dp := range s.DataPoints {
			v, _ := dp.Attributes.Value("go.memory.type")
			byType[v.AsString()] = dp.Value
		}
		if byType["stack"] <= 0 || byType["other"] <= 0 || len(byType) != 2 {
			t.Errorf("go.memory.used by go.memory.type = %v, want stack and other > 0", byType)
		}
	}
	if got := rtInt(t, ms, "go.memory.limit", "By", false); got != limit {
		t.Errorf("go.memory.limit = %d, want %d", got, limit)
	}
	if data, ok := rtGet(t, ms, "go.memory.heap.live", "By", instrument.ScopeName); ok {
		s, ok := data.(metricdata.Sum[int64])
		var used int64
		for _, dp := range ms["go.memory.used"].Data.(metricdata.Sum[int64]).DataPoints {
			used += dp.Value
		}
		// A GC has just run: the live heap is what it kept, a part of the
		// memory the runtime holds.
		if !ok || s.IsMonotonic || len(s.DataPoints) != 1 || s.DataPoints[0].Value <= 0 || s.DataPoints[0].Value > used {
			t.Errorf("go.memory.heap.live: %T %+v, want one up-down counter point in (0, go.memory.used = %d]", data, s.DataPoints, used)
		}
	}
	// The smaller of GOMEMLIMIT and the cgroup's limit, if the test runs
	// in a container limited below 1 TiB.
	if data, ok := rtGet(t, ms, "process.memory.limit", "By", instrument.ScopeName); ok {
		s, ok := data.(metricdata.Sum[int64])
		if !ok || s.IsMonotonic || len(s.DataPoints) != 1 || s.DataPoints[0].Value <= 0 || s.DataPoints[0].Value > limit {
			t.Errorf("process.memory.limit: %T %+v, want one up-down counter point in (0, GOMEMLIMIT = %d]", data, s.DataPoints, int64(limit))
		}
	}
	if data, ok := rtGet(t, ms, "process.cpu.limit", "{cpu}", instrument.ScopeName); ok {
		s, ok := data.(metricdata.Sum[float64])
		if procs := float64(goruntime.GOMAXPROCS(0)); !ok || s.IsMonotonic || len(s.DataPoints) != 1 || s.DataPoints[0].Value <= 0 || s.DataPoints[0].Value > procs {
			t.Errorf("process.cpu.limit: %T %+v, want one up-down counter point in (0, GOMAXPROCS = %v]", data, s.DataPoints, procs)
		}
	}
	if got := rtInt(t, ms, "go.memory.allocated", "By", true); got <= 0 {
		t.Errorf("go.memory.allocated = %d, want > 0", got)
	}
	if got := rtInt(t, ms, "go.memory.allocations", "{allocation}", true); got <= 0 {
		t.Errorf("go.memory.allocations = %d, want > 0", got)
	}
	if got := rtInt(t, ms, "go.memory.gc.goal", "By", false); got <= 0 {
		t.Errorf("go.memory.gc.goal = %d, want > 0", got)
	}
	if got := rtInt(t, ms, "go.goroutine.count", "{goroutine}", false); got <= 0 {
		t.Errorf("go.goroutine.count = %d, want > 0", got)
	}
	if got, want := rtInt(t, ms, "go.processor.limit", "{thread}", false), goruntime.GOMAXPROCS(0); got != int64(want) {
		t.Errorf("go.processor.limit = %d, want GOMAXPROCS %d", got, want)
	}
	if got := rtInt(t, ms, "go.config.gogc", "%", false); got <= 0 {
		t.Errorf("go.config.gogc = %d, want > 0", got)
	}

	if data, ok := rtGet(t, ms, "go.schedule.duration", "s", contrib.ScopeName); ok {
		h, ok := data.(metricdata.Histogram[float64])
		switch {
		case !ok || len(h.DataPoints) != 1:
			t.Errorf("go.schedule.duration: %T with %d points, want one float64 histogram point", data, len(h.DataPoints))
		case h.DataPoints[0].Count == 0 || len(h.DataPoints[0].Bounds) == 0:
			t.Errorf("go.schedule.duration: count %d, %d bounds; want both > 0", h.DataPoints[0].Count, len(h.DataPoints[0].Bounds))
		case h.Temporality != metricdata.CumulativeTemporality:
			t.Errorf("go.schedule.duration: temporality %v, want cumulative", h.Temporality)
		}
	}

	if data, ok := rtGet(t, ms, "go.memory.gc.pause.time", "s", instrument.ScopeName); ok {
		s, ok := data.(metricdata.Sum[float64])
		switch {
		case !ok || len(s.DataPoints) != 1:
			t.Errorf("go.memory.gc.pause.time: %T, want one float64 sum point", data)
		case !s.IsMonotonic || s.Temporality != metricdata.CumulativeTemporality:
			t.Errorf("go.memory.gc.pause.time: monotonic %v, %v; want a cumulative counter", s.IsMonotonic, s.Temporality)
		case s.DataPoints[0].Value <= 0 || s.DataPoints[0].Value > 60:
			// A GC has just run; its pauses last microseconds.
			t.Errorf("go.memory.gc.pause.time = %v s after a GC, want in (0, 60]", s.DataPoints[0].Value)
		}
	}
}

// rtPauseTime returns go.memory.gc.pause.time, or -1 when absent.
func rtPauseTime(ms map[string]rtMetric) float64 {
	m, ok := ms["go.memory.gc.pause.time"]
	if !ok {
		return -1
	}
	s, _ := m.Data.(metricdata.Sum[float64])
	if len(s.DataPoints) != 1 {
		return -1
	}
	return s.DataPoints[0].Value
}

// TestGCPauseTimeGrows checks that the GC pause counter never decreases
// and grows as collections pause the program.
func TestGCPauseTimeGrows(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	reader, _ := rtSetup(t, instrument.WithoutProcess())
	goruntime.GC()
	first := rtPauseTime(rtCollect(t, reader))
	for range 5 {
		goruntime.GC()
	}
	second := rtPauseTime(rtCollect(t, reader))
	if first <= 0 || second <= first {
		t.Errorf("go.memory.gc.pause.time went from %v to %v over five GCs, want it to grow from > 0", first, second)
	}
}

// TestRuntimeStop checks that Stop removes the GC pause and process metrics
// from the next collection, that contrib's metrics (which cannot be
// stopped) remain, and that Stop is idempotent.
func TestRuntimeStop(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	reader, rt := rtSetup(t)

	ours := []string{"go.memory.gc.pause.time", "go.memory.heap.live", "process.cpu.limit"}
	if goruntime.GOOS == "linux" {
		ours = append(ours, "process.cpu.time", "process.memory.usage", "process.memory.virtual",
			"process.unix.file_descriptor.count", "process.uptime", "system.memory.limit")
	}
	before := rtCollect(t, reader)
	for _, name := range ours {
		if _, ok := before[name]; !ok {
			t.Errorf("before Shutdown: %s missing", name)
		}
	}

	if err := rt.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := rt.Shutdown(context.Background()); !errors.Is(err, instrument.ErrShutdown) {
		t.Errorf("second Shutdown: %v, want ErrShutdown", err)
	}
	after := rtCollect(t, reader)
	for _, name := range ours {
		if _, ok := after[name]; ok {
			t.Errorf("after Shutdown: %s still reported", name)
		}
	}
	for _, name := range []string{"go.goroutine.count", "go.memory.used", "go.schedule.duration"} {
		if _, ok := after[name]; !ok {
			t.Errorf("after Stop: %s missing; contrib's metrics should remain", name)
		}
	}
}

// TestStartRuntimeGlobalProvider checks that StartRuntime, like
// Middleware, records into the OTel global provider when it is given no
// provider, or nil.
func TestStartRuntimeGlobalProvider(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts []instrument.RuntimeOption
	}{
		{"no option", nil},
		{"nil", []instrument.RuntimeOption{instrument.WithMeterProvider(nil)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reader := sdkmetric.NewManualReader()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
			t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
			prev := otel.GetMeterProvider()
			otel.SetMeterProvider(mp)
			t.Cleanup(func() { otel.SetMeterProvider(prev) })

			rt, err := instrument.StartRuntime(append(tt.opts, instrument.WithoutProcess())...)
			if err != nil {
				t.Fatalf("StartRuntime: %v", err)
			}
			t.Cleanup(func() { _ = rt.Shutdown(context.Background()) })
			ms := rtCollect(t, reader)
			rtGet(t, ms, "go.memory.heap.live", "By", instrument.ScopeName)
			rtGet(t, ms, "go.goroutine.count", "{goroutine}", contrib.ScopeName)
		})
	}
}

// TestWithMinimumReadInterval checks that contrib's values are refreshed at
// every collection with a short interval, and held with the default one.
func TestWithMinimumReadInterval(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, tt := range []struct {
		name    string
		opts    []instrument.RuntimeOption
		refresh bool
	}{
		{"default", nil, false},
		{"1ns", []instrument.RuntimeOption{instrument.WithMinimumReadInterval(time.Nanosecond)}, true},
		{"ignored", []instrument.RuntimeOption{instrument.WithMinimumReadInterval(-time.Second)}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reader, _ := rtSetup(t, append(tt.opts, instrument.WithoutProcess())...)
			first := rtInt(t, rtCollect(t, reader), "go.memory.allocations", "{allocation}", true)
			// Objects this large are counted when they are allocated, not
			// when a span is refilled. Within 15 s, the default interval
			// reports the first read again.
			var sink [][]byte
			for range 10 {
				sink = append(sink, make([]byte, 1<<17))
			}
			goruntime.KeepAlive(sink)
			second := rtInt(t, rtCollect(t, reader), "go.memory.allocations", "{allocation}", true)
			if refreshed := second > first; refreshed != tt.refresh {
				t.Errorf("go.memory.allocations %d then %d: refreshed %v, want %v", first, second, refreshed, tt.refresh)
			}
		})
	}
}

// TestRuntimeOnMetricsEndpoint checks the names on /metrics of a MeterProvider
// built with the runtime producer, and that the in-memory reader stores the
// producer's histogram under the same names.
func TestRuntimeOnMetricsEndpoint(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	prev := debug.SetMemoryLimit(1 << 40) // for process_memory_limit_bytes
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	mem := memory.New(memory.WithProducer(instrument.RuntimeProducer()))
	p, err := exporter.NewMeterProvider(t.Context(), exporter.MetricsConfig{ServiceName: "runtime-test"},
		exporter.WithProducer(instrument.RuntimeProducer()),
		exporter.WithReader(mem.SDKReaders()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	rt, err := instrument.StartRuntime(instrument.WithMeterProvider(p))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Shutdown(context.Background()) })
	churn()
	goruntime.GC()

	srv := httptest.NewServer(p.PrometheusHandler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	text := string(body)
	if !strings.Contains(text, "go_schedule_duration_seconds_bucket{") {
		t.Errorf("/metrics lacks go_schedule_duration_seconds_bucket")
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}

	type want struct {
		typ    string
		labels string // a label every series has, "" for none
	}
	wants := map[string]want{
		"go_memory_used_bytes":                  {"GAUGE", "go_memory_type"},
		"go_memory_allocated_bytes_total":       {"COUNTER", ""},
		"go_memory_allocations_total":           {"COUNTER", ""},
		"go_memory_gc_goal_bytes":               {"GAUGE", ""},
		"go_goroutine_count":                    {"GAUGE", ""},
		"go_processor_limit":                    {"GAUGE", ""},
		"go_config_gogc_percent":                {"GAUGE", ""},
		"go_schedule_duration_seconds":          {"HISTOGRAM", ""},
		"go_memory_gc_pause_time_seconds_total": {"COUNTER", ""},
		"go_memory_heap_live_bytes":             {"GAUGE", ""},
		"process_memory_limit_bytes":            {"GAUGE", ""},
		"process_cpu_limit":                     {"GAUGE", ""},
	}
	if goruntime.GOOS == "linux" {
		wants["process_cpu_time_seconds_total"] = want{"COUNTER", "cpu_mode"}
		wants["process_memory_usage_bytes"] = want{"GAUGE", ""}
		wants["process_memory_virtual_bytes"] = want{"GAUGE", ""}
		wants["process_unix_file_descriptor_count"] = want{"GAUGE", ""}
		wants["process_uptime_seconds"] = want{"GAUGE", ""}
		wants["system_memory_limit_bytes"] = want{"GAUGE", ""}
	}
	for name, w := range wants {
		f := mfs[name]
		if f == nil {
			t.Errorf("/metrics lacks %s", name)
			continue
		}
		if got := f.GetType().String(); got != w.typ {
			t.Errorf("%s: type %s, want %s", name, got, w.typ)
		}
		for _, m := range f.GetMetric() {
			has := w.labels == ""
			for _, lp := range m.GetLabel() {
				has = has || lp.GetName() == w.labels
			}
			if !has {
				t.Errorf("%s: series %v lacks label %s", name, m.GetLabel(), w.labels)
			}
		}
	}
	if f := mfs["go_schedule_duration_seconds"]; f != nil && len(f.GetMetric()) == 1 {
		h := f.GetMetric()[0].GetHistogram()
		if h.GetSampleCount() == 0 || len(h.GetBucket()) < 10 {
			t.Errorf("go_schedule_duration_seconds: count %d, %d buckets; want samples and the runtime's buckets", h.GetSampleCount(), len(h.GetBucket()))
		}
	}

	if err := mem.Collect(t.Context()); err != nil {
		t.Fatal(err)
	}
	exprs := []string{
		"go_schedule_duration_seconds_count",
		"histogram_quantile(0.99, go_schedule_duration_seconds_bucket)",
		"go_goroutine_count",
		"go_memory_gc_pause_time_seconds_total",
		"go_memory_heap_live_bytes",
		"process_memory_limit_bytes",
		"process_cpu_limit",
		// The default rules divide these by one another without ignoring
		// a label: they must share every label, the scope's too.
		"go_memory_heap_live_bytes / process_memory_limit_bytes",
	}
	if goruntime.GOOS == "linux" {
		exprs = append(exprs,
			"process_memory_usage_bytes / process_memory_limit_bytes",
			"sum without (cpu_mode) (process_cpu_time_seconds_total) / process_cpu_limit",
			"go_memory_heap_live_bytes / system_memory_limit_bytes")
	}
	for _, expr := range exprs {
		res, err := mem.Query(t.Context(), expr, mem.Now())
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		v, ok := res.Value.(memory.Vector)
		if !ok || len(v) != 1 || !(v[0].F > 0) || math.IsInf(v[0].F, 0) {
			t.Errorf("%s in the memory reader = %v, want one positive finite value", expr, res.Value)
		}
	}
}

// TestRuntimeConcurrentSafe collects two readers sharing one producer from
// several goroutines while Stop runs.
func TestRuntimeConcurrentSafe(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	prod := instrument.RuntimeProducer()
	readers := []*sdkmetric.ManualReader{
		sdkmetric.NewManualReader(sdkmetric.WithProducer(prod)),
		sdkmetric.NewManualReader(sdkmetric.WithProducer(prod)),
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(readers[0]), sdkmetric.WithReader(readers[1]))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	rt, err := instrument.StartRuntime(instrument.WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			var rm metricdata.ResourceMetrics
			for range 20 {
				if err := readers[i%2].Collect(context.Background(), &rm); err != nil {
					t.Errorf("Collect: %v", err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		if err := rt.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	wg.Wait()
}

// schedHistogram returns the go.schedule.duration data point of one Produce.
func schedHistogram(t *testing.T, p sdkmetric.Producer) metricdata.HistogramDataPoint[float64] {
	t.Helper()
	sms, err := p.Produce(context.Background())
	if err != nil {
		t.Fatalf("Produce: %v", err)
	}
	for _, sm := range sms {
		for _, m := range sm.Metrics {
			if h, ok := m.Data.(metricdata.Histogram[float64]); ok && m.Name == "go.schedule.duration" && len(h.DataPoints) == 1 {
				return h.DataPoints[0]
			}
		}
	}
	t.Fatalf("Produce returned no go.schedule.duration data point: %+v", sms)
	return metricdata.HistogramDataPoint[float64]{}
}

// TestRuntimeProducerCopies: each Produce returns slices of its own, not
// the runtime read buffer that the next Produce overwrites (as contrib's
// producer does).
func TestRuntimeProducerCopies(t *testing.T) {
	p := instrument.RuntimeProducerReadingAlways()
	a := schedHistogram(t, p)
	want := slices.Clone(a.BucketCounts)
	b := schedHistogram(t, p)
	if len(a.BucketCounts) == 0 || len(b.BucketCounts) == 0 || len(a.Bounds) == 0 {
		t.Fatalf("empty histogram: %d and %d counts, %d bounds", len(a.BucketCounts), len(b.BucketCounts), len(a.Bounds))
	}
	if &a.BucketCounts[0] == &b.BucketCounts[0] || &a.Bounds[0] == &b.Bounds[0] {
		t.Fatal("two Produce calls share the bucket slices")
	}
	if !slices.Equal(a.BucketCounts, want) {
		t.Error("the second Produce changed the counts the first returned")
	}
	var sum uint64
	for _, n := range b.BucketCounts {
		sum += n
	}
	if sum != b.Count || b.Count < a.Count {
		t.Errorf("second read: %d counted in buckets, Count %d (first read: %d)", sum, b.Count, a.Count)
	}
}

// TestRuntimeProducerConcurrentReaders: readers collecting at once, each
// through the producer, read their histogram while the others read the
// runtime again. Under -race this failed with contrib's producer alone.
func TestRuntimeProducerConcurrentReaders(t *testing.T) {
	p := instrument.RuntimeProducerReadingAlways()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				dp := schedHistogram(t, p)
				var sum uint64
				for _, n := range dp.BucketCounts {
					sum += n
				}
				if sum != dp.Count {
					t.Errorf("buckets sum to %d, Count is %d: the histogram changed while it was read", sum, dp.Count)
					return
				}
			}
		})
	}
	wg.Wait()
}
