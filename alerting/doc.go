// Package alerting evaluates Prometheus alerting and recording rules in
// process, over the in-memory reader, with Prometheus' own PromQL engine and
// semantics, and hands notifications, after silences, grouping and routing,
// to Notifiers. The notifiers themselves (log, webhook, Slack, email,
// Alertmanager) and their retrying queue are in package alerting/notify;
// SLOs and the rules they generate in alerting/slo. This package imports
// neither, so evaluating rules links no SMTP client.
//
// # Rules
//
// LoadFiles and ParseRules read Prometheus rule files (rulefmt, so an
// expression that does not parse, an unknown function or a bad template
// fails at load, naming file, group and rule); groups can also be built in
// Go, with a Condition function instead of an expression (such rules are
// not exportable). PrometheusRules writes a rule set back as a file that
// promtool accepts. docs/rules/vitals-alerts.yml holds the default rules.
//
// # Evaluation
//
// Engine.Eval(ctx, now) is one pure step: each group due at now is
// evaluated in order; Run owns the timing. Alert instances follow
// Prometheus: inactive → pending → firing once the condition has held for
// For; KeepFiringFor keeps a firing instance firing after its condition
// clears; a resolved instance is kept for ResolvedRetention and sent once as
// resolved. New takes a Store: PromQL through memory.Querier, the one
// querier interface of the module, and appenders, through which recording
// rules write their results back (memory.Appender) so that later rules and
// queries can use them. The in-memory reader is a Store. A failing rule
// keeps its alerts' states, is marked with its error and counted; the others
// still run. Each query is bounded by the memory reader's timeout and
// sample limit. With WithMeterProvider, ALERTS and ALERTS_FOR_STATE are
// exported as in Prometheus.
//
// # Notifications
//
// Silences mute matching alerts between two times (their state is derived
// from the time, never stored). Resolve marks an instance resolved by an
// operator until its condition clears. Routes match alerts to notifiers and
// group them as Alertmanager does (group_wait, group_interval,
// repeat_interval), so a burst of instances becomes one message. The engine
// calls a route's notifiers while it evaluates, with the group in the
// context (NotificationGroupFromContext), and logs their errors; a notifier
// must return at once, so put each receiver behind a notify.Queue
// (notify.QueueRoutes does it for every notifier of a set of routes), which
// retries, stays bounded, and never lets a slow or failing receiver block
// evaluation. Without routes, nothing is sent.
//
// # Restarts
//
// SaveState writes what must survive a restart (silences, manual
// resolutions, pending, firing and recently resolved alerts, the history
// that History returns, and the notification log); LoadState restores it
// into a new engine before its first evaluation, restoring the 'for' state
// of alerts as Prometheus does (WithOutageTolerance, WithForGracePeriod),
// so that an alert firing before the restart is the same alert after it,
// and is not notified again before its repeat interval.
//
// # Concurrency
//
// An Engine is safe for concurrent use. Shutdown stops evaluation; the
// caller shuts the queues down after it.
package alerting
