package vitals_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vitalsgo/vitals"
)

// BenchmarkQueryUnderSlowClients measures the monitoring API while
// anonymous clients hold connections open sending query bodies slowly (the
// headers and a Content-Length of 60 000, then 7 bytes), against the same
// service without them. Each iteration is one PromQL query
// (POST /monitoring/api/query) and one performance summary
// (GET /monitoring/api/performance); it reports their median and 99th
// percentile latency and the live heap with the attackers connected. Before
// the query slots were taken after the body was read, 4 such clients made
// every PromQL endpoint wait for them. The heavy variant has 4 anonymous
// clients looping on a costly query (86 400 subquery steps) instead, which
// fill the query slots: the performance summary has slots of its own.
//
//	go test -run '^$' -bench QueryUnderSlowClients -benchtime 300x .
func BenchmarkQueryUnderSlowClients(b *testing.B) {
	for _, tc := range []struct {
		attackers, heavy int
	}{{0, 0}, {4, 0}, {64, 0}, {0, 4}} {
		attackers := tc.attackers
		name := fmt.Sprintf("slow-clients-%d", attackers)
		if tc.heavy > 0 {
			name = fmt.Sprintf("heavy-queries-%d", tc.heavy)
		}
		b.Run(name, func(b *testing.B) {
			vitals.CleanEnv(b)
			v, err := vitals.Start(b.Context(), vitals.WithLogger(slog.New(slog.DiscardHandler)))
			if err != nil {
				b.Fatal(err)
			}
			srv := httptest.NewServer(v.Handler())
			b.Cleanup(func() {
				srv.CloseClientConnections()
				srv.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = v.Shutdown(ctx)
			})
			for range attackers {
				c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { c.Close() })
				if _, err := io.WriteString(c, "POST /monitoring/api/query HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 60000\r\n\r\nquery=u"); err != nil {
					b.Fatal(err)
				}
			}
			client, closeIdle := keepAliveClient()
			b.Cleanup(closeIdle)
			heavy := url.Values{"query": {`sum(count_over_time(vector(1)[30d:30s]))`}}
			stop := make(chan struct{})
			done := make(chan struct{}, tc.heavy)
			for range tc.heavy {
				go func() {
					defer func() { done <- struct{}{} }()
					for {
						select {
						case <-stop:
							return
						default:
						}
						resp, err := http.PostForm(srv.URL+"/monitoring/api/query", heavy)
						if err != nil {
							return
						}
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				}()
			}
			b.Cleanup(func() {
				close(stop)
				for range tc.heavy {
					<-done
				}
			})
			form := url.Values{"query": {`sum(rate(go_memory_allocated_bytes_total[1m]))`}}.Encode()
			call := func(req func() (*http.Response, error)) time.Duration {
				t0 := time.Now()
				resp, err := req()
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
				return time.Since(t0)
			}
			query := func() (*http.Response, error) {
				return client.Post(srv.URL+"/monitoring/api/query", "application/x-www-form-urlencoded", strings.NewReader(form))
			}
			perf := func() (*http.Response, error) { return client.Get(srv.URL + "/monitoring/api/performance") }
			var q, p []time.Duration
			for b.Loop() {
				if tc.heavy == 0 { // else it waits for the heavy ones, by design
					q = append(q, call(query))
				}
				p = append(p, call(perf))
			}
			b.StopTimer()
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			slices.Sort(q)
			slices.Sort(p)
			if len(q) > 0 {
				b.ReportMetric(float64(q[len(q)/2].Microseconds()), "query-p50-µs")
				b.ReportMetric(float64(q[len(q)*99/100].Microseconds()), "query-p99-µs")
			}
			b.ReportMetric(float64(p[len(p)/2].Microseconds()), "perf-p50-µs")
			b.ReportMetric(float64(p[len(p)*99/100].Microseconds()), "perf-p99-µs")
			b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MB")
		})
	}
}
