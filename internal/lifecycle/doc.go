// Package lifecycle holds what every long-lived Vitals component shares
// about stopping.
//
// # Shutdown
//
// Every component stops with Shutdown(ctx) error, honours ctx, and returns
// ErrShutdown on a second call. Each public package re-exports this one
// value, so errors.Is(err, vitals.ErrShutdown) holds whichever component
// was shut down twice.
package lifecycle
