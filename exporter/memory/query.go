package memory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/util/annotations"
)

// MaxPoints is the largest number of steps a range query may have, as in
// Prometheus' HTTP API.
const MaxPoints = 11000

// Vector, Matrix, Scalar and String are the PromQL result types.
type (
	Vector = promql.Vector
	Matrix = promql.Matrix
	Scalar = promql.Scalar
	String = promql.String
)

// Result is the answer to a query.
type Result struct {
	// Value is a Vector, Matrix, Scalar or String.
	Value parser.Value
	// Warnings are the engine's annotations (for example a rate over a
	// metric that is not a counter).
	Warnings annotations.Annotations
}

// BadQueryError reports a query that cannot run: it does not parse, or its
// parameters are out of range. Other errors come from evaluation.
type BadQueryError struct {
	Err error
}

// Error returns the parser's or the parameter check's message.
func (e *BadQueryError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *BadQueryError) Unwrap() error { return e.Err }

// Query evaluates expr at ts with the Prometheus engine over the stored
// series. A query that does not parse is a *BadQueryError; one that runs out
// of time or samples returns the engine's error (promql.ErrQueryTimeout,
// promql.ErrTooManySamples, promql.ErrQueryCanceled).
func (r *Reader) Query(ctx context.Context, expr string, ts time.Time) (Result, error) {
	q, err := r.engine.NewInstantQuery(ctx, r, nil, expr, ts)
	if err != nil {
		return Result{}, &BadQueryError{Err: err}
	}
	return exec(ctx, q)
}

// QueryRange evaluates expr at every step from start to end with the
// Prometheus engine. The result is a Matrix (or an error as Query returns).
func (r *Reader) QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) (Result, error) {
	switch {
	case step <= 0:
		return Result{}, &BadQueryError{Err: errors.New("zero or negative query resolution step widths are not accepted. Try a positive integer")}
	case end.Before(start):
		return Result{}, &BadQueryError{Err: errors.New("end timestamp must not be before start time")}
	case end.Sub(start)/step > MaxPoints:
		return Result{}, &BadQueryError{Err: fmt.Errorf("exceeded maximum resolution of %d points per timeseries. Try decreasing the query resolution (?step=XX)", MaxPoints)}
	}
	q, err := r.engine.NewRangeQuery(ctx, r, nil, expr, start, end, step)
	if err != nil {
		return Result{}, &BadQueryError{Err: err}
	}
	return exec(ctx, q)
}

func exec(ctx context.Context, q promql.Query) (Result, error) {
	defer q.Close()
	res := q.Exec(ctx)
	if res.Err != nil {
		return Result{Warnings: res.Warnings}, res.Err
	}
	return Result{Value: detach(res.Value), Warnings: res.Warnings}, nil
}

// detach copies what Close would hand back to the engine's pools: the
// point slices of a matrix. Without it a caller reading the result after
// the query races with the next query reusing them.
func detach(v parser.Value) parser.Value {
	m, ok := v.(promql.Matrix)
	if !ok {
		return v
	}
	out := make(promql.Matrix, len(m))
	for i, s := range m {
		s.Floats, s.Histograms = slices.Clone(s.Floats), slices.Clone(s.Histograms)
		out[i] = s
	}
	return out
}
