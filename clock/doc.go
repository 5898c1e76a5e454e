// Package clock is the one clock of Vitals: every component that tells the
// time or waits (the middleware, business metrics, the memory reader, health
// checks, the alert engine and its notification queue) takes a Clock through
// its WithClock option, so that tests move time by hand instead of
// sleeping.
//
// # Implementations
//
// System is the wall clock, the default everywhere. Package clocktest has a
// manual clock whose Advance fires the timers that became due, for tests of
// code built on Vitals (health checks with intervals and timeouts, alert
// rules with for durations) as much as for Vitals' own.
//
// # Concurrency
//
// Implementations are safe for concurrent use.
package clock
