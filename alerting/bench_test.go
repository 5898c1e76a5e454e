package alerting_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"

	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/exporter/memory"
)

// BenchmarkEval evaluates 100 alerting rules over 10 000 counter series
// (ten shards of 1 000), each rule a rate over one shard summed by route,
// with seven collections in the store.
func BenchmarkEval(b *testing.B) {
	clk := newEngClock(time.Unix(1_700_000_000, 0))
	mem := memory.New(memory.WithClock(clk), memory.WithMaxSeries(20000))
	mp := sdkmetric.NewMeterProvider(append(mem.MeterProviderOptions(), sdkmetric.WithCardinalityLimit(0),
		sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter))...)
	b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	c, _ := mp.Meter("bench").Int64Counter("hits")
	ctx := context.Background()
	for range 7 {
		for i := range 10000 {
			c.Add(ctx, int64(i%7), metric.WithAttributes(attribute.String("shard", strconv.Itoa(i%10)), attribute.String("route", "/r/"+strconv.Itoa(i))))
		}
		clk.set(clk.Now().Add(10 * time.Second))
		if err := mem.Collect(ctx); err != nil {
			b.Fatal(err)
		}
	}
	var rules []alerting.Rule
	for i := range 100 {
		rules = append(rules, alerting.Rule{
			Alert: fmt.Sprintf("Rule%d", i),
			Expr:  fmt.Sprintf(`sum by (shard) (rate(hits_total{shard="%d"}[1m])) > %d`, i%10, 1000+i),
			For:   time.Minute,
		})
	}
	eng, err := alerting.New(mem, []alerting.Group{{Name: "g", Interval: time.Nanosecond, Rules: rules}},
		alerting.WithClock(clk), alerting.WithRoutes(alerting.Route{Notifiers: []alerting.Notifier{alerting.NotifierFunc(func(context.Context, []alerting.Alert) error { return nil })}}))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = eng.Shutdown(context.Background()) })
	now := clk.Now()
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Millisecond)
		if err := eng.Eval(ctx, now); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100, "ns/rule")
}

// TestNotificationLatencyInIntervals counts evaluation intervals from the
// condition becoming true to the notifier being called: with For 0 the
// instance fires at the first evaluation; the default group_wait (30 s)
// then holds the first notification for two 15 s intervals, and a route
// with no group_wait sends at once.
func TestNotificationLatencyInIntervals(t *testing.T) {
	for _, tc := range []struct {
		name  string
		route alerting.Route
		want  int
	}{
		{"default group_wait", alerting.Route{}, 2},
		{"no group_wait", alerting.Route{GroupWait: -1}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rules := `
groups:
  - name: g
    interval: 15s
    rules:
      - alert: High
        expr: errors > 5
`
			var first time.Time
			s := newScenario(t, rules, tc.route, alerting.WithDispatchHook(func(now time.Time, _ []alerting.Alert) {
				if first.IsZero() {
					first = now
				}
			}))
			for i := range 6 {
				s.at(time.Duration(i)*15*time.Second, map[string]float64{"a": 10})
			}
			got := -1
			if !first.IsZero() {
				got = int(first.Sub(s.start) / (15 * time.Second))
			}
			if got != tc.want {
				t.Errorf("notified after %d intervals, want %d", got, tc.want)
			}
		})
	}
}
