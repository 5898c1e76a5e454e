package ratelog

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vitalsgo/vitals/clock/clocktest"
	"github.com/vitalsgo/vitals/internal/logtest"
)

func TestLimiterSuppressesRepeats(t *testing.T) {
	var buf bytes.Buffer
	clk := clocktest.New(time.Unix(0, 0))
	l := New(slog.New(slog.NewTextHandler(&buf, nil)), "export failed", time.Minute, clk)

	errA := errors.New("context deadline exceeded")
	if !l.Handle(errA) {
		t.Fatal("first occurrence was not logged")
	}
	for range 1000 {
		if l.Handle(errA) {
			t.Fatal("repeat within the interval was logged")
		}
	}
	if !l.Handle(errors.New("connection refused")) {
		t.Error("a different message was held back")
	}
	clk.Advance(time.Minute)
	if !l.Handle(errA) {
		t.Fatal("message was not logged again after the interval")
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3:\n%s", len(lines), buf.String())
	}
	if !strings.Contains(lines[2], "repeats_suppressed=1000") {
		t.Errorf("last line does not report the suppressed repeats: %s", lines[2])
	}
	if l.Handle(nil) {
		t.Error("nil error was logged")
	}
}

func TestLimiterBoundsDistinctMessages(t *testing.T) {
	var buf bytes.Buffer
	l := New(slog.New(slog.NewTextHandler(&buf, nil)), "x", time.Minute, clocktest.New(time.Unix(0, 0)))
	for i := range 10 * maxKeys {
		l.Handle(errors.New(strings.Repeat("e", i+1)))
	}
	if n := len(l.seen); n > maxKeys {
		t.Errorf("tracking %d messages, want at most %d", n, maxKeys)
	}
}

func TestLimiterConcurrentSafe(t *testing.T) {
	logger, buf := logtest.New()
	l := New(logger, "x", time.Hour, nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 500 {
				l.Handle(errors.New("same"))
			}
		})
	}
	wg.Wait()
	if n := buf.Lines(); n != 1 {
		t.Errorf("got %d lines for one repeated message, want 1", n)
	}
}
