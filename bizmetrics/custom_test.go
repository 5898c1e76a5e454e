package bizmetrics_test

import (
	"errors"
	"maps"
	"math"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"

	"github.com/vitalsgo/vitals/bizmetrics"
)

func TestCustomInstruments(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	emails, err := e.m.Counter("emails.sent", "{email}", "Emails sent.")
	if err != nil {
		t.Fatal(err)
	}
	weight, err := e.m.FloatCounter("parcels.weight", "kg", "Weight of the parcels shipped.")
	if err != nil {
		t.Fatal(err)
	}
	carts, err := e.m.UpDownCounter("carts.open", "{cart}", "Open shopping carts.")
	if err != nil {
		t.Fatal(err)
	}
	stock, err := e.m.Gauge("stock.level", "{item}", "Items in stock.")
	if err != nil {
		t.Fatal(err)
	}
	render, err := e.m.Histogram("report.render.duration", "s", "Report rendering time.", 0.1, 1, 10)
	if err != nil {
		t.Fatal(err)
	}

	welcome := attribute.String("kind", "welcome")
	emails.Add(ctx, 2, welcome)
	emails.Bind(welcome).Add(ctx, 3)
	emails.BindSet(attribute.NewSet(welcome)).Add(ctx, 1)
	emails.Add(ctx, -4, welcome) // ignored
	// Order and repeated keys do not matter: the last value of a key wins.
	emails.Add(ctx, 1, attribute.String("lang", "fr"), attribute.String("kind", "x"), attribute.String("kind", "reset"))
	emails.Add(ctx, 1, attribute.String("kind", "reset"), attribute.String("lang", "fr"))
	emails.Add(ctx, 1) // no attributes
	weight.Add(ctx, 1.5)
	weight.BindSet(*attribute.EmptySet()).Add(ctx, 0.25)
	weight.Add(ctx, -1)
	weight.Add(ctx, math.NaN())
	weight.Add(ctx, math.Inf(1))
	carts.Add(ctx, 3)
	carts.BindSet(*attribute.EmptySet()).Add(ctx, -1)
	stock.Set(ctx, 12, attribute.String("sku", "tea"))
	stock.BindSet(attribute.NewSet(attribute.String("sku", "tea"))).Set(ctx, 7)
	stock.Bind(attribute.String("sku", "coffee")) // bound, never set: not reported
	render.Record(ctx, 0.5, attribute.String("format", "pdf"))
	render.BindSet(attribute.NewSet(attribute.String("format", "pdf"))).Record(ctx, 2)

	got := e.scrape(t)
	for s, want := range map[string]float64{
		`app_emails_sent_total{kind="welcome"}`:                          6,
		`app_emails_sent_total{kind="reset",lang="fr"}`:                  2,
		`app_emails_sent_total{}`:                                        1,
		`app_parcels_weight_kg_total{}`:                                  1.75,
		`app_carts_open{}`:                                               2,
		`app_stock_level{sku="tea"}`:                                     7,
		`app_report_render_duration_seconds_count{format="pdf"}`:         2,
		`app_report_render_duration_seconds_sum{format="pdf"}`:           2.5,
		`app_report_render_duration_seconds_bucket{format="pdf",le="1"}`: 1,
	} {
		if v, ok := got[s]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", s, v, ok, want)
		}
	}
	if n := countPrefix(got, "app_emails_sent_total"); n != 3 {
		t.Errorf("%d email series, want 3", n)
	}
	if _, ok := got[`app_stock_level{sku="coffee"}`]; ok {
		t.Error("a gauge never set is reported")
	}

	// The same name returns the same instrument; another kind is refused.
	again, err := e.m.Counter("emails.sent", "{email}", "Emails sent.")
	if err != nil || again != emails {
		t.Errorf("Counter again = %p, %v; want %p", again, err, emails)
	}
	if _, err := e.m.Gauge("emails.sent", "", ""); err == nil || !strings.Contains(err.Error(), "app.emails.sent") {
		t.Errorf("Gauge over a counter's name: %v, want an error naming it", err)
	}
}

func TestCustomInstrumentNames(t *testing.T) {
	e := newEnv(t)
	before := e.scrape(t)
	for _, tt := range []struct {
		name string
		want error
	}{
		{"", bizmetrics.ErrEmptyName},
		{bizmetrics.MetricOrdersPlaced, nil},
		{bizmetrics.MetricRevenue, nil},
		{"bad name!", nil},
	} {
		_, err := e.m.Counter(tt.name, "", "")
		if err == nil || tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("Counter(%q) = %v, want an error (%v)", tt.name, err, tt.want)
		}
		_, err = e.m.Histogram(tt.name, "", "")
		if err == nil {
			t.Errorf("Histogram(%q): no error", tt.name)
		}
	}
	if after := e.scrape(t); !maps.Equal(after, before) {
		t.Errorf("invalid instruments changed the metrics:\nbefore %v\nafter  %v", before, after)
	}
}

// TestAttributeSetCap checks that sets past WithMaxAttributeSets go to one
// overflow set, bound and unbound, and that the totals stay right.
func TestAttributeSetCap(t *testing.T) {
	e := newEnv(t, bizmetrics.WithMaxAttributeSets(2))
	ctx := t.Context()
	c, err := e.m.Counter("jobs", "{job}", "Jobs run.")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"mail", "pdf", "mail", "thumbnails", "export"} {
		c.Add(ctx, 1, attribute.String("queue", q))
	}
	c.Bind(attribute.String("queue", "resize")).Add(ctx, 10)
	// More than 8 attributes take the allocating path, to the same handles.
	many := []attribute.KeyValue{attribute.String("queue", "mail")}
	for i := range 9 {
		many = append(many, attribute.Int("k"+string(rune('a'+i)), i))
	}
	c.Add(ctx, 1, many...)
	c.Add(ctx, 1, many...)

	got := e.scrape(t)
	for s, want := range map[string]float64{
		`app_jobs_total{queue="mail"}`:                2,
		`app_jobs_total{queue="pdf"}`:                 1,
		`app_jobs_total{otel_metric_overflow="true"}`: 14,
	} {
		if got[s] != want {
			t.Errorf("%s = %v, want %v", s, got[s], want)
		}
	}
	if n := countPrefix(got, "app_jobs_total"); n != 3 {
		t.Errorf("%d job series, want 3: %v", n, got)
	}
}

func TestCustomManyAttributes(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	h, err := e.m.Histogram("sizes", "By", "Sizes.")
	if err != nil {
		t.Fatal(err)
	}
	var kvs []attribute.KeyValue
	for i := range 10 {
		kvs = append(kvs, attribute.Int("k"+string(rune('a'+i)), i))
	}
	h.Record(ctx, 1, kvs...)
	h.Record(ctx, 1, kvs...)
	// Values of every type find their set again.
	for range 2 {
		h.Record(ctx, 1, attribute.Int("n", 1))
		h.Record(ctx, 1, attribute.String("n", "one"))
		h.Record(ctx, 1, attribute.Float64("n", 1.5))
		h.Record(ctx, 1, attribute.Bool("n", true))
		h.Record(ctx, 1, attribute.StringSlice("n", []string{"x", "y"}))
	}
	got := e.scrape(t)
	for s, v := range got {
		if strings.HasPrefix(s, "app_sizes_bytes_count{") && v != 2 {
			t.Errorf("%s = %v, want 2", s, v)
		}
	}
	if n := countPrefix(got, "app_sizes_bytes_count"); n != 6 {
		t.Errorf("%d size series, want 6: %v", n, got)
	}
	if s := `app_sizes_bytes_count{ka="0",kb="1",kc="2",kd="3",ke="4",kf="5",kg="6",kh="7",ki="8",kj="9"}`; got[s] != 2 {
		t.Errorf("%s = %v, want 2", s, got[s])
	}
}
