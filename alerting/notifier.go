package alerting

import "context"

// Notifier receives the engine's notifications: a group of alerts (firing
// and resolved ones) that share the grouping labels, with the group in ctx
// (NotificationGroupFromContext). The engine calls Notify while it
// evaluates, so Notify must return promptly: a notifier that does I/O sits
// behind a notify.Queue, which returns at once and delivers, with retries,
// from its own goroutine. Package notify has the notifiers (log, webhook,
// Slack, email, Alertmanager).
type Notifier interface {
	// Notify delivers alerts, or returns why it could not; ctx bounds it.
	Notify(ctx context.Context, alerts []Alert) error
}

// NotifierFunc adapts a function to a Notifier.
type NotifierFunc func(ctx context.Context, alerts []Alert) error

// Notify calls f.
func (f NotifierFunc) Notify(ctx context.Context, alerts []Alert) error { return f(ctx, alerts) }

// NotificationGroup describes the group a batch of alerts was sent for, as
// Alertmanager's webhook payload names it (groupKey, groupLabels,
// receiver). The engine puts it in the context it gives Notify
// (ContextWithNotificationGroup). A notifier called without one derives it
// from the alerts: grouped by alertname when they share it, receiver
// "vitals".
type NotificationGroup struct {
	// Key identifies the group, stable across notifications; receivers use
	// it to deduplicate. Empty means the key Alertmanager would give Labels:
	// `{}:{alertname="X"}`.
	Key string
	// Labels are the grouping labels and their values.
	Labels map[string]string
	// Receiver is the name of the route that sent the group.
	Receiver string
	// ExternalURL is the engine's WithExternalURL: where people can see
	// the alerts. Empty without one.
	ExternalURL string
}

type notificationGroupKey struct{}

// ContextWithNotificationGroup returns a copy of ctx that carries g to the
// notifiers called with it.
func ContextWithNotificationGroup(ctx context.Context, g NotificationGroup) context.Context {
	return context.WithValue(ctx, notificationGroupKey{}, g)
}

// NotificationGroupFromContext returns the group ctx carries, if any.
func NotificationGroupFromContext(ctx context.Context) (NotificationGroup, bool) {
	g, ok := ctx.Value(notificationGroupKey{}).(NotificationGroup)
	return g, ok
}
