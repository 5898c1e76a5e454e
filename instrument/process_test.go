package instrument_test

import (
	goruntime "runtime"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/goleak"

	"github.com/vitalsgo/vitals/instrument"
)

var processNames = []string{
	"process.cpu.time",
	"process.memory.usage",
	"process.memory.virtual",
	"process.unix.file_descriptor.count",
	"process.uptime",
}

// procInt returns the single point of an int64 non-monotonic sum (an
// observable up-down counter) of scope instrument.ScopeName.
func procInt(t *testing.T, ms map[string]rtMetric, name, unit string) int64 {
	t.Helper()
	data, ok := rtGet(t, ms, name, unit, instrument.ScopeName)
	if !ok {
		return 0
	}
	s, ok := data.(metricdata.Sum[int64])
	if !ok || s.IsMonotonic || len(s.DataPoints) != 1 {
		t.Errorf("%s: %T (monotonic %v, %d points), want one point of an up-down counter", name, data, s.IsMonotonic, len(s.DataPoints))
		return 0
	}
	return s.DataPoints[0].Value
}

// TestProcessMetrics checks every process metric: presence, unit, kind,
// attributes and a plausible value.
func TestProcessMetrics(t *testing.T) {
	if goruntime.GOOS != "linux" {
		t.Skipf("process metrics are read from /proc, which %s lacks", goruntime.GOOS)
	}
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	reader, _ := rtSetup(t)
	ms := rtCollect(t, reader)

	if data, ok := rtGet(t, ms, "process.cpu.time", "s", instrument.ScopeName); ok {
		s, ok := data.(metricdata.Sum[float64])
		if !ok || !s.IsMonotonic || s.Temporality != metricdata.CumulativeTemporality {
			t.Errorf("process.cpu.time: %T, want a cumulative float64 counter", data)
		}
		byMode := map[string]float64{}
		for _, dp := range s.DataPoints {
			if dp.Attributes.Len() != 1 {
				t.Errorf("process.cpu.time: attributes %v, want cpu.mode only", dp.Attributes.ToSlice())
			}
			v, _ := dp.Attributes.Value("cpu.mode")
			byMode[v.AsString()] = dp.Value
		}
		user, hasUser := byMode["user"]
		system, hasSystem := byMode["system"]
		if len(byMode) != 2 || !hasUser || !hasSystem || user < 0 || system < 0 {
			t.Errorf("process.cpu.time by cpu.mode = %v, want user and system >= 0", byMode)
		}
	}

	rss := procInt(t, ms, "process.memory.usage", "By")
	var goUsed int64
	if m, ok := ms["go.memory.used"]; ok {
		for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
			goUsed += dp.Value
		}
	}
	if rss <= 0 || goUsed <= 0 || rss > 10*goUsed || goUsed > 10*rss {
		t.Errorf("process.memory.usage = %d B, go.memory.used = %d B; want both > 0 and within 10x of each other", rss, goUsed)
	}
	if virtual := procInt(t, ms, "process.memory.virtual", "By"); virtual < rss {
		t.Errorf("process.memory.virtual = %d B, want at least the resident %d B", virtual, rss)
	}
	if total := procInt(t, ms, "system.memory.limit", "By"); total < rss {
		t.Errorf("system.memory.limit = %d B, want at least the resident %d B of this process", total, rss)
	}
	if fds := procInt(t, ms, "process.unix.file_descriptor.count", "{file_descriptor}"); fds <= 0 {
		t.Errorf("process.unix.file_descriptor.count = %d, want > 0", fds)
	}

	uptime := func(ms map[string]rtMetric) float64 {
		t.Helper()
		data, ok := rtGet(t, ms, "process.uptime", "s", instrument.ScopeName)
		if !ok {
			return -1
		}
		g, ok := data.(metricdata.Gauge[float64])
		if !ok || len(g.DataPoints) != 1 {
			t.Errorf("process.uptime: %T, want one float64 gauge point", data)
			return -1
		}
		return g.DataPoints[0].Value
	}
	// Busy for 100 ms of wall time: at least a clock tick (10 ms) of CPU.
	for start := time.Now(); time.Since(start) < 100*time.Millisecond; {
	}
	later := rtCollect(t, reader)

	first, second := uptime(ms), uptime(later)
	if first < 0 || first > 24*3600 || second < first+0.1 {
		t.Errorf("process.uptime = %v then %v s 100 ms later, want >= 0, plausible for a test, and grown by 0.1 s", first, second)
	}
	if before, after := cpuTotal(ms), cpuTotal(later); after <= before {
		t.Errorf("process.cpu.time summed over modes = %v then %v s after 100 ms of work, want it to grow", before, after)
	}
}

func cpuTotal(ms map[string]rtMetric) float64 {
	var sum float64
	if m, ok := ms["process.cpu.time"]; ok {
		for _, dp := range m.Data.(metricdata.Sum[float64]).DataPoints {
			sum += dp.Value
		}
	}
	return sum
}

// TestWithoutProcess checks that WithoutProcess leaves the process metrics
// out and keeps the rest.
func TestWithoutProcess(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	reader, _ := rtSetup(t, instrument.WithoutProcess())
	ms := rtCollect(t, reader)
	for _, name := range processNames {
		if _, ok := ms[name]; ok {
			t.Errorf("%s reported with WithoutProcess", name)
		}
	}
	// The limits stay: the default rules divide by them.
	for _, name := range []string{"go.memory.gc.pause.time", "go.memory.heap.live", "go.goroutine.count", "process.cpu.limit"} {
		if _, ok := ms[name]; !ok {
			t.Errorf("%s missing with WithoutProcess", name)
		}
	}
}

// TestProcessMetricsElsewhere checks that where /proc is missing the process
// metrics are absent and StartRuntime still succeeds.
func TestProcessMetricsElsewhere(t *testing.T) {
	if goruntime.GOOS == "linux" {
		t.Skip("/proc exists on Linux; TestProcessMetrics covers it")
	}
	reader, _ := rtSetup(t)
	ms := rtCollect(t, reader)
	for _, name := range processNames {
		if _, ok := ms[name]; ok {
			t.Errorf("%s reported on %s", name, goruntime.GOOS)
		}
	}
}
