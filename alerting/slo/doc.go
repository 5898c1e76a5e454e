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
// the engine evaluates every EvalInterval; SLO.Status reads the SLI, burn
// rates and budget left back. docs/slos.md has the details.
//
// # Concurrency
//
// SLOs are values; every function here is safe for concurrent use.
package slo
