package exporter

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/vitalsgo/vitals/clock/clocktest"
	"github.com/vitalsgo/vitals/internal/logtest"
	"github.com/vitalsgo/vitals/internal/ratelog"
)

// flakyExporter is a span and log exporter whose exports fail while err is
// set, and that counts its attempts.
type flakyExporter struct {
	err      error
	attempts int
}

func (f *flakyExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error {
	f.attempts++
	return f.err
}

func (f *flakyExporter) Export(context.Context, []sdklog.Record) error {
	f.attempts++
	return f.err
}

func (f *flakyExporter) Shutdown(context.Context) error   { return nil }
func (f *flakyExporter) ForceFlush(context.Context) error { return nil }

// TestExportBackoff: after a failed span or log export, the batches of the
// next 500 ms are dropped without an attempt; each further failure doubles
// the wait up to 5 s; a success ends it. The failure's log line says when
// the next attempt comes.
func TestExportBackoff(t *testing.T) {
	for _, kind := range []string{"spans", "logs"} {
		t.Run(kind, func(t *testing.T) {
			clk := clocktest.New(time.Unix(1_700_000_000, 0))
			logger, logs := logtest.New()
			inner := &flakyExporter{err: errors.New("connection refused")}
			errs := ratelog.New(logger, "vitals: export failed", 0, clk)
			var export func() error
			if kind == "spans" {
				b := &boundedSpanExporter{SpanExporter: inner, life: context.Background(), errs: errs, backoff: exportBackoff{clock: clk}}
				export = func() error { return b.ExportSpans(t.Context(), nil) }
			} else {
				b := &boundedLogExporter{Exporter: inner, life: context.Background(), errs: errs, backoff: exportBackoff{clock: clk}}
				export = func() error { return b.Export(t.Context(), nil) }
			}
			// step exports once, after advancing the clock by d, and checks
			// whether it was attempted.
			step := func(d time.Duration, attempted bool) {
				t.Helper()
				clk.Advance(d)
				before := inner.attempts
				if err := export(); err != nil {
					t.Fatalf("export returned %v; failures are logged, not returned", err)
				}
				if got := inner.attempts > before; got != attempted {
					t.Fatalf("at +%v: attempted %v, want %v", d, got, attempted)
				}
			}
			step(0, true) // fails: 500 ms
			if !strings.Contains(logs.String(), "next_attempt_in=500ms") {
				t.Errorf("the failure's log line does not say when the next attempt comes:\n%s", logs.String())
			}
			step(499*time.Millisecond, false)
			step(time.Millisecond, true) // fails again: 1 s
			step(999*time.Millisecond, false)
			step(time.Millisecond, true) // 2 s
			step(2*time.Second, true)    // 4 s
			step(4*time.Second, true)    // 5 s, the most
			step(4999*time.Millisecond, false)
			step(time.Millisecond, true) // 5 s again
			inner.err = nil
			step(5*time.Second, true) // succeeds: no wait after it
			step(0, true)
			step(0, true)
		})
	}
}
