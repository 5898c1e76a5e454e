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
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// gcPausesName is the runtime/metrics histogram of GC stop-the-world pauses.
const gcPausesName = "/sched/pauses/total/gc:seconds"

// RuntimeOption configures StartRuntime.
type RuntimeOption interface {
	apply(runtimeConfig) runtimeConfig
}

type runtimeConfig struct {
	minReadInterval time.Duration
	process         bool
}

func newRuntimeConfig(opts []RuntimeOption) runtimeConfig {
	c := runtimeConfig{process: true}
	for _, o := range opts {
		if o != nil {
			c = o.apply(c)
		}
	}
	return c
}

type runtimeOptionFunc func(runtimeConfig) runtimeConfig

func (f runtimeOptionFunc) apply(c runtimeConfig) runtimeConfig { return f(c) }

// WithMinimumReadInterval sets the minimum time between two reads of the
// runtime by the contrib runtime instrumentation (its
// WithMinimumReadMemStatsInterval): collections closer together than d
// report the values of the previous read. It does not apply to the GC pause
// and process metrics, read at every collection, nor to RuntimeProducer.
// Values of zero or less are ignored. By default,
// runtime.DefaultMinimumReadMemStatsInterval (15 s).
func WithMinimumReadInterval(d time.Duration) RuntimeOption {
	return runtimeOptionFunc(func(c runtimeConfig) runtimeConfig {
		if d > 0 {
			c.minReadInterval = d
		}
		return c
	})
}

// WithoutProcess leaves out the process metrics (CPU time, memory, file
// descriptors, uptime), for example when another component already reports
// them. By default, they are reported wherever /proc can be read (Linux).
func WithoutProcess() RuntimeOption {
	return runtimeOptionFunc(func(c runtimeConfig) runtimeConfig {
		c.process = false
		return c
	})
}

// Runtime reports Go runtime and process metrics; StartRuntime starts it
// and Stop stops the part of it that can be stopped. It is safe for
// concurrent use.
type Runtime struct {
	reg  metric.Registration
	once sync.Once
	err  error
}

// StartRuntime reports the vital signs of the Go runtime and of the process
// through mp. They are read at collection time: StartRuntime starts no
// goroutine.
//
// # Go runtime
//
// Through go.opentelemetry.io/contrib/instrumentation/runtime (scope
// runtime.ScopeName), as the semantic conventions name them, with their
// names on /metrics:
//
//	go.memory.used          By           go_memory_used_bytes{go_memory_type="stack"|"other"}
//	go.memory.limit         By           go_memory_limit_bytes (only with a limit: GOMEMLIMIT)
//	go.memory.allocated     By           go_memory_allocated_bytes_total
//	go.memory.allocations   {allocation} go_memory_allocations_total
//	go.memory.gc.goal       By           go_memory_gc_goal_bytes
//	go.goroutine.count      {goroutine}  go_goroutine_count
//	go.processor.limit      {thread}     go_processor_limit (GOMAXPROCS)
//	go.config.gogc          %            go_config_gogc_percent
//
// These are read at most every 15 s (see WithMinimumReadInterval). The
// contrib instrumentation has no way to stop: they are reported until mp
// shuts down, even after Stop, so call StartRuntime once per MeterProvider
// (after a second call, the SDK would add up both calls' observations and
// report most values doubled). Contrib also reads the environment:
// OTEL_GO_X_DEPRECATED_RUNTIME_METRICS=true adds its deprecated runtime.go.*
// metrics.
//
// Scheduler latency, go.schedule.duration, is a histogram the runtime
// aggregates itself: it comes from RuntimeProducer, registered on each
// reader, not from StartRuntime.
//
// # GC pauses
//
//	go.memory.gc.pause.time s go_memory_gc_pause_time_seconds_total
//
// The total time the world was stopped for garbage collection, from
// runtime/metrics /sched/pauses/total/gc:seconds: a cumulative counter, as
// the semantic conventions' dotnet.gc.pause.time, so that
// rate(go_memory_gc_pause_time_seconds_total[5m]) is the fraction of time
// the program was paused. The runtime keeps a histogram of pause lengths,
// not their sum: each pause counts as the middle of its bucket, which puts
// the total within about 12 % of the truth (the buckets are a quarter of a
// power of two wide). The histogram itself, the opt-in semantic convention
// go.memory.gc.pause.duration, is not reported: a histogram the runtime
// aggregates can only be a reader's Producer, which Stop could not remove,
// and the Go team points to go.schedule.duration as the better signal of a
// program kept from running.
//
// # Process
//
// On Linux, read from /proc with github.com/prometheus/procfs, all in one
// callback, as the semantic conventions name them:
//
//	process.cpu.time                    s                 process_cpu_time_seconds_total{cpu_mode="user"|"system"}
//	process.memory.usage                By                process_memory_usage_bytes (resident set)
//	process.memory.virtual              By                process_memory_virtual_bytes
//	process.unix.file_descriptor.count  {file_descriptor} process_unix_file_descriptor_count
//	process.uptime                      s                 process_uptime_seconds
//
// Where /proc cannot be read (other systems), they are left out and
// StartRuntime does not fail. WithoutProcess leaves them out everywhere.
//
// The GC pause and process metrics have the scope ScopeName; Stop removes
// them.
func StartRuntime(mp metric.MeterProvider, opts ...RuntimeOption) (*Runtime, error) {
	if mp == nil {
		return nil, errors.New("instrument: StartRuntime: nil MeterProvider")
	}
	cfg := newRuntimeConfig(opts)
	meter := mp.Meter(ScopeName)

	gc, err := newGCPauses(meter)
	if err != nil {
		return nil, err
	}
	var proc *processMetrics
	if cfg.process {
		if proc, err = newProcessMetrics(meter); err != nil {
			return nil, err
		}
	}
	var insts []metric.Observable
	if gc != nil {
		insts = append(insts, gc.time)
	}
	if proc != nil {
		insts = append(insts, proc.observables()...)
	}
	r := &Runtime{}
	if len(insts) > 0 {
		r.reg, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
			if gc != nil {
				gc.observe(o)
			}
			if proc != nil {
				return proc.observe(o)
			}
			return nil
		}, insts...)
		if err != nil {
			return nil, fmt.Errorf("instrument: registering the runtime callback: %w", err)
		}
	}

	// Last: what contrib starts cannot be undone.
	contribOpts := []runtime.Option{runtime.WithMeterProvider(mp)}
	if cfg.minReadInterval > 0 {
		contribOpts = append(contribOpts, runtime.WithMinimumReadMemStatsInterval(cfg.minReadInterval))
	}
	if err := runtime.Start(contribOpts...); err != nil {
		if r.reg != nil {
			_ = r.reg.Unregister()
		}
		return nil, fmt.Errorf("instrument: starting the Go runtime metrics: %w", err)
	}
	return r, nil
}

// Stop stops reporting the GC pause and process metrics: they are absent
// from the next collection. The Go runtime metrics of contrib cannot be
// stopped and go on until the MeterProvider shuts down. Calls after the
// first do nothing and return nil.
func (r *Runtime) Stop() error {
	err := error(nil)
	r.once.Do(func() {
		if r.reg != nil {
			if uerr := r.reg.Unregister(); uerr != nil {
				err = fmt.Errorf("instrument: unregistering the runtime callback: %w", uerr)
			}
		}
	})
	return err
}

// RuntimeProducer returns the producer of go.schedule.duration (on
// /metrics go_schedule_duration_seconds_bucket, _sum and _count): the time
// goroutines spent runnable before they ran, the Go analogue of an event
// loop's lag. The runtime aggregates it as a histogram (from
// /sched/latencies:seconds, with its own bucket boundaries, about 160 of
// them), so it reaches readers as an sdkmetric.Producer rather than through
// a MeterProvider. Register it on every reader: exporter.WithProducer for
// the readers exporter.New builds, memory.WithProducer for the in-memory
// reader, sdkmetric.WithProducer for others. One producer may serve several
// readers, collecting concurrently: each gets its own copy of the
// histogram. It reads the runtime at most every 15 s and reports the
// previous read in between. It is contrib's runtime.NewProducer, made safe
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

// gcPauses reports the total GC pause time from the runtime's pause
// histogram, read into a sample allocated once.
type gcPauses struct {
	time metric.Float64ObservableCounter

	mu     sync.Mutex // readers may collect concurrently
	sample [1]metrics.Sample
}

// newGCPauses returns nil when the runtime does not know the histogram.
func newGCPauses(m metric.Meter) (*gcPauses, error) {
	g := &gcPauses{sample: [1]metrics.Sample{{Name: gcPausesName}}}
	metrics.Read(g.sample[:]) // sizes the histogram once
	if g.sample[0].Value.Kind() != metrics.KindFloat64Histogram {
		return nil, nil
	}
	var err error
	g.time, err = m.Float64ObservableCounter("go.memory.gc.pause.time",
		metric.WithUnit("s"),
		metric.WithDescription("Time the program was stopped for garbage collection, estimated from the runtime's pause histogram."))
	if err != nil {
		return nil, fmt.Errorf("instrument: creating go.memory.gc.pause.time: %w", err)
	}
	return g, nil
}

func (g *gcPauses) observe(o metric.Observer) {
	g.mu.Lock()
	metrics.Read(g.sample[:])
	total := pauseSeconds(g.sample[0].Value.Float64Histogram())
	g.mu.Unlock()
	o.ObserveFloat64(g.time, total)
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
