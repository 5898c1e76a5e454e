// Package clocktest provides a manual clock.Clock for tests: time moves only
// when the test calls Advance or Set, which fire the timers that became due
// in order of their time. An AfterFunc call runs in its own goroutine, as
// time.AfterFunc's does: Advance starts it and does not wait for it.
//
// # Waiting for a goroutine to park
//
// BlockUntil waits, without sleeping, until a number of timers are pending,
// so that a test knows a background loop is waiting before it moves time.
package clocktest
