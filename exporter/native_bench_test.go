package exporter

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// BenchmarkHistogramRecord measures one Record into a seconds histogram of
// a MeterProvider with /metrics only, without and with ExponentialHistograms
// (one more aggregation: the native reader's).
func BenchmarkHistogramRecord(b *testing.B) {
	for _, exp := range []bool{false, true} {
		b.Run("exponential="+strconv.FormatBool(exp), func(b *testing.B) {
			p, err := NewMeterProvider(b.Context(), MetricsConfig{ExponentialHistograms: exp, Exemplars: ExemplarsOff})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = p.Shutdown(b.Context()) })
			h, _ := p.Meter("bench").Float64Histogram("http.server.request.duration", metric.WithUnit("s"))
			opts := []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("http.route", "/orders"), attribute.Int("http.response.status_code", 200)))}
			ctx := b.Context()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				h.Record(ctx, 0.001*float64(1+i%500), opts...)
				i++
			}
		})
	}
}

// BenchmarkPrometheusHistograms scrapes /metrics holding 1 000 duration
// histogram series, in the text format and in the protobuf format,
// without and with ExponentialHistograms: with it a text scrape should
// cost the same, a protobuf scrape one more collection and the merge.
func BenchmarkPrometheusHistograms(b *testing.B) {
	for _, tc := range []struct {
		name   string
		exp    bool
		accept string
	}{
		{"exponential=false/text", false, ""},
		{"exponential=true/text", true, ""},
		{"exponential=false/protobuf", false, protobufAccept},
		{"exponential=true/protobuf", true, protobufAccept},
	} {
		b.Run(tc.name, func(b *testing.B) {
			p, err := NewMeterProvider(b.Context(), MetricsConfig{ExponentialHistograms: tc.exp})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = p.Shutdown(b.Context()) })
			h, _ := p.Meter("bench").Float64Histogram("http.server.request.duration", metric.WithUnit("s"))
			for i := range 1000 {
				route := metric.WithAttributes(attribute.String("http.route", "/r"+strconv.Itoa(i)))
				for j := range 20 {
					h.Record(b.Context(), 0.0005*float64(1+(i+j)%2000), route)
				}
			}
			handler := p.PrometheusHandler()
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				handler.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatal(rec.Code)
				}
			}
		})
	}
}
