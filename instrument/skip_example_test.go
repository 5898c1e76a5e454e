package instrument_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/vitalsgo/vitals/instrument"
)

func ExampleSkipRecording() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "order") })
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, r *http.Request) {
		instrument.SkipRecording(r.Context()) // a probe, not application traffic
		fmt.Fprint(w, "ok")
	})
	h := instrument.Middleware(mux, instrument.WithMeterProvider(mp))
	for _, path := range []string{"/livez", "/orders/1", "/livez"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
	}

	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if hist, ok := m.Data.(metricdata.Histogram[float64]); ok {
			for _, dp := range hist.DataPoints {
				route, _ := dp.Attributes.Value("http.route")
				fmt.Println(m.Name, route.AsString(), dp.Count)
			}
		}
	}
	// Output: http.server.request.duration /orders/{id} 1
}
