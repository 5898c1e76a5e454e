package bizmetrics

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// maxMinorUnits is the largest revenue increment, in minor units, that is
// exact in a float64 (2^53).
const maxMinorUnits = 1 << 53

// orderCounts are the atomics of one currency, on a cache line of their
// own (see cacheLine).
type orderCounts struct {
	placed atomic.Int64
	minor  atomic.Int64
	_      [cacheLine - 16]byte
}

// Orders records the orders of one currency: get it once with Orders and
// call Record on the hot path. It is safe for concurrent use.
//
// The order count and the revenue are atomics read at collection time;
// revenue is accumulated as an integer number of the currency's minor
// units (cents for EUR, yen for JPY, fils for KWD), so that totals are
// exact, and reported as that number divided by 10^exponent.
type Orders struct {
	n        *orderCounts
	currency string
	exp      uint8
	scale    float64
	amount   metric.Float64Histogram
	reject   *BoundCounter
	obs      []metric.ObserveOption
	rec      []metric.RecordOption
}

func (m *Metrics) newOrders(currency string) *Orders {
	e := currencyExponents[currency]
	set := attribute.NewSet(keyCurrency.String(currency))
	return &Orders{
		n:        &orderCounts{},
		currency: currency,
		exp:      e,
		scale:    pow10[e],
		amount:   m.amount,
		reject:   &m.rejectedN[rejectedAmount],
		obs:      []metric.ObserveOption{metric.WithAttributeSet(set)},
		rec:      []metric.RecordOption{metric.WithAttributeSet(set)},
	}
}

// Orders returns the order recorder of currency, an ISO 4217 code such as
// "EUR". A code that is not an active ISO 4217 code with a minor unit, in
// upper case, returns an error wrapping ErrInvalidCurrency and counts
// nothing.
func (m *Metrics) Orders(currency string) (*Orders, error) {
	if _, ok := currencyExponents[currency]; !ok {
		return nil, fmt.Errorf("bizmetrics: currency %q: %w", currency, ErrInvalidCurrency)
	}
	return m.orders.get(currency), nil
}

// Order records one order of amount, in units of currency (42.5 for
// 42.50 EUR): it counts the order, adds the amount to the revenue and
// records it in the amount histogram. An invalid currency or amount is
// counted in orders.rejected (error.type invalid_currency or
// invalid_amount), recorded nowhere else, and returned as an error wrapping
// ErrInvalidCurrency or ErrInvalidAmount.
func (m *Metrics) Order(ctx context.Context, currency string, amount float64) error {
	if h, ok := m.orders.m.load(currency); ok {
		return h.Record(ctx, amount)
	}
	h, err := m.Orders(currency)
	if err != nil {
		m.rejectedN[rejectedCurrency].Add(ctx, 1)
		return err
	}
	return h.Record(ctx, amount)
}

// Currency returns the ISO 4217 code of the orders.
func (o *Orders) Currency() string {
	if o == nil {
		return ""
	}
	return o.currency
}

// Record records one order of amount, in units of the currency (42.5 for
// 42.50 EUR). The revenue grows by the amount rounded to the currency's
// minor unit (half away from zero); the histogram records the amount as
// given. A negative, NaN or infinite amount, or one of 2^53 minor units or
// more, is counted in orders.rejected (error.type invalid_amount), recorded
// nowhere else, and returned as an error wrapping ErrInvalidAmount. On a
// nil *Orders (Orders failed), Record returns an error wrapping
// ErrInvalidCurrency.
func (o *Orders) Record(ctx context.Context, amount float64) error {
	if o == nil {
		return fmt.Errorf("bizmetrics: order on a nil *Orders: %w", ErrInvalidCurrency)
	}
	units := math.Round(amount * o.scale)
	if !(amount >= 0) || !(units < maxMinorUnits) {
		o.reject.Add(ctx, 1)
		return fmt.Errorf("bizmetrics: order amount %v %s: %w", amount, o.currency, ErrInvalidAmount)
	}
	o.n.placed.Add(1)
	o.n.minor.Add(int64(units))
	o.amount.Record(ctx, amount, o.rec...)
	return nil
}
