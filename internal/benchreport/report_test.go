package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const fixture = `vitals-go: go1.26.8
vitals-commit: abc1234
vitals-count: 3
goos: linux
goarch: amd64
pkg: github.com/vitalsgo/vitals/bizmetrics
cpu: Test CPU
BenchmarkCounter/atomic.Int64.Add-2         	100	         7.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkCounter/atomic.Int64.Add-2         	100	         9.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkCounter/atomic.Int64.Add-2         	100	         8.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkCounter/vitals.BoundCounter.Add-2  	100	        50.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkCounter/vitals.registrations.Add-2 	100	         8.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkCounter/vitals.Cache.Hit-2         	100	         8.0 ns/op	       0 B/op	       0 allocs/op
pkg: github.com/vitalsgo/vitals/instrument
BenchmarkLoopback-2                        	10	 200000000 ns/op	 14 bare-allocs/req	 125000 bare-req/s	 21 vitals-allocs/req	 100000 vitals-req/s
BenchmarkLoopbackGoClient-2                	10	 200000000 ns/op	 61 bare-allocs/req	 62500 bare-req/s	 70 vitals-allocs/req	 58000 vitals-req/s
BenchmarkLoopbackContentType-2             	10	 200000000 ns/op	 19 bare-allocs/req	 110000 bare-req/s	 22 vitals-allocs/req	 102000 vitals-req/s
pkg: github.com/vitalsgo/vitals/internal/promconv
BenchmarkScrape/series=1000/client_golang-2 	20	   1000000 ns/op	 90000 bytes/scrape	 1 B/op	 1 allocs/op
BenchmarkScrape/series=1000/promconv-2      	20	   1500000 ns/op	 90000 bytes/scrape	 1 B/op	 1 allocs/op
pkg: github.com/vitalsgo/vitals
BenchmarkCollectorFault/no-exporter-2       	10	 1 ns/op	 1000 p50-ns	 1500 p99-ns	 5000 req/s
BenchmarkCollectorFault/accepting-2         	10	 1 ns/op	 1000 p50-ns	 2000 p99-ns	 5000 req/s	 8 gc/s
BenchmarkCollectorFault/hanging-2           	10	 1 ns/op	 1000 p50-ns	 2100 p99-ns	 5000 req/s
BenchmarkCollectorFault/down-2              	10	 1 ns/op	 1000 p50-ns	 2600 p99-ns	 5000 req/s
pkg: github.com/vitalsgo/vitals/exporter
BenchmarkCollectExemplars/counters-2        	40	 30000000 ns/op	 0.5 added-%	 58 off-allocs	 10000000 off-ns	 58 trace_based-allocs	 10050000 trace_based-ns
BenchmarkCollectExemplars/histograms-2      	40	 80000000 ns/op	 25 added-%	 30000 off-allocs	 30000000 off-ns	 30600 trace_based-allocs	 37500000 trace_based-ns
BenchmarkExemplarMemory/procs=2/counters/reservoirs=off-2        	3	 1 ns/op	 300 B/series
BenchmarkExemplarMemory/procs=2/counters/reservoirs=vitals-2     	3	 1 ns/op	 350 B/series
BenchmarkExemplarMemory/procs=2/counters/reservoirs=sdk-default-2	3	 1 ns/op	 700 B/series
BenchmarkExemplarMemory/procs=32/counters/reservoirs=off-2       	3	 1 ns/op	 300 B/series
BenchmarkExemplarMemory/procs=32/counters/reservoirs=vitals-2    	3	 1 ns/op	 350 B/series
BenchmarkExemplarMemory/procs=32/counters/reservoirs=sdk-default-2	3	 1 ns/op	 5300 B/series
vitals-elapsed: 5m0s
`

func TestParse(t *testing.T) {
	r, err := parse(strings.NewReader(fixture))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.median("bizmetrics", "BenchmarkCounter/atomic.Int64.Add", "ns/op"); got != 8 {
		t.Errorf("median of 7, 9, 8 = %v, want 8", got)
	}
	if got := r.median("", "BenchmarkCollectorFault/hanging", "p99-ns"); got != 2100 {
		t.Errorf("root package custom unit = %v, want 2100", got)
	}
	if got := r.median("bizmetrics", "BenchmarkMissing", "ns/op"); !math.IsNaN(got) {
		t.Errorf("missing benchmark = %v, want NaN", got)
	}
	if r.meta["cpu"] != "Test CPU" || r.meta["procs"] != "2" || r.meta["vitals-go"] != "go1.26.8" {
		t.Errorf("meta = %v", r.meta)
	}
	if _, err := parse(strings.NewReader("PASS\n")); err == nil {
		t.Error("output without results: no error")
	}
	if _, err := parse(strings.NewReader("BenchmarkX-2 10 abc ns/op\n")); err == nil || !strings.Contains(err.Error(), `"abc"`) {
		t.Errorf("bad value: error %v, want one naming it", err)
	}
}

// TestRender checks each kind of verdict on the fixture: a met target, a
// missed one, and one whose benchmarks did not run.
func TestRender(t *testing.T) {
	r, err := parse(strings.NewReader(fixture))
	if err != nil {
		t.Fatal(err)
	}
	page := render(r)
	for _, want := range []string{
		"| machine | Test CPU, GOMAXPROCS 2, linux/amd64 |",
		"| `/metrics` scrape of 1 000 series | ≤ 2× `client_golang` | 1.50× | met |",
		// 50 ns against an 8 ns atomic add.
		"| bound counter handles (`BoundCounter`, registrations, `Cache.Hit`) | ≤ 5× an atomic add, 0 allocations | 6.25×, 0 allocations | **missed** |",
		"| `/metrics` scrape of 10 000 series | ≤ 2× `client_golang` | — | **not measured** |",
		"worst 1.30× (down) | **missed** |",
		"| accepting (anchor) | 1.0 µs | 2.0 µs | 2.0–2.0 µs | 1.00× | 1.33× | 5 000 | 8 |",
		// A run without the GC figure shows a dash.
		"| no-exporter | 1.0 µs | 1.5 µs | 1.5–1.5 µs | 0.75× | 1.00× | 5 000 | – |",
		"-bench '^BenchmarkCollectorFault$' -benchmem -count 1 -benchtime 3s ./",
		"| runs | median of 3 runs of each benchmark (7 of `^BenchmarkLoopback` in `./instrument/`, 7 of `^BenchmarkCollectorFault$` in `./`, 5 of `^BenchmarkCollectExemplars$` in `./exporter/`); the whole run took 5m0s |",
		// 37.5 ms against 30 ms: 25 % added, over the 20 % target.
		"| 625 request-duration histograms (10 000 bucket series) | 30.0 ms | 37.5 ms | +25 % | 30 000 | 30 600 |",
		"| exemplars on (`trace_based`), collection of 10 000 series | adds ≤ 20 % | counters +0 %, histograms +25 % | **missed** |",
		"| counter | 32 | 300 B | +50 B | +4.9 kB |",
		// The histogram rows are absent from the fixture.
		"| exemplar memory per series | measured and bounded: does not grow with `GOMAXPROCS` | — | **not measured** |",
		"| loopback throughput, Go's client | ≥ 90 % of bare | 93 % | met |",
		"| loopback throughput, minimal client | ≥ 90 % of bare | 80 % | **missed** |",
		"| loopback throughput, minimal client, handler that sets `Content-Type` | ≥ 90 % of bare | 93 % | met |",
		"| **Vitals** | 58 000 req/s | 93 % | 100 000 req/s | 80 % | 102 000 req/s | 93 % |",
		"Vitals adds 7 allocations per request (server and client) to the handler that sets\nno header, 3 to the one",
		"A target missed with the handler that sets no header is missed for that reason",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// TestSuitesNameRealBenchmarks keeps the suite list true to the code: each
// -bench pattern matches a benchmark function in its package.
func TestSuitesNameRealBenchmarks(t *testing.T) {
	for _, s := range suites {
		dir := filepath.Join("..", "..", s.pkg)
		re := regexp.MustCompile(s.bench)
		files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			af, err := parser.ParseFile(token.NewFileSet(), f, src, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range af.Decls {
				if fn, isFunc := d.(*ast.FuncDecl); isFunc && fn.Recv == nil &&
					strings.HasPrefix(fn.Name.Name, "Benchmark") && re.MatchString(fn.Name.Name) {
					found = true
				}
			}
		}
		if !found {
			t.Errorf("%s: no benchmark function matches -bench %q", s.pkg, s.bench)
		}
	}
}

// TestMedianRatio: a ratio measured side by side is taken run by run, so
// that a drift between runs cancels out, where the ratio of the medians
// would not.
func TestMedianRatio(t *testing.T) {
	r, err := parse(strings.NewReader(`pkg: github.com/vitalsgo/vitals/instrument
BenchmarkLoopback-2 	1	 1 ns/op	 100 bare-req/s	 95 vitals-req/s
BenchmarkLoopback-2 	1	 1 ns/op	 50 bare-req/s	 47 vitals-req/s
BenchmarkLoopback-2 	1	 1 ns/op	 80 bare-req/s	 40 vitals-req/s
`))
	if err != nil {
		t.Fatal(err)
	}
	// Ratios 0.95, 0.94, 0.5: the median is 0.94; the medians' ratio,
	// 47/80, would be 0.59.
	if got := r.medianRatio("instrument", "BenchmarkLoopback", "vitals-req/s", "bare-req/s"); math.Abs(got-0.94) > 1e-9 {
		t.Errorf("medianRatio = %v, want 0.94", got)
	}
	if got := r.medianRatio("instrument", "BenchmarkLoopback", "promhttp-req/s", "bare-req/s"); !math.IsNaN(got) {
		t.Errorf("medianRatio of an absent unit = %v, want NaN", got)
	}
}
