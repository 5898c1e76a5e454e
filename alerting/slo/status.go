package slo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/common/model"

	"github.com/vitalsgo/vitals/exporter/memory"
)

// Status is the state of an SLO read from its recorded series, for the
// monitoring API, the dashboard and the performance summary.
type Status struct {
	// ID, Service and Name identify the SLO, as SLO.ID, SLO.Service and
	// SLO.Name.
	ID        string  `json:"id"`
	Service   string  `json:"service,omitempty"`
	Name      string  `json:"name"`
	Objective float64 `json:"objective"` // percent
	// PeriodSeconds is the SLO's period (its longest window) in seconds.
	PeriodSeconds float64 `json:"periodSeconds"`
	// SLI is the share of good events over the last 5 minutes, in percent;
	// nil without traffic or before the first evaluation.
	SLI *float64 `json:"sli,omitempty"`
	// BurnRates maps each window ("5m" … "3d" and the period) to its error
	// ratio divided by the error budget; windows without data are absent.
	BurnRates map[string]float64 `json:"burnRates"`
	// ErrorBudgetRemaining is the share of the period's error budget left,
	// 1 − the period's burn rate: a ratio (1 is all of it, negative when
	// the budget is overspent), not a percentage; nil without data.
	ErrorBudgetRemaining *float64 `json:"errorBudgetRemaining,omitempty"`
}

// Status reads the SLO's recorded slo:sli_error:ratio_rate<w> series at
// now through q. The rules of Rules or InProcessRules must be evaluated
// for it to find any.
func (s SLO) Status(ctx context.Context, q memory.Evaluator, now time.Time) (Status, error) {
	r, err := s.resolve()
	if err != nil {
		return Status{}, err
	}
	st := Status{ID: r.ID(), Service: r.Service, Name: r.Name, Objective: r.Objective,
		PeriodSeconds: r.Period.Seconds(), BurnRates: map[string]float64{}}
	budget := (100 - r.Objective) / 100
	windows := append(sloWindows[:len(sloWindows):len(sloWindows)], r.Period)
	var errs []error
	for _, w := range windows {
		res, err := q.Query(ctx, RecordName(w)+r.filter(), now)
		if err != nil {
			errs = append(errs, fmt.Errorf("slo %q window %s: %w", r.Name, model.Duration(w), err))
			continue
		}
		v, err := res.Vector()
		if err != nil {
			errs = append(errs, fmt.Errorf("slo %q window %s: %w", r.Name, model.Duration(w), err))
			continue
		}
		if len(v) == 0 {
			continue
		}
		ratio := v[0].F
		st.BurnRates[model.Duration(w).String()] = ratio / budget
		if w == sloWindows[0] {
			sli := 100 * (1 - ratio)
			st.SLI = &sli
		}
		if w == r.Period {
			rem := 1 - ratio/budget
			st.ErrorBudgetRemaining = &rem
		}
	}
	return st, errors.Join(errs...)
}
