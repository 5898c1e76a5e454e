package instrument_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/vitalsgo/vitals/instrument"
	"github.com/vitalsgo/vitals/internal/logtest"
)

// brokenMeterProvider makes meters whose histograms cannot be created.
type brokenMeterProvider struct{ noop.MeterProvider }

func (brokenMeterProvider) Meter(string, ...metric.MeterOption) metric.Meter { return brokenMeter{} }

type brokenMeter struct{ noop.Meter }

func (brokenMeter) Float64Histogram(string, ...metric.Float64HistogramOption) (metric.Float64Histogram, error) {
	return noop.Float64Histogram{}, errors.New("instrument refused")
}

// TestMetricsDisabledAreLogged: when its metrics cannot be created, the
// middleware and the transport tell their logger (not OTel's global error
// handler) and still serve and send requests.
func TestMetricsDisabledAreLogged(t *testing.T) {
	logger, buf := logtest.New()
	h := instrument.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}), instrument.WithMeterProvider(brokenMeterProvider{}), instrument.WithLogger(logger))
	srv := httptest.NewServer(h)
	defer srv.Close()
	if got := buf.String(); !strings.Contains(got, "vitals: HTTP metrics disabled") || !strings.Contains(got, "instrument refused") {
		t.Errorf("middleware log = %q, want the disabled metrics and the cause", got)
	}

	clientLogger, clientBuf := logtest.New()
	client := &http.Client{Transport: instrument.Transport(nil,
		instrument.WithMeterProvider(brokenMeterProvider{}), instrument.WithLogger(clientLogger))}
	if got := clientBuf.String(); !strings.Contains(got, "vitals: HTTP client metrics disabled") || !strings.Contains(got, "instrument refused") {
		t.Errorf("transport log = %q, want the disabled metrics and the cause", got)
	}
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok" {
		t.Errorf("body = %q, want ok", body)
	}
	client.CloseIdleConnections()
}
