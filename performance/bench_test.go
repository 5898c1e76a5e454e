package performance_test

import (
	"context"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"

	"github.com/vitalsgo/vitals/clock/clocktest"
	"github.com/vitalsgo/vitals/exporter/memory"
	"github.com/vitalsgo/vitals/instrument"
	"github.com/vitalsgo/vitals/performance"
)

// BenchmarkSummarize computes the summary over its default window (15 min)
// from a reader holding the example shop's series count (about 1 250: 20
// request duration series of 11 routes and their statuses, classic and
// native, and 900 other counters and gauges) after an hour of traffic at
// 20 requests a second, collected every 10 s. B/op is what one summary
// allocates.
func BenchmarkSummarize(b *testing.B) {
	clk := clocktest.New(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	r := memory.New(memory.WithClock(clk))
	mp := sdkmetric.NewMeterProvider(append(r.MeterProviderOptions(),
		sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter))...)
	b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })

	reqClk := clocktest.New(clk.Now())
	var next time.Duration
	var status int
	mux := http.NewServeMux()
	routes := []string{"/products", "/products/{id}", "/users", "/orders", "/orders/{id}", "/a", "/b", "/c", "/d", "/e", "/f"}
	for _, route := range routes {
		mux.HandleFunc("GET "+route, func(w http.ResponseWriter, _ *http.Request) {
			reqClk.Advance(next)
			w.WriteHeader(status)
		})
	}
	h := instrument.Middleware(mux, instrument.WithMeterProvider(mp), instrument.WithClock(reqClk),
		instrument.WithLogger(slog.New(slog.DiscardHandler)))
	other, _ := mp.Meter("bench").Int64Counter("other")
	otherAttrs := make([]metric.AddOption, 900)
	for i := range otherAttrs {
		otherAttrs[i] = metric.WithAttributes(attribute.String("k", strconv.Itoa(i)))
	}

	rng := rand.New(rand.NewPCG(1, 2))
	w := httptest.NewRecorder()
	reqs := make([]*http.Request, len(routes))
	for i, route := range routes {
		reqs[i] = httptest.NewRequest(http.MethodGet, route, nil)
	}
	ctx := context.Background()
	for range 360 { // an hour at 10 s
		for range 200 {
			next = time.Duration(2e6 * math.Exp(0.8*rng.NormFloat64()))
			status = http.StatusOK
			if rng.IntN(20) == 0 {
				status = http.StatusInternalServerError
			}
			h.ServeHTTP(w, reqs[rng.IntN(len(reqs))])
		}
		for _, a := range otherAttrs {
			other.Add(ctx, rng.Int64N(3), a)
		}
		clk.Advance(10 * time.Second)
		if err := r.Collect(ctx); err != nil {
			b.Fatal(err)
		}
	}
	if st := r.Stats(); st.Series < 1200 || st.Series > 1400 {
		b.Fatalf("%d series, want about the example's 1 250", st.Series)
	}
	b.ReportAllocs()
	for b.Loop() {
		s, err := performance.Summarize(ctx, r, 15*time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		if s.TotalRequests != 90*200 {
			b.Fatalf("%v requests, want %d", s.TotalRequests, 90*200)
		}
	}
}
