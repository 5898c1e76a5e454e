// Package ratelog logs errors that have no caller to return to (a background
// export, an evaluation loop) without flooding the log when the same error
// repeats: the first occurrence of a message is logged at once, repeats within
// the interval are counted, and the count is reported with the next line that
// is let through.
package ratelog

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/vitalsgo/vitals/clock"
)

// DefaultInterval is how long repeats of one message are held back.
const DefaultInterval = time.Minute

// maxKeys bounds the number of distinct messages tracked; beyond it the table
// is reset, which at worst lets one extra line per message through.
const maxKeys = 256

// Limiter logs an error at most once per interval per distinct message.
// The zero value is not usable; use New. A Limiter is safe for concurrent use.
type Limiter struct {
	logger   *slog.Logger
	msg      string
	interval time.Duration
	clock    clock.Clock

	mu   sync.Mutex
	seen map[string]*entry
}

type entry struct {
	last       time.Time
	suppressed int
}

// New returns a Limiter writing to logger (slog.Default when nil) with msg as
// the log message and the error text as the "error" attribute. interval <= 0
// means DefaultInterval. clk tells the time; nil means clock.System.
func New(logger *slog.Logger, msg string, interval time.Duration, clk clock.Clock) *Limiter {
	if logger == nil {
		logger = slog.Default()
	}
	if interval <= 0 {
		interval = DefaultInterval
	}
	return &Limiter{logger: logger, msg: msg, interval: interval, clock: clock.Or(clk), seen: make(map[string]*entry)}
}

// Handle logs err unless the same message was logged less than the interval
// ago, in which case it is only counted. It reports whether a line was written.
func (l *Limiter) Handle(err error, attrs ...slog.Attr) bool {
	if err == nil {
		return false
	}
	key := err.Error()
	now := l.clock.Now()

	l.mu.Lock()
	e, ok := l.seen[key]
	if ok && now.Sub(e.last) < l.interval {
		e.suppressed++
		l.mu.Unlock()
		return false
	}
	if !ok {
		if len(l.seen) >= maxKeys {
			clear(l.seen)
		}
		e = &entry{}
		l.seen[key] = e
	}
	suppressed := e.suppressed
	e.last, e.suppressed = now, 0
	l.mu.Unlock()

	attrs = append(attrs, slog.String("error", key))
	if suppressed > 0 {
		attrs = append(attrs, slog.Int("repeats_suppressed", suppressed))
	}
	l.logger.LogAttrs(context.Background(), slog.LevelError, l.msg, attrs...)
	return true
}
