package alerting_test

import (
	"testing"

	"github.com/vitalsgo/vitals/alerting"
)

// FuzzParseRules: any input is parsed or refused with an error, never a
// panic; what parses can be written back out.
func FuzzParseRules(f *testing.F) {
	f.Add([]byte(highErrors))
	f.Add([]byte("groups: []"))
	f.Add([]byte("groups:\n  - name: g\n    rules:\n      - record: a:b\n        expr: sum(x)\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		groups, err := alerting.ParseRules(b, "fuzz.yml")
		if err != nil {
			return
		}
		if _, err := alerting.PrometheusRules(groups); err != nil {
			t.Fatalf("parsed rules cannot be written back: %v", err)
		}
	})
}

// FuzzParseSLOs: any input is parsed or refused with an error; what parses
// generates rules or says why not.
func FuzzParseSLOs(f *testing.F) {
	f.Add([]byte(`version: "prometheus/v1"
service: shop
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(x{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(x[{{.window}}]))
`))
	f.Fuzz(func(t *testing.T, b []byte) {
		slos, err := alerting.ParseSLOs(b)
		if err != nil {
			return
		}
		_, _ = alerting.SLORules(slos...)
	})
}
