package bizmetrics_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/vitalsgo/vitals/bizmetrics"
)

func TestTimer(t *testing.T) {
	clk := newClock()
	clk.step = 100 * time.Millisecond // Time and Stop each read the clock once
	e := newEnv(t, bizmetrics.WithClock(clk), bizmetrics.WithMaxTimerNames(2))
	ctx := t.Context()

	tm := e.m.Time(ctx, "checkout", attribute.String("step", "pay"))
	if d := tm.Stop(); d != 100*time.Millisecond {
		t.Errorf("Stop = %v, want 100ms", d)
	}
	for _, name := range []string{"checkout", "render", "export", ""} {
		tm := e.m.Time(ctx, name)
		tm.Stop()
	}
	var zero bizmetrics.Timer
	if d := zero.Stop(); d != 0 {
		t.Errorf("zero Timer Stop = %v, want 0", d)
	}

	got := e.scrape(t)
	for s, want := range map[string]float64{
		`app_timer_duration_seconds_count{step="pay",timer_name="checkout"}`: 1,
		`app_timer_duration_seconds_sum{step="pay",timer_name="checkout"}`:   0.1,
		`app_timer_duration_seconds_count{timer_name="checkout"}`:            1,
		`app_timer_duration_seconds_count{timer_name="render"}`:              1,
		// export is past the cap of 2 names; "" has no name.
		`app_timer_duration_seconds_count{timer_name="_OTHER"}`: 2,
		// The semantic conventions' HTTP duration buckets.
		`app_timer_duration_seconds_bucket{le="0.075",timer_name="render"}`: 0,
		`app_timer_duration_seconds_bucket{le="0.1",timer_name="render"}`:   1,
	} {
		if v, ok := got[s]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", s, v, ok, want)
		}
	}
	if n := countPrefix(got, "app_timer_duration_seconds_count"); n != 4 {
		t.Errorf("%d timer series, want 4", n)
	}
}

// TestTimerDisabled checks that a timer whose histogram a view drops still
// measures and records nothing.
func TestTimerDisabled(t *testing.T) {
	r := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r), sdkmetric.WithView(sdkmetric.NewView(
		sdkmetric.Instrument{Name: "app.timer.duration"}, sdkmetric.Stream{Aggregation: sdkmetric.AggregationDrop{}})))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	clk := newClock()
	clk.step = time.Second
	m, err := bizmetrics.New(bizmetrics.WithMeterProvider(mp), bizmetrics.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	tm := m.Time(t.Context(), "checkout")
	if d := tm.Stop(); d != time.Second {
		t.Errorf("Stop = %v, want 1s", d)
	}
	var rm metricdata.ResourceMetrics
	if err := r.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, md := range sm.Metrics {
			if md.Name == "app.timer.duration" {
				t.Errorf("dropped timer histogram collected: %+v", md)
			}
		}
	}
}

// TestTimerNamesShareTheSDKLimit: timer names each with many attribute sets
// (100 names and 50 sets each, 5 000 sets, against the SDK's 2 000 for the
// whole histogram) keep every count under their own timer_name: the names
// share the sets the SDK allows, each past its share recorded in its own
// overflow set, so that none reaches the SDK's overflow set, which has no
// timer_name, and sum by (timer_name) stays exact.
func TestTimerNamesShareTheSDKLimit(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	const names, sets, extraNames = bizmetrics.DefaultMaxTimerNames, 50, 7
	var wg sync.WaitGroup // the names take their share of the sets concurrently
	for i := range names + extraNames {
		wg.Go(func() {
			for j := range sets {
				tm := e.m.Time(ctx, fmt.Sprint("op", i), attribute.Int("step", j))
				tm.Stop()
			}
		})
	}
	wg.Wait()
	checkSharesSDKLimit(t, e.scrape(t), "app_timer_duration_seconds", "timer_name", names, extraNames, sets)
}
