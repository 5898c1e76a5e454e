package exporter

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/vitalsgo/vitals/internal/promconv"
	"github.com/vitalsgo/vitals/internal/ratelog"
)

// newPrometheusHandler serves what r collects, converted by promconv: the
// names of the OTel Prometheus exporter, with otel_scope_name as the only
// scope label (see docs/prometheus.md for why).
func newPrometheusHandler(r sdkmetric.Reader, errs *ratelog.Limiter) http.Handler {
	g := promconv.NewGatherer(r, promconv.NewConverter())
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{
		EnableOpenMetrics: true,
		ErrorLog:          promLogger{errs},
		// Serve what could be converted: one bad metric must not hide the rest.
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// promLogger routes promhttp's errors to the rate-limited error log.
type promLogger struct{ errs *ratelog.Limiter }

func (l promLogger) Println(v ...any) {
	l.errs.Handle(errors.New(fmt.Sprint(v...)))
}
