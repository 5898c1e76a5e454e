package bizmetrics

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/vitalsgo/vitals/clock"
)

// dbDurationBuckets are the semantic conventions' advice for
// db.client.operation.duration.
var dbDurationBuckets = []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10}

// maxErrorTypes caps the distinct error.type values of the database
// histogram.
const maxErrorTypes = 20

// dbKey identifies one attribute set of the database histogram. An empty
// operation, collection or error type is left out of the set. An overflow
// key is the set of one operation past the histogram's sets.
type dbKey struct {
	system, operation, collection, errType string
	overflow                               bool
}

type dbMetrics struct {
	hist metric.Float64Histogram
	sets cow[dbKey, []metric.RecordOption]
	// regular is how many more combinations of system, operation,
	// collection and error type get a set of their own (under sets.mu).
	// The SDK keeps maxSets sets for the histogram, one of them its
	// overflow set, which has no db.operation.name. Each operation (every
	// admitted one, Overflow and none) keeps one set of its own for the
	// combinations past the others, so that the SDK's is never reached and
	// sum by (db_operation_name) stays exact.
	regular int
	full    atomic.Bool // regular is 0: new combinations overflow

	systems, operations, collections, errTypes capped
}

func newDBMetrics(mt metric.Meter, cfg config) (*dbMetrics, error) {
	hist, err := mt.Float64Histogram(MetricDBDuration,
		metric.WithUnit("s"),
		metric.WithDescription("Duration of database client operations."),
		metric.WithExplicitBucketBoundaries(dbDurationBuckets...))
	if err != nil {
		return nil, err
	}
	d := &dbMetrics{hist: hist, regular: max(cfg.maxSets-1-(cfg.maxDBOps+2), 0)}
	d.systems.max = cfg.maxDBOps
	d.operations.max = cfg.maxDBOps
	d.collections.max = cfg.maxDBColls
	d.errTypes.max = maxErrorTypes
	return d, nil
}

// record records seconds with the attribute set of k.
func (d *dbMetrics) record(ctx context.Context, k dbKey, seconds float64) {
	if opts, ok := d.sets.load(k); ok {
		d.hist.Record(ctx, seconds, opts...)
		return
	}
	d.hist.Record(ctx, seconds, d.opts(k)...)
}

// opts returns the options of k's attribute set after capping each value.
// Past the regular sets, a new combination is recorded in its operation's
// overflow set.
func (d *dbMetrics) opts(k dbKey) []metric.RecordOption {
	c := dbKey{system: Overflow}
	if k.system != "" {
		c.system = d.systems.admit(k.system)
	}
	if k.operation != "" {
		c.operation = d.operations.admit(k.operation)
	}
	if k.collection != "" {
		c.collection = d.collections.admit(k.collection)
	}
	if k.errType != "" {
		c.errType = d.errTypes.admit(k.errType)
	}
	if opts, ok := d.sets.load(c); ok {
		return opts
	}
	over := dbKey{system: Overflow, operation: c.operation, overflow: true}
	if d.full.Load() {
		if opts, ok := d.sets.load(over); ok {
			return opts
		}
	}
	d.sets.mu.Lock()
	defer d.sets.mu.Unlock()
	if got, ok := d.sets.load(c); ok {
		return got
	}
	if d.regular <= 0 {
		d.full.Store(true)
		c = over
		if got, ok := d.sets.load(c); ok {
			return got
		}
	} else {
		d.regular--
	}
	opts := []metric.RecordOption{metric.WithAttributeSet(c.set())}
	d.sets.storeLocked(c, opts)
	return opts
}

// set returns the attribute set of k.
func (k dbKey) set() attribute.Set {
	kvs := make([]attribute.KeyValue, 0, 4)
	kvs = append(kvs, semconv.DBSystemNameKey.String(k.system))
	if k.operation != "" {
		kvs = append(kvs, semconv.DBOperationName(k.operation))
	}
	if k.collection != "" {
		kvs = append(kvs, semconv.DBCollectionName(k.collection))
	}
	if k.errType != "" {
		kvs = append(kvs, semconv.ErrorTypeKey.String(k.errType))
	}
	if k.overflow {
		kvs = append(kvs, overflowKV)
	}
	return attribute.NewSet(kvs...)
}

// DB runs fn, a database operation, and records its duration in
// db.client.operation.duration with db.system.name system ("sqlite",
// "postgresql", as the semantic conventions name it), db.operation.name
// operation ("SELECT"), db.collection.name collection (the table; "" leaves
// it out) and, if fn fails, error.type (ErrorType). It returns fn's error
// unchanged; a panic in fn is not recorded. Never pass query text as
// operation or collection: it can carry personal data.
func (m *Metrics) DB(ctx context.Context, system, operation, collection string, fn func() error) error {
	start := m.clock.Now()
	err := fn()
	m.db.record(ctx, dbKey{system: system, operation: operation, collection: collection, errType: ErrorType(err)}, m.clock.Now().Sub(start).Seconds())
	return err
}

// RecordDB records a database operation timed by the caller, as DB does.
func (m *Metrics) RecordDB(ctx context.Context, system, operation, collection string, d time.Duration, err error) {
	m.db.record(ctx, dbKey{system: system, operation: operation, collection: collection, errType: ErrorType(err)}, d.Seconds())
}

// DBOperation records one kind of database operation (system, operation,
// collection), for hot paths: its attribute sets are built once. Get it
// with Metrics.DBOperations. It is safe for concurrent use.
type DBOperation struct {
	db  *dbMetrics
	key dbKey
	ok  []metric.RecordOption
	clk clock.Clock
}

// DBOperations returns the recorder of one kind of database operation,
// with the arguments of DB, for hot paths. An empty system or operation
// returns an error wrapping ErrEmptyName.
func (m *Metrics) DBOperations(system, operation, collection string) (*DBOperation, error) {
	if system == "" || operation == "" {
		return nil, fmt.Errorf("bizmetrics: database operation %q of system %q: %w", operation, system, ErrEmptyName)
	}
	k := dbKey{system: system, operation: operation, collection: collection}
	return &DBOperation{db: m.db, key: k, ok: m.db.opts(k), clk: m.clock}, nil
}

// Do runs fn and records its duration, as Metrics.DB does.
func (o *DBOperation) Do(ctx context.Context, fn func() error) error {
	start := o.clk.Now()
	err := fn()
	o.Record(ctx, o.clk.Now().Sub(start), err)
	return err
}

// Record records an operation that took d and failed with err (nil for a
// success).
func (o *DBOperation) Record(ctx context.Context, d time.Duration, err error) {
	if et := ErrorType(err); et != "" {
		k := o.key
		k.errType = et
		o.db.record(ctx, k, d.Seconds())
		return
	}
	o.db.hist.Record(ctx, d.Seconds(), o.ok...)
}

// errorTypeMethod returns the first non-empty ErrorType() of err's chain,
// in the order errors.As walks it, without allocating.
func errorTypeMethod(err error) string {
	for err != nil {
		if et, ok := err.(interface{ ErrorType() string }); ok {
			if s := et.ErrorType(); s != "" {
				return s
			}
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if s := errorTypeMethod(e); s != "" {
					return s
				}
			}
			return ""
		default:
			return ""
		}
	}
	return ""
}

// fmtWrapErrorType is the type of fmt.Errorf's result with one %w.
var fmtWrapErrorType = reflect.TypeOf(fmt.Errorf("%w", errors.New("")))

// ErrorType returns the error.type value the package records for err: a
// low-cardinality class such as "context.Canceled" or "*pq.Error", never
// the error's text, which can carry data. It is "" for nil and
// sql.ErrNoRows; the package doc's Cardinality section gives the rules.
func ErrorType(err error) string {
	if err == nil || err == sql.ErrNoRows {
		return ""
	}
	if et, ok := err.(interface{ ErrorType() string }); ok {
		if s := et.ErrorType(); s != "" {
			return s
		}
	}
	return errorTypeSlow(err)
}

func errorTypeSlow(err error) string {
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return ""
	case errors.Is(err, context.DeadlineExceeded):
		return "context.DeadlineExceeded"
	case errors.Is(err, context.Canceled):
		return "context.Canceled"
	case errors.Is(err, driver.ErrBadConn):
		return "driver.ErrBadConn"
	}
	if s := errorTypeMethod(err); s != "" {
		return s
	}
	for reflect.TypeOf(err) == fmtWrapErrorType {
		u := errors.Unwrap(err)
		if u == nil {
			break
		}
		err = u
	}
	return reflect.TypeOf(err).String()
}
