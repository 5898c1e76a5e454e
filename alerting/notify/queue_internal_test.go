package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/vitalsgo/vitals/clock"
)

func TestQueueBackoffFullJitter(t *testing.T) {
	q := &Queue{cfg: newQueueConfig(nil)}
	caps := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second,
		8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second}
	for i, limit := range caps {
		n := i + 1
		var maxSeen time.Duration
		for range 2000 {
			d := q.backoff(n)
			if d < 0 || d > limit {
				t.Fatalf("backoff(%d) = %v, want within [0, %v]", n, d, limit)
			}
			maxSeen = max(maxSeen, d)
		}
		if maxSeen < limit/2 {
			t.Errorf("backoff(%d) never exceeded %v in 2000 draws: no full jitter", n, maxSeen)
		}
	}
	if d := q.backoff(1000); d > DefaultMaxBackoff {
		t.Errorf("backoff(1000) = %v, want at most %v", d, DefaultMaxBackoff)
	}
}

// readyClock's waits end at once.
type readyClock struct{ clock.System }

func (readyClock) Now() time.Time { return time.Unix(0, 0) }
func (readyClock) After(time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	ch <- time.Unix(0, 0)
	return ch
}

func TestQueueWaitHonoursContext(t *testing.T) {
	q := &Queue{cfg: queueConfig{clock: readyClock{}}}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	// A wait the clock ends is still cut short by ctx.
	if err := q.wait(ctx, time.Hour); err != context.Canceled {
		t.Errorf("wait = %v, want context.Canceled", err)
	}
	if err := q.wait(t.Context(), time.Hour); err != nil {
		t.Errorf("wait(1h) on a clock that has moved = %v", err)
	}
	q.cfg.clock = clock.System{}
	if err := q.wait(t.Context(), 0); err != nil {
		t.Errorf("wait(0) = %v", err)
	}
	if err := q.wait(ctx, time.Hour); err != context.Canceled {
		t.Errorf("wait(1h) after cancel = %v, want context.Canceled", err)
	}
}

func TestNotifyRetryable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{context.DeadlineExceeded, true},
		{&StatusError{StatusCode: 503}, true},
		{&StatusError{StatusCode: 400}, false},
		{permanentError{context.Canceled}, false},
		{errors.Join(&StatusError{StatusCode: 400}, &StatusError{StatusCode: 500}), true},
		{errors.Join(&StatusError{StatusCode: 400}, &StatusError{StatusCode: 404}), false},
	} {
		if got := retryable(tc.err); got != tc.want {
			t.Errorf("retryable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"7", 7 * time.Second},
		{"120", 2 * time.Minute},
		{"-3", 0},
		{"1.5", 0},
		{"soon", 0},
		{"99999999999", 0}, // not a sane delay
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0}, // in the past
	} {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestRetryWaitHonoursRetryAfter: a receiver's Retry-After lengthens the
// wait up to the maximum backoff; other errors keep the jittered backoff.
func TestRetryWaitHonoursRetryAfter(t *testing.T) {
	q := &Queue{cfg: newQueueConfig([]Option{WithBackoff(time.Millisecond, 30*time.Second)})}
	if d := q.retryWait(1, &StatusError{StatusCode: 503, RetryAfter: 7 * time.Second}); d != 7*time.Second {
		t.Errorf("Retry-After 7s: wait %v, want 7s", d)
	}
	if d := q.retryWait(1, &StatusError{StatusCode: 429, RetryAfter: time.Hour}); d != 30*time.Second {
		t.Errorf("Retry-After 1h: wait %v, want the 30s maximum backoff", d)
	}
	if d := q.retryWait(1, fmt.Errorf("wrapped: %w", &StatusError{StatusCode: 503, RetryAfter: 2 * time.Second})); d != 2*time.Second {
		t.Errorf("wrapped StatusError: wait %v, want 2s", d)
	}
	if d := q.retryWait(1, &StatusError{StatusCode: 500}); d > time.Millisecond {
		t.Errorf("no Retry-After: wait %v, want the backoff (at most 1ms)", d)
	}
}
