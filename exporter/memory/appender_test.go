package memory_test

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"

	"github.com/vitalsgo/vitals/exporter/memory"
)

func TestAppenderSamplesAreQueryable(t *testing.T) {
	clk := newClock()
	r := memory.New(memory.WithClock(clk))
	newProvider(t, r)
	a := r.NewAppender(10 * time.Second)
	t0 := clk.Now()
	vec := func(pairs ...float64) memory.Vector {
		var v memory.Vector
		for i := 0; i+1 < len(pairs); i += 2 {
			v = append(v, promql.Sample{Metric: labels.FromStrings("__name__", "job:errors:rate5m", "job", string(rune('a'+int(pairs[i])))), F: pairs[i+1]})
		}
		return v
	}
	if err := a.Append(t0, vec(0, 1.5, 1, 2)); err != nil {
		t.Fatal(err)
	}
	if err := a.Append(t0.Add(10*time.Second), vec(0, 2.5)); err != nil {
		t.Fatal(err)
	}
	got := instant(t, r, `job:errors:rate5m`, t0.Add(11*time.Second))
	if len(got) != 1 || got[`{__name__="job:errors:rate5m", job="a"}`] != 2.5 {
		t.Errorf("latest: %v (job b is stale since the second append)", got)
	}
	got = instant(t, r, `sum(job:errors:rate5m)`, t0.Add(time.Second))
	if got["{}"] != 3.5 {
		t.Errorf("sum at the first append: %v", got)
	}
	if err := a.Append(t0, vec(0, 1)); !errors.Is(err, memory.ErrCollectOrder) {
		t.Errorf("an append back in time: %v", err)
	}
	if err := a.Append(t0.Add(time.Minute), memory.Vector{{Metric: labels.FromStrings("job", "x"), F: 1}}); err == nil {
		t.Error("a sample without a metric name was accepted")
	}
}
