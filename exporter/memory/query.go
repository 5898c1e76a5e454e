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

// MaxSubquerySteps is the most steps the subqueries of one query may
// evaluate together; a query over it is refused before it runs. The engine
// allocates per-step bookkeeping up front, so an unbounded subquery
// (vector(1)[100y:1ms]) would abort the process. 100 000 steps hold 30 days
// at a one-minute step.
const MaxSubquerySteps = 100000

// Evaluator is what every consumer of the recent history needs (the alert
// engine, the performance summary, PromQL health checks): PromQL at one
// time, and the time that stands for now. Reader implements it; tests and
// other stores can too.
type Evaluator interface {
	// Query evaluates the PromQL expression expr at ts.
	Query(ctx context.Context, expr string, ts time.Time) (Result, error)
	// Now is the evaluator's current time.
	Now() time.Time
}

var _ Evaluator = (*Reader)(nil)

// Vector returns the result of an instant query as a vector: a scalar
// becomes one sample without labels, no result (a nil Value) an empty
// vector; a matrix or a string is an error naming its type.
func (r Result) Vector() (Vector, error) {
	switch v := r.Value.(type) {
	case Vector:
		return v, nil
	case Scalar:
		return Vector{{T: v.T, F: v.V}}, nil
	case nil:
		return nil, nil
	default:
		return nil, fmt.Errorf("the result is a %s, want a vector or a scalar", v.Type())
	}
}

// The PromQL result types, Prometheus' own.
type (
	// Vector is an instant vector: one sample per series.
	Vector = promql.Vector
	// Matrix is a range vector: samples over time per series.
	Matrix = promql.Matrix
	// Scalar is a single number at a time.
	Scalar = promql.Scalar
	// String is a string at a time.
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
	// Err is the parser's or the parameter check's error.
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
	return r.exec(ctx, q)
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
	return r.exec(ctx, q)
}

func (r *Reader) exec(ctx context.Context, q promql.Query) (Result, error) {
	defer q.Close()
	if err := r.checkSubquerySteps(q.Statement()); err != nil {
		return Result{}, &BadQueryError{Err: err}
	}
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

// checkSubquerySteps refuses a query whose subqueries would evaluate more
// than MaxSubquerySteps steps together, counted on the grid the engine uses
// (a nested subquery runs once over its parent's whole range, widened by its
// own range).
func (r *Reader) checkSubquerySteps(stmt parser.Statement) error {
	if steps, over := r.subquerySteps(stmt); over != nil {
		return fmt.Errorf("subquery %s would evaluate %d steps, more than the %d the subqueries of one query may evaluate together. Try increasing the step of the subquery (the part after the colon) or shortening its range",
			over, steps, MaxSubquerySteps)
	}
	return nil
}

// subquerySteps returns how many steps the subqueries of stmt evaluate
// together and, if that is over MaxSubquerySteps, the subquery that took the
// count over (counting stops there).
func (r *Reader) subquerySteps(stmt parser.Statement) (int64, *parser.SubqueryExpr) {
	es, ok := stmt.(*parser.EvalStmt)
	if !ok {
		return 0, nil
	}
	c := stepCounter{defaultStep: r.cfg.interval.Milliseconds()}
	c.walk(es.Expr, es.Start.UnixMilli(), es.End.UnixMilli(), es.Interval.Milliseconds())
	return c.steps, c.over
}

// stepCounter adds up the steps of the subqueries of an expression.
type stepCounter struct {
	defaultStep int64 // milliseconds, for a subquery without a step ([30m:])
	steps       int64
	over        *parser.SubqueryExpr // the subquery that went over, if any
}

// walk counts the subqueries under n, evaluated from start to end (Unix
// milliseconds) every interval milliseconds (0 for a single evaluation).
func (c *stepCounter) walk(n parser.Node, start, end, interval int64) {
	if c.over != nil || n == nil {
		return
	}
	switch e := n.(type) {
	case *parser.StepInvariantExpr:
		// Evaluated once, at the start.
		c.walk(e.Expr, start, start, interval)
		return
	case *parser.SubqueryExpr:
		step := e.Step.Milliseconds()
		if step <= 0 {
			step = c.defaultStep
		}
		if step <= 0 {
			step = 1
		}
		// As the engine's subqueryEvaluationTimes: the parent's end is
		// truncated to its last step (or is its start, with @), the start
		// aligned to the subquery's own step.
		if e.Timestamp != nil {
			end = start
		} else if interval > 0 {
			end = start + ((end-start)/interval)*interval
		}
		offset, rng := e.Offset.Milliseconds(), e.Range.Milliseconds()
		subStart := step * ((start - offset - rng) / step)
		if subStart <= start-offset-rng {
			subStart += step
		}
		subEnd := end - offset
		if subEnd >= subStart {
			c.steps += (subEnd-subStart)/step + 1
		}
		if c.steps > MaxSubquerySteps {
			c.over = e
			return
		}
		c.walk(e.Expr, subStart, subEnd, step)
		return
	}
	for _, child := range parser.Children(n) {
		c.walk(child, start, end, interval)
	}
}
