package instrument_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/vitalsgo/vitals/instrument"
)

func ExampleTransport() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()

	// With vitals, v.Transport(nil) passes the provider (and the tracer
	// provider, when tracing is on); here a provider read by hand.
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	client := &http.Client{Transport: instrument.Transport(nil, instrument.WithMeterProvider(mp))}

	resp, err := client.Get(srv.URL + "/orders/42?token=secret")
	if err != nil {
		fmt.Println(err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	fmt.Println(resp.Status)

	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			h, ok := m.Data.(metricdata.Histogram[float64])
			if !ok {
				fmt.Println(m.Name)
				continue
			}
			for _, dp := range h.DataPoints {
				var attrs []string
				for _, kv := range dp.Attributes.ToSlice() {
					if kv.Key != "server.port" { // the test server's, which varies
						attrs = append(attrs, string(kv.Key)+"="+kv.Value.Emit())
					}
				}
				slices.Sort(attrs)
				fmt.Printf("%s (%s): %d request, %s\n", m.Name, m.Unit, dp.Count, strings.Join(attrs, " "))
			}
		}
	}
	// Unordered output:
	// 200 OK
	// http.client.request.duration (s): 1 request, http.request.method=GET http.response.status_code=200 network.protocol.name=http network.protocol.version=1.1 server.address=127.0.0.1 url.scheme=http
	// http.client.active_requests
}
