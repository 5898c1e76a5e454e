package vitals

import (
	"testing"
)

// RoutePatterns returns the ServeMux patterns of v.Handler(), for the
// external tests that hold docs/security.md to them.
func (v *Vitals) RoutePatterns() []string { return v.handler.Routes() }

// CleanEnv blanks every OTEL_* variable Start reads for the duration of t,
// for the external tests.
func CleanEnv(t testing.TB) {
	t.Helper()
	cleanEnv(t)
}
