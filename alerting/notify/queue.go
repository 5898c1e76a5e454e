package notify

import (
	"context"
	"errors"
	"fmt"
	"go.opentelemetry.io/otel"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/clock"
	"github.com/vitalsgo/vitals/internal/ratelog"
)

// ErrShutdown is returned by Queue.Shutdown after the first call and by
// Notify and Requeue after Shutdown. It is the one value of every Vitals
// component (vitals.ErrShutdown).
var ErrShutdown = alerting.ErrShutdown

// Defaults of the queue options.
const (
	// DefaultMaxQueued is how many notifications may wait for delivery.
	DefaultMaxQueued = 1024
	// DefaultTimeout bounds one delivery attempt.
	DefaultTimeout = 10 * time.Second
	// DefaultAttempts is how many times a notification is tried.
	DefaultAttempts = 5
	// DefaultBackoff is the upper bound of the first wait between
	// attempts; it doubles with each retry.
	DefaultBackoff = 500 * time.Millisecond
	// DefaultMaxBackoff caps the upper bound of the waits.
	DefaultMaxBackoff = 30 * time.Second
)

// ScopeName is the instrumentation scope of the queue's metrics.
const ScopeName = "github.com/vitalsgo/vitals/alerting/notify"

// MetricNotifications is the counter every Queue records, to the OTel
// global provider unless WithMeterProvider gives another:
// vitals_alerting_notifications_total on /metrics, with the attributes
// notifier (the queue's name) and outcome: sent, failed (per attempt),
// dropped or unsent (see "Metrics" in the package doc).
const MetricNotifications = "vitals.alerting.notifications"

// ErrFull is returned by Queue.Notify when the queue holds as many
// notifications as its size allows.
var ErrFull = errors.New("notify: queue full")

var _ alerting.Notifier = (*Queue)(nil)

// Queue delivers notifications to one Notifier from its own goroutine, so
// that the caller never waits for a slow or broken receiver: Notify
// returns at once, and a full queue drops the notification and counts it.
// A Queue is itself an alerting.Notifier, the one a route of the engine
// should call. It bounds and retries each attempt (see the package doc's
// Queues and StatusError.Temporary). Create a Queue with NewQueue and end
// it with Shutdown. It is safe for concurrent use.
type Queue struct {
	notifier alerting.Notifier
	name     string
	cfg      queueConfig
	errs     *ratelog.Limiter
	counter  metric.Int64Counter
	sent     metric.AddOption
	failed   metric.AddOption
	dropped  metric.AddOption
	unsentN  metric.AddOption

	ch chan Notification

	mu      sync.RWMutex // guards stopped against sends on ch
	stopped bool

	unsentMu sync.Mutex
	unsent   []Notification // left when Shutdown's context ended

	stopOnce sync.Once
	stopping chan struct{} // closed by Shutdown: drain, then end
	abandon  context.CancelFunc
	done     chan struct{} // closed when the worker has ended
}

// Notification is one notification of a Queue: the alerts of one call of
// Notify, and the notification group its context carried (HasGroup).
type Notification struct {
	// Alerts are the alerts Notify was given.
	Alerts []alerting.Alert
	// Group is the notification group Notify's context carried
	// (alerting.NotificationGroupFromContext), when HasGroup.
	Group alerting.NotificationGroup
	// HasGroup reports whether that context carried a group. Without one, the
	// notifier derives the group from the alerts when the queue delivers them.
	HasGroup bool
}

// Option configures NewQueue.
type Option interface {
	applyQueue(queueConfig) queueConfig
}

type queueConfig struct {
	size       int
	timeout    time.Duration
	attempts   int
	backoff    time.Duration
	maxBackoff time.Duration
	clock      clock.Clock
	logger     *slog.Logger
	mp         metric.MeterProvider
}

type queueOptionFunc func(queueConfig) queueConfig

func (f queueOptionFunc) applyQueue(c queueConfig) queueConfig { return f(c) }

func newQueueConfig(opts []Option) queueConfig {
	cfg := queueConfig{
		size:       DefaultMaxQueued,
		timeout:    DefaultTimeout,
		attempts:   DefaultAttempts,
		backoff:    DefaultBackoff,
		maxBackoff: DefaultMaxBackoff,
		clock:      clock.System{},
		logger:     slog.Default(),
	}
	for _, o := range opts {
		if o != nil {
			cfg = o.applyQueue(cfg)
		}
	}
	return cfg
}

// WithMaxQueued bounds the notifications waiting for delivery (the one
// being delivered not included). By default, DefaultMaxQueued (1024).
func WithMaxQueued(n int) Option {
	return queueOptionFunc(func(c queueConfig) queueConfig {
		if n > 0 {
			c.size = n
		}
		return c
	})
}

// WithTimeout bounds each delivery attempt. By default,
// DefaultTimeout (10 s).
func WithTimeout(d time.Duration) Option {
	return queueOptionFunc(func(c queueConfig) queueConfig {
		if d > 0 {
			c.timeout = d
		}
		return c
	})
}

// WithAttempts sets how many times a notification is tried, the
// first attempt included; 1 means no retries. By default,
// DefaultAttempts (5).
func WithAttempts(n int) Option {
	return queueOptionFunc(func(c queueConfig) queueConfig {
		if n > 0 {
			c.attempts = n
		}
		return c
	})
}

// WithBackoff sets the wait before retry n (from 1) to a random
// duration between 0 and min(max, base·2ⁿ⁻¹) ("full jitter"). By default,
// DefaultBackoff (500 ms) and DefaultMaxBackoff (30 s).
func WithBackoff(base, max time.Duration) Option {
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

// WithClock sets the clock the queue waits on between attempts, so that
// tests can retry without waiting. By default, the system clock.
func WithClock(c clock.Clock) Option {
	return queueOptionFunc(func(cfg queueConfig) queueConfig {
		if c != nil {
			cfg.clock = c
		}
		return cfg
	})
}

// WithLogger sets the logger of failed deliveries. By default,
// slog.Default().
func WithLogger(l *slog.Logger) Option {
	return queueOptionFunc(func(c queueConfig) queueConfig {
		if l != nil {
			c.logger = l
		}
		return c
	})
}

// WithMeterProvider sets the provider MetricNotifications is recorded
// with. By default (or with nil), the OTel global provider,
// otel.GetMeterProvider(); vitals.Start passes its own.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return queueOptionFunc(func(c queueConfig) queueConfig {
		c.mp = mp
		return c
	})
}

// NewQueue starts a queue delivering to n. name identifies it in logs and
// in the notifier attribute of MetricNotifications (keep the set of names
// small, for example a route's name and the notifier's index).
func NewQueue(n alerting.Notifier, name string, opts ...Option) *Queue {
	cfg := newQueueConfig(opts)
	q := &Queue{
		notifier: n,
		name:     name,
		cfg:      cfg,
		errs:     ratelog.New(cfg.logger, "notify: notification failed", 0, cfg.clock),
		ch:       make(chan Notification, cfg.size),
		stopping: make(chan struct{}),
		done:     make(chan struct{}),
	}
	mp := cfg.mp
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	counter, err := mp.Meter(ScopeName).Int64Counter(MetricNotifications,
		metric.WithUnit("{notification}"),
		metric.WithDescription("Alert notifications by outcome: sent, failed (attempts), dropped, and unsent at shutdown."))
	if err != nil {
		q.errs.Handle(fmt.Errorf("notify: creating %s: %w", MetricNotifications, err))
		counter, _ = noop.NewMeterProvider().Meter(ScopeName).Int64Counter(MetricNotifications)
	}
	q.counter = counter
	notifier := attribute.String("notifier", name)
	q.sent = metric.WithAttributeSet(attribute.NewSet(notifier, attribute.String("outcome", "sent")))
	q.failed = metric.WithAttributeSet(attribute.NewSet(notifier, attribute.String("outcome", "failed")))
	q.dropped = metric.WithAttributeSet(attribute.NewSet(notifier, attribute.String("outcome", "dropped")))
	q.unsentN = metric.WithAttributeSet(attribute.NewSet(notifier, attribute.String("outcome", "unsent")))

	ctx, cancel := context.WithCancel(context.Background())
	q.abandon = cancel
	go q.run(ctx)
	return q
}

// Notify hands alerts to the queue for delivery and returns at once; the
// notification group ctx carries, if any, goes with them to the notifier.
// It returns an error, and counts the notification as dropped, when the
// queue is full or shut down. An empty batch is accepted and not
// delivered. The slice is copied; the alerts' maps are not, and must not
// change afterwards.
func (q *Queue) Notify(ctx context.Context, alerts []alerting.Alert) error {
	it := Notification{Alerts: alerts}
	it.Group, it.HasGroup = alerting.NotificationGroupFromContext(ctx)
	return q.enqueue(it)
}

// Requeue hands n to the queue for delivery, as Notify would have: for a
// notification that another queue of the same name left unsent
// (Queue.Unsent), before a restart.
func (q *Queue) Requeue(n Notification) error { return q.enqueue(n) }

// Name returns the queue's name, as given to NewQueue.
func (q *Queue) Name() string { return q.name }

func (q *Queue) enqueue(it Notification) error {
	if len(it.Alerts) == 0 {
		return nil
	}
	it.Alerts = slices.Clone(it.Alerts)
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
		if stopped {
			return fmt.Errorf("notify: queue %q: %w", q.name, ErrShutdown)
		}
		return fmt.Errorf("notify: queue %q: %w (%d notifications waiting)", q.name, ErrFull, q.cfg.size)
	}
	return nil
}

// Shutdown stops accepting notifications and delivers those queued,
// retrying as usual, until ctx is done; then it abandons the attempt in
// progress (whether or not the notifier honours its context), keeps what
// is left for Unsent (counted and logged) and returns ctx's error. Calls
// after the first return ErrShutdown.
func (q *Queue) Shutdown(ctx context.Context) error {
	first := false
	q.stopOnce.Do(func() {
		first = true
		q.mu.Lock()
		q.stopped = true
		q.mu.Unlock()
		close(q.stopping)
	})
	if !first {
		return ErrShutdown
	}
	defer q.abandon()
	select {
	case <-q.done:
		return nil
	case <-ctx.Done():
		q.abandon()
		<-q.done
		n := len(q.Unsent())
		q.cfg.logger.Warn("notify: notifications not delivered before the shutdown deadline", "notifier", q.name, "unsent", n)
		return fmt.Errorf("notify: queue %q stopped with %d notifications undelivered: %w", q.name, n, ctx.Err())
	}
}

// Unsent returns the notifications that Shutdown could not deliver before
// its context ended, oldest first: a caller with somewhere to keep them
// (Vitals' state directory) gives them to the queue of the same name after
// a restart (Requeue). It returns nil before Shutdown has returned, and
// when everything was delivered or given up.
func (q *Queue) Unsent() []Notification {
	q.unsentMu.Lock()
	defer q.unsentMu.Unlock()
	return slices.Clone(q.unsent)
}

// keepUnsent keeps it for Unsent: Shutdown's context ended before it was
// delivered.
func (q *Queue) keepUnsent(it Notification) {
	q.counter.Add(context.Background(), 1, q.unsentN)
	q.unsentMu.Lock()
	q.unsent = append(q.unsent, it)
	q.unsentMu.Unlock()
}

// run is the worker: it delivers until Shutdown, then drains what is queued.
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
					return // Shutdown blocks sends, so nothing more can come
				}
			}
		}
	}
}

// deliver tries one notification until it is sent, cannot be, or ctx (the
// queue's life) ends: then it is kept for Unsent.
func (q *Queue) deliver(ctx context.Context, it Notification) {
	if ctx.Err() != nil {
		q.keepUnsent(it)
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
		if ctx.Err() != nil {
			// Shutdown abandoned the attempt: not the receiver's verdict.
			q.keepUnsent(it)
			return
		}
		final := attempt >= q.cfg.attempts || !retryable(err)
		q.errs.Handle(err, slog.String("notifier", q.name), slog.Int("attempt", attempt), slog.Bool("dropped", final))
		if final {
			q.counter.Add(context.Background(), 1, q.dropped)
			return
		}
		if q.wait(ctx, q.retryWait(attempt, err)) != nil {
			q.keepUnsent(it)
			return
		}
	}
}

// attempt calls the notifier once, bounded by the attempt timeout: a
// deadline its network I/O uses. When ctx ends (Shutdown abandons the
// attempt) it returns at once even if the notifier ignores its context, so
// that Shutdown honours its own; such a call is left to end on its own, and
// what it delivers late may be delivered again from Unsent. A panic becomes
// an error.
func (q *Queue) attempt(ctx context.Context, it Notification) error {
	actx, cancel := context.WithTimeout(ctx, q.cfg.timeout)
	defer cancel()
	if it.HasGroup {
		actx = alerting.ContextWithNotificationGroup(actx, it.Group)
	}
	out := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				out <- fmt.Errorf("notify: notifier %q panicked: %v", q.name, r)
			}
		}()
		out <- q.notifier.Notify(actx, it.Alerts)
	}()
	select {
	case err := <-out:
		return err
	case <-ctx.Done():
		select {
		case err := <-out: // it answered as it was abandoned
			return err
		default:
			return fmt.Errorf("notify: notifier %q abandoned: %w", q.name, ctx.Err())
		}
	}
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

// wait waits on the queue's clock for d or until ctx is done.
func (q *Queue) wait(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-q.cfg.clock.After(d):
		return ctx.Err()
	}
}
