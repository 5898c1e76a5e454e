package instrument

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime/metrics"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/runtime"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/vitalsgo/vitals/internal/lifecycle"
)

// The runtime/metrics Vitals reads itself, at every collection.
const (
	gcPausesName = "/sched/pauses/total/gc:seconds" // histogram of GC stop-the-world pauses
	heapLiveName = "/gc/heap/live:bytes"            // heap marked live by the last GC
	memLimitName = "/gc/gomemlimit:bytes"           // GOMEMLIMIT, math.MaxInt64 when unset
)

// RuntimeOption configures StartRuntime. WithMeterProvider configures it
// too.
type RuntimeOption interface {
	applyRuntime(runtimeConfig) runtimeConfig
}

type runtimeConfig struct {
	meterProvider   metric.MeterProvider
	minReadInterval time.Duration
	process         bool
	// procRoot and sysRoot are where procfs and sysfs are mounted; tests
	// point them at directories of their own.
	procRoot, sysRoot string
}

func newRuntimeConfig(opts []RuntimeOption) runtimeConfig {
	c := runtimeConfig{process: true, procRoot: "/proc", sysRoot: "/sys"}
	for _, o := range opts {
		if o != nil {
			c = o.applyRuntime(c)
		}
	}
	if c.meterProvider == nil {
		c.meterProvider = otel.GetMeterProvider()
	}
	return c
}

type runtimeOptionFunc func(runtimeConfig) runtimeConfig

func (f runtimeOptionFunc) applyRuntime(c runtimeConfig) runtimeConfig { return f(c) }

// WithMinimumReadInterval sets the minimum time between two reads of the
// runtime by the contrib runtime instrumentation (its
// WithMinimumReadMemStatsInterval): collections closer together than d
// report the values of the previous read. It does not apply to the GC
// pause, live heap, limit and process metrics, read at every collection,
// nor to RuntimeProducer. Values of zero or less are ignored. By default,
// runtime.DefaultMinimumReadMemStatsInterval (15 s).
func WithMinimumReadInterval(d time.Duration) RuntimeOption {
	return runtimeOptionFunc(func(c runtimeConfig) runtimeConfig {
		if d > 0 {
			c.minReadInterval = d
		}
		return c
	})
}

// WithoutProcess leaves out the process metrics read from /proc (CPU time,
// memory, file descriptors, uptime), for example when another component
// already reports them. The limits (process.memory.limit,
// process.cpu.limit, system.memory.limit) stay: no other component reports
// them, and the default alert rules divide by them. By default, the process
// metrics are reported wherever /proc can be read (Linux).
func WithoutProcess() RuntimeOption {
	return runtimeOptionFunc(func(c runtimeConfig) runtimeConfig {
		c.process = false
		return c
	})
}

// ErrShutdown is returned by Runtime.Shutdown after the first call. It is
// the one value of every Vitals component (vitals.ErrShutdown).
var ErrShutdown = lifecycle.ErrShutdown

// Runtime reports Go runtime and process metrics; StartRuntime starts it
// and Shutdown stops the part of it that can be stopped. It is safe for
// concurrent use.
type Runtime struct {
	reg  metric.Registration
	once sync.Once
	err  error
}

// StartRuntime reports the vital signs of the Go runtime and of the process,
// read at collection time (it starts no goroutine): the Go runtime's
// memory, goroutines and GC, GC pause time and live heap, the memory and
// CPU limits the process runs under (GOMEMLIMIT, GOMAXPROCS and its
// cgroup's), and on Linux the process' CPU time, memory, file descriptors
// and uptime. The package documentation lists each metric. They are
// recorded with the provider of WithMeterProvider, by default the OTel
// global one, as by Middleware. Call it once per MeterProvider.
func StartRuntime(opts ...RuntimeOption) (*Runtime, error) {
	return startRuntime(newRuntimeConfig(opts))
}

func startRuntime(cfg runtimeConfig) (*Runtime, error) {
	mp := cfg.meterProvider
	meter := mp.Meter(ScopeName)

	gm, err := newGoMetrics(meter)
	if err != nil {
		return nil, err
	}
	lim, err := newLimitMetrics(meter, cfg.procRoot, cfg.sysRoot)
	if err != nil {
		return nil, err
	}
	var proc *processMetrics
	if cfg.process {
		if proc, err = newProcessMetrics(meter); err != nil {
			return nil, err
		}
	}
	insts := append(gm.observables(), lim.observables()...)
	if proc != nil {
		insts = append(insts, proc.observables()...)
	}
	r := &Runtime{}
	r.reg, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		goMemLimit := gm.observe(o)
		errs := []error{lim.observe(o, goMemLimit)}
		if proc != nil {
			errs = append(errs, proc.observe(o))
		}
		return errors.Join(errs...)
	}, insts...)
	if err != nil {
		return nil, fmt.Errorf("instrument: registering the runtime callback: %w", err)
	}

	// Last: what contrib starts cannot be undone.
	contribOpts := []runtime.Option{runtime.WithMeterProvider(mp)}
	if cfg.minReadInterval > 0 {
		contribOpts = append(contribOpts, runtime.WithMinimumReadMemStatsInterval(cfg.minReadInterval))
	}
	if err := runtime.Start(contribOpts...); err != nil {
		_ = r.reg.Unregister()
		return nil, fmt.Errorf("instrument: starting the Go runtime metrics: %w", err)
	}
	return r, nil
}

// Shutdown stops reporting the GC pause, live heap, limit and process
// metrics: they are absent from the next collection. The Go runtime metrics
// of contrib cannot be stopped and go on until the MeterProvider shuts
// down. It does not block, so ctx is never waited on. Calls after the first
// return ErrShutdown.
func (r *Runtime) Shutdown(ctx context.Context) error {
	err := ErrShutdown
	r.once.Do(func() {
		err = nil
		if r.reg != nil {
			if uerr := r.reg.Unregister(); uerr != nil {
				err = fmt.Errorf("instrument: unregistering the runtime callback: %w", uerr)
			}
		}
	})
	return err
}

// RuntimeProducer returns the producer of go.schedule.duration, the time
// goroutines spent runnable before they ran. The runtime aggregates it as a
// histogram, which reaches readers only as a producer: register it on every
// reader (see "Runtime metrics" in the package documentation). It is safe
// for concurrent readers.
func RuntimeProducer() sdkmetric.Producer {
	return newRuntimeProducer()
}

func newRuntimeProducer(opts ...runtime.ProducerOption) *runtimeProducer {
	return &runtimeProducer{p: runtime.NewProducer(opts...)}
}

// runtimeProducer serialises contrib's producer and copies what it
// returns. Contrib's Produce hands out the bucket slices of its own
// runtime/metrics read buffer, which its next read overwrites in place, and
// reads the time of that read after releasing its lock: two readers
// collecting at once (the in-memory reader's tick and a /metrics scrape)
// would each see the other's read change the histogram under them.
type runtimeProducer struct {
	mu sync.Mutex
	p  *runtime.Producer
}

// Produce returns the scheduler latency histogram, in slices of its own.
func (r *runtimeProducer) Produce(ctx context.Context) ([]metricdata.ScopeMetrics, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sms, err := r.p.Produce(ctx)
	for i := range sms {
		for j := range sms[i].Metrics {
			h, ok := sms[i].Metrics[j].Data.(metricdata.Histogram[float64])
			if !ok {
				continue
			}
			for k := range h.DataPoints {
				dp := &h.DataPoints[k] // DataPoints is new at each call; its slices are not
				dp.Bounds = slices.Clone(dp.Bounds)
				dp.BucketCounts = slices.Clone(dp.BucketCounts)
			}
		}
	}
	return sms, err
}

// goMetrics reports the GC pause time and the live heap, and reads
// GOMEMLIMIT for the limits, from runtime/metrics, into samples allocated
// once.
type goMetrics struct {
	pauseTime metric.Float64ObservableCounter     // nil when the runtime lacks the pause histogram
	heapLive  metric.Int64ObservableUpDownCounter // nil when the runtime lacks the live heap

	mu      sync.Mutex // readers may collect concurrently
	samples [3]metrics.Sample
}

func newGoMetrics(m metric.Meter) (*goMetrics, error) {
	g := &goMetrics{samples: [3]metrics.Sample{{Name: gcPausesName}, {Name: heapLiveName}, {Name: memLimitName}}}
	metrics.Read(g.samples[:]) // sizes the histogram once
	var err error
	if g.samples[0].Value.Kind() == metrics.KindFloat64Histogram {
		g.pauseTime, err = m.Float64ObservableCounter("go.memory.gc.pause.time",
			metric.WithUnit("s"),
			metric.WithDescription("Time the program was stopped for garbage collection, estimated from the runtime's pause histogram."))
		if err != nil {
			return nil, fmt.Errorf("instrument: creating go.memory.gc.pause.time: %w", err)
		}
	}
	if g.samples[1].Value.Kind() == metrics.KindUint64 {
		g.heapLive, err = m.Int64ObservableUpDownCounter("go.memory.heap.live",
			metric.WithUnit("By"),
			metric.WithDescription("Heap memory occupied by objects the last garbage collection found reachable."))
		if err != nil {
			return nil, fmt.Errorf("instrument: creating go.memory.heap.live: %w", err)
		}
	}
	return g, nil
}

func (g *goMetrics) observables() []metric.Observable {
	var out []metric.Observable
	if g.pauseTime != nil {
		out = append(out, g.pauseTime)
	}
	if g.heapLive != nil {
		out = append(out, g.heapLive)
	}
	return out
}

// observe reports what it reads and returns GOMEMLIMIT, math.MaxInt64 when
// none is set (or the runtime does not say).
func (g *goMetrics) observe(o metric.Observer) (goMemLimit int64) {
	g.mu.Lock()
	metrics.Read(g.samples[:])
	var pauses float64
	if g.pauseTime != nil {
		pauses = pauseSeconds(g.samples[0].Value.Float64Histogram())
	}
	var live uint64
	if g.heapLive != nil {
		live = g.samples[1].Value.Uint64()
	}
	goMemLimit = math.MaxInt64
	if g.samples[2].Value.Kind() == metrics.KindUint64 {
		goMemLimit = int64(min(g.samples[2].Value.Uint64(), math.MaxInt64))
	}
	g.mu.Unlock()
	if g.pauseTime != nil {
		o.ObserveFloat64(g.pauseTime, pauses)
	}
	if g.heapLive != nil {
		o.ObserveInt64(g.heapLive, int64(min(live, math.MaxInt64)))
	}
	return goMemLimit
}

// pauseSeconds estimates the sum of the observations of a runtime
// histogram, counting each as the middle of its bucket. Bucket i is
// [Buckets[i], Buckets[i+1]); the first and last may be unbounded, and
// count there as their finite bound. The estimate never decreases as counts
// grow, as a counter must not.
func pauseSeconds(h *metrics.Float64Histogram) float64 {
	var sum float64
	for i, n := range h.Counts {
		if n == 0 {
			continue
		}
		lo, hi := h.Buckets[i], h.Buckets[i+1]
		var v float64
		switch {
		case math.IsInf(lo, -1):
			v = max(hi, 0)
		case math.IsInf(hi, +1):
			v = lo
		default:
			v = lo + (hi-lo)/2
		}
		sum += v * float64(n)
	}
	return sum
}
