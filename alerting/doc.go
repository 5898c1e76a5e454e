// Package alerting will hold Prometheus-compatible alert rules evaluated in
// process, silences and notifiers. It has no API yet.
package alerting
