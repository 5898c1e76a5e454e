// Package clock is the one clock of Vitals: every component that tells the
// time or waits (the middleware, business metrics, the memory reader, health
// checks, the alert engine and its notification queue, the log rate limiter)
// takes a Clock, so that tests move time by hand instead of sleeping.
//
// # Implementations
//
// System is the wall clock, the default everywhere. Package clocktest has a
// manual clock for tests whose Advance fires timers deterministically.
//
// # Concurrency
//
// Implementations are safe for concurrent use.
package clock
