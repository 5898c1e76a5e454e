package slo_test

import (
	"fmt"

	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/alerting/slo"
)

// An availability SLO of 99.9 % over the HTTP server metrics, turned into
// the rule groups of a Prometheus rule file: Sloth's recording rules and
// its multiwindow, multi-burn-rate alerts.
func ExampleHTTPAvailability() {
	s := slo.HTTPAvailability("checkout-availability", 99.9, "/checkout")
	s.Service = "shop"
	groups, err := s.Rules()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, g := range groups {
		fmt.Println(g.Name, len(g.Rules), "rules")
	}
	for _, r := range groups[len(groups)-1].Rules {
		fmt.Println(r.Alert, r.Labels["severity"])
	}
	file, err := alerting.PrometheusRules(groups)
	fmt.Println(len(file) > 0, err)
	// Output:
	// sloth-slo-sli-recordings-shop-checkout-availability 8 rules
	// sloth-slo-meta-recordings-shop-checkout-availability 7 rules
	// sloth-slo-alerts-shop-checkout-availability 2 rules
	// ShopCheckoutAvailabilitySLO page
	// ShopCheckoutAvailabilitySLO ticket
	// true <nil>
}

// Sloth's prometheus/v1 spec, as a file would hold it.
func ExampleParse() {
	slos, err := slo.Parse([]byte(`
version: prometheus/v1
service: shop
slos:
  - name: requests-availability
    objective: 99.5
    sli:
      events:
        error_query: sum(rate(http_server_request_duration_seconds_count{http_response_status_code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_server_request_duration_seconds_count[{{.window}}]))
    alerting:
      name: ShopAvailability
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(slos[0].ID(), slos[0].Objective)
	// Output:
	// shop-requests-availability 99.5
}
