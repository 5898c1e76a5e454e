// Command benchreport runs every benchmark that backs a claim in
// docs/benchmarks.md in one run on one machine, anchors beside what they
// anchor, and writes the page anew: each figure with its target and whether
// the target is met.
//
// From the repository root:
//
//	go run ./internal/benchreport
//
// writes docs/benchmarks.md and the raw `go test -bench` output beside it
// (docs/benchmarks.txt, the input benchstat reads). With -from it renders the
// page from a raw file already written, without running anything:
//
//	go run ./internal/benchreport -from docs/benchmarks.txt
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"time"
)

// A suite is one `go test -bench` invocation.
type suite struct {
	pkg      string   // package directory, e.g. "./bizmetrics/"
	bench    string   // the -bench pattern
	args     []string // more flags (benchtime)
	minCount int      // runs at least this many times, whatever -count says
}

// count is how many times s runs when every suite is asked for n.
func (s suite) count(n int) int { return max(n, s.minCount) }

// suites are the invocations, in the order the page shows them.
var suites = []suite{
	{pkg: "./bizmetrics/", bench: "^Benchmark(Counter|Histogram)(Parallel)?$"},
	{pkg: "./exporter/", bench: "^BenchmarkCounterAdd$"},
	{pkg: "./instrument/", bench: "^BenchmarkMiddleware(Tracing)?$"},
	// Server and client share the two cores. Each run loads the handlers'
	// servers in turn, 50 ms each, so that they see the same machine (as
	// separate sub-benchmarks, one run's ratio to bare spread from 62 % to
	// 147 % at 4ab9f20); the page takes the median of 7 runs' ratios.
	{pkg: "./instrument/", bench: "^BenchmarkLoopback", args: []string{"-benchtime", "2s"}, minCount: 7},
	{pkg: "./internal/promconv/", bench: "^BenchmarkScrape$"},
	{pkg: "./exporter/memory/", bench: "."},
	{pkg: "./alerting/", bench: "^BenchmarkEval$"},
	{pkg: "./performance/", bench: "^BenchmarkSummarize$"},
	// A p99 over 3 s moves by about 10 % from run to run, the size of the
	// target: the median of 7 runs.
	{pkg: "./", bench: "^BenchmarkCollectorFault$", args: []string{"-benchtime", "3s"}, minCount: 7},
	// Collections with exemplars off and on alternate in one loop, each
	// after a GC; 40 pairs move by about 5 %: the median of 5 runs.
	{pkg: "./exporter/", bench: "^BenchmarkCollectExemplars$", args: []string{"-benchtime", "40x"}, minCount: 5},
	{pkg: "./exporter/", bench: "^BenchmarkExemplarMemory$", args: []string{"-benchtime", "3x"}},
}

func main() {
	out := flag.String("o", "docs/benchmarks.md", "the page to write")
	rawPath := flag.String("raw", "docs/benchmarks.txt", "where the raw benchmark output is written (with -from: not written)")
	from := flag.String("from", "", "render from this raw output instead of running the benchmarks")
	count := flag.Int("count", 3, "rounds: runs of each benchmark, taken in turn with the others; the page shows medians")
	benchtime := flag.String("benchtime", "", "overrides every suite's -benchtime (e.g. 10x for a quick check of the page, not for figures)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *out, *rawPath, *from, *count, *benchtime); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out, rawPath, from string, count int, benchtime string) error {
	var raw []byte
	if from != "" {
		var err error
		if raw, err = os.ReadFile(from); err != nil {
			return err
		}
	} else {
		if count < 1 {
			return fmt.Errorf("-count %d: want at least 1", count)
		}
		var err error
		if raw, err = runSuites(ctx, count, benchtime, os.Stderr); err != nil {
			return err
		}
		if err := os.WriteFile(rawPath, raw, 0o644); err != nil {
			return err
		}
	}
	res, err := parse(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	return os.WriteFile(out, []byte(render(res)), 0o644)
}

// runSuites runs every suite and returns their output, prefixed with a
// header that records the machine, the Go version and the commit.
func runSuites(ctx context.Context, count int, benchtime string, progress io.Writer) ([]byte, error) {
	var buf bytes.Buffer
	goVersion, err := output(ctx, "go", "env", "GOVERSION")
	if err != nil {
		return nil, err
	}
	commit, _ := output(ctx, "git", "describe", "--always", "--dirty")
	fmt.Fprintf(&buf, "vitals-go: %s\nvitals-commit: %s\nvitals-date: %s\nvitals-count: %d\n",
		goVersion, commit, time.Now().UTC().Format("2006-01-02"), count)
	start := time.Now()
	// Rounds, not -count: each round runs every suite once, so that a slow
	// moment of the machine falls on one run of each variant rather than on
	// all the runs of one, which would skew the comparisons.
	rounds := 0
	for _, s := range suites {
		rounds = max(rounds, s.count(count))
	}
	for round := range rounds {
		for _, s := range suites {
			if round >= s.count(count) {
				continue
			}
			args := s.args
			if benchtime != "" {
				args = append(slices.Clip(args), "-benchtime", benchtime)
			}
			args = append([]string{"test", "-run", "^$", "-bench", s.bench, "-benchmem", "-count", "1"}, args...)
			args = append(args, s.pkg)
			fmt.Fprintf(progress, "round %d/%d: go %s\n", round+1, rounds, strings.Join(args, " "))
			cmd := exec.CommandContext(ctx, "go", args...)
			var out bytes.Buffer
			cmd.Stdout = &out
			cmd.Stderr = progress
			if err := cmd.Run(); err != nil {
				_, _ = progress.Write(out.Bytes())
				return nil, fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
			}
			buf.Write(out.Bytes())
		}
	}
	fmt.Fprintf(&buf, "vitals-elapsed: %s\n", time.Since(start).Round(time.Second))
	return buf.Bytes(), nil
}

func output(ctx context.Context, name string, args ...string) (string, error) {
	b, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, ee.Stderr)
		}
		return "", fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(b)), nil
}
