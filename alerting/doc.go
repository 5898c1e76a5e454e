// Package alerting evaluates Prometheus alerting and recording rules in
// process, over the in-memory reader, with Prometheus' own PromQL engine and
// semantics, and delivers notifications through silences, grouping and
// routing to notifiers (log, webhook, Slack, email, Alertmanager).
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
// resolved. Recording rules write their results back into the memory reader
// (memory.Appender) so later rules and queries can use them. A failing rule
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
// repeat_interval), so a burst of instances becomes one message. Each
// notifier sits behind a bounded queue with retries, so a slow or failing
// receiver never blocks evaluation.
//
// # SLOs
//
// An SLO (Go struct, or Sloth's YAML with ParseSLOs; HTTPAvailability and
// HTTPLatency build the common ones) generates, as Sloth does, recording
// rules for the error ratio over 5m to 3d and multiwindow, multi-burn-rate
// alerts: page at 14.4× (1h and 5m) or 6× (6h and 30m), ticket at 3× (1d and
// 2h) or 1× (3d and 6h). SLORules gives the file for Prometheus;
// InProcessSLORules the optimized form the engine evaluates; SLO.Status the
// SLI, burn rates and budget left. docs/slos.md has the details.
//
// # Concurrency
//
// An Engine is safe for concurrent use. Shutdown stops evaluation and gives
// the queues until its context's deadline to deliver.
package alerting
