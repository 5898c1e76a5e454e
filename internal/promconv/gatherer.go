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
//
// A Gatherer made by NewNativeGatherer also collects a second reader of
// exponential histograms and serves each histogram series with both its
// classic buckets and its native histogram, as client_golang serves a
// histogram that has both.
type Gatherer struct {
	reader  sdkmetric.Reader
	native  sdkmetric.Reader // nil unless made by NewNativeGatherer
	onError func(error)
	conv    *Converter
	// pool and npool hold *metricdata.ResourceMetrics of reader and native
	// that are not cleared between uses, so the SDK can reuse their slices
	// on the next collection.
	pool, npool sync.Pool
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

// NewNativeGatherer returns a Gatherer whose Gather reports what classic
// collects, as NewGatherer's would, with the native histogram fields of
// the series native collects merged into its histograms: every classic
// histogram series gets the schema, zero threshold, zero count, spans and
// deltas (and the native exemplars) of the native histogram with the same
// family name and labels, and that histogram's count and sum. Series of
// native without a classic histogram counterpart, and everything native
// reports other than exponential histograms, are ignored; so is a series
// that classic already reports as a native histogram (a view chose
// exponential buckets for it).
//
// native should aggregate histograms as base-2 exponential histograms and
// drop every other instrument (sdkmetric.AggregationDrop), and both readers
// must use cumulative temporality. Register native with the MeterProvider
// before classic: the SDK then records each measurement into native before
// classic, and since Gather collects classic before native, every
// measurement in a classic bucket is also in the native histogram, so that
// the merged count is never below a classic bucket. The native histogram is
// exactly consistent with its count, as Prometheus requires; under
// concurrent recording the classic buckets may miss the few measurements
// made between the two collections, which the count (and so the implied
// +Inf bucket) already holds.
//
// Only the protobuf exposition carries native histograms: serve Classic to
// the text formats, so that they show the classic histograms exactly as
// NewGatherer's would, without the cost of the second collection.
func NewNativeGatherer(classic, native sdkmetric.Reader, onError func(error)) *Gatherer {
	g := NewGatherer(classic, onError)
	g.native = native
	return g
}

// Gather collects the reader and converts its data (and with a Gatherer of
// NewNativeGatherer, merges in the native histograms). It is safe for
// concurrent use.
//
// Like the OTel exporter, it returns nothing once the reader is shut down,
// and hands errors reported by the collection itself (such as a failing
// observable callback) to onError and still converts what was
// collected. A reader that is not registered with a MeterProvider is an
// error.
func (g *Gatherer) Gather() ([]*dto.MetricFamily, error) {
	fams, err := g.gather()
	if g.native == nil || len(fams) == 0 {
		return fams, err
	}
	nfams, nerr := g.gatherNative()
	if len(nfams) > 0 {
		mergeNative(fams, nfams)
	}
	return fams, joinNew(err, nerr)
}

// Classic returns a prometheus.Gatherer that collects and converts the
// classic reader only, sharing g's converter: for a Gatherer of NewGatherer
// it is g itself.
func (g *Gatherer) Classic() prometheus.Gatherer {
	if g.native == nil {
		return g
	}
	return prometheus.GathererFunc(g.gather)
}

// gather collects and converts the classic reader.
func (g *Gatherer) gather() ([]*dto.MetricFamily, error) {
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

// gatherNative collects and converts the native reader, without
// target_info. Errors of the collection itself are dropped: they come from
// the observable callbacks the classic collection has just run and
// reported (the SDK runs every callback for every reader).
func (g *Gatherer) gatherNative() ([]*dto.MetricFamily, error) {
	rm, _ := g.npool.Get().(*metricdata.ResourceMetrics)
	if rm == nil {
		rm = new(metricdata.ResourceMetrics)
	}
	defer g.npool.Put(rm)
	if err := g.native.Collect(context.Background(), rm); err != nil {
		switch {
		case errors.Is(err, sdkmetric.ErrReaderShutdown):
			return nil, nil
		case errors.Is(err, sdkmetric.ErrReaderNotRegistered):
			return nil, err
		}
	}
	rm.Resource = nil
	return g.conv.Convert(nil, rm)
}
