package promconv

import (
	"context"
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Gatherer is a prometheus.Gatherer that collects an sdkmetric.Reader on
// every Gather and converts the result with a Converter. The reader should
// use cumulative temporality (the default of sdkmetric.NewManualReader), as
// Prometheus expects cumulative counters and histograms.
//
// Serve it with promhttp.HandlerFor. With the default
// promhttp.HTTPErrorOnError, a conversion error for any metric fails the
// whole scrape, as it does with the OTel exporter; use
// promhttp.ContinueOnError to serve the rest.
type Gatherer struct {
	reader  sdkmetric.Reader
	onError func(error)
	conv    *Converter
	// pool holds *metricdata.ResourceMetrics that are not cleared between
	// uses, so the SDK can reuse their slices on the next collection.
	pool sync.Pool
}

var _ prometheus.Gatherer = (*Gatherer)(nil)

// NewGatherer returns a Gatherer for r, which must be registered with a
// MeterProvider before the first Gather. onError receives the errors the
// collection itself reports (such as a failing observable callback), which
// Gather does not return, and the converter's; nil drops them.
func NewGatherer(r sdkmetric.Reader, onError func(error)) *Gatherer {
	if onError == nil {
		onError = func(error) {}
	}
	return &Gatherer{reader: r, conv: NewConverter(onError), onError: onError}
}

// Gather collects the reader and converts its data. It is safe for
// concurrent use.
//
// Like the OTel exporter, it returns nothing once the reader is shut down,
// and hands errors reported by the collection itself (such as a failing
// observable callback) to onError and still converts what was
// collected. A reader that is not registered with a MeterProvider is an
// error.
func (g *Gatherer) Gather() ([]*dto.MetricFamily, error) {
	rm, _ := g.pool.Get().(*metricdata.ResourceMetrics)
	if rm == nil {
		rm = new(metricdata.ResourceMetrics)
	}
	defer g.pool.Put(rm)
	if err := g.reader.Collect(context.Background(), rm); err != nil {
		switch {
		case errors.Is(err, sdkmetric.ErrReaderShutdown):
			return nil, nil
		case errors.Is(err, sdkmetric.ErrReaderNotRegistered):
			return nil, err
		default:
			g.onError(err)
		}
	}
	return g.conv.Convert(nil, rm)
}
