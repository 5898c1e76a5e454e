package instrument

import (
	"context"
	"math"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// fakeRoots writes files (paths relative to a procfs root "proc" and a
// sysfs root "sys") under a temporary directory and returns both roots.
func fakeRoots(t *testing.T, files map[string]string) (procRoot, sysRoot string) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "proc"), filepath.Join(dir, "sys")
}

// v1Unlimited is what cgroup v1 writes for no memory limit.
const v1Unlimited = "9223372036854771712\n"

func TestCgroupLimits(t *testing.T) {
	for _, tt := range []struct {
		name   string
		files  map[string]string
		memory int64 // 0: none
		cpu    float64
	}{
		{
			name: "v2 container",
			files: map[string]string{
				"proc/self/cgroup":          "0::/\n",
				"sys/fs/cgroup/memory.max":  "536870912\n",
				"sys/fs/cgroup/cpu.max":     "150000 100000\n",
				"sys/fs/cgroup/memory.high": "1000\n", // not a limit the OOM killer enforces
			},
			memory: 512 << 20, cpu: 1.5,
		},
		{
			name: "v2 max",
			files: map[string]string{
				"proc/self/cgroup":         "0::/\n",
				"sys/fs/cgroup/memory.max": "max\n",
				"sys/fs/cgroup/cpu.max":    "max 100000\n",
			},
		},
		{
			name: "v2 nested, the parent's limit is lower",
			files: map[string]string{
				"proc/self/cgroup": "0::/system.slice/shop.service\n",
				"sys/fs/cgroup/system.slice/shop.service/memory.max": "1073741824\n",
				"sys/fs/cgroup/system.slice/shop.service/cpu.max":    "max 100000\n",
				"sys/fs/cgroup/system.slice/memory.max":              "268435456\n",
				"sys/fs/cgroup/system.slice/cpu.max":                 "50000 100000\n",
			},
			memory: 256 << 20, cpu: 0.5,
		},
		{
			name: "v1 container, own path not visible: the root's files",
			files: map[string]string{
				"proc/self/cgroup": "12:memory:/docker/abc\n" +
					"4:cpu,cpuacct:/docker/abc\n" +
					"1:name=systemd:/docker/abc\n" +
					"0::/docker/abc\n",
				"sys/fs/cgroup/memory/memory.limit_in_bytes":      "268435456\n",
				"sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us":      "200000\n",
				"sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us":     "100000\n",
				"sys/fs/cgroup/unified/cgroup.controllers":        "",
				"sys/fs/cgroup/memory/memory.soft_limit_in_bytes": "1\n",
			},
			memory: 256 << 20, cpu: 2,
		},
		{
			name: "v1 host: unlimited",
			files: map[string]string{
				"proc/self/cgroup": "4:memory:/user.slice\n2:cpu,cpuacct:/user.slice\n0::/user.slice\n",
				"sys/fs/cgroup/memory/user.slice/memory.limit_in_bytes":  v1Unlimited,
				"sys/fs/cgroup/memory/memory.limit_in_bytes":             v1Unlimited,
				"sys/fs/cgroup/cpu,cpuacct/user.slice/cpu.cfs_quota_us":  "-1\n",
				"sys/fs/cgroup/cpu,cpuacct/user.slice/cpu.cfs_period_us": "100000\n",
			},
		},
		{
			name: "v1 host service with a limit of its own",
			files: map[string]string{
				"proc/self/cgroup": "4:memory:/system.slice/shop.service\n2:cpu,cpuacct:/system.slice/shop.service\n",
				"sys/fs/cgroup/memory/system.slice/shop.service/memory.limit_in_bytes":  "536870912\n",
				"sys/fs/cgroup/memory/system.slice/memory.limit_in_bytes":               v1Unlimited,
				"sys/fs/cgroup/memory/memory.limit_in_bytes":                            v1Unlimited,
				"sys/fs/cgroup/cpu,cpuacct/system.slice/shop.service/cpu.cfs_quota_us":  "150000\n",
				"sys/fs/cgroup/cpu,cpuacct/system.slice/shop.service/cpu.cfs_period_us": "100000\n",
				"sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us":                            "-1\n",
				"sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us":                           "100000\n",
			},
			memory: 512 << 20, cpu: 1.5,
		},
		{
			name: "no /proc/self/cgroup: the v2 root",
			files: map[string]string{
				"sys/fs/cgroup/memory.max": "104857600\n",
				"sys/fs/cgroup/cpu.max":    "25000 100000\n",
			},
			memory: 100 << 20, cpu: 0.25,
		},
		{
			name: "no /proc/self/cgroup: the v1 root",
			files: map[string]string{
				"sys/fs/cgroup/memory/memory.limit_in_bytes": "104857600\n",
				"sys/fs/cgroup/cpu/cpu.cfs_quota_us":         "50000\n",
				"sys/fs/cgroup/cpu/cpu.cfs_period_us":        "100000\n",
			},
			memory: 100 << 20, cpu: 0.5,
		},
		{
			name:  "missing: no cgroup files at all",
			files: map[string]string{"proc/self/cgroup": "0::/\n"},
		},
		{
			name: "garbage is no limit",
			files: map[string]string{
				"proc/self/cgroup":         "0::/\n",
				"sys/fs/cgroup/memory.max": "lots\n",
				"sys/fs/cgroup/cpu.max":    "100000\n", // no period
			},
		},
		{
			name: "zero is no limit",
			files: map[string]string{
				"proc/self/cgroup":         "0::/\n",
				"sys/fs/cgroup/memory.max": "0\n",
				"sys/fs/cgroup/cpu.max":    "0 100000\n",
			},
		},
		{
			name: "a path escaping the hierarchy stays in it",
			files: map[string]string{
				"proc/self/cgroup":             "0::/../../etc\n",
				"sys/fs/cgroup/etc/memory.max": "1048576\n",
				"sys/memory.max":               "1\n",
				"memory.max":                   "1\n",
			},
			memory: 1 << 20,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := newCgroupLimits(fakeRoots(t, tt.files))
			mem, memOK := l.memoryLimit()
			if memOK != (tt.memory != 0) || mem != tt.memory {
				t.Errorf("memoryLimit() = %d, %v; want %d, %v", mem, memOK, tt.memory, tt.memory != 0)
			}
			cpu, cpuOK := l.cpuLimit()
			if cpuOK != (tt.cpu != 0) || cpu != tt.cpu {
				t.Errorf("cpuLimit() = %v, %v; want %v, %v", cpu, cpuOK, tt.cpu, tt.cpu != 0)
			}
		})
	}
}

// TestCgroupLimitsReread checks that a limit changed while the process runs
// (a container resized in place) is seen at the next read.
func TestCgroupLimitsReread(t *testing.T) {
	procRoot, sysRoot := fakeRoots(t, map[string]string{
		"proc/self/cgroup":         "0::/\n",
		"sys/fs/cgroup/memory.max": "max\n",
	})
	l := newCgroupLimits(procRoot, sysRoot)
	if v, ok := l.memoryLimit(); ok {
		t.Fatalf("memoryLimit() = %d before a limit is set", v)
	}
	if err := os.WriteFile(filepath.Join(sysRoot, "fs", "cgroup", "memory.max"), []byte("268435456\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if v, ok := l.memoryLimit(); !ok || v != 256<<20 {
		t.Errorf("memoryLimit() = %d, %v after the limit was set; want %d", v, ok, 256<<20)
	}
}

// limitValues collects the limit metrics of a runtime started over the
// given roots: process.memory.limit (-1 when absent), process.cpu.limit,
// system.memory.limit (-1 when absent).
func limitValues(t *testing.T, procRoot, sysRoot string) (memory int64, cpu float64, system int64) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	cfg := newRuntimeConfig([]RuntimeOption{WithMeterProvider(mp)})
	cfg.procRoot, cfg.sysRoot = procRoot, sysRoot
	rt, err := startRuntime(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Shutdown(context.Background()) })
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	memory, cpu, system = -1, -1, -1
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != ScopeName {
			continue
		}
		for _, m := range sm.Metrics {
			switch m.Name {
			case "process.memory.limit", "system.memory.limit":
				s, ok := m.Data.(metricdata.Sum[int64])
				if !ok || s.IsMonotonic || len(s.DataPoints) != 1 || m.Unit != "By" {
					t.Fatalf("%s: %T %q, want one point of an int64 up-down counter in By", m.Name, m.Data, m.Unit)
				}
				if m.Name == "process.memory.limit" {
					memory = s.DataPoints[0].Value
				} else {
					system = s.DataPoints[0].Value
				}
			case "process.cpu.limit":
				s, ok := m.Data.(metricdata.Sum[float64])
				if !ok || s.IsMonotonic || len(s.DataPoints) != 1 || m.Unit != "{cpu}" {
					t.Fatalf("%s: %T %q, want one point of a float64 up-down counter in {cpu}", m.Name, m.Data, m.Unit)
				}
				cpu = s.DataPoints[0].Value
			}
		}
	}
	return memory, cpu, system
}

// TestLimitMetrics checks process.memory.limit (the smaller of GOMEMLIMIT
// and the cgroup's, absent without either), process.cpu.limit (GOMAXPROCS
// or a smaller quota) and system.memory.limit (MemTotal).
func TestLimitMetrics(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	procs := float64(min(goruntime.GOMAXPROCS(0), goruntime.NumCPU()))

	container := map[string]string{
		"proc/self/cgroup":         "0::/\n",
		"proc/meminfo":             "MemTotal:       16318540 kB\nMemFree:         1000000 kB\n",
		"sys/fs/cgroup/memory.max": "268435456\n",
		"sys/fs/cgroup/cpu.max":    "50000 100000\n",
	}
	host := map[string]string{
		"proc/self/cgroup":         "0::/\n",
		"proc/meminfo":             "MemTotal:       16318540 kB\n",
		"sys/fs/cgroup/memory.max": "max\n",
		"sys/fs/cgroup/cpu.max":    "max 100000\n",
	}
	for _, tt := range []struct {
		name       string
		files      map[string]string
		goMemLimit int64 // math.MaxInt64: none
		memory     int64
		cpu        float64
		system     int64
	}{
		{"cgroup only", container, math.MaxInt64, 256 << 20, min(procs, 0.5), 16318540 << 10},
		{"GOMEMLIMIT below the cgroup's", container, 200 << 20, 200 << 20, min(procs, 0.5), 16318540 << 10},
		{"GOMEMLIMIT above the cgroup's", container, 1 << 30, 256 << 20, min(procs, 0.5), 16318540 << 10},
		{"GOMEMLIMIT only", host, 1 << 30, 1 << 30, procs, 16318540 << 10},
		{"neither", host, math.MaxInt64, -1, procs, 16318540 << 10},
		{"no procfs", map[string]string{}, math.MaxInt64, -1, procs, -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			debug.SetMemoryLimit(tt.goMemLimit)
			procRoot, sysRoot := fakeRoots(t, tt.files)
			memory, cpu, system := limitValues(t, procRoot, sysRoot)
			if memory != tt.memory {
				t.Errorf("process.memory.limit = %d, want %d (-1: absent)", memory, tt.memory)
			}
			if cpu != tt.cpu {
				t.Errorf("process.cpu.limit = %v, want %v", cpu, tt.cpu)
			}
			if system != tt.system {
				t.Errorf("system.memory.limit = %d, want %d (-1: absent)", system, tt.system)
			}
		})
	}
}
