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
// LoadState takes now from the engine's clock; an instance's downtime is
// now minus the last evaluation that saw it. Past the outage tolerance a
// pending instance starts over and a firing one resolves at now (notified
// if its firing was); within it, the downtime does not count toward For and
// nothing fires sooner than the grace period after now. docs/alerting.md
// ("Restarts") gives every rule and what the state holds. What was dropped
// because its rule or route no longer exists is counted in the log line
// LoadState writes; a bad input never panics.
//
// # Concurrency
//
// An Engine is safe for concurrent use. Shutdown stops evaluation; the
// caller shuts the queues down after it.
package alerting
