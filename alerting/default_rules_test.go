package alerting_test

import (
	"context"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/exporter/memory"
	"github.com/vitalsgo/vitals/instrument"
)

// defaultRulesFile is the rule file the replays evaluate.
const defaultRulesFile = "../docs/rules/vitals-alerts.yml"

const mb = 1 << 20

// procFigures is what instrument.StartRuntime reports at one collection.
// A zero limit is absent, as StartRuntime leaves it out.
type procFigures struct {
	rss, heapLive float64 // bytes
	memoryLimit   float64 // bytes: the smaller of GOMEMLIMIT and the cgroup's
	systemMemory  float64 // bytes: MemTotal
	cpuLimit      float64 // CPUs
	cpuRate       float64 // CPU seconds per second, since the last collection
}

// processReplay scripts the process and runtime series the default rules
// read, recorded under the names, units and scope instrument.StartRuntime
// uses, into a memory reader collecting every 10 s with the default 1 h
// retention (as the example service does), and evaluates the default rule
// file on a clock moved by hand.
type processReplay struct {
	t     *testing.T
	clk   *engClock
	mem   *memory.Reader
	eng   *alerting.Engine
	start time.Time

	mu      sync.Mutex
	fig     procFigures
	cpuUser float64 // cumulative CPU seconds
	cpuSys  float64
}

const replayStep = 10 * time.Second

func newProcessReplay(t *testing.T) *processReplay {
	t.Helper()
	r := &processReplay{t: t, clk: newEngClock(time.Unix(1_700_000_000, 0))}
	r.start = r.clk.Now()
	r.mem = memory.New(memory.WithClock(r.clk), memory.WithInterval(replayStep))
	mp := sdkmetric.NewMeterProvider(r.mem.MeterProviderOptions()...)
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	m := mp.Meter(instrument.ScopeName)

	gauge := func(name, unit string) metric.Float64ObservableUpDownCounter {
		inst, err := m.Float64ObservableUpDownCounter(name, metric.WithUnit(unit))
		if err != nil {
			t.Fatal(err)
		}
		return inst
	}
	rss := gauge("process.memory.usage", "By")
	live := gauge("go.memory.heap.live", "By")
	memLimit := gauge("process.memory.limit", "By")
	sysMem := gauge("system.memory.limit", "By")
	cpuLimit := gauge("process.cpu.limit", "{cpu}")
	cpuTime, err := m.Float64ObservableCounter("process.cpu.time", metric.WithUnit("s"))
	if err != nil {
		t.Fatal(err)
	}
	user := metric.WithAttributes(attribute.String("cpu.mode", "user"))
	system := metric.WithAttributes(attribute.String("cpu.mode", "system"))
	_, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		f := r.fig
		o.ObserveFloat64(rss, f.rss)
		o.ObserveFloat64(live, f.heapLive)
		if f.memoryLimit > 0 {
			o.ObserveFloat64(memLimit, f.memoryLimit)
		}
		if f.systemMemory > 0 {
			o.ObserveFloat64(sysMem, f.systemMemory)
		}
		o.ObserveFloat64(cpuLimit, f.cpuLimit)
		o.ObserveFloat64(cpuTime, r.cpuUser, user)
		o.ObserveFloat64(cpuTime, r.cpuSys, system)
		return nil
	}, rss, live, memLimit, sysMem, cpuLimit, cpuTime)
	if err != nil {
		t.Fatal(err)
	}

	groups, err := alerting.LoadFiles(defaultRulesFile)
	if err != nil {
		t.Fatal(err)
	}
	r.eng, err = alerting.New(r.mem, groups, alerting.WithClock(r.clk), alerting.WithRoutes(now0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.eng.Shutdown(context.Background()) })
	return r
}

// alertTimes is when an alert first became pending, first fired and was
// last pending or firing, as offsets from the start; -1 for never.
type alertTimes struct{ pending, firing, last time.Duration }

// run moves time in steps of 10 s up to end, reporting at each offset what
// figures returns, collecting, and evaluating the rules. It returns, by
// alert name, when each alert was first pending and first firing.
func (r *processReplay) run(end time.Duration, figures func(at time.Duration) procFigures) map[string]alertTimes {
	r.t.Helper()
	ctx := r.t.Context()
	seen := map[string]alertTimes{}
	for at := time.Duration(0); at <= end; at += replayStep {
		f := figures(at)
		r.mu.Lock()
		r.fig = f
		if at > 0 {
			busy := f.cpuRate * replayStep.Seconds()
			r.cpuUser += 0.8 * busy
			r.cpuSys += 0.2 * busy
		}
		r.mu.Unlock()
		now := r.start.Add(at)
		r.clk.set(now)
		if err := r.mem.Collect(ctx); err != nil {
			r.t.Fatal(err)
		}
		if err := r.eng.Eval(ctx, now); err != nil {
			r.t.Fatalf("at %v: %v", at, err)
		}
		for _, a := range r.eng.Alerts() {
			ts, ok := seen[a.Name()]
			if !ok {
				ts = alertTimes{-1, -1, -1}
			}
			if a.State == alerting.StatePending || a.State == alerting.StateFiring {
				if ts.pending < 0 {
					ts.pending = at
				}
				ts.last = at
			}
			if ts.firing < 0 && a.State == alerting.StateFiring {
				ts.firing = at
			}
			seen[a.Name()] = ts
		}
	}
	return seen
}

// names lists the alerts of seen, with their times, for error messages.
func names(seen map[string]alertTimes) string {
	var out []string
	for n, ts := range seen {
		out = append(out, n+" (pending at "+ts.pending.String()+", firing at "+ts.firing.String()+")")
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// idleShop returns the figures of the example service left idle, as
// reported: resident memory jumps to 32 MB as it starts, then grows
// linearly to 69 MB as its in-memory store (1 h retention) fills over the
// first hour, then stays flat but for the GC's sawtooth (a 2-minute cycle
// of 4 MB) and some noise. The live heap follows the store: 40 % of the
// resident memory's trend, plus half a megabyte of noise from one GC to
// the next. Its CPU use is 2 % of a CPU.
func idleShop(seed uint64) func(at time.Duration) procFigures {
	rnd := rand.New(rand.NewPCG(seed, seed))
	return func(at time.Duration) procFigures {
		startup := 10 + 22*min(at.Minutes(), 1) // MB: the first minute
		store := 37 * min(at.Hours(), 1)        // MB: the first hour
		trend := (startup + store) * mb
		sawtooth := 4 * mb * math.Mod(at.Minutes(), 2) / 2
		return procFigures{
			rss:      trend + sawtooth + rnd.NormFloat64()*0.3*mb,
			heapLive: 0.4*trend + rnd.NormFloat64()*0.5*mb,
			cpuLimit: 2,
			cpuRate:  0.02 + rnd.Float64()*0.01,
		}
	}
}

// TestDefaultRulesBoundedStoreIsNoLeak replays the idle example service's
// first four hours: its memory grows for an hour while its bounded store
// fills, then stays flat. MemoryLeakSuspected must not fire (the old rule,
// on resident memory over 30 minutes, fired 30 minutes after the start and
// was pending 30 s after every start), whatever the limit; with room under
// the limit it must not even be pending, at the start or ever.
func TestDefaultRulesBoundedStoreIsNoLeak(t *testing.T) {
	for _, tt := range []struct {
		name        string
		memoryLimit float64
		system      float64
		pends       bool
	}{
		{"no limit, 16 GiB machine", 0, 16 << 30, false},
		{"512 MiB container", 512 * mb, 16 << 30, false},
		{"256 MiB container", 256 * mb, 16 << 30, false},
		// 69 MB is 54 % of 128 MiB: the projection of the first hour's
		// growth crosses half the limit while the store fills, and falls
		// back within the hour after; the 90 minutes of for outlast it.
		{"128 MiB container", 128 * mb, 16 << 30, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newProcessReplay(t)
			idle := idleShop(1)
			seen := r.run(4*time.Hour, func(at time.Duration) procFigures {
				f := idle(at)
				f.memoryLimit, f.systemMemory = tt.memoryLimit, tt.system
				return f
			})
			leak, ok := seen["MemoryLeakSuspected"]
			switch {
			case ok && leak.firing >= 0:
				t.Errorf("MemoryLeakSuspected fired at %v for a store that stopped growing at 1h", leak.firing)
			case ok != tt.pends:
				t.Errorf("MemoryLeakSuspected pending: %v (at %v), want %v", ok, leak.pending, tt.pends)
			case ok && leak.last >= 2*time.Hour:
				t.Errorf("MemoryLeakSuspected pending from %v to %v, want it inactive within the hour after the store stopped growing", leak.pending, leak.last)
			case ok:
				t.Logf("MemoryLeakSuspected pending from %v to %v", leak.pending, leak.last)
			}
			for name := range seen {
				if name != "MemoryLeakSuspected" {
					t.Errorf("unexpected alerts: %s", names(seen))
					break
				}
			}
		})
	}
}

// TestDefaultRulesLeakFires replays leaks: a live heap growing linearly
// without bound, which at its rate crosses half the limit within the 6 h
// horizon. MemoryLeakSuspected must be pending from when the projection
// crosses, fire 90 minutes later, hours before the process runs out,
// against the container's limit, or against the machine's memory when the
// process has no limit.
func TestDefaultRulesLeakFires(t *testing.T) {
	for _, tt := range []struct {
		name        string
		memoryLimit float64
		system      float64
		perHour     float64       // live heap growth from 20 MiB
		crosses     time.Duration // the 6 h projection crosses half the limit
		oom         time.Duration // resident memory reaches the limit
	}{
		// Projected: 20 + 30 t + 6 × 30 > 256 MiB from t = 1.87 h.
		// Resident 2.2 × live + 10 MiB reaches 512 MiB at 6.94 h.
		{"512 MiB container", 512 * mb, 16 << 30, 30 * mb, 112 * time.Minute, 416 * time.Minute},
		// No limit on an 8 GiB machine: projected 20 + 500 t + 6 × 500 >
		// 4096 MiB from t = 2.15 h; resident memory fills the machine at
		// 7.4 h.
		{"no limit, 8 GiB machine", 0, 8 << 30, 500 * mb, 129 * time.Minute, 444 * time.Minute},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newProcessReplay(t)
			rnd := rand.New(rand.NewPCG(2, 2))
			seen := r.run(4*time.Hour, func(at time.Duration) procFigures {
				live := 20*mb + tt.perHour*at.Hours()
				return procFigures{
					rss:          2.2*live + 10*mb + 4*mb*math.Mod(at.Minutes(), 2)/2,
					heapLive:     live + rnd.NormFloat64()*0.5*mb,
					memoryLimit:  tt.memoryLimit,
					systemMemory: tt.system,
					cpuLimit:     2,
					cpuRate:      0.1,
				}
			})
			leak, ok := seen["MemoryLeakSuspected"]
			if !ok || leak.firing < 0 {
				t.Fatalf("MemoryLeakSuspected never fired; alerts: %s", names(seen))
			}
			if d := leak.pending - tt.crosses; d < -5*time.Minute || d > 5*time.Minute {
				t.Errorf("MemoryLeakSuspected pending at %v, want within 5 minutes of %v, when the projection crosses half the limit", leak.pending, tt.crosses)
			}
			if d := leak.firing - leak.pending; d < 90*time.Minute || d > 90*time.Minute+30*time.Second {
				t.Errorf("MemoryLeakSuspected pending at %v, firing at %v; want 90 minutes apart", leak.pending, leak.firing)
			}
			if lead := tt.oom - leak.firing; lead < 3*time.Hour {
				t.Errorf("MemoryLeakSuspected fired at %v, %v before the process runs out; want 3 h at least", leak.firing, lead)
			}
			if _, ok := seen["MemoryNearLimit"]; ok {
				t.Errorf("MemoryNearLimit active while the process is far from its limit: %s", names(seen))
			}
		})
	}
}

// TestDefaultRulesMemoryNearLimit checks that MemoryNearLimit compares the
// resident memory with the container's limit, with no GOMEMLIMIT set (the
// old rule divided by go_memory_limit_bytes, absent then, and never
// fired), and keeps quiet at 60 %.
func TestDefaultRulesMemoryNearLimit(t *testing.T) {
	for _, tt := range []struct {
		name    string
		share   float64
		firesAt time.Duration // -1: never
	}{
		{"60 % of the limit", 0.6, -1},
		// Above 90 % from 10 min on; for 5m; the group runs every 30 s.
		{"95 % of the limit", 0.95, 15 * time.Minute},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newProcessReplay(t)
			const limit = 256 * mb
			seen := r.run(30*time.Minute, func(at time.Duration) procFigures {
				rss := 0.5 * limit
				if at >= 10*time.Minute {
					rss = tt.share * limit
				}
				return procFigures{rss: rss, heapLive: rss / 3, memoryLimit: limit, systemMemory: 16 << 30, cpuLimit: 1, cpuRate: 0.1}
			})
			near, ok := seen["MemoryNearLimit"]
			if tt.firesAt < 0 {
				if ok {
					t.Errorf("MemoryNearLimit %+v at %.0f %% of the limit", near, 100*tt.share)
				}
				return
			}
			if !ok || near.pending != 10*time.Minute || near.firing != tt.firesAt {
				t.Errorf("MemoryNearLimit %+v (ok %v), want pending at 10m0s and firing at %v; alerts: %s", near, ok, tt.firesAt, names(seen))
			}
		})
	}
}

// TestDefaultRulesHighCPU replays a process held at its CPU quota and one
// with a normal load, busy spells included. The quota is half a CPU, where
// GOMAXPROCS is 2 (the runtime rounds a quota up to at least 2): against
// GOMAXPROCS the saturated process would look 25 % busy.
func TestDefaultRulesHighCPU(t *testing.T) {
	for _, tt := range []struct {
		name    string
		rate    func(at time.Duration) float64
		firesBy time.Duration // -1: never
	}{
		// Saturated from 5 min on: rate[5m] above 90 % at about 9.5 min,
		// for 10m.
		{"saturated", func(at time.Duration) float64 {
			if at < 5*time.Minute {
				return 0.1
			}
			return 0.5
		}, 21 * time.Minute},
		// 20 % of the quota, and 100 % for 3 minutes every quarter hour.
		{"normal with bursts", func(at time.Duration) float64 {
			if math.Mod(at.Minutes(), 15) < 3 {
				return 0.5
			}
			return 0.1
		}, -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newProcessReplay(t)
			seen := r.run(time.Hour, func(at time.Duration) procFigures {
				return procFigures{rss: 50 * mb, heapLive: 20 * mb, memoryLimit: 256 * mb, systemMemory: 16 << 30, cpuLimit: 0.5, cpuRate: tt.rate(at)}
			})
			cpu, ok := seen["HighCPUUsage"]
			if tt.firesBy < 0 {
				if ok {
					t.Errorf("HighCPUUsage %+v under a normal load", cpu)
				}
				return
			}
			if !ok || cpu.firing < 0 || cpu.firing > tt.firesBy {
				t.Errorf("HighCPUUsage %+v (ok %v), want firing by %v; alerts: %s", cpu, ok, tt.firesBy, names(seen))
			}
		})
	}
}
