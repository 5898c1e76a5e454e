package instrument

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/prometheus/procfs"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/semconv/v1.43.0/processconv"
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
