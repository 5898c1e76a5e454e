package bizmetrics

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/vitalsgo/vitals/internal/clock"
)

// Timer times one operation: Time starts it, Stop records its duration in
// <namespace>.timer.duration (seconds) with timer.name and the attributes
// given to Time. It is a small value, so that timing allocates nothing and
// reads as one line:
//
//	defer m.Time(ctx, "checkout").Stop()
type Timer struct {
	h     *BoundHistogram
	clock clock.Clock
	start time.Time
}

// Time starts a timer called name (a logical operation: "checkout",
// "report.render"), with optional attributes, which must stay few and of
// bounded values like every attribute. Names past WithMaxTimerNames, and
// an empty name, are recorded as Overflow; attribute sets past what the
// names share of WithMaxAttributeSets are recorded in the name's overflow
// set (its timer.name and otel.metric.overflow=true). With the handle of
// (name, attrs) in place, Time allocates nothing.
//
// ctx is used to skip the attribute work when the histogram is disabled
// (a view dropped it): the Timer then records nothing. Stop records with a
// background context, so that trace-based exemplars (off by default in
// Vitals) are not linked to the span active at Time.
func (m *Metrics) Time(ctx context.Context, name string, attrs ...attribute.KeyValue) Timer {
	if !m.timer.Enabled(ctx) {
		return Timer{clock: m.clock, start: m.clock.Now()}
	}
	if name == "" {
		name = Overflow
	}
	return Timer{h: m.timers.get(name).get(attrs), clock: m.clock, start: m.clock.Now()}
}

// Stop records the time since Time and returns it. Each call records: call
// it once per operation. The zero Timer records nothing and returns 0.
func (t Timer) Stop() time.Duration {
	if t.clock == nil {
		return 0
	}
	d := t.clock.Now().Sub(t.start)
	t.h.Record(context.Background(), d.Seconds())
	return d
}
