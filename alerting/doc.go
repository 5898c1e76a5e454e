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
// resolved. New takes a Store: PromQL through memory.Evaluator, the one
// evaluator interface of the module, and appenders, through which recording
// rules write their results back (memory.Appender) so that later rules and
// queries can use them. The in-memory reader is a Store. A failing rule
// keeps its alerts' states, is marked with its error and counted; the others
// still run. Each query is bounded by the memory reader's timeout and
// sample limit. ALERTS and ALERTS_FOR_STATE are exported as in Prometheus,
// to the OTel global provider (otel.GetMeterProvider()) unless
// WithMeterProvider gives another.
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
// # Silences
//
// Silences.Add refuses a silence whose matchers or text are invalid
// (matcher names that are not label names, text that is not valid UTF-8,
// anything past the limits of one silence) before it looks up its ID. A
// silence with an ID updates the silence of that ID as Alertmanager's POST
// /api/v2/silences does, and never rewrites what a silence has muted: it
// updates in place, keeping the ID, only a silence that is active or
// pending, with the same matchers, and that keeps its StartsAt while
// active or moves it no earlier than now while pending. Otherwise it
// expires the old silence (if it has not expired) and creates a new one,
// with a new ID, starting now at the earliest; replacing an active or
// pending silence never fails for MaxSilences. A zero StartsAt keeps the
// start of an active or pending silence updated.
//
// The regular expressions of a silence's matchers are bounded together by
// their compiled size (MaxSilenceRegexpSize): the instructions of their
// programs plus the bounds of their character-class ranges
// (regexp/syntax), and for one that Prometheus' matcher expands to a set of
// strings (`a|b`, `[a-p][a-p]`: at most 256), one per string and one per 64
// bytes of them. Their memory grows with this size, some 60 to 160 bytes
// each, not with their length: `\p{L}` is 5 bytes long and of size 1 325,
// while each literal character is of size 2. So 1 024 admits alternations
// of some 400 bytes of names (1 KiB if they share prefixes) and refuses
// those that would take megabytes.
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
// The state holds the silences, expired ones within SilenceRetention
// included, with their IDs and times of creation and update; every
// pending, firing and resolved (within ResolvedRetention) alert instance,
// with its rule (group, alert name), labels, annotations, state, activeAt,
// firedAt, resolvedAt, last value, the last evaluation that saw it, and the
// reason of a resolution by hand (Resolve) still in effect; the history
// (resolved alerts and firing counts); and, for each route and aggregation
// group, when it was last notified, when it may be next, and the alerts (by
// ID) last sent as firing, with when.
//
// LoadState takes now from the engine's clock; the downtime of an alert
// instance is now minus the last evaluation that saw it active. Pending
// and firing instances are restored as Prometheus' RestoreForState
// (rules/group.go) restores them, over the rule's For at load. After a
// downtime longer than the outage tolerance none is: a pending instance is
// dropped and its rule starts over; a firing one is resolved at now, so
// that its resolution is notified if its firing was. Otherwise a firing
// instance keeps its activeAt and firedAt, unless its rule's For has grown
// past the time it was pending: it is then treated as a pending one. A
// pending one whose For is shorter than the grace period is dropped, to
// start its For over;
// one that had less than the grace period left gets activeAt = now + grace
// − For, so it fires at the earliest a grace period after now; any other
// gets its activeAt moved later by the downtime, which does not count
// toward For. Resolved instances, manual resolutions, the history and the
// silences are restored as saved; the notification log too, so that an
// alert notified before the restart is not notified again before its
// repeat interval, and its resolution is. What was dropped because its
// rule or route no longer exists is counted in the log line LoadState
// writes at info level. A bad input never panics, and unknown fields are
// ignored.
//
// # Concurrency
//
// An Engine is safe for concurrent use. Shutdown stops evaluation; the
// caller shuts the queues down after it.
package alerting
