package slo_test

import (
	"testing"

	"github.com/vitalsgo/vitals/alerting/slo"
)

// FuzzParse: any input is parsed or refused with an error; what parses
// generates rules or says why not.
func FuzzParse(f *testing.F) {
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
		slos, err := slo.Parse(b)
		if err != nil {
			return
		}
		_, _ = slo.Rules(slos...)
	})
}
