package vitals

import "slices"

// RoutePatterns returns the ServeMux patterns of v.Handler(), for the
// external tests that hold docs/security.md to them.
func (v *Vitals) RoutePatterns() []string { return slices.Clone(v.routes) }
