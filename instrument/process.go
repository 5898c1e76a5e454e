package instrument

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/procfs"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/semconv/v1.43.0/processconv"
	"go.opentelemetry.io/otel/semconv/v1.43.0/systemconv"
)

// clockTicksPerSecond is USER_HZ, the unit of the CPU times in
// /proc/[pid]/stat. procfs assumes 100, as the kernel's ABI effectively
// fixes it on every architecture Go supports.
const clockTicksPerSecond = 100

// processMetrics reports the process metrics of the semantic conventions
// from /proc, all in one callback.
type processMetrics struct {
	proc procfs.Proc

	cpu     processconv.CPUTime
	rss     processconv.MemoryUsageObservable
	virtual processconv.MemoryVirtualObservable
	fds     processconv.UnixFileDescriptorCountObservable
	uptime  processconv.UptimeObservable

	user, system metric.ObserveOption

	// The uptime is the process' age at base plus the monotonic time since.
	base         time.Time
	uptimeAtBase time.Duration
}

// newProcessMetrics returns nil, and no error, where /proc cannot be read:
// on systems other than Linux, or where it is not mounted.
func newProcessMetrics(m metric.Meter) (*processMetrics, error) {
	proc, err := procfs.Self()
	if err != nil {
		return nil, nil
	}
	stat, err := proc.Stat()
	if err != nil {
		return nil, nil
	}
	if _, err := proc.FileDescriptorsLen(); err != nil {
		return nil, nil
	}
	startUnix, err := stat.StartTime()
	if err != nil {
		return nil, nil
	}

	p := &processMetrics{proc: proc, base: time.Now()}
	start := time.Unix(0, int64(startUnix*float64(time.Second)))
	p.uptimeAtBase = max(p.base.Sub(start), 0)

	var errs []error
	p.cpu, err = processconv.NewCPUTime(m)
	errs = append(errs, err)
	p.rss, err = processconv.NewMemoryUsageObservable(m)
	errs = append(errs, err)
	p.virtual, err = processconv.NewMemoryVirtualObservable(m)
	errs = append(errs, err)
	p.fds, err = processconv.NewUnixFileDescriptorCountObservable(m)
	errs = append(errs, err)
	p.uptime, err = processconv.NewUptimeObservable(m)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("instrument: creating the process metrics: %w", err)
	}
	p.user = metric.WithAttributeSet(attribute.NewSet(p.cpu.AttrCPUMode(processconv.CPUModeUser)))
	p.system = metric.WithAttributeSet(attribute.NewSet(p.cpu.AttrCPUMode(processconv.CPUModeSystem)))
	return p, nil
}

func (p *processMetrics) observables() []metric.Observable {
	return []metric.Observable{p.cpu.Inst(), p.rss.Inst(), p.virtual.Inst(), p.fds.Inst(), p.uptime.Inst()}
}

// observe reports what it can read; the error names what it could not.
func (p *processMetrics) observe(o metric.Observer) error {
	o.ObserveFloat64(p.uptime.Inst(), (p.uptimeAtBase + time.Since(p.base)).Seconds())

	var errs []error
	if stat, err := p.proc.Stat(); err != nil {
		errs = append(errs, fmt.Errorf("instrument: reading process stat: %w", err))
	} else {
		o.ObserveFloat64(p.cpu.Inst(), float64(stat.UTime)/clockTicksPerSecond, p.user)
		o.ObserveFloat64(p.cpu.Inst(), float64(stat.STime)/clockTicksPerSecond, p.system)
		o.ObserveInt64(p.rss.Inst(), int64(stat.ResidentMemory()))
		o.ObserveInt64(p.virtual.Inst(), int64(min(stat.VirtualMemory(), math.MaxInt64)))
	}
	if n, err := p.proc.FileDescriptorsLen(); err != nil {
		errs = append(errs, fmt.Errorf("instrument: counting file descriptors: %w", err))
	} else {
		o.ObserveInt64(p.fds.Inst(), int64(n))
	}
	return errors.Join(errs...)
}

// noLimit is the smallest value read from a cgroup file that means no
// limit. cgroup v1 writes 9223372036854771712 (2^63 rounded down to a
// page) for none; nothing runs on 4 EiB.
const noLimit = 1 << 62

// limitMetrics reports the limits the process runs under: its memory, its
// CPUs, and the machine's memory.
type limitMetrics struct {
	cgroup *cgroupLimits
	fs     procfs.FS
	hasFS  bool
	ncpu   int

	memory metric.Int64ObservableUpDownCounter
	cpu    metric.Float64ObservableUpDownCounter
	system systemconv.MemoryLimitObservable
}

// newLimitMetrics reads the cgroups of the process from procRoot (/proc)
// and sysRoot (/sys); what cannot be read is left out, without error.
func newLimitMetrics(m metric.Meter, procRoot, sysRoot string) (*limitMetrics, error) {
	l := &limitMetrics{cgroup: newCgroupLimits(procRoot, sysRoot), ncpu: goruntime.NumCPU()}
	if fs, err := procfs.NewFS(procRoot); err == nil {
		if _, err := fs.Meminfo(); err == nil {
			l.fs, l.hasFS = fs, true
		}
	}
	var errs []error
	var err error
	l.memory, err = m.Int64ObservableUpDownCounter("process.memory.limit",
		metric.WithUnit("By"),
		metric.WithDescription("Memory the process may use: the smaller of GOMEMLIMIT and its cgroup's memory limit; absent without either."))
	errs = append(errs, err)
	l.cpu, err = m.Float64ObservableUpDownCounter("process.cpu.limit",
		metric.WithUnit("{cpu}"),
		metric.WithDescription("CPUs the process can keep busy: the smallest of GOMAXPROCS, the CPUs it may run on and its cgroup's CPU quota."))
	errs = append(errs, err)
	l.system, err = systemconv.NewMemoryLimitObservable(m)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("instrument: creating the limit metrics: %w", err)
	}
	return l, nil
}

func (l *limitMetrics) observables() []metric.Observable {
	return []metric.Observable{l.memory, l.cpu, l.system.Inst()}
}

// observe reports the limits; goMemLimit is GOMEMLIMIT, math.MaxInt64 for
// none.
func (l *limitMetrics) observe(o metric.Observer, goMemLimit int64) error {
	limit, ok := l.cgroup.memoryLimit()
	if goMemLimit < math.MaxInt64 && (!ok || goMemLimit < limit) {
		limit, ok = goMemLimit, true
	}
	if ok {
		o.ObserveInt64(l.memory, limit)
	}

	cpus := float64(min(goruntime.GOMAXPROCS(0), l.ncpu))
	if quota, ok := l.cgroup.cpuLimit(); ok {
		cpus = min(cpus, quota)
	}
	o.ObserveFloat64(l.cpu, cpus)

	if !l.hasFS {
		return nil
	}
	mi, err := l.fs.Meminfo()
	if err != nil {
		return fmt.Errorf("instrument: reading meminfo: %w", err)
	}
	if mi.MemTotalBytes != nil {
		o.ObserveInt64(l.system.Inst(), int64(min(*mi.MemTotalBytes, math.MaxInt64)))
	}
	return nil
}

// cgroupLimits reads the memory and CPU limits of the cgroups of the
// process: its own and their ancestors, whose limits bind it too. The files
// are found once; their contents are read at each call.
type cgroupLimits struct {
	memory []string   // memory.max (v2), memory.limit_in_bytes (v1)
	cpu    []cpuQuota // cpu.max (v2), cpu.cfs_quota_us and cpu.cfs_period_us (v1)
}

// cpuQuota names the files of one cgroup's CPU quota: max alone (v2,
// "$QUOTA $PERIOD") or quota and period (v1).
type cpuQuota struct {
	max, quota, period string
}

// newCgroupLimits finds the cgroup files of the process from
// procRoot/self/cgroup, under sysRoot/fs/cgroup: for cgroup v2, the
// unified hierarchy's; for v1, those of the memory and cpu controllers.
// Without /proc/self/cgroup, or where its paths are not visible (a v1
// container without its own cgroup namespace), it reads the files at the
// root of each hierarchy, which in a container are the container's.
func newCgroupLimits(procRoot, sysRoot string) *cgroupLimits {
	root := filepath.Join(sysRoot, "fs", "cgroup")
	var v2 string
	memDir, memPath := "memory", "/"
	cpuDir, cpuPath := "cpu", "/"
	if data, err := os.ReadFile(filepath.Join(procRoot, "self", "cgroup")); err == nil {
		for line := range strings.Lines(string(data)) {
			// hierarchy-ID:controller-list:cgroup-path
			id, rest, ok1 := strings.Cut(strings.TrimRight(line, "\n"), ":")
			ctrls, p, ok2 := strings.Cut(rest, ":")
			if !ok1 || !ok2 {
				continue
			}
			if id == "0" && ctrls == "" {
				v2 = p
				continue
			}
			for c := range strings.SplitSeq(ctrls, ",") {
				switch c {
				case "memory":
					memDir, memPath = ctrls, p
				case "cpu":
					cpuDir, cpuPath = ctrls, p
				}
			}
		}
	}
	l := &cgroupLimits{}
	for _, d := range cgroupDirs(root, v2) {
		l.memory = appendIfExists(l.memory, filepath.Join(d, "memory.max"))
		if cpuMax := filepath.Join(d, "cpu.max"); exists(cpuMax) {
			l.cpu = append(l.cpu, cpuQuota{max: cpuMax})
		}
	}
	for _, d := range cgroupDirs(filepath.Join(root, memDir), memPath) {
		l.memory = appendIfExists(l.memory, filepath.Join(d, "memory.limit_in_bytes"))
	}
	for _, d := range cgroupDirs(filepath.Join(root, cpuDir), cpuPath) {
		q := cpuQuota{quota: filepath.Join(d, "cpu.cfs_quota_us"), period: filepath.Join(d, "cpu.cfs_period_us")}
		if exists(q.quota) && exists(q.period) {
			l.cpu = append(l.cpu, q)
		}
	}
	return l
}

// cgroupDirs returns the directory of cgroup path p under the hierarchy
// mounted at root, then those of its ancestors, root last. A p that would
// leave root is cut at root.
func cgroupDirs(root, p string) []string {
	p = path.Clean("/" + p)
	var dirs []string
	for {
		dirs = append(dirs, filepath.Join(root, filepath.FromSlash(p)))
		if p == "/" {
			return dirs
		}
		p = path.Dir(p)
	}
}

func exists(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}

func appendIfExists(names []string, name string) []string {
	if exists(name) {
		return append(names, name)
	}
	return names
}

// memoryLimit returns the smallest memory limit of the cgroups, in bytes,
// and false when none has one.
func (l *cgroupLimits) memoryLimit() (int64, bool) {
	var limit int64
	found := false
	for _, name := range l.memory {
		if v, ok := readLimit(name); ok && (!found || v < limit) {
			limit, found = v, true
		}
	}
	return limit, found
}

// cpuLimit returns the smallest CPU quota of the cgroups, in CPUs, and
// false when none has one.
func (l *cgroupLimits) cpuLimit() (float64, bool) {
	var limit float64
	found := false
	for _, q := range l.cpu {
		var quota, period int64
		var ok bool
		if q.max != "" {
			quota, period, ok = readCPUMax(q.max)
		} else {
			var ok2 bool
			quota, ok = readLimit(q.quota)
			period, ok2 = readLimit(q.period)
			ok = ok && ok2
		}
		if !ok {
			continue
		}
		if v := float64(quota) / float64(period); !found || v < limit {
			limit, found = v, true
		}
	}
	return limit, found
}

// readLimit reads a file holding one limit: a positive integer below
// noLimit. "max", -1 (v1's none for CPU quotas), absurd values and files
// that cannot be read or parsed are no limit.
func readLimit(name string) (int64, bool) {
	data, err := os.ReadFile(name)
	if err != nil {
		return 0, false
	}
	return parseLimit(strings.TrimSpace(string(data)))
}

func parseLimit(s string) (int64, bool) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v <= 0 || v >= noLimit {
		return 0, false
	}
	return v, true
}

// readCPUMax reads cgroup v2's cpu.max, "$QUOTA $PERIOD" in microseconds,
// the quota "max" for none.
func readCPUMax(name string) (quota, period int64, ok bool) {
	data, err := os.ReadFile(name)
	if err != nil {
		return 0, 0, false
	}
	q, p, _ := strings.Cut(strings.TrimSpace(string(data)), " ")
	quota, ok1 := parseLimit(q)
	period, ok2 := parseLimit(p)
	return quota, period, ok1 && ok2
}
