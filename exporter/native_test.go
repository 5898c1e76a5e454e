package exporter

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/vitalsgo/vitals/internal/buckets"
	"github.com/vitalsgo/vitals/internal/logtest"

	"github.com/vitalsgo/vitals/exporter/memory"
)

// protobufAccept is the Accept header of a Prometheus that scrapes native
// histograms.
const protobufAccept = `application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.5,application/openmetrics-text;version=1.0.0;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2`

// fetch GETs url with the given Accept header and returns the body and its
// content type.
func fetch(t *testing.T, url, accept string) (string, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), resp.Header.Get("Content-Type")
}

// scrapeProtobuf scrapes url as Prometheus does with native histograms on
// and decodes the delimited protobuf answer.
func scrapeProtobuf(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	body, ct := fetch(t, url, protobufAccept)
	if !strings.Contains(ct, "application/vnd.google.protobuf") {
		t.Fatalf("content type %q, want delimited protobuf", ct)
	}
	dec := expfmt.NewDecoder(strings.NewReader(body), expfmt.NewFormat(expfmt.TypeProtoDelim))
	mfs := make(map[string]*dto.MetricFamily)
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); err == io.EOF {
			return mfs
		} else if err != nil {
			t.Fatal(err)
		}
		if _, dup := mfs[mf.GetName()]; dup {
			t.Errorf("family %s appears twice", mf.GetName())
		}
		mfs[mf.GetName()] = &mf
	}
}

// withoutTargetInfo drops the target_info lines, which differ between two
// providers (service.instance.id).
func withoutTargetInfo(body string) string {
	lines := strings.Split(body, "\n")
	lines = slices.DeleteFunc(lines, func(l string) bool { return strings.Contains(l, "target_info") })
	return strings.Join(lines, "\n")
}

// recordHTTPLike records the same measurements into p: two series of an
// HTTP-server-like duration histogram, a size histogram with integer
// values, a counter, and one value below every bound and one above.
func recordHTTPLike(t *testing.T, p *MeterProvider) {
	t.Helper()
	m := p.Meter("example.com/http")
	dur, err := m.Float64Histogram("http.server.request.duration", metric.WithUnit("s"))
	if err != nil {
		t.Fatal(err)
	}
	size, err := m.Int64Histogram("http.server.response.body.size", metric.WithUnit("By"))
	if err != nil {
		t.Fatal(err)
	}
	reqs, err := m.Int64Counter("app.requests")
	if err != nil {
		t.Fatal(err)
	}
	get := metric.WithAttributes(attribute.String("http.request.method", "GET"), attribute.String("http.route", "/items"), attribute.Int("http.response.status_code", 200))
	post := metric.WithAttributes(attribute.String("http.request.method", "POST"), attribute.String("http.route", "/orders"), attribute.Int("http.response.status_code", 500))
	ctx := t.Context()
	for i := range 200 {
		v := 0.001 * float64(1+i%97) * float64(1+i%7)
		dur.Record(ctx, v, get)
		size.Record(ctx, int64(100*(i%13)), get)
		reqs.Add(ctx, 1, get)
		if i%3 == 0 {
			dur.Record(ctx, 2*v, post)
			reqs.Add(ctx, 1, post)
		}
	}
	dur.Record(ctx, 0.0001, post) // below every bound
	dur.Record(ctx, 42, post)     // above every bound
	dur.Record(ctx, 0, get)       // the zero bucket
}

// nativeCount returns the observations in the native buckets of h (zero
// bucket included), decoding the deltas.
func nativeCount(h *dto.Histogram) uint64 {
	n := h.GetZeroCount()
	for _, deltas := range [][]int64{h.GetPositiveDelta(), h.GetNegativeDelta()} {
		var c int64
		for _, d := range deltas {
			c += d
			n += uint64(c)
		}
	}
	return n
}

// TestNativeHistogramsBesideClassic checks /metrics with
// ExponentialHistograms: the text and OpenMetrics formats are exactly those
// of a provider without it, and the protobuf format carries, in each
// histogram series, the classic buckets and a native histogram with the
// same count and sum.
func TestNativeHistogramsBesideClassic(t *testing.T) {
	id := attribute.String(string(semconv.ServiceInstanceIDKey), "instance-1")
	on := newTestProvider(t, MetricsConfig{ServiceName: "shop", ExponentialHistograms: true, ResourceAttributes: []attribute.KeyValue{id}})
	off := newTestProvider(t, MetricsConfig{ServiceName: "shop", ResourceAttributes: []attribute.KeyValue{id}})
	recordHTTPLike(t, on)
	recordHTTPLike(t, off)
	onSrv := httptest.NewServer(on.PrometheusHandler())
	defer onSrv.Close()
	offSrv := httptest.NewServer(off.PrometheusHandler())
	defer offSrv.Close()

	for _, accept := range []string{"", "text/plain;version=0.0.4", "application/openmetrics-text;version=1.0.0", "application/openmetrics-text;version=0.0.1"} {
		gotOn, ctOn := fetch(t, onSrv.URL, accept)
		gotOff, ctOff := fetch(t, offSrv.URL, accept)
		if ctOn != ctOff {
			t.Errorf("Accept %q: content type %q, without the option %q", accept, ctOn, ctOff)
		}
		if withoutTargetInfo(gotOn) != withoutTargetInfo(gotOff) {
			t.Errorf("Accept %q: the exposition differs from the one without the option:\n%s\nwant:\n%s", accept, gotOn, gotOff)
		}
		if !strings.Contains(gotOn, `http_server_request_duration_seconds_bucket{`) {
			t.Errorf("Accept %q: no classic buckets:\n%s", accept, gotOn)
		}
	}

	text := scrape(t, onSrv.URL)
	proto := scrapeProtobuf(t, onSrv.URL)
	protoOff := scrapeProtobuf(t, offSrv.URL)
	if got, want := keys(proto), keys(protoOff); !slices.Equal(got, want) {
		t.Errorf("protobuf families %v, without the option %v", got, want)
	}
	histograms := 0
	for name, mf := range proto {
		if mf.GetType() != dto.MetricType_HISTOGRAM {
			if off := protoOff[name]; len(off.GetMetric()) != len(mf.GetMetric()) {
				t.Errorf("%s: %d series, without the option %d", name, len(mf.GetMetric()), len(off.GetMetric()))
			}
			continue
		}
		tf := text[name]
		if len(tf.GetMetric()) != len(mf.GetMetric()) {
			t.Fatalf("%s: %d series in protobuf, %d in text", name, len(mf.GetMetric()), len(tf.GetMetric()))
		}
		for i, m := range mf.GetMetric() {
			histograms++
			h, th := m.GetHistogram(), tf.GetMetric()[i].GetHistogram()
			if !slices.EqualFunc(m.GetLabel(), tf.GetMetric()[i].GetLabel(), func(a, b *dto.LabelPair) bool {
				return a.GetName() == b.GetName() && a.GetValue() == b.GetValue()
			}) {
				t.Fatalf("%s: series %d has labels %v in protobuf, %v in text", name, i, m.GetLabel(), tf.GetMetric()[i].GetLabel())
			}
			if h.GetSampleCount() != th.GetSampleCount() || h.GetSampleSum() != th.GetSampleSum() {
				t.Errorf("%s%v: count %d sum %v, text %d %v", name, labelsOf(m), h.GetSampleCount(), h.GetSampleSum(), th.GetSampleCount(), th.GetSampleSum())
			}
			// The text parser adds the +Inf bucket the protobuf leaves implied.
			if len(th.GetBucket()) != len(h.GetBucket())+1 {
				t.Fatalf("%s%v: %d buckets, text %d", name, labelsOf(m), len(h.GetBucket()), len(th.GetBucket()))
			}
			for j, b := range h.GetBucket() {
				tb := th.GetBucket()[j]
				if b.GetUpperBound() != tb.GetUpperBound() || b.GetCumulativeCount() != tb.GetCumulativeCount() {
					t.Errorf("%s%v: bucket %d is le=%v %d, text le=%v %d", name, labelsOf(m), j, b.GetUpperBound(), b.GetCumulativeCount(), tb.GetUpperBound(), tb.GetCumulativeCount())
				}
			}
			if h.Schema == nil || len(h.GetPositiveSpan()) == 0 || len(h.GetPositiveDelta()) == 0 {
				t.Errorf("%s%v: no native histogram: %v", name, labelsOf(m), h)
			}
			if got := nativeCount(h); got != h.GetSampleCount() {
				t.Errorf("%s%v: %d observations in the native buckets, count %d", name, labelsOf(m), got, h.GetSampleCount())
			}
			if s, finest := h.GetSchema(), min(int32(buckets.ExponentialMaxScale), 8); s < -4 || s > finest {
				t.Errorf("%s%v: schema %d, want -4 to %d", name, labelsOf(m), s, finest)
			}
			if oh := protoOff[name].GetMetric()[i].GetHistogram(); oh.Schema != nil || len(oh.GetPositiveSpan()) > 0 {
				t.Errorf("%s%v: native histogram without the option: %v", name, labelsOf(m), oh)
			}
		}
	}
	if histograms != 3 {
		t.Errorf("%d histogram series, want 3", histograms)
	}
	if h := proto["http_server_request_duration_seconds"]; h == nil || h.GetMetric()[0].GetHistogram().GetZeroCount() == 0 {
		t.Errorf("the 0 s request is not in the zero bucket: %v", h)
	}
}

// TestNativeHistogramsUnderConcurrentRecording scrapes the protobuf format
// while requests are recorded: every native histogram must stay exactly
// consistent with its count (Prometheus refuses it otherwise), and no
// classic bucket may exceed the count.
func TestNativeHistogramsUnderConcurrentRecording(t *testing.T) {
	p := newTestProvider(t, MetricsConfig{ExponentialHistograms: true})
	dur, _ := p.Meter("t").Float64Histogram("http.server.request.duration", metric.WithUnit("s"))
	srv := httptest.NewServer(p.PrometheusHandler())
	defer srv.Close()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			attrs := metric.WithAttributes(attribute.Int("worker", w%2))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				dur.Record(t.Context(), 0.0005*float64(1+i%1000), attrs)
			}
		})
	}
	check := func(mfs map[string]*dto.MetricFamily) (count uint64) {
		for _, m := range mfs["http_server_request_duration_seconds"].GetMetric() {
			h := m.GetHistogram()
			count += h.GetSampleCount()
			if got := nativeCount(h); got != h.GetSampleCount() {
				t.Errorf("%v: %d observations in the native buckets, count %d", labelsOf(m), got, h.GetSampleCount())
			}
			prev := uint64(0)
			for _, b := range h.GetBucket() {
				if c := b.GetCumulativeCount(); c < prev || c > h.GetSampleCount() {
					t.Errorf("%v: bucket le=%v has %d, previous %d, count %d", labelsOf(m), b.GetUpperBound(), c, prev, h.GetSampleCount())
				}
				prev = b.GetCumulativeCount()
			}
		}
		return count
	}
	for range 30 {
		check(scrapeProtobuf(t, srv.URL))
	}
	close(stop)
	wg.Wait()

	// At rest, both forms hold every request.
	proto := scrapeProtobuf(t, srv.URL)
	total := check(proto)
	var textTotal uint64
	for _, m := range scrape(t, srv.URL)["http_server_request_duration_seconds"].GetMetric() {
		textTotal += m.GetHistogram().GetSampleCount()
	}
	if total == 0 || total != textTotal {
		t.Errorf("at rest: count %d in protobuf, %d in text", total, textTotal)
	}
	for _, m := range proto["http_server_request_duration_seconds"].GetMetric() {
		h := m.GetHistogram()
		if b := h.GetBucket(); b[len(b)-1].GetCumulativeCount() != h.GetSampleCount() {
			t.Errorf("at rest %v: last classic bucket %d, count %d", labelsOf(m), b[len(b)-1].GetCumulativeCount(), h.GetSampleCount())
		}
	}
}

// TestNativeHistogramsProducersOnce checks that producers feed the classic
// reader only: a protobuf scrape calls each once and shows its metrics once.
func TestNativeHistogramsProducersOnce(t *testing.T) {
	prod := &fakeProducer{}
	p := newTestProvider(t, MetricsConfig{ExponentialHistograms: true}, WithProducer(prod))
	srv := httptest.NewServer(p.PrometheusHandler())
	defer srv.Close()
	f := scrapeProtobuf(t, srv.URL)["produced_items_total"]
	if len(f.GetMetric()) != 1 || f.GetMetric()[0].GetCounter().GetValue() != 7 {
		t.Errorf("produced_items_total = %v, want one counter of 7", f)
	}
	if got := prod.calls.Load(); got != 1 {
		t.Errorf("%d calls to Produce for one scrape, want 1", got)
	}
}

// TestNativeHistogramsRespectViews checks that a view choosing a
// histogram's aggregation wins on both readers: explicit buckets give a
// classic histogram only, exponential buckets a native one only, with
// nothing logged.
func TestNativeHistogramsRespectViews(t *testing.T) {
	logger, logs := logtest.New()
	p := newTestProvider(t, MetricsConfig{ExponentialHistograms: true},
		WithLogger(logger),
		WithView(
			sdkmetric.NewView(sdkmetric.Instrument{Name: "classic.only"},
				sdkmetric.Stream{Aggregation: sdkmetric.AggregationExplicitBucketHistogram{Boundaries: []float64{1, 2}}}),
			sdkmetric.NewView(sdkmetric.Instrument{Name: "native.only"},
				sdkmetric.Stream{Aggregation: sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: 20, MaxScale: 3}}),
		))
	m := p.Meter("t")
	classic, _ := m.Float64Histogram("classic.only", metric.WithUnit("s"))
	native, _ := m.Float64Histogram("native.only", metric.WithUnit("s"))
	classic.Record(t.Context(), 1.5)
	native.Record(t.Context(), 1.5)
	srv := httptest.NewServer(p.PrometheusHandler())
	defer srv.Close()
	mfs := scrapeProtobuf(t, srv.URL)

	c := mfs["classic_only_seconds"].GetMetric()[0].GetHistogram()
	if len(c.GetBucket()) != 2 || c.Schema != nil || len(c.GetPositiveSpan()) > 0 {
		t.Errorf("classic_only_seconds = %v, want two classic buckets and no native histogram", c)
	}
	n := mfs["native_only_seconds"].GetMetric()[0].GetHistogram()
	if len(n.GetBucket()) != 0 || n.GetSchema() != 3 || n.GetSampleCount() != 1 {
		t.Errorf("native_only_seconds = %v, want a native histogram of schema 3 and no classic buckets", n)
	}
	if s := logs.String(); s != "" {
		t.Errorf("logged:\n%s", s)
	}
}

// TestNativeHistogramsFromEnvironment checks that the environment variable
// turns the native histograms on.
func TestNativeHistogramsFromEnvironment(t *testing.T) {
	t.Setenv(EnvHistogramAggregation, "base2_exponential_bucket_histogram")
	cfg, err := MetricsConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	p := newTestProvider(t, cfg)
	h, _ := p.Meter("t").Float64Histogram("lat", metric.WithUnit("s"))
	h.Record(t.Context(), 0.25)
	srv := httptest.NewServer(p.PrometheusHandler())
	defer srv.Close()
	got := scrapeProtobuf(t, srv.URL)["lat_seconds"].GetMetric()[0].GetHistogram()
	if got.Schema == nil || len(got.GetBucket()) == 0 || got.GetSampleCount() != 1 {
		t.Errorf("lat_seconds = %v, want classic buckets and a native histogram of one sample", got)
	}
}

// TestPrometheusReadersShared checks WithPrometheusReaders as vitals.Start
// uses it: /metrics is served from the in-memory reader's readers (a
// producer given to the memory reader only shows on /metrics), and shows
// exactly what a provider with readers of its own shows, in every format,
// with the native histograms in protobuf when asked for, while the memory
// reader keeps collecting from the same readers.
func TestPrometheusReadersShared(t *testing.T) {
	for _, exp := range []bool{false, true} {
		t.Run(fmt.Sprintf("exponential=%v", exp), func(t *testing.T) {
			id := attribute.String(string(semconv.ServiceInstanceIDKey), "instance-1")
			cfg := MetricsConfig{ServiceName: "shop", ExponentialHistograms: exp, ResourceAttributes: []attribute.KeyValue{id}}
			mem := memory.New(memory.WithProducer(&fakeProducer{}))
			shared := newTestProvider(t, cfg, WithReader(mem.SDKReaders()...),
				WithPrometheusReaders(mem.ClassicReader(), mem.NativeReader()))
			own := newTestProvider(t, cfg, WithProducer(&fakeProducer{}))
			recordHTTPLike(t, shared)
			recordHTTPLike(t, own)
			if err := mem.Collect(t.Context()); err != nil {
				t.Fatal(err)
			}
			sharedSrv := httptest.NewServer(shared.PrometheusHandler())
			defer sharedSrv.Close()
			ownSrv := httptest.NewServer(own.PrometheusHandler())
			defer ownSrv.Close()
			for _, accept := range []string{"", "application/openmetrics-text;version=1.0.0"} {
				got, _ := fetch(t, sharedSrv.URL, accept)
				want, _ := fetch(t, ownSrv.URL, accept)
				if withoutTargetInfo(got) != withoutTargetInfo(want) {
					t.Errorf("Accept %q: shared readers serve\n%s\nwant\n%s", accept, got, want)
				}
				if !strings.Contains(got, "produced_items") {
					t.Errorf("Accept %q: the memory reader's producer is not on /metrics: not served from its reader", accept)
				}
			}
			h := scrapeProtobuf(t, sharedSrv.URL)["http_server_request_duration_seconds"]
			if h == nil {
				t.Fatal("no request duration in protobuf")
			}
			for _, m := range h.GetMetric() {
				native := m.GetHistogram().Schema != nil
				if native != exp {
					t.Errorf("protobuf series %v: native %v, want %v", m.GetLabel(), native, exp)
				}
			}
			res, err := mem.Query(t.Context(), `sum(http_server_request_duration_seconds_count)`, mem.Now())
			if err != nil {
				t.Fatal(err)
			}
			if v, err := res.Vector(); err != nil || len(v) != 1 || v[0].F != 270 {
				t.Errorf("the memory reader's count: %v %v, want 270", res.Value, err)
			}
		})
	}
}
