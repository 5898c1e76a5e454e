package alerting

import (
	"context"
	"errors"
	"testing"
	"time"
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
	if d := q.backoff(1000); d > DefaultQueueMaxBackoff {
		t.Errorf("backoff(1000) = %v, want at most %v", d, DefaultQueueMaxBackoff)
	}
}

func TestQueueSleepHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := queueSleep(ctx, time.Hour); err != context.Canceled {
		t.Errorf("queueSleep = %v, want context.Canceled", err)
	}
	if err := queueSleep(t.Context(), 0); err != nil {
		t.Errorf("queueSleep(0) = %v", err)
	}
	if err := queueSleep(t.Context(), time.Nanosecond); err != nil {
		t.Errorf("queueSleep(1ns) = %v", err)
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
		{notifyPermanentError{context.Canceled}, false},
		{errors.Join(&StatusError{StatusCode: 400}, &StatusError{StatusCode: 500}), true},
		{errors.Join(&StatusError{StatusCode: 400}, &StatusError{StatusCode: 404}), false},
	} {
		if got := notifyRetryable(tc.err); got != tc.want {
			t.Errorf("notifyRetryable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
