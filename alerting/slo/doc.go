// Package slo turns service level objectives into the rules Sloth
// generates for Prometheus, and runs the same rules in process with the
// alert engine of package alerting.
//
// # Declaring SLOs
//
// An SLO is a plain struct with an SLI: the ratio of bad to total events in
// PromQL (EventsSLI) or requests slower than a histogram bucket boundary
// (LatencySLI). HTTPAvailability and HTTPLatency build the common ones over
// the HTTP server metrics; Parse reads Sloth's prometheus/v1 YAML. An
// invalid SLO is an *Error naming the SLO and the field. By default, the
// period is DefaultPeriod (30 days).
//
// # Rules
//
// Each SLO generates, as Sloth does, recording rules for the error ratio
// over 5m to 3d and multiwindow, multi-burn-rate alerts: page at 14.4× (1h
// and 5m) or 6× (6h and 30m), ticket at 3× (1d and 2h) or 1× (3d and 6h).
// Rules gives the groups for a Prometheus rule file
// (alerting.PrometheusRules writes it); InProcessRules the optimized form
// the engine evaluates every Interval; SLO.Status reads the SLI, burn
// rates and budget left back. docs/slos.md has the details.
//
// SLO.Rules returns up to three groups: sloth-slo-sli-recordings-<id>,
// with slo:sli_error:ratio_rate<w> for w in 5m, 30m, 1h, 2h, 6h, 1d and 3d
// from the raw SLI, and for the period (such as 30d) as the average of the
// 5m ratio over the period; sloth-slo-meta-recordings-<id>, with
// slo:objective:ratio, slo:error_budget:ratio, slo:time_period:days,
// slo:current_burn_rate:ratio, slo:period_burn_rate:ratio,
// slo:period_error_budget_remaining:ratio and sloth_slo_info; and, unless
// both alerts are disabled, sloth-slo-alerts-<id>, with the page and ticket
// alerts, labelled sloth_severity and severity page or ticket. Every
// recorded series carries sloth_id, sloth_slo, sloth_service (with a
// service) and the SLO's labels; the error ratios also carry their window
// as sloth_window.
//
// SLO.InProcessRules computes the windows from 1h up and the period as
// sum_over_time / count_over_time of slo:sli_error:ratio_rate5m, so only
// the 5m and 30m windows read raw data. It puts each recording rule in a
// group of its own, sloth-slo-recording-<id>-<record> (the engine gives
// each group one appender), and keeps the 5m ratio for the SLO's period
// (alerting.Group.Retention).
//
// # Concurrency
//
// SLOs are values; every function here is safe for concurrent use.
package slo
