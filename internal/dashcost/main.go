// Command dashcost measures what an open dashboard costs the service it
// watches: it builds the example shop, starts two copies under the same
// generated load, opens the dashboard of one in Debian's headless Chromium
// (which polls it every 5 s, as a browser tab does), and samples the
// resident memory of both for a while. It then times the performance
// summary of the watched copy over its default window.
//
// From the repository root:
//
//	go run ./internal/dashcost -duration 10m
//
// It prints one line per sample and a summary; docs/benchmarks.md records
// the summary. Only 127.0.0.1 is used.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func main() {
	duration := flag.Duration("duration", 10*time.Minute, "how long the dashboard stays open")
	every := flag.Duration("every", 10*time.Second, "how often resident memory is sampled")
	rate := flag.Float64("rate", 20, "requests per second of each shop's load")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *duration, *every, *rate); err != nil {
		fmt.Fprintln(os.Stderr, "dashcost:", err)
		os.Exit(1)
	}
}

// shop is one running copy of the example.
type shop struct {
	cmd  *exec.Cmd
	base string
}

func startShop(ctx context.Context, bin string, rate float64) (*shop, error) {
	cmd := exec.CommandContext(ctx, bin, "-addr", "127.0.0.1:0", "-load", "-rate", strconv.FormatFloat(rate, 'f', -1, 64))
	cmd.Env = append(os.Environ(), "OTEL_EXPORTER_OTLP_ENDPOINT=", "OTEL_METRICS_EXPORTER=")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if addr, ok := strings.CutPrefix(sc.Text(), "shop listening on "); ok {
			go func() { _, _ = io.Copy(io.Discard, out) }()
			return &shop{cmd: cmd, base: strings.TrimSpace(addr)}, nil
		}
	}
	_ = cmd.Process.Kill()
	return nil, errors.New("the shop exited before it listened")
}

// rss returns the resident memory of pid in bytes, from /proc.
func rss(pid int) (int64, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS")
}

func run(ctx context.Context, duration, every time.Duration, rate float64) error {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		return fmt.Errorf("chromium is needed (apt-get install -y chromium): %w", err)
	}
	tmp, err := os.MkdirTemp("", "dashcost-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "shop")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./examples/shop")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building the shop: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watched, err := startShop(ctx, bin, rate)
	if err != nil {
		return err
	}
	alone, err := startShop(ctx, bin, rate)
	if err != nil {
		return err
	}
	browser := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu",
		"--user-data-dir="+filepath.Join(tmp, "chromium"), watched.base+"/monitoring/")
	if err := browser.Start(); err != nil {
		return err
	}
	fmt.Printf("watched %s (dashboard open), alone %s, for %v\n", watched.base, alone.base, duration)

	var sumW, sumA float64
	var maxW, maxA int64
	n := 0
	tick := time.NewTicker(every)
	defer tick.Stop()
	deadline := time.Now().Add(duration)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		w, err := rss(watched.cmd.Process.Pid)
		if err != nil {
			return err
		}
		a, err := rss(alone.cmd.Process.Pid)
		if err != nil {
			return err
		}
		fmt.Printf("%s  watched %6.1f MB  alone %6.1f MB\n", time.Now().Format(time.TimeOnly), float64(w)/1e6, float64(a)/1e6)
		// The second half: both have warmed up.
		if time.Until(deadline) < duration/2 {
			sumW += float64(w)
			sumA += float64(a)
			maxW, maxA = max(maxW, w), max(maxA, a)
			n++
		}
	}
	if n == 0 {
		return errors.New("no samples in the second half: make -duration longer than 2 × -every")
	}
	meanW, meanA := sumW/float64(n), sumA/float64(n)
	fmt.Printf("resident memory over the second half (%d samples): watched mean %.1f MB (max %.1f), alone mean %.1f MB (max %.1f): %+.1f %%\n",
		n, meanW/1e6, float64(maxW)/1e6, meanA/1e6, float64(maxA)/1e6, 100*(meanW/meanA-1))

	// The summary the dashboard asks for, timed from outside.
	var best time.Duration
	for range 5 {
		start := time.Now()
		resp, err := http.Get(watched.base + "/monitoring/api/performance")
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /monitoring/api/performance: %s", resp.Status)
		}
		if d := time.Since(start); best == 0 || d < best {
			best = d
		}
	}
	fmt.Printf("GET /monitoring/api/performance (default window) on the watched shop: fastest of 5 %v\n", best.Round(100*time.Microsecond))
	return nil
}
