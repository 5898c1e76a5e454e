package healthcheck

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// Memory checks the Go memory in use (what the go.memory.used metric
// reports: all memory mapped by the Go runtime less what it released)
// against a limit: warn above warnAbove, fail above failAbove (fractions of
// the limit, for example 0.8 and 0.95).
// limit is in bytes; 0 means the GOMEMLIMIT soft limit. With no limit at
// all the check passes and reports the memory in use.
func Memory(warnAbove, failAbove float64, limit uint64) Checker {
	samples := []metrics.Sample{
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
	}
	var mu sync.Mutex
	return ResultFunc(func(context.Context) Result {
		mu.Lock()
		metrics.Read(samples)
		used := samples[0].Value.Uint64() - samples[1].Value.Uint64()
		mu.Unlock()
		lim := limit
		if lim == 0 {
			if l := debug.SetMemoryLimit(-1); l > 0 && l != math.MaxInt64 {
				lim = uint64(l)
			}
		}
		res := Result{Status: StatusPass, ObservedValue: used, ObservedUnit: "By"}
		if lim == 0 {
			return res
		}
		frac := float64(used) / float64(lim)
		switch {
		case frac > failAbove:
			res.Status = StatusFail
		case frac > warnAbove:
			res.Status = StatusWarn
		}
		if res.Status != StatusPass {
			res.Output = fmt.Sprintf("Go memory %d bytes is %.0f%% of the %d-byte limit", used, 100*frac, lim)
		}
		return res
	})
}

// Goroutines checks the number of goroutines: warn above warnAbove, fail
// above failAbove.
func Goroutines(warnAbove, failAbove int) Checker {
	return ResultFunc(func(context.Context) Result {
		n := runtime.NumGoroutine()
		res := Result{Status: StatusPass, ObservedValue: n, ObservedUnit: "{goroutine}"}
		switch {
		case n > failAbove:
			res.Status = StatusFail
		case n > warnAbove:
			res.Status = StatusWarn
		}
		if res.Status != StatusPass {
			res.Output = fmt.Sprintf("%d goroutines", n)
		}
		return res
	})
}

// SchedulerLatency checks the 99th percentile of the time goroutines wait
// to run (runtime/metrics /sched/latencies:seconds) since the previous run
// of the check: warn above warnAbove, fail above failAbove. It is the Go
// analogue of an event loop's lag.
func SchedulerLatency(warnAbove, failAbove time.Duration) Checker {
	sample := []metrics.Sample{{Name: "/sched/latencies:seconds"}}
	var mu sync.Mutex
	var prev []uint64
	return ResultFunc(func(context.Context) Result {
		mu.Lock()
		metrics.Read(sample)
		h := sample[0].Value.Float64Histogram()
		counts := make([]uint64, len(h.Counts))
		for i, c := range h.Counts {
			counts[i] = c
			if i < len(prev) {
				counts[i] -= prev[i]
			}
		}
		prev = append(prev[:0], h.Counts...)
		mu.Unlock()
		p99 := quantile(0.99, h.Buckets, counts)
		res := Result{Status: StatusPass, ObservedValue: p99.Seconds(), ObservedUnit: "s"}
		switch {
		case p99 > failAbove:
			res.Status = StatusFail
		case p99 > warnAbove:
			res.Status = StatusWarn
		}
		if res.Status != StatusPass {
			res.Output = fmt.Sprintf("scheduler latency p99 %v", p99)
		}
		return res
	})
}

// quantile returns the upper bound of the bucket holding quantile q of a
// runtime/metrics histogram (buckets has one more entry than counts).
func quantile(q float64, buckets []float64, counts []uint64) time.Duration {
	var total uint64
	for _, c := range counts {
		total += c
	}
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i, c := range counts {
		seen += c
		if seen >= rank {
			upper := buckets[i+1]
			if math.IsInf(upper, 1) {
				upper = buckets[i]
			}
			return time.Duration(upper * float64(time.Second))
		}
	}
	return 0
}

// SQLPing checks that db answers a ping.
func SQLPing(db *sql.DB) Checker {
	return CheckFunc(db.PingContext)
}

// HTTPGet checks that GET url answers with a 2xx or 3xx status through
// client (http.DefaultClient when nil; redirects are not followed). The
// check's timeout bounds the request.
func HTTPGet(client *http.Client, url string) Checker {
	if client == nil {
		client = http.DefaultClient
	}
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return ResultFunc(func(ctx context.Context) Result {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return Result{Status: StatusFail, Output: err.Error()}
		}
		start := time.Now()
		resp, err := c.Do(req)
		if err != nil {
			return Result{Status: StatusFail, Output: err.Error()}
		}
		resp.Body.Close()
		res := Result{Status: StatusPass, ObservedValue: time.Since(start).Seconds(), ObservedUnit: "s"}
		if resp.StatusCode >= 400 {
			res.Status = StatusFail
			res.Output = fmt.Sprintf("GET %s: %s", url, resp.Status)
		}
		return res
	})
}

// TCPDial checks that a TCP connection to addr ("host:port") opens.
func TCPDial(addr string) Checker {
	return CheckFunc(func(ctx context.Context) error {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return conn.Close()
	})
}
