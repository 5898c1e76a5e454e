// Package traceurl checks the template of a link to a trace in a tracing
// backend (monitoring.Config.TraceURL, vitals.WithTraceURL).
package traceurl

import (
	"fmt"
	"net/url"
	"strings"
)

// Placeholder is where a template takes the trace ID.
const Placeholder = "{trace_id}"

// Check reports what is wrong with a template: it must be empty, or an
// absolute http or https URL with a host that contains Placeholder.
func Check(template string) error {
	if template == "" {
		return nil
	}
	if !strings.Contains(template, Placeholder) {
		return fmt.Errorf("%q has no %s where the trace ID goes", template, Placeholder)
	}
	u, err := url.Parse(strings.ReplaceAll(template, Placeholder, "0af7651916cd43dd8448eb211c80319c"))
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", template, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http or https URL", template)
	}
	return nil
}
