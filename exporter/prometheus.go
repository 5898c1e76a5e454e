package exporter

import (
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/vitalsgo/vitals/internal/promconv"
	"github.com/vitalsgo/vitals/internal/ratelog"
)

// newPrometheusHandler serves what r collects, converted by promconv: the
// names of the OTel Prometheus exporter, with otel_scope_name as the only
// scope label (docs/configuration.md says why). Collection errors (a failing
// callback) go to the rate-limited log. Once closed is set it answers 503, so
// that a scraper sees the target down rather than every series gone.
//
// native, when not nil, is a reader of exponential histograms registered
// before r (promconv.NewNativeGatherer): a scrape in a protobuf format, the
// only one that carries native histograms, gets every histogram with both
// its classic buckets and its native buckets, as client_golang serves a
// histogram with both; the text formats get r's data alone, exactly as
// without native, and do not collect native.
func newPrometheusHandler(r, native sdkmetric.Reader, errs *ratelog.Limiter, closed *atomic.Bool) http.Handler {
	onError := func(err error) { errs.Handle(err) }
	opts := promhttp.HandlerOpts{
		EnableOpenMetrics: true,
		ErrorLog:          promLogger{errs},
		// Serve what could be converted: one bad metric must not hide the rest.
		ErrorHandling: promhttp.ContinueOnError,
	}
	if native == nil {
		h := promhttp.HandlerFor(promconv.NewGatherer(r, onError), opts)
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if closed.Load() {
				http.Error(w, "metrics provider is shut down", http.StatusServiceUnavailable)
				return
			}
			h.ServeHTTP(w, req)
		})
	}
	g := promconv.NewNativeGatherer(r, native, onError)
	classic, both := promhttp.HandlerFor(g.Classic(), opts), promhttp.HandlerFor(g, opts)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if closed.Load() {
			http.Error(w, "metrics provider is shut down", http.StatusServiceUnavailable)
			return
		}
		if wantsProtobuf(req.Header) {
			both.ServeHTTP(w, req)
			return
		}
		classic.ServeHTTP(w, req)
	})
}

// acceptedFormats are the formats promhttp offers with EnableOpenMetrics.
var acceptedFormats = expfmt.DefaultOpenMetricsAcceptedFormats()

// wantsProtobuf reports whether promhttp, with EnableOpenMetrics, answers a
// request with these headers in a protobuf format.
func wantsProtobuf(h http.Header) bool {
	switch expfmt.NegotiateAccept(h, acceptedFormats...).FormatType() {
	case expfmt.TypeProtoDelim, expfmt.TypeProtoText, expfmt.TypeProtoCompact:
		return true
	}
	return false
}

// promLogger routes promhttp's errors to the rate-limited error log.
type promLogger struct{ errs *ratelog.Limiter }

func (l promLogger) Println(v ...any) {
	l.errs.Handle(errors.New(fmt.Sprint(v...)))
}
