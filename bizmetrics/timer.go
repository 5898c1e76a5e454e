package bizmetrics

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/vitalsgo/vitals/clock"
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
// "report.render") whose Stop records in app.timer.duration, with optional
// attributes, which must stay few and of bounded values. Names past
// WithMaxTimerNames, and "", are recorded as Overflow (see the package
// doc's Cardinality). With the handle of (name, attrs) in place, Time
// allocates nothing; when a view has dropped the histogram, ctx lets it
// skip the attribute work and the Timer records nothing.
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
