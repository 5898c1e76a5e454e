package bizmetrics_test

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/vitalsgo/vitals/bizmetrics"
	"github.com/vitalsgo/vitals/instrument"
)

func TestOverflowIsInstrumentsToken(t *testing.T) {
	if bizmetrics.Overflow != instrument.Overflow {
		t.Errorf("Overflow = %q, instrument.Overflow = %q: want one token", bizmetrics.Overflow, instrument.Overflow)
	}
}

func TestNewValidatesNamespace(t *testing.T) {
	mp := noop.NewMeterProvider()
	for ns, ok := range map[string]bool{
		"app": true, "shop": true, "shop_v2": true, "a1": true,
		"": false, "Shop": false, "1shop": false, "shop.v2": false, "shop__v2": false, "shop_": false, "_shop": false, "shop-v2": false,
	} {
		_, err := bizmetrics.New(bizmetrics.WithMeterProvider(mp), bizmetrics.WithNamespace(ns))
		if (err == nil) != ok {
			t.Errorf("WithNamespace(%q): err = %v, want ok %v", ns, err, ok)
		}
		if err != nil && !strings.Contains(err.Error(), `"`+ns+`"`) {
			t.Errorf("WithNamespace(%q): error %q does not name the namespace", ns, err)
		}
	}
}

// TestNewRecordsWithTheGlobalProvider: without WithMeterProvider (or with
// nil), New records with the OTel global provider, as every constructor of
// the module does.
func TestNewRecordsWithTheGlobalProvider(t *testing.T) {
	prev := otel.GetMeterProvider()
	t.Cleanup(func() { otel.SetMeterProvider(prev) })
	for _, opts := range [][]bizmetrics.Option{nil, {bizmetrics.WithMeterProvider(nil)}} {
		reader := sdkmetric.NewManualReader()
		otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
		m, err := bizmetrics.New(opts...)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Registration(t.Context(), "web"); err != nil {
			t.Fatal(err)
		}
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(t.Context(), &rm); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, sm := range rm.ScopeMetrics {
			found = found || (sm.Scope.Name == bizmetrics.ScopeName && len(sm.Metrics) > 0)
		}
		if !found {
			t.Errorf("New(%d options): nothing recorded with the global provider", len(opts))
		}
	}
}

func TestNamespace(t *testing.T) {
	e := newEnv(t, bizmetrics.WithNamespace("shop"))
	ctx := t.Context()
	if err := e.m.Order(ctx, "EUR", 5); err != nil {
		t.Fatal(err)
	}
	if err := e.m.DB(ctx, "sqlite", "SELECT", "orders", func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	got := e.scrape(t)
	for s, want := range map[string]float64{
		`shop_orders_placed_total{currency="EUR"}`: 1,
		`shop_revenue_total{currency="EUR"}`:       5,
		`db_client_operation_duration_seconds_count{db_collection_name="orders",db_operation_name="SELECT",db_system_name="sqlite"}`: 1,
	} {
		if got[s] != want {
			t.Errorf("%s = %v, want %v", s, got[s], want)
		}
	}
	for s := range got {
		if strings.HasPrefix(s, "app_") {
			t.Errorf("series %s under the default namespace", s)
		}
	}
}

func TestRegistrations(t *testing.T) {
	e := newEnv(t, bizmetrics.WithMaxSources(2))
	ctx := t.Context()
	for _, src := range []string{"web", "mobile", "web", "api", "partner", bizmetrics.Overflow} {
		if err := e.m.Registration(ctx, src); err != nil {
			t.Fatal(err)
		}
	}
	web, err := e.m.Registrations("web")
	if err != nil {
		t.Fatal(err)
	}
	web.Add(ctx, 3)
	web.Add(ctx, -5) // ignored: a counter only grows
	over, err := e.m.Registrations("newsletter")
	if err != nil {
		t.Fatal(err)
	}
	over.Add(ctx, 1)

	before := e.scrape(t)
	want := map[string]float64{
		`app_registrations_total{registration_source="web"}`:    5,
		`app_registrations_total{registration_source="mobile"}`: 1,
		// api and partner are past the cap of 2, the explicit _OTHER and
		// the bound newsletter counter share the overflow value.
		`app_registrations_total{registration_source="_OTHER"}`: 4,
	}
	for s, w := range want {
		if before[s] != w {
			t.Errorf("%s = %v, want %v", s, before[s], w)
		}
	}
	if n := countPrefix(before, "app_registrations_total"); n != 3 {
		t.Errorf("%d registration series, want 3: %v", n, before)
	}

	// An empty source is an error and changes nothing.
	if err := e.m.Registration(ctx, ""); !errors.Is(err, bizmetrics.ErrEmptyName) {
		t.Errorf("Registration(\"\") = %v, want ErrEmptyName", err)
	}
	if h, err := e.m.Registrations(""); h != nil || !errors.Is(err, bizmetrics.ErrEmptyName) {
		t.Errorf("Registrations(\"\") = %v, %v; want nil, ErrEmptyName", h, err)
	}
	var nilCounter *bizmetrics.BoundCounter
	nilCounter.Add(ctx, 1) // no panic
	if after := e.scrape(t); !maps.Equal(after, before) {
		t.Errorf("invalid registrations changed the metrics:\nbefore %v\nafter  %v", before, after)
	}
}

func countPrefix(m map[string]float64, prefix string) int {
	n := 0
	for s := range m {
		if strings.HasPrefix(s, prefix+"{") {
			n++
		}
	}
	return n
}

func TestUsers(t *testing.T) {
	e := newEnv(t)
	if _, ok := e.scrape(t)["app_users{}"]; ok {
		t.Error("app_users reported before SetUsers")
	}
	e.m.SetUsers(t.Context(), 1200)
	e.m.SetUsers(t.Context(), 1234)
	if got := e.scrape(t)["app_users{}"]; got != 1234 {
		t.Errorf("app_users = %v, want 1234", got)
	}
}

func TestUsersFunc(t *testing.T) {
	n, fail := int64(7), false
	errDown := errors.New("user store down")
	e := newEnv(t, bizmetrics.WithUsersFunc(func(context.Context) (int64, error) {
		if fail {
			return 0, errDown
		}
		return n, nil
	}))
	e.m.SetUsers(t.Context(), 1) // the callback wins
	if got := e.scrape(t)["app_users{}"]; got != 7 {
		t.Errorf("app_users = %v, want 7 from the callback", got)
	}

	// A failing callback skips the gauge, not the other metrics: collected
	// through a manual reader, whose Collect returns the callback's error.
	r := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	m, err := bizmetrics.New(bizmetrics.WithMeterProvider(mp), bizmetrics.WithUsersFunc(func(context.Context) (int64, error) {
		return 0, errDown
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Registration(t.Context(), "web"); err != nil {
		t.Fatal(err)
	}
	var rm metricdata.ResourceMetrics
	err = r.Collect(t.Context(), &rm)
	if !errors.Is(err, errDown) {
		t.Errorf("Collect: %v, want the callback's error", err)
	}
	names := map[string]bool{}
	for _, sm := range rm.ScopeMetrics {
		for _, md := range sm.Metrics {
			names[md.Name] = true
		}
	}
	if !names["app.registrations"] || names["app.users"] {
		t.Errorf("metrics collected: %v; want app.registrations and no app.users", names)
	}
}

func TestAPICalls(t *testing.T) {
	e := newEnv(t, bizmetrics.WithMaxAPIOperations(1))
	ctx := t.Context()
	for _, op := range []string{"createOrder", "createOrder", "listProducts"} {
		if err := e.m.APICall(ctx, op); err != nil {
			t.Fatal(err)
		}
	}
	h, err := e.m.APICalls("createOrder")
	if err != nil {
		t.Fatal(err)
	}
	h.Add(ctx, 1)
	before := e.scrape(t)
	for s, w := range map[string]float64{
		`app_api_calls_total{api_operation="createOrder"}`: 3,
		`app_api_calls_total{api_operation="_OTHER"}`:      1,
	} {
		if before[s] != w {
			t.Errorf("%s = %v, want %v", s, before[s], w)
		}
	}
	if err := e.m.APICall(ctx, ""); !errors.Is(err, bizmetrics.ErrEmptyName) {
		t.Errorf("APICall(\"\") = %v, want ErrEmptyName", err)
	}
	if h, err := e.m.APICalls(""); h != nil || !errors.Is(err, bizmetrics.ErrEmptyName) {
		t.Errorf("API(\"\") = %v, %v; want nil, ErrEmptyName", h, err)
	}
	if after := e.scrape(t); !maps.Equal(after, before) {
		t.Errorf("invalid API calls changed the metrics:\nbefore %v\nafter  %v", before, after)
	}
}

// TestDeltaTemporality checks that the observable counters behind the
// handles report deltas to a delta reader (OTLP with delta temporality),
// and cumulative sums to a cumulative one.
func TestDeltaTemporality(t *testing.T) {
	delta := sdkmetric.NewManualReader(sdkmetric.WithTemporalitySelector(func(sdkmetric.InstrumentKind) metricdata.Temporality {
		return metricdata.DeltaTemporality
	}))
	cumulative := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(delta), sdkmetric.WithReader(cumulative))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	m, err := bizmetrics.New(bizmetrics.WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	eur, err := m.Orders("EUR")
	if err != nil {
		t.Fatal(err)
	}
	// sums collects r and returns the sums by metric name, with their
	// temporality.
	sums := func(r sdkmetric.Reader) (map[string]float64, map[string]metricdata.Temporality) {
		var rm metricdata.ResourceMetrics
		if err := r.Collect(ctx, &rm); err != nil {
			t.Fatal(err)
		}
		vals, tmps := map[string]float64{}, map[string]metricdata.Temporality{}
		for _, sm := range rm.ScopeMetrics {
			for _, md := range sm.Metrics {
				switch d := md.Data.(type) {
				case metricdata.Sum[int64]:
					for _, dp := range d.DataPoints {
						vals[md.Name] += float64(dp.Value)
					}
					tmps[md.Name] = d.Temporality
				case metricdata.Sum[float64]:
					for _, dp := range d.DataPoints {
						vals[md.Name] += dp.Value
					}
					tmps[md.Name] = d.Temporality
				}
			}
		}
		return vals, tmps
	}
	for i, amounts := range [][]float64{{10, 20.5}, {1.25}} {
		for _, a := range amounts {
			if err := eur.Record(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		d, dt := sums(delta)
		c, ct := sums(cumulative)
		for _, tt := range []struct {
			name      string
			got, want float64
		}{
			{"delta app.revenue", d["app.revenue"], []float64{30.5, 1.25}[i]},
			{"delta app.orders.placed", d["app.orders.placed"], []float64{2, 1}[i]},
			{"cumulative app.revenue", c["app.revenue"], []float64{30.5, 31.75}[i]},
			{"cumulative app.orders.placed", c["app.orders.placed"], []float64{2, 3}[i]},
		} {
			if tt.got != tt.want {
				t.Errorf("collection %d: %s = %v, want %v", i, tt.name, tt.got, tt.want)
			}
		}
		if dt["app.revenue"] != metricdata.DeltaTemporality || ct["app.revenue"] != metricdata.CumulativeTemporality {
			t.Errorf("temporalities %v and %v, want delta and cumulative", dt["app.revenue"], ct["app.revenue"])
		}
	}
}
