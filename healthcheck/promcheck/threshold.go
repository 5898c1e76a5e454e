package promcheck

import (
	"context"
	"fmt"
	"math"

	"github.com/vitalsgo/vitals/exporter/memory"
	"github.com/vitalsgo/vitals/healthcheck"
)

// Threshold checks a PromQL expression evaluated through q at q.Now(): the
// check warns when its value is above warnAbove and fails when it is above
// failAbove (for a vector, the largest element counts). No data passes; a
// query error fails, as does a result that is not numbers (a range vector,
// a string or native histograms). For example the 5xx ratio of the last
// five minutes:
//
//	promcheck.Threshold(v.Memory(), `sum(rate(http_server_request_duration_seconds_count{http_response_status_code=~"5.."}[5m])) / sum(rate(http_server_request_duration_seconds_count[5m]))`, 0.01, 0.05)
func Threshold(q memory.Evaluator, expr string, warnAbove, failAbove float64) healthcheck.Checker {
	return healthcheck.ResultFunc(func(ctx context.Context) healthcheck.Result {
		res, err := q.Query(ctx, expr, q.Now())
		if err != nil {
			return healthcheck.Result{Status: healthcheck.StatusFail, Output: fmt.Sprintf("query %q: %v", expr, err)}
		}
		v, ok, err := maxValue(res)
		if err != nil {
			return healthcheck.Result{Status: healthcheck.StatusFail, Output: fmt.Sprintf("query %q: %v", expr, err)}
		}
		if !ok {
			return healthcheck.Result{Status: healthcheck.StatusPass, Output: "no data"}
		}
		out := healthcheck.Result{Status: healthcheck.StatusPass, ObservedValue: v}
		switch {
		case v > failAbove:
			out.Status = healthcheck.StatusFail
		case v > warnAbove:
			out.Status = healthcheck.StatusWarn
		}
		if out.Status != healthcheck.StatusPass {
			out.Output = fmt.Sprintf("%s = %g", expr, v)
		}
		return out
	})
}

// maxValue returns the largest non-NaN value of the result (a scalar is a
// vector of one), and whether there was one; an error when the result is
// not numbers.
func maxValue(res memory.Result) (float64, bool, error) {
	vec, err := res.Vector()
	if err != nil {
		return 0, false, err
	}
	best, found := math.Inf(-1), false
	for _, s := range vec {
		if s.H != nil {
			return 0, false, fmt.Errorf("the result holds native histograms (%s), want numbers", s.Metric)
		}
		if !math.IsNaN(s.F) && s.F > best {
			best, found = s.F, true
		}
	}
	return best, found, nil
}
