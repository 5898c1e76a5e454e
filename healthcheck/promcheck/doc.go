// Package promcheck holds the health checks that evaluate PromQL, apart from
// package healthcheck so that the check registry and its handlers do not
// link the PromQL engine.
//
// # Checks
//
// Threshold checks a PromQL expression against a warning and a failure
// threshold, through a memory.Evaluator: the in-memory reader (*memory.Reader) is
// one, so a check reads the same series /metrics shows. Register it like
// any other healthcheck.Checker, usually with healthcheck.WithInterval so
// that probes are served from the cached result.
//
// # Concurrency
//
// A check is safe for concurrent use if its evaluator is; the memory reader
// is.
package promcheck
