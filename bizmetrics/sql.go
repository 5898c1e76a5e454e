package bizmetrics

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/vitalsgo/vitals/clock"
)

// sqlRecorder records the operations of one wrapped database.
type sqlRecorder struct {
	db     *dbMetrics
	system string
	clock  clock.Clock
	tracer trace.Tracer  // nil: no spans
	spans  *dbSpanStarts // with tracer
}

func newSQLRecorder(m *Metrics, system string) *sqlRecorder {
	return &sqlRecorder{db: m.db, system: system, clock: m.clock, tracer: m.tracer, spans: m.dbSpans}
}

// record records an operation that started at start.
func (r *sqlRecorder) record(ctx context.Context, op, coll string, start time.Time, err error) {
	end := r.clock.Now()
	if c, ok := ctx.Value(collectionKey{}).(string); ok {
		coll = c
	}
	k := dbKey{system: r.system, operation: op, collection: coll, errType: ErrorType(err)}
	if r.tracer != nil {
		r.trace(ctx, k, start, end)
		return
	}
	r.db.record(ctx, k, end.Sub(start).Seconds())
}

// clientKind is the start option of every database span.
var clientKind = trace.WithSpanKind(trace.SpanKindClient)

// trace makes the client span of an operation from start to end, after
// the fact, so that a statement the driver skips (driver.ErrSkip, which
// database/sql retries another way) makes none, and records the operation
// with the span's context. The span carries what the metric does, under
// the same keys: never the statement's text or arguments, nor the error's
// message, which can quote them.
func (r *sqlRecorder) trace(ctx context.Context, k dbKey, start, end time.Time) {
	s := r.spans.get(k)
	ctx, span := r.tracer.Start(ctx, s.name, clientKind, s.attrs, trace.WithTimestamp(start))
	r.db.record(ctx, k, end.Sub(start).Seconds())
	if !span.IsRecording() {
		span.End()
		return
	}
	if k.errType != "" {
		span.AddEvent(semconv.ExceptionEventName, trace.WithTimestamp(end),
			trace.WithAttributes(semconv.ExceptionType(k.errType)))
		span.SetStatus(codes.Error, "")
	}
	span.End(trace.WithTimestamp(end))
}

// dbSpanStart is the name and attributes of the spans of one dbKey.
type dbSpanStart struct {
	name  string
	attrs trace.SpanStartEventOption
}

func newDBSpanStart(k dbKey) dbSpanStart {
	system := k.system
	if system == "" {
		system = Overflow // as the metric records it
	}
	attrs := make([]attribute.KeyValue, 1, 4)
	attrs[0] = semconv.DBSystemNameKey.String(system)
	if k.operation != "" {
		attrs = append(attrs, semconv.DBOperationName(k.operation))
	}
	if k.collection != "" {
		attrs = append(attrs, semconv.DBCollectionName(k.collection))
	}
	if k.errType != "" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(k.errType))
	}
	return dbSpanStart{name: dbSpanName(system, k.operation, k.collection), attrs: trace.WithAttributes(attrs...)}
}

// dbSpanStarts holds the dbSpanStart of the first max keys, built once;
// the others are built at each operation.
type dbSpanStarts struct {
	m    cow[dbKey, dbSpanStart]
	left int // under m.mu
	full atomic.Bool
}

func newDBSpanStarts(max int) *dbSpanStarts { return &dbSpanStarts{left: max} }

// get returns the dbSpanStart of k. One kept has copies of k's strings,
// which can be slices of a statement's text.
func (s *dbSpanStarts) get(k dbKey) dbSpanStart {
	if v, ok := s.m.load(k); ok {
		return v
	}
	if s.full.Load() {
		return newDBSpanStart(k)
	}
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if v, ok := s.m.load(k); ok {
		return v
	}
	if s.left <= 0 {
		s.full.Store(true)
		return newDBSpanStart(k)
	}
	s.left--
	k = dbKey{system: strings.Clone(k.system), operation: strings.Clone(k.operation),
		collection: strings.Clone(k.collection), errType: strings.Clone(k.errType)}
	v := newDBSpanStart(k)
	s.m.storeLocked(k, v)
	return v
}

// dbSpanName returns the name the semantic conventions give a database
// span without a query summary: "{db.operation.name} {db.collection.name}",
// the operation alone, the collection alone, else the system. Overflow
// (an unknown first keyword) is no operation to name the span after.
func dbSpanName(system, op, coll string) string {
	if op == Overflow {
		op = ""
	}
	switch {
	case op != "" && coll != "":
		return op + " " + coll
	case op != "":
		return op
	case coll != "":
		return coll
	}
	return system
}

type collectionKey struct{}

// ContextWithCollection returns a copy of ctx that makes the database/sql
// wrapper record the operations run with it under db.collection.name
// collection, instead of the one parsed from the statement. "" records
// them without a collection.
func ContextWithCollection(ctx context.Context, collection string) context.Context {
	return context.WithValue(ctx, collectionKey{}, collection)
}

// WrapConnector returns a connector for sql.OpenDB whose connections record
// every Exec and Query (on the database, a connection, a transaction or a
// prepared statement) in db.client.operation.duration with db.system.name
// system ("sqlite", "postgresql", ...) and, with WithTracerProvider, as a
// client span. The statement's text, its arguments and the error's message
// are never recorded. Optional driver interfaces are passed through; with
// sql.Conn.Raw, Unwrap() driver.Conn gives the driver's connection. The
// package documentation says what is timed ("The database/sql wrapper").
func WrapConnector(c driver.Connector, m *Metrics, system string) driver.Connector {
	return &connector{c: c, r: newSQLRecorder(m, system)}
}

// WrapDriver returns a driver whose connections record their operations as
// WrapConnector's do, for sql.Register:
//
//	sql.Register("sqlite+metrics", bizmetrics.WrapDriver(&sqlite.Driver{}, m, "sqlite"))
func WrapDriver(d driver.Driver, m *Metrics, system string) driver.Driver {
	return wrapDriver(d, newSQLRecorder(m, system))
}

func wrapDriver(d driver.Driver, r *sqlRecorder) driver.Driver {
	if _, ok := d.(driver.DriverContext); ok {
		return &sqlDriverContext{sqlDriver{d: d, r: r}}
	}
	return &sqlDriver{d: d, r: r}
}

type sqlDriver struct {
	d driver.Driver
	r *sqlRecorder
}

func (d *sqlDriver) Open(name string) (driver.Conn, error) {
	c, err := d.d.Open(name)
	if err != nil {
		return nil, err
	}
	return wrapConn(c, d.r), nil
}

type sqlDriverContext struct{ sqlDriver }

func (d *sqlDriverContext) OpenConnector(name string) (driver.Connector, error) {
	c, err := d.d.(driver.DriverContext).OpenConnector(name)
	if err != nil {
		return nil, err
	}
	return &connector{c: c, r: d.r}, nil
}

type connector struct {
	c driver.Connector
	r *sqlRecorder
}

var _ io.Closer = (*connector)(nil)

func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.c.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return wrapConn(conn, c.r), nil
}

func (c *connector) Driver() driver.Driver { return wrapDriver(c.c.Driver(), c.r) }

// Close closes the wrapped connector if it is an io.Closer, as sql.DB.Close
// does for connectors.
func (c *connector) Close() error {
	if cl, ok := c.c.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}

// conn wraps a driver connection.
type conn struct {
	c driver.Conn
	r *sqlRecorder
}

var (
	_ driver.Conn               = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.Pinger             = (*conn)(nil)
	_ driver.SessionResetter    = (*conn)(nil)
	_ driver.Validator          = (*conn)(nil)
	_ driver.NamedValueChecker  = (*conn)(nil)
)

func wrapConn(c driver.Conn, r *sqlRecorder) *conn { return &conn{c: c, r: r} }

// Unwrap returns the driver's connection.
func (c *conn) Unwrap() driver.Conn { return c.c }

func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	start := c.r.clock.Now()
	var s driver.Stmt
	var err error
	if pc, ok := c.c.(driver.ConnPrepareContext); ok {
		s, err = pc.PrepareContext(ctx, query)
	} else {
		s, err = c.c.Prepare(query)
		if err == nil {
			select {
			case <-ctx.Done():
				_ = s.Close()
				s, err = nil, ctx.Err()
			default:
			}
		}
	}
	op, coll := parseSQL(query)
	if err != nil {
		c.r.record(ctx, op, coll, start, err)
		return nil, err
	}
	return wrapStmt(s, c, op, coll), nil
}

func (c *conn) Close() error { return c.c.Close() }

func (c *conn) Begin() (driver.Tx, error) { return c.c.Begin() }

// BeginTx begins a transaction as database/sql does with a driver
// connection.
func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if bc, ok := c.c.(driver.ConnBeginTx); ok {
		return bc.BeginTx(ctx, opts)
	}
	if opts.Isolation != 0 {
		return nil, errors.New("sql: driver does not support non-default isolation level")
	}
	if opts.ReadOnly {
		return nil, errors.New("sql: driver does not support read-only transactions")
	}
	tx, err := c.c.Begin() // the fallback database/sql uses
	if err == nil {
		select {
		case <-ctx.Done():
			_ = tx.Rollback()
			return nil, ctx.Err()
		default:
		}
	}
	return tx, err
}

func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	start := c.r.clock.Now()
	var res driver.Result
	var err error
	switch ec := c.c.(type) {
	case driver.ExecerContext:
		res, err = ec.ExecContext(ctx, query, args)
	case driver.Execer: // the fallback database/sql uses
		dargs, derr := namedValueToValue(args)
		if derr != nil {
			return nil, derr
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		res, err = ec.Exec(query, dargs)
	default:
		return nil, driver.ErrSkip
	}
	if err == driver.ErrSkip {
		return nil, err
	}
	op, coll := parseSQL(query)
	c.r.record(ctx, op, coll, start, err)
	return res, err
}

func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	start := c.r.clock.Now()
	var rows driver.Rows
	var err error
	switch qc := c.c.(type) {
	case driver.QueryerContext:
		rows, err = qc.QueryContext(ctx, query, args)
	case driver.Queryer: // the fallback database/sql uses
		dargs, derr := namedValueToValue(args)
		if derr != nil {
			return nil, derr
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rows, err = qc.Query(query, dargs)
	default:
		return nil, driver.ErrSkip
	}
	if err == driver.ErrSkip {
		return nil, err
	}
	op, coll := parseSQL(query)
	c.r.record(ctx, op, coll, start, err)
	return rows, err
}

func (c *conn) Ping(ctx context.Context) error {
	if p, ok := c.c.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *conn) ResetSession(ctx context.Context) error {
	if sr, ok := c.c.(driver.SessionResetter); ok {
		return sr.ResetSession(ctx)
	}
	return nil
}

func (c *conn) IsValid() bool {
	if v, ok := c.c.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// CheckNamedValue passes the check to the driver's connection; without
// one, driver.ErrSkip makes database/sql use its default conversion.
func (c *conn) CheckNamedValue(nv *driver.NamedValue) error {
	if nvc, ok := c.c.(driver.NamedValueChecker); ok {
		return nvc.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// namedValueToValue is database/sql's conversion for drivers without
// context methods.
func namedValueToValue(named []driver.NamedValue) ([]driver.Value, error) {
	dargs := make([]driver.Value, len(named))
	for n, param := range named {
		if len(param.Name) > 0 {
			return nil, errors.New("sql: driver does not support the use of Named Parameters")
		}
		dargs[n] = param.Value
	}
	return dargs, nil
}

// stmt wraps a prepared statement, its operation and collection parsed
// once.
type stmt struct {
	s        driver.Stmt
	c        *conn
	op, coll string
}

var (
	_ driver.Stmt              = (*stmt)(nil)
	_ driver.StmtExecContext   = (*stmt)(nil)
	_ driver.StmtQueryContext  = (*stmt)(nil)
	_ driver.NamedValueChecker = (*stmt)(nil)
	_ driver.ColumnConverter   = (*stmtConverter)(nil)
)

// stmtConverter is a stmt whose driver statement is a
// driver.ColumnConverter, which database/sql consults after
// CheckNamedValue returns driver.ErrSkip.
type stmtConverter struct{ *stmt }

func (s stmtConverter) ColumnConverter(idx int) driver.ValueConverter {
	return s.s.(driver.ColumnConverter).ColumnConverter(idx)
}

func wrapStmt(s driver.Stmt, c *conn, op, coll string) driver.Stmt {
	w := &stmt{s: s, c: c, op: op, coll: coll}
	if _, ok := s.(driver.ColumnConverter); ok {
		return stmtConverter{w}
	}
	return w
}

func (s *stmt) Close() error  { return s.s.Close() }
func (s *stmt) NumInput() int { return s.s.NumInput() }

func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	start := s.c.r.clock.Now()
	res, err := s.s.Exec(args)
	s.c.r.record(context.Background(), s.op, s.coll, start, err)
	return res, err
}

func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	start := s.c.r.clock.Now()
	rows, err := s.s.Query(args)
	s.c.r.record(context.Background(), s.op, s.coll, start, err)
	return rows, err
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	start := s.c.r.clock.Now()
	var res driver.Result
	var err error
	if ec, ok := s.s.(driver.StmtExecContext); ok {
		res, err = ec.ExecContext(ctx, args)
	} else {
		dargs, derr := namedValueToValue(args)
		if derr != nil {
			return nil, derr
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		res, err = s.s.Exec(dargs) // the fallback database/sql uses
	}
	s.c.r.record(ctx, s.op, s.coll, start, err)
	return res, err
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	start := s.c.r.clock.Now()
	var rows driver.Rows
	var err error
	if qc, ok := s.s.(driver.StmtQueryContext); ok {
		rows, err = qc.QueryContext(ctx, args)
	} else {
		dargs, derr := namedValueToValue(args)
		if derr != nil {
			return nil, derr
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rows, err = s.s.Query(dargs) // the fallback database/sql uses
	}
	s.c.r.record(ctx, s.op, s.coll, start, err)
	return rows, err
}

// CheckNamedValue passes the check to the driver's statement, else to its
// connection (database/sql asks the statement first, then the
// connection); without either, driver.ErrSkip makes database/sql use the
// column converter or its default conversion.
func (s *stmt) CheckNamedValue(nv *driver.NamedValue) error {
	if nvc, ok := s.s.(driver.NamedValueChecker); ok {
		return nvc.CheckNamedValue(nv)
	}
	if nvc, ok := s.c.c.(driver.NamedValueChecker); ok {
		return nvc.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}
