package alerting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/vitalsgo/vitals/internal/ratelog"
)

// Defaults of the queue options.
const (
	// DefaultQueueSize is how many notifications may wait for delivery.
	DefaultQueueSize = 1024
	// DefaultQueueTimeout bounds one delivery attempt.
	DefaultQueueTimeout = 10 * time.Second
	// DefaultQueueAttempts is how many times a notification is tried.
	DefaultQueueAttempts = 5
	// DefaultQueueBackoff is the upper bound of the first wait between
	// attempts; it doubles with each retry.
	DefaultQueueBackoff = 500 * time.Millisecond
	// DefaultQueueMaxBackoff caps the upper bound of the waits.
	DefaultQueueMaxBackoff = 30 * time.Second
)

// MetricNotifications is the counter a Queue records with
// WithQueueMeterProvider, vitals_alerting_notifications_total on /metrics,
// with the attributes notifier (the queue's name) and outcome: sent (a
// notification delivered), failed (an attempt that failed; a notification
// retried twice then delivered counts two failed and one sent) and dropped
// (a notification given up: the queue was full or stopped, retrying could
// not help, or the attempts ran out).
const MetricNotifications = "vitals.alerting.notifications"

// ErrQueueStopped is returned by Stop after the first call.
var ErrQueueStopped = errors.New("alerting: notification queue stopped")

// Queue delivers notifications to one Notifier from its own goroutine, so
// that the caller never waits for a slow or broken receiver: Enqueue
// returns at once, and a full queue drops the notification and counts it.
// Each attempt is bounded by a timeout; failed attempts are retried with
// exponential backoff and full jitter, except when retrying cannot help
// (see StatusError.Temporary). Errors are logged at most once a minute per
// distinct message. Create a Queue with NewQueue and end it with Stop. It
// is safe for concurrent use.
type Queue struct {
	notifier Notifier
	name     string
	cfg      queueConfig
	errs     *ratelog.Limiter
	counter  metric.Int64Counter
	sent     metric.AddOption
	failed   metric.AddOption
	dropped  metric.AddOption

	ch chan queueItem

	mu      sync.RWMutex // guards stopped against sends on ch
	stopped bool

	stopOnce sync.Once
	stopping chan struct{} // closed by Stop: drain, then end
	abandon  context.CancelFunc
	done     chan struct{} // closed when the worker has ended
}

type queueItem struct {
	group  NotificationGroup
	hasGrp bool
	alerts []Alert
}

// QueueOption configures NewQueue.
type QueueOption interface {
	applyQueue(queueConfig) queueConfig
}

type queueConfig struct {
	size       int
	timeout    time.Duration
	attempts   int
	backoff    time.Duration
	maxBackoff time.Duration
	sleep      func(context.Context, time.Duration) error
	logger     *slog.Logger
	mp         metric.MeterProvider
}

type queueOptionFunc func(queueConfig) queueConfig

func (f queueOptionFunc) applyQueue(c queueConfig) queueConfig { return f(c) }

func newQueueConfig(opts []QueueOption) queueConfig {
	cfg := queueConfig{
		size:       DefaultQueueSize,
		timeout:    DefaultQueueTimeout,
		attempts:   DefaultQueueAttempts,
		backoff:    DefaultQueueBackoff,
		maxBackoff: DefaultQueueMaxBackoff,
		sleep:      queueSleep,
		logger:     slog.Default(),
		mp:         noop.NewMeterProvider(),
	}
	for _, o := range opts {
		if o != nil {
			cfg = o.applyQueue(cfg)
		}
	}
	return cfg
}

// WithQueueSize bounds the notifications waiting for delivery (the one
// being delivered not included). By default, DefaultQueueSize (1024).
func WithQueueSize(n int) QueueOption {
	return queueOptionFunc(func(c queueConfig) queueConfig {
		if n > 0 {
			c.size = n
		}
		return c
	})
}

// WithQueueTimeout bounds each delivery attempt. By default,
// DefaultQueueTimeout (10 s).
func WithQueueTimeout(d time.Duration) QueueOption {
	return queueOptionFunc(func(c queueConfig) queueConfig {
		if d > 0 {
			c.timeout = d
		}
		return c
	})
}

// WithQueueAttempts sets how many times a notification is tried, the
// first attempt included; 1 means no retries. By default,
// DefaultQueueAttempts (5).
func WithQueueAttempts(n int) QueueOption {
	return queueOptionFunc(func(c queueConfig) queueConfig {
		if n > 0 {
			c.attempts = n
		}
		return c
	})
}

// WithQueueBackoff sets the wait before retry n (from 1) to a random
// duration between 0 and min(max, base·2ⁿ⁻¹) ("full jitter"). By default,
// DefaultQueueBackoff (500 ms) and DefaultQueueMaxBackoff (30 s).
func WithQueueBackoff(base, max time.Duration) QueueOption {
	return queueOptionFunc(func(c queueConfig) queueConfig {
		if base > 0 {
			c.backoff = base
		}
		if max > 0 {
			c.maxBackoff = max
		}
		return c
	})
}

// WithQueueSleep replaces the wait between attempts: sleep must return
// after d or, with ctx's error, when ctx is done. Tests use it to retry
// without waiting. By default, a timer.
func WithQueueSleep(sleep func(ctx context.Context, d time.Duration) error) QueueOption {
	return queueOptionFunc(func(c queueConfig) queueConfig {
		if sleep != nil {
			c.sleep = sleep
		}
		return c
	})
}

// WithQueueLogger sets the logger of failed deliveries. By default,
// slog.Default().
func WithQueueLogger(l *slog.Logger) QueueOption {
	return queueOptionFunc(func(c queueConfig) queueConfig {
		if l != nil {
			c.logger = l
		}
		return c
	})
}

// WithQueueMeterProvider records MetricNotifications through mp. By
// default, no metrics are recorded.
func WithQueueMeterProvider(mp metric.MeterProvider) QueueOption {
	return queueOptionFunc(func(c queueConfig) queueConfig {
		if mp != nil {
			c.mp = mp
		}
		return c
	})
}

// NewQueue starts a queue delivering to n. name identifies it in logs and
// in the notifier attribute of MetricNotifications (keep the set of names
// small, for example a route's name and the notifier's index).
func NewQueue(n Notifier, name string, opts ...QueueOption) *Queue {
	cfg := newQueueConfig(opts)
	q := &Queue{
		notifier: n,
		name:     name,
		cfg:      cfg,
		errs:     ratelog.New(cfg.logger, "alerting: notification failed", 0, nil),
		ch:       make(chan queueItem, cfg.size),
		stopping: make(chan struct{}),
		done:     make(chan struct{}),
	}
	counter, err := cfg.mp.Meter(ScopeName).Int64Counter(MetricNotifications,
		metric.WithUnit("{notification}"),
		metric.WithDescription("Alert notifications by outcome: sent, failed (attempts) and dropped."))
	if err != nil {
		q.errs.Handle(fmt.Errorf("alerting: creating %s: %w", MetricNotifications, err))
		counter, _ = noop.NewMeterProvider().Meter(ScopeName).Int64Counter(MetricNotifications)
	}
	q.counter = counter
	notifier := attribute.String("notifier", name)
	q.sent = metric.WithAttributeSet(attribute.NewSet(notifier, attribute.String("outcome", "sent")))
	q.failed = metric.WithAttributeSet(attribute.NewSet(notifier, attribute.String("outcome", "failed")))
	q.dropped = metric.WithAttributeSet(attribute.NewSet(notifier, attribute.String("outcome", "dropped")))

	ctx, cancel := context.WithCancel(context.Background())
	q.abandon = cancel
	go q.run(ctx)
	return q
}

// Enqueue hands alerts to the queue for delivery and returns at once. It
// returns false, and counts the notification as dropped, when the queue is
// full or stopped. An empty batch is accepted and not delivered. The slice
// is copied; the alerts' maps are not, and must not change afterwards.
func (q *Queue) Enqueue(alerts []Alert) bool {
	return q.enqueue(queueItem{alerts: alerts})
}

// EnqueueGroup is Enqueue for a batch that belongs to a notification
// group: the notifier finds g in its context (NotificationGroupFromContext).
func (q *Queue) EnqueueGroup(g NotificationGroup, alerts []Alert) bool {
	return q.enqueue(queueItem{group: g, hasGrp: true, alerts: alerts})
}

func (q *Queue) enqueue(it queueItem) bool {
	if len(it.alerts) == 0 {
		return true
	}
	it.alerts = slices.Clone(it.alerts)
	q.mu.RLock()
	ok := !q.stopped
	if ok {
		select {
		case q.ch <- it:
		default:
			ok = false
		}
	}
	stopped := q.stopped
	q.mu.RUnlock()
	if !ok {
		q.counter.Add(context.Background(), 1, q.dropped)
		err := fmt.Errorf("queue %q is full (%d notifications waiting)", q.name, q.cfg.size)
		if stopped {
			err = fmt.Errorf("queue %q: %w", q.name, ErrQueueStopped)
		}
		q.errs.Handle(err, slog.String("notifier", q.name))
	}
	return ok
}

// Stop stops accepting notifications and delivers those queued, retrying
// as usual, until ctx is done; then it cancels the attempt in progress,
// drops what is left (counted), waits for the worker to end and returns
// ctx's error. Notifiers must honour their context for Stop to return
// promptly. Calls after the first return ErrQueueStopped.
func (q *Queue) Stop(ctx context.Context) error {
	first := false
	q.stopOnce.Do(func() {
		first = true
		q.mu.Lock()
		q.stopped = true
		q.mu.Unlock()
		close(q.stopping)
	})
	if !first {
		return ErrQueueStopped
	}
	defer q.abandon()
	select {
	case <-q.done:
		return nil
	case <-ctx.Done():
		q.abandon()
		<-q.done
		return fmt.Errorf("alerting: queue %q stopped before delivering everything: %w", q.name, ctx.Err())
	}
}

// run is the worker: it delivers until Stop, then drains what is queued.
func (q *Queue) run(ctx context.Context) {
	defer close(q.done)
	for {
		select {
		case it := <-q.ch:
			q.deliver(ctx, it)
		case <-q.stopping:
			for {
				select {
				case it := <-q.ch:
					q.deliver(ctx, it)
				default:
					return // Stop blocks sends, so nothing more can come
				}
			}
		}
	}
}

// deliver tries one notification until it is sent, cannot be, or ctx (the
// queue's life) ends.
func (q *Queue) deliver(ctx context.Context, it queueItem) {
	if ctx.Err() != nil {
		q.counter.Add(context.Background(), 1, q.dropped)
		return
	}
	for attempt := 1; ; attempt++ {
		err := q.attempt(ctx, it)
		if err == nil {
			q.counter.Add(context.Background(), 1, q.sent)
			return
		}
		var partial *PartialError
		if errors.As(err, &partial) {
			q.counter.Add(context.Background(), 1, q.sent)
			q.errs.Handle(err, slog.String("notifier", q.name))
			return
		}
		q.counter.Add(context.Background(), 1, q.failed)
		final := ctx.Err() != nil || attempt >= q.cfg.attempts || !notifyRetryable(err)
		q.errs.Handle(err, slog.String("notifier", q.name), slog.Int("attempt", attempt), slog.Bool("dropped", final))
		if final || q.cfg.sleep(ctx, q.retryWait(attempt, err)) != nil {
			q.counter.Add(context.Background(), 1, q.dropped)
			return
		}
	}
}

// attempt calls the notifier once, bounded by the attempt timeout; a
// panic becomes an error.
func (q *Queue) attempt(ctx context.Context, it queueItem) (err error) {
	ctx, cancel := context.WithTimeout(ctx, q.cfg.timeout)
	defer cancel()
	if it.hasGrp {
		ctx = ContextWithNotificationGroup(ctx, it.group)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("alerting: notifier %q panicked: %v", q.name, r)
		}
	}()
	return q.notifier.Notify(ctx, it.alerts)
}

// retryWait returns the wait before retry n after err: the backoff, or
// longer if the receiver asked for it with Retry-After, never longer than
// the maximum backoff (a receiver asking for an hour must not stall every
// notification queued behind this one).
func (q *Queue) retryWait(n int, err error) time.Duration {
	wait := q.backoff(n)
	var se *StatusError
	if errors.As(err, &se) && se.RetryAfter > wait {
		wait = min(se.RetryAfter, max(q.cfg.maxBackoff, wait))
	}
	return wait
}

// backoff returns the wait before retry n (from 1): uniform in
// [0, min(max, base·2ⁿ⁻¹)].
func (q *Queue) backoff(n int) time.Duration {
	limit := q.cfg.backoff
	for i := 1; i < n && limit < q.cfg.maxBackoff; i++ {
		limit *= 2
	}
	limit = min(limit, q.cfg.maxBackoff)
	if limit <= 0 {
		return 0
	}
	return rand.N(limit + 1)
}

// queueSleep waits for d or until ctx is done.
func queueSleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
