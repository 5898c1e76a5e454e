package buckets

import sdkmetric "go.opentelemetry.io/otel/sdk/metric"

// ExponentialMaxSize is the number of buckets of Vitals' base-2
// exponential histograms. A histogram starts at ExponentialMaxScale and
// halves its resolution whenever its values span more buckets than this, so
// 400 buckets keep scale 4, buckets 2^(1/16) = 4.4 % wide, for any set of
// values spanning up to 2^25: 10 µs to 60 s of durations (22.5 doublings
// need 362 buckets at scale 4). A percentile estimated inside such a bucket
// is within 4.4 % of the true value.
const ExponentialMaxSize = 400

// ExponentialMaxScale is the scale a histogram starts at: 4, the coarsest
// that keeps percentiles within 5 % (the SDK's default, 20, would start
// with buckets 0.00007 % wide). Finer scales are more exact for narrow
// distributions but cost memory for nothing the 5 % bound needs: a native
// histogram sample of 20 lognormal latencies takes 51 bytes at scale 4, 86
// at scale 5 (docs/benchmarks.md).
const ExponentialMaxScale = 4

// Exponential returns the base-2 exponential histogram aggregation of every
// Vitals reader that keeps exponential histograms: the in-memory reader
// always, /metrics and OTLP when asked to.
func Exponential() sdkmetric.AggregationBase2ExponentialHistogram {
	return sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: ExponentialMaxSize, MaxScale: ExponentialMaxScale}
}

// NativeSelector aggregates histograms as Exponential and drops every other
// instrument: the aggregation of a reader that only adds native histograms
// beside a reader with the default aggregations, which reports the rest
// (the in-memory reader's second reader, /metrics' with exponential
// histograms on).
func NativeSelector(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
	if k == sdkmetric.InstrumentKindHistogram {
		return Exponential()
	}
	return sdkmetric.AggregationDrop{}
}
