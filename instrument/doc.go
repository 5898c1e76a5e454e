// Package instrument will hold the HTTP server middleware, the Go runtime and
// process metrics and the performance summary. It has no API yet; record
// with vitals.Vitals.MeterProvider meanwhile.
package instrument
