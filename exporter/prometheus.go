package exporter

import (
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/vitalsgo/vitals/internal/promconv"
	"github.com/vitalsgo/vitals/internal/ratelog"
)

// newPrometheusHandler serves what r collects, converted by promconv: the
// names of the OTel Prometheus exporter, with otel_scope_name as the only
// scope label (docs/configuration.md says why). Collection errors (a failing
// callback) go to the rate-limited log. Once closed is set it answers 503, so
// that a scraper sees the target down rather than every series gone.
func newPrometheusHandler(r sdkmetric.Reader, errs *ratelog.Limiter, closed *atomic.Bool) http.Handler {
	g := promconv.NewGatherer(r, func(err error) { errs.Handle(err) })
	h := promhttp.HandlerFor(g, promhttp.HandlerOpts{
		EnableOpenMetrics: true,
		ErrorLog:          promLogger{errs},
		// Serve what could be converted: one bad metric must not hide the rest.
		ErrorHandling: promhttp.ContinueOnError,
	})
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if closed.Load() {
			http.Error(w, "metrics provider is shut down", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, req)
	})
}

// promLogger routes promhttp's errors to the rate-limited error log.
type promLogger struct{ errs *ratelog.Limiter }

func (l promLogger) Println(v ...any) {
	l.errs.Handle(errors.New(fmt.Sprint(v...)))
}
