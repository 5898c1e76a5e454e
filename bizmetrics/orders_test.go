package bizmetrics_test

import (
	"errors"
	"maps"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/vitalsgo/vitals/bizmetrics"
)

// orderCase is one kind of order of the concurrency test: its amount in
// major units and, exactly, in minor units.
type orderCase struct {
	currency string
	amount   float64
	minor    int64
	exp      int
}

var orderCases = []orderCase{
	{"EUR", 42.50, 4250, 2},
	{"EUR", 19.99, 1999, 2},
	{"USD", 0.10, 10, 2},
	{"JPY", 1500, 1500, 0},
	{"KWD", 12.345, 12345, 3},
}

// TestOrdersConcurrentSafe records 64 goroutines × 10 000 orders, half
// through bound handles and half unbound, and reads the totals back through
// the memory reader and through /metrics: counts and revenue exactly, the
// amount histogram's sum to half a minor unit.
func TestOrdersConcurrentSafe(t *testing.T) {
	const goroutines, perGoroutine = 64, 10_000
	e := newEnv(t)
	ctx := t.Context()
	cnt, err := e.m.FloatCounter("discounts", "{currency_unit}", "Discounts granted.")
	if err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			handles := make([]*bizmetrics.Orders, len(orderCases))
			for i, oc := range orderCases {
				h, err := e.m.Orders(oc.currency)
				if err != nil {
					t.Error(err)
					return
				}
				handles[i] = h
			}
			sources := []string{"web", "mobile"}
			for i := range perGoroutine {
				k := i % len(orderCases)
				var err error
				if g%2 == 0 {
					err = handles[k].Record(ctx, orderCases[k].amount)
				} else {
					err = e.m.Order(ctx, orderCases[k].currency, orderCases[k].amount)
				}
				if err != nil {
					t.Error(err)
					return
				}
				if err := e.m.Registration(ctx, sources[i%2]); err != nil {
					t.Error(err)
					return
				}
				cnt.Add(ctx, 0.25)
			}
		})
	}
	wg.Wait()

	// The expected totals, in integers.
	type total struct {
		count, minor int64
		exp          int
	}
	want := map[string]*total{}
	for i := range perGoroutine {
		oc := orderCases[i%len(orderCases)]
		if want[oc.currency] == nil {
			want[oc.currency] = &total{exp: oc.exp}
		}
		want[oc.currency].count += goroutines
		want[oc.currency].minor += goroutines * oc.minor
	}

	e.collect(t)
	got := e.scrape(t)
	for name, read := range map[string]func(expr string) map[string]float64{
		"/metrics": func(string) map[string]float64 { return got },
		"memory reader": func(expr string) map[string]float64 {
			return e.query(t, expr)
		},
	} {
		for cur, w := range want {
			scale := math.Pow10(w.exp)
			placed := read(`app_orders_placed_total{currency="` + cur + `"}`)[`app_orders_placed_total{currency="`+cur+`"}`]
			revenue := read(`app_revenue_total{currency="` + cur + `"}`)[`app_revenue_total{currency="`+cur+`"}`]
			count := read(`app_order_amount_count{currency="` + cur + `"}`)[`app_order_amount_count{currency="`+cur+`"}`]
			sum := read(`app_order_amount_sum{currency="` + cur + `"}`)[`app_order_amount_sum{currency="`+cur+`"}`]
			if placed != float64(w.count) || count != float64(w.count) {
				t.Errorf("%s: %s orders placed %v, amounts counted %v; want %d", name, cur, placed, count, w.count)
			}
			if wantRevenue := float64(w.minor) / scale; revenue != wantRevenue {
				t.Errorf("%s: %s revenue = %v, want exactly %v", name, cur, revenue, wantRevenue)
			}
			if wantSum := float64(w.minor) / scale; math.Abs(sum-wantSum) >= 0.5/scale {
				t.Errorf("%s: %s amount sum = %v, want %v to half a minor unit", name, cur, sum, wantSum)
			}
		}
		for _, src := range []string{"web", "mobile"} {
			s := `app_registrations_total{registration_source="` + src + `"}`
			if got := read(s)[s]; got != goroutines*perGoroutine/2 {
				t.Errorf("%s: %s = %v, want %d", name, s, got, goroutines*perGoroutine/2)
			}
		}
		if got := read(`app_discounts_total`)[`app_discounts_total{}`]; got != goroutines*perGoroutine*0.25 {
			t.Errorf("%s: app_discounts_total = %v, want %v", name, got, goroutines*perGoroutine*0.25)
		}
	}
	// 128 000 orders of 42.50 and as many of 19.99.
	if eur := got[`app_revenue_total{currency="EUR"}`]; eur != 7_998_720 {
		t.Errorf("EUR revenue = %v, want 7 998 720", eur)
	}
}

// TestOrderInvalid checks that each invalid order is returned as an error,
// counted as rejected, and changes nothing else.
func TestOrderInvalid(t *testing.T) {
	tests := []struct {
		name     string
		currency string
		amount   float64
		want     error
		reason   string
	}{
		{"unknown code", "EURO", 1, bizmetrics.ErrInvalidCurrency, "invalid_currency"},
		{"lower case", "eur", 1, bizmetrics.ErrInvalidCurrency, "invalid_currency"},
		{"empty", "", 1, bizmetrics.ErrInvalidCurrency, "invalid_currency"},
		{"withdrawn code", "HRK", 1, bizmetrics.ErrInvalidCurrency, "invalid_currency"},
		{"no minor unit", "XAU", 1, bizmetrics.ErrInvalidCurrency, "invalid_currency"},
		{"test code", "XTS", 1, bizmetrics.ErrInvalidCurrency, "invalid_currency"},
		{"negative", "EUR", -0.01, bizmetrics.ErrInvalidAmount, "invalid_amount"},
		{"NaN", "EUR", math.NaN(), bizmetrics.ErrInvalidAmount, "invalid_amount"},
		{"+Inf", "EUR", math.Inf(1), bizmetrics.ErrInvalidAmount, "invalid_amount"},
		{"-Inf", "EUR", math.Inf(-1), bizmetrics.ErrInvalidAmount, "invalid_amount"},
		{"2^53 minor units", "EUR", math.Exp2(53) / 100, bizmetrics.ErrInvalidAmount, "invalid_amount"},
	}
	for _, bound := range []bool{false, true} {
		for _, tt := range tests {
			if bound && tt.want == bizmetrics.ErrInvalidCurrency {
				continue
			}
			e := newEnv(t)
			ctx := t.Context()
			if err := e.m.Order(ctx, "EUR", 10); err != nil {
				t.Fatal(err)
			}
			before := e.scrape(t)

			var err error
			if bound {
				h, herr := e.m.Orders(tt.currency)
				if herr != nil {
					t.Fatal(herr)
				}
				err = h.Record(ctx, tt.amount)
			} else {
				err = e.m.Order(ctx, tt.currency, tt.amount)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("%s (bound %v): err = %v, want %v", tt.name, bound, err, tt.want)
			}
			if err != nil && !strings.Contains(err.Error(), `"`+tt.currency+`"`) && tt.want == bizmetrics.ErrInvalidCurrency {
				t.Errorf("%s: error %q does not name the currency", tt.name, err)
			}

			after := e.scrape(t)
			rejected := `app_orders_rejected_total{error_type="` + tt.reason + `"}`
			if after[rejected] != before[rejected]+1 {
				t.Errorf("%s (bound %v): %s = %v, want %v", tt.name, bound, rejected, after[rejected], before[rejected]+1)
			}
			delete(after, rejected)
			delete(before, rejected)
			if !maps.Equal(after, before) {
				t.Errorf("%s (bound %v): other series changed:\nbefore %v\nafter  %v", tt.name, bound, before, after)
			}
		}
	}
}

func TestOrdersInvalidCurrency(t *testing.T) {
	e := newEnv(t)
	before := e.scrape(t)
	h, err := e.m.Orders("ABC")
	if h != nil || !errors.Is(err, bizmetrics.ErrInvalidCurrency) {
		t.Errorf("Orders(ABC) = %v, %v; want nil, ErrInvalidCurrency", h, err)
	}
	if after := e.scrape(t); !maps.Equal(after, before) {
		t.Errorf("Orders of an invalid currency changed the metrics:\nbefore %v\nafter  %v", before, after)
	}
	// A nil handle records nothing and does not panic.
	var nilOrders *bizmetrics.Orders
	if err := nilOrders.Record(t.Context(), 1); err == nil {
		t.Error("Record on a nil *Orders: no error")
	}
}

// TestRevenueRounding checks that revenue counts the amount rounded to the
// currency's minor unit, and the histogram the amount as given.
func TestRevenueRounding(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	for _, o := range []struct {
		cur    string
		amount float64
	}{
		{"EUR", 0.1}, {"EUR", 0.2}, // 0.30000000000000004 as float64 sum
		{"EUR", 1.005}, // 100.49999999999999 cents: rounds to 1.00
		{"EUR", 0},
		{"JPY", 99.5}, // no minor unit: 100 yen
		{"BHD", 0.0015},
		{"CLF", 1.23456}, // 4 decimals
	} {
		if err := e.m.Order(ctx, o.cur, o.amount); err != nil {
			t.Fatal(err)
		}
	}
	got := e.scrape(t)
	for s, want := range map[string]float64{
		`app_revenue_total{currency="EUR"}`:       1.3,
		`app_revenue_total{currency="JPY"}`:       100,
		`app_revenue_total{currency="BHD"}`:       0.002,
		`app_revenue_total{currency="CLF"}`:       1.2346,
		`app_orders_placed_total{currency="EUR"}`: 4,
		`app_order_amount_sum{currency="JPY"}`:    99.5,
	} {
		if got[s] != want {
			t.Errorf("%s = %v, want %v", s, got[s], want)
		}
	}
}

func TestCurrencyExponent(t *testing.T) {
	for _, tt := range []struct {
		code string
		exp  int
		ok   bool
	}{
		{"EUR", 2, true}, {"USD", 2, true}, {"JPY", 0, true}, {"KWD", 3, true}, {"BHD", 3, true},
		{"CLF", 4, true}, {"UYW", 4, true}, {"ISK", 0, true}, {"KRW", 0, true}, {"XOF", 0, true},
		{"XCG", 2, true}, {"ZWG", 2, true}, {"SLE", 2, true}, {"VES", 2, true},
		{"HRK", 0, false}, {"SLL", 0, false}, {"ZWL", 0, false}, {"VEF", 0, false},
		{"XAU", 0, false}, {"XDR", 0, false}, {"XXX", 0, false},
		{"eur", 0, false}, {"EU", 0, false}, {"EURO", 0, false}, {"", 0, false},
	} {
		exp, ok := bizmetrics.CurrencyExponent(tt.code)
		if exp != tt.exp || ok != tt.ok {
			t.Errorf("CurrencyExponent(%q) = %d, %v; want %d, %v", tt.code, exp, ok, tt.exp, tt.ok)
		}
	}
}

func TestAmountBoundaries(t *testing.T) {
	e := newEnv(t, bizmetrics.WithAmountBoundaries(10, 100))
	ctx := t.Context()
	kwd, err := e.m.Orders("KWD")
	if err != nil {
		t.Fatal(err)
	}
	if kwd.Currency() != "KWD" {
		t.Errorf("Currency() = %q, want KWD", kwd.Currency())
	}
	for _, a := range []float64{5, 50, 500} {
		if err := kwd.Record(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	got := e.scrape(t)
	for s, want := range map[string]float64{
		`app_order_amount_bucket{currency="KWD",le="10"}`:   1,
		`app_order_amount_bucket{currency="KWD",le="100"}`:  2,
		`app_order_amount_bucket{currency="KWD",le="+Inf"}`: 3,
	} {
		if got[s] != want {
			t.Errorf("%s = %v, want %v", s, got[s], want)
		}
	}
	if n := countPrefix(got, "app_order_amount_bucket"); n != 3 {
		t.Errorf("%d buckets, want 3", n)
	}
}
