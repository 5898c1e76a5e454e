package promconv

import (
	"cmp"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Native histogram schemas Prometheus accepts.
const (
	minNativeScale = -4
	maxNativeScale = 8
)

var errScaleBelowMin = errors.New("exponential histogram scale below minimum supported")

// addHistogram converts explicit-bucket histogram points into classic
// histograms, written the way client_golang's const histogram writes them: a
// bucket per bound with cumulative counts, the +Inf bucket implied by the
// count.
func addHistogram[N int64 | float64](cv *conv, f *family, si int32, dps []metricdata.HistogramDataPoint[N], bad *badSeries) {
	f.reserve(len(dps))
	for j := range dps {
		dp := &dps[j]
		hint := len(dps) - j
		nb := len(dp.Bounds)
		if len(dp.BucketCounts) < nb {
			bad.add(fmt.Errorf("histogram point has %d bounds but only %d bucket counts", nb, len(dp.BucketCounts)))
			continue
		}
		lbls, err := cv.seriesLabels(&dp.Attributes, si, hint)
		if err != nil {
			bad.add(err)
			continue
		}
		h := cv.hists.one(hint)
		bs := cv.buckets.take(nb, hint*nb)
		// One pointer more for an explicit +Inf bucket (placeExemplars).
		bp := cv.bptrs.take(nb+1, hint*(nb+1))[:nb]
		us := cv.uints.take(nb+1, hint*(nb+1))
		fs := cv.floats.take(nb+1, hint*(nb+1))
		var cum uint64
		increasing := true
		for i, b := range dp.Bounds {
			cum += dp.BucketCounts[i]
			us[i], fs[i] = cum, b
			bs[i].CumulativeCount, bs[i].UpperBound = &us[i], &fs[i]
			bp[i] = &bs[i]
			if i > 0 && !(b > dp.Bounds[i-1]) {
				increasing = false
			}
		}
		if !increasing {
			bp = normalizeBuckets(bp)
		}
		us[nb], fs[nb] = dp.Count, float64(dp.Sum)
		h.SampleCount, h.SampleSum, h.Bucket = &us[nb], &fs[nb], bp
		if len(dp.Exemplars) > 0 {
			cv.exemplars = convertExemplars(cv, cv.exemplars[:0], dp.Exemplars)
			placeExemplars(cv, h, cv.exemplars, hint)
		}
		m := cv.metrics.one(hint)
		m.Label = lbls
		m.Histogram = h
		f.add(m, si)
	}
}

// normalizeBuckets sorts buckets by upper bound and keeps the last of equal
// bounds, which is what client_golang's map of bounds does. OTel bounds are
// strictly increasing, so this only runs for odd data from a Producer.
func normalizeBuckets(bp []*dto.Bucket) []*dto.Bucket {
	slices.SortStableFunc(bp, func(a, b *dto.Bucket) int { return cmp.Compare(a.GetUpperBound(), b.GetUpperBound()) })
	out := bp[:0]
	for _, b := range bp {
		if n := len(out); n > 0 && out[n-1].GetUpperBound() == b.GetUpperBound() {
			out[n-1] = b
			continue
		}
		out = append(out, b)
	}
	return out
}

// placeExemplars puts each exemplar on the first bucket whose upper bound is
// at least its value, adding an explicit +Inf bucket for one above every
// bound, exactly as client_golang's NewMetricWithExemplars does for classic
// histograms.
func placeExemplars(cv *conv, h *dto.Histogram, exs []*dto.Exemplar, hint int) {
	for _, e := range exs {
		v := e.GetValue()
		i := sort.Search(len(h.Bucket), func(i int) bool { return h.Bucket[i].GetUpperBound() >= v })
		if i < len(h.Bucket) {
			h.Bucket[i].Exemplar = e
			continue
		}
		b := cv.buckets.one(hint)
		b.CumulativeCount, b.UpperBound, b.Exemplar = h.SampleCount, &posInf, e
		h.Bucket = append(h.Bucket, b)
	}
}

// posInf is the upper bound of every explicit +Inf bucket; like every
// value a conversion returns, it is never written.
var posInf = math.Inf(1)

// addNativeHistogram converts exponential histogram points into native
// histograms. It is rare, so it reuses client_golang's const native histogram
// exactly as the exporter does.
func addNativeHistogram[N int64 | float64](cv *conv, f *family, si int32, dps []metricdata.ExponentialHistogramDataPoint[N], bad *badSeries) {
	desc := prometheus.NewDesc(f.name, f.help, nil, nil)
	for j := range dps {
		dp := &dps[j]
		lbls, err := cv.seriesLabels(&dp.Attributes, si, len(dps)-j)
		if err != nil {
			bad.add(err)
			continue
		}
		h, err := nativeHistogram(desc, dp, cv.c.onError)
		if err != nil {
			bad.add(err)
			continue
		}
		if len(dp.Exemplars) > 0 {
			// A const native histogram always has a zero threshold, zero
			// count or span set, so client_golang keeps every exemplar.
			h.Exemplars = convertExemplars(cv, nil, dp.Exemplars)
		}
		f.add(&dto.Metric{Label: lbls, Histogram: h}, si)
	}
}

func nativeHistogram[N int64 | float64](desc *prometheus.Desc, dp *metricdata.ExponentialHistogramDataPoint[N], onError func(error)) (*dto.Histogram, error) {
	scale := dp.Scale
	if scale < minNativeScale {
		return nil, fmt.Errorf("%w: %d (min %d)", errScaleBelowMin, scale, minNativeScale)
	}
	pos, neg := dp.PositiveBucket, dp.NegativeBucket
	if scale > maxNativeScale {
		delta := scale - maxNativeScale
		pos = downscaleExponentialBucket(pos, delta)
		neg = downscaleExponentialBucket(neg, delta)
		scale = maxNativeScale
	}
	// Prometheus indexes buckets by upper boundary, OTel by lower boundary:
	// the offsets differ by one.
	toMap := func(b metricdata.ExponentialBucket, sign string) map[int]int64 {
		m := make(map[int]int64, len(b.Counts))
		for i, c := range b.Counts {
			if c > math.MaxInt64 {
				onError(fmt.Errorf("promconv: %s count %d is too large to be represented as int64", sign, c))
				continue
			}
			m[int(b.Offset)+i+1] = int64(c)
		}
		return m
	}
	pm, err := prometheus.NewConstNativeHistogram(desc, dp.Count, float64(dp.Sum),
		toMap(pos, "positive"), toMap(neg, "negative"), dp.ZeroCount, scale, dp.ZeroThreshold, dp.StartTime)
	if err != nil {
		return nil, err
	}
	var out dto.Metric
	if err := pm.Write(&out); err != nil {
		return nil, err
	}
	return out.Histogram, nil
}

// downscaleExponentialBucket merges bucket counts for a scale lower by
// scaleDelta, as the exporter does.
func downscaleExponentialBucket(bucket metricdata.ExponentialBucket, scaleDelta int32) metricdata.ExponentialBucket {
	newOffset := bucket.Offset >> scaleDelta
	if len(bucket.Counts) == 0 || scaleDelta < 1 {
		return metricdata.ExponentialBucket{Offset: newOffset, Counts: slices.Clone(bucket.Counts)}
	}
	lastIdx := bucket.Offset + int32(len(bucket.Counts)) - 1
	n := int(lastIdx>>scaleDelta - newOffset + 1)
	if n <= 0 {
		return metricdata.ExponentialBucket{Offset: newOffset, Counts: []uint64{}}
	}
	counts := make([]uint64, n)
	for i, c := range bucket.Counts {
		if c == 0 {
			continue
		}
		pos := (bucket.Offset+int32(i))>>scaleDelta - newOffset
		if pos >= 0 && int(pos) < n {
			counts[pos] += c
		}
	}
	return metricdata.ExponentialBucket{Offset: newOffset, Counts: counts}
}

// convertExemplars converts exemplars as client_golang's
// NewMetricWithExemplars would after the exporter's translation: if any of
// them is invalid, none is kept (and the error goes to the converter's
// onError, as the exporter's goes to otel.Handle, rather than failing the
// scrape). They are appended to out.
func convertExemplars[N int64 | float64](cv *conv, out []*dto.Exemplar, exs []metricdata.Exemplar[N]) []*dto.Exemplar {
	var now time.Time
	for i := range exs {
		e := &exs[i]
		k, cacheable := exemplarCacheKey(e.Time, e.FilteredAttributes, e.TraceID, e.SpanID)
		if cacheable {
			cv.nexemplars++
			// NaN values never match: they are converted each time.
			if c, ok := cv.c.sets.exemplars.load(k); ok && c.time == e.Time.UnixNano() && c.value == float64(e.Value) {
				out = append(out, c.ex)
				continue
			}
		}
		ex, err := cv.exemplar(float64(e.Value), e.Time, e.FilteredAttributes, e.TraceID, e.SpanID, &now)
		if err != nil {
			cv.c.onError(fmt.Errorf("promconv: dropping exemplars: %w", err))
			return nil
		}
		if cacheable {
			cv.c.sets.exemplars.store(k, cachedExemplar{ex: ex, time: e.Time.UnixNano(), value: float64(e.Value)})
		}
		out = append(out, ex)
	}
	return out
}

// exemplarKey identifies an exemplar by its trace ID's backing array.
// The exporter's reservoirs (exporter.exemplarReservoirs) report one
// measurement's IDs in the same immutable slice at every collection until a
// newer measurement replaces it, so the array identifies the measurement and
// its conversion is reused; the time and value are checked too. Reservoirs
// that copy the IDs at every collection (the SDK's) simply miss. The key
// keeps the array alive, so its address cannot be reused while cached.
type exemplarKey = *byte

// cachedExemplar is a converted exemplar and what its key does not say.
type cachedExemplar struct {
	ex    *dto.Exemplar
	time  int64 // Unix nanoseconds
	value float64
}

// exemplarCacheKey returns the key of an exemplar, and whether it has one:
// exemplars with filtered attributes, without a full trace context or a
// time are converted anew each time.
func exemplarCacheKey(ts time.Time, attrs []attribute.KeyValue, traceID, spanID []byte) (exemplarKey, bool) {
	if len(attrs) > 0 || len(traceID) != 16 || len(spanID) != 8 || ts.IsZero() {
		return nil, false
	}
	return unsafe.SliceData(traceID), true
}

func (cv *conv) exemplar(v float64, ts time.Time, attrs []attribute.KeyValue, traceID, spanID []byte, now *time.Time) (*dto.Exemplar, error) {
	lps := make([]*dto.LabelPair, 0, len(attrs)+2)
	set := func(name *string, value string) {
		for _, lp := range lps {
			if *lp.Name == *name {
				lp.Value = new(value)
				return
			}
		}
		lps = append(lps, &dto.LabelPair{Name: name, Value: new(value)})
	}
	for _, kv := range attrs {
		ln := cv.labelName(string(kv.Key))
		if ln.err != nil {
			return nil, ln.err
		}
		set(ln.name, kv.Value.String())
	}
	set(traceIDLabelName, hex.EncodeToString(traceID))
	set(spanIDLabelName, hex.EncodeToString(spanID))
	runes := 0
	for _, lp := range lps {
		if !utf8.ValidString(*lp.Value) {
			return nil, fmt.Errorf("exemplar label value %q is not valid UTF-8", *lp.Value)
		}
		runes += utf8.RuneCountInString(*lp.Name) + utf8.RuneCountInString(*lp.Value)
	}
	if runes > prometheus.ExemplarMaxRunes {
		return nil, fmt.Errorf("exemplar labels have %d runes, exceeding the limit of %d", runes, prometheus.ExemplarMaxRunes)
	}
	sortPairs(lps)
	if ts.IsZero() {
		if now.IsZero() {
			*now = time.Now()
		}
		ts = *now
	}
	tsp := timestamppb.New(ts)
	if err := tsp.CheckValid(); err != nil {
		return nil, err
	}
	return &dto.Exemplar{Label: lps, Value: new(v), Timestamp: tsp}, nil
}
