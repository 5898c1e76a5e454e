// Package notify delivers the alert engine's notifications: a retrying
// Queue and the notifiers behind it, Log, Webhook (the Alertmanager
// webhook payload), Slack, Email (SMTP) and Alertmanager (its API v2).
// Every one is an alerting.Notifier; package alerting does not import this
// one, so a program that only evaluates rules links no SMTP client.
//
// # Queues
//
// None of the notifiers retries or queues: wrap each in a Queue (NewQueue,
// or QueueRoutes for every notifier of a set of routes), which never blocks
// its caller and owns timeouts, retries with exponential backoff and full
// jitter, the bound on pending notifications (DefaultMaxQueued) and the
// MetricNotifications counter. A receiver that asks for time
// (Retry-After) gets it, up to the maximum backoff. Errors are logged at
// most once a minute per distinct message. Shutdown delivers what is
// queued until its context ends.
//
// # Errors
//
// HTTP notifiers return a StatusError for a non-2xx answer; a Queue retries
// only 5xx, 408 and 429 answers, temporary SMTP replies and transport
// errors. Alertmanager with several URLs returns a PartialError when some
// of them took the alerts; the notification counts as sent. No error or
// log line carries a receiver's credentials.
//
// # Receivers
//
// Slack sends one attachment per alert, titled "[FIRING] alertname", with
// the summary and description annotations as text and the other labels as
// fields, coloured by state and severity label (resolved: good, green;
// severity critical, error or page: danger, red; warning: warning, orange;
// info: blue; others firing: danger). A group of more than ten alerts gets
// one summary attachment per status instead.
//
// Alertmanager posts to every URL concurrently and succeeds when one of
// them accepted the alerts (a PartialError if others failed); when all
// fail, their errors are joined. Firing alerts are posted without endsAt,
// so Alertmanager resolves them by itself after its resolve_timeout (5 m by
// default) unless they are posted again: route them with a repeat interval
// shorter than that, as Prometheus re-sends firing alerts every minute.
// Resolved alerts carry their endsAt.
//
// # Metrics
//
// Every Queue counts notifications in MetricNotifications, to the OTel
// global provider (otel.GetMeterProvider()) unless WithMeterProvider gives
// another, by outcome: sent (delivered), failed (an attempt that failed: a
// notification retried twice then delivered counts two failed and one
// sent), dropped (given up: the queue was full or stopped, retrying could
// not help, or the attempts ran out) and unsent (still queued or being
// retried when Shutdown's context ended: Queue.Unsent returns it, for a
// caller that keeps it and sends it after a restart).
//
// # Concurrency
//
// Notifiers and queues are safe for concurrent use.
package notify
