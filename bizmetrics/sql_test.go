package bizmetrics_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"modernc.org/sqlite"

	"github.com/vitalsgo/vitals/bizmetrics"
)

// openSQLite opens a real SQLite database in a temporary file through the
// wrapper.
func openSQLite(t *testing.T, m *bizmetrics.Metrics) *sql.DB {
	t.Helper()
	c, err := sqlite.NewConnector("file:" + filepath.Join(t.TempDir(), "shop.db"))
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(bizmetrics.WrapConnector(c, m, "sqlite"))
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// dbSeries returns the count of every db.client.operation.duration series,
// keyed by its labels.
func dbSeries(got map[string]float64) map[string]float64 {
	out := map[string]float64{}
	const prefix = "db_client_operation_duration_seconds_count"
	for s, v := range got {
		if rest, ok := strings.CutPrefix(s, prefix); ok {
			out[rest] = v
		}
	}
	return out
}

func TestWrapConnectorSQLite(t *testing.T) {
	clk := newClock()
	clk.step = time.Millisecond
	e := newEnv(t, bizmetrics.WithClock(clk))
	db := openSQLite(t, e.m)
	ctx := t.Context()

	mustExec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	mustExec(`CREATE TABLE orders (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, amount REAL)`)
	mustExec(`INSERT INTO orders (email, amount) VALUES (?, ?)`, "alice@example.com", 42.5)
	mustExec(`insert into "orders" (email, amount) values (?, ?)`, "bob@example.com", 19.99)

	// A constraint violation.
	_, err := db.ExecContext(ctx, `INSERT INTO orders (email, amount) VALUES (?, ?)`, "alice@example.com", 1)
	var sqliteErr *sqlite.Error
	if !errors.As(err, &sqliteErr) {
		t.Fatalf("duplicate insert: %v, want a *sqlite.Error", err)
	}

	// A query, read to the end.
	rows, err := db.QueryContext(ctx, `SELECT id, amount FROM orders WHERE email = ? -- by email`, "bob@example.com")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		n++
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil || n != 1 {
		t.Fatalf("rows: %d, %v", n, err)
	}
	// No rows is not a failed operation.
	var amount float64
	if err := db.QueryRowContext(ctx, `SELECT amount FROM orders WHERE email = ?`, "carol@example.com").Scan(&amount); err != sql.ErrNoRows {
		t.Fatalf("QueryRow: %v, want sql.ErrNoRows", err)
	}
	// A syntax error and a missing table.
	if _, err := db.ExecContext(ctx, `SELEC * FROM orders WHERE email = 'dave@example.com'`); err == nil {
		t.Fatal("syntax error: no error")
	}
	if _, err := db.QueryContext(ctx, `SELECT * FROM missing`); err == nil {
		t.Fatal("missing table: no error")
	}
	// A literal that looks like a table is skipped.
	if err := db.QueryRowContext(ctx, `SELECT 'x FROM secrets' FROM orders LIMIT 1`).Scan(new(string)); err != nil {
		t.Fatal(err)
	}

	// A prepared statement, executed twice.
	stmt, err := db.PrepareContext(ctx, `UPDATE orders SET amount = ? WHERE id = ?`)
	if err != nil {
		t.Fatal(err)
	}
	for id := 1; id <= 2; id++ {
		if _, err := stmt.ExecContext(ctx, 10.0, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := stmt.Close(); err != nil {
		t.Fatal(err)
	}
	// A prepared query.
	q, err := db.PrepareContext(ctx, `SELECT email FROM orders WHERE id = ?`)
	if err != nil {
		t.Fatal(err)
	}
	var email string
	if err := q.QueryRowContext(ctx, 1).Scan(&email); err != nil || email != "alice@example.com" {
		t.Fatalf("prepared query: %q, %v", email, err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	// A failing Prepare is a failed operation.
	if _, err := db.PrepareContext(ctx, `DELETE FROM nowhere`); err == nil {
		t.Fatal("prepare on a missing table: no error")
	}

	// A transaction.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM orders WHERE id = ?`, 2); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	// The collection given by the caller wins over the parsed one.
	rctx := bizmetrics.ContextWithCollection(ctx, "order_report")
	if err := db.QueryRowContext(rctx, `SELECT count(*) FROM orders o JOIN orders p ON o.id = p.id`).Scan(new(int)); err != nil {
		t.Fatal(err)
	}

	const sqliteErrType = `,error_type="*sqlite.Error"`
	want := map[string]float64{
		`{db_operation_name="CREATE",db_system_name="sqlite"}`:                                                   1,
		`{db_collection_name="orders",db_operation_name="INSERT",db_system_name="sqlite"}`:                       2,
		`{db_collection_name="orders",db_operation_name="INSERT",db_system_name="sqlite"` + sqliteErrType + `}`:  1,
		`{db_collection_name="orders",db_operation_name="SELECT",db_system_name="sqlite"}`:                       4,
		`{db_operation_name="_OTHER",db_system_name="sqlite"` + sqliteErrType + `}`:                              1,
		`{db_collection_name="missing",db_operation_name="SELECT",db_system_name="sqlite"` + sqliteErrType + `}`: 1,
		`{db_collection_name="orders",db_operation_name="UPDATE",db_system_name="sqlite"}`:                       2,
		`{db_collection_name="nowhere",db_operation_name="DELETE",db_system_name="sqlite"` + sqliteErrType + `}`: 1,
		`{db_collection_name="orders",db_operation_name="DELETE",db_system_name="sqlite"}`:                       1,
		`{db_collection_name="order_report",db_operation_name="SELECT",db_system_name="sqlite"}`:                 1,
	}
	got := e.scrape(t)
	series := dbSeries(got)
	for s, w := range want {
		if series[s] != w {
			t.Errorf("db series %s = %v, want %v", s, series[s], w)
		}
	}
	for s, v := range series {
		if _, ok := want[s]; !ok {
			t.Errorf("unexpected db series %s = %v", s, v)
		}
		for _, leak := range []string{"example.com", "secrets", "SELEC ", "dave", "?"} {
			if strings.Contains(s, leak) {
				t.Errorf("db series %s carries %q from the statement", s, leak)
			}
		}
	}
	// Every operation took exactly one step of the clock.
	if s := got[`db_client_operation_duration_seconds_sum{db_collection_name="orders",db_operation_name="UPDATE",db_system_name="sqlite"}`]; s != 0.002 {
		t.Errorf("UPDATE duration sum = %v, want 0.002", s)
	}

	// sql.Conn.Raw reaches the driver's connection through Unwrap.
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Raw(func(dc any) error {
		u, ok := dc.(interface{ Unwrap() driver.Conn })
		if !ok {
			return errors.New("the wrapper has no Unwrap")
		}
		if _, ok := u.Unwrap().(interface{ Serialize() ([]byte, error) }); !ok {
			return errors.New("Unwrap did not return the SQLite connection")
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
	if err := conn.PingContext(ctx); err != nil {
		t.Error(err)
	}
}

// dsnConnector opens a data source with a driver, as sql.Open does.
type dsnConnector struct {
	dsn string
	d   driver.Driver
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.d.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.d }

func TestWrapDriverSQLite(t *testing.T) {
	e := newEnv(t)
	d := bizmetrics.WrapDriver(&sqlite.Driver{}, e.m, "sqlite")
	db := sql.OpenDB(dsnConnector{dsn: "file:" + filepath.Join(t.TempDir(), "d.db"), d: d})
	defer db.Close()
	ctx := t.Context()
	if _, err := db.ExecContext(ctx, `CREATE TABLE carts (id INTEGER)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO main.carts VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO carts VALUES ('a', 'b')`); err == nil {
		t.Fatal("too many values: no error")
	}
	series := dbSeries(e.scrape(t))
	for s, w := range map[string]float64{
		`{db_operation_name="CREATE",db_system_name="sqlite"}`:                                                       1,
		`{db_collection_name="main.carts",db_operation_name="INSERT",db_system_name="sqlite"}`:                       1,
		`{db_collection_name="carts",db_operation_name="INSERT",db_system_name="sqlite",error_type="*sqlite.Error"}`: 1,
	} {
		if series[s] != w {
			t.Errorf("db series %s = %v, want %v (all: %v)", s, series[s], w, series)
		}
	}
	if _, ok := db.Driver().(*sqlite.Driver); ok {
		t.Error("db.Driver() is the bare driver: connections it opens would not be recorded")
	}
}

// legacyDriver implements only driver.Conn and driver.Stmt, without the
// context methods and with a column converter, to check the fallbacks
// database/sql takes with such drivers go through the wrapper unchanged.
type legacyDriver struct {
	execs     []string
	converted int
}

type legacyConn struct{ d *legacyDriver }

func (c legacyConn) Prepare(q string) (driver.Stmt, error) {
	if strings.HasPrefix(q, "FAIL") {
		return nil, io.ErrUnexpectedEOF
	}
	return legacyStmt{c.d, q}, nil
}
func (c legacyConn) Close() error              { return nil }
func (c legacyConn) Begin() (driver.Tx, error) { return legacyTx{}, nil }

type legacyTx struct{}

func (legacyTx) Commit() error   { return nil }
func (legacyTx) Rollback() error { return nil }

type legacyStmt struct {
	d *legacyDriver
	q string
}

func (s legacyStmt) Close() error  { return nil }
func (s legacyStmt) NumInput() int { return 1 }
func (s legacyStmt) Exec(args []driver.Value) (driver.Result, error) {
	s.d.execs = append(s.d.execs, s.q)
	if args[0] != "converted" {
		return nil, errors.New("argument not converted")
	}
	return driver.RowsAffected(1), nil
}
func (s legacyStmt) Query([]driver.Value) (driver.Rows, error) { return nil, errors.New("no queries") }
func (s legacyStmt) ColumnConverter(int) driver.ValueConverter {
	return driver.ValueConverter(converterFunc(func(any) (driver.Value, error) {
		s.d.converted++
		return "converted", nil
	}))
}

type converterFunc func(any) (driver.Value, error)

func (f converterFunc) ConvertValue(v any) (driver.Value, error) { return f(v) }

type legacyConnector struct{ d *legacyDriver }

func (c legacyConnector) Connect(context.Context) (driver.Conn, error) { return legacyConn{c.d}, nil }
func (c legacyConnector) Driver() driver.Driver                        { return nil }

func TestWrapConnectorLegacyDriver(t *testing.T) {
	e := newEnv(t)
	ld := &legacyDriver{}
	db := sql.OpenDB(bizmetrics.WrapConnector(legacyConnector{ld}, e.m, "legacy"))
	defer db.Close()
	ctx := t.Context()
	// No ExecerContext: database/sql prepares, executes and closes.
	if _, err := db.ExecContext(ctx, `UPDATE stock SET n = ?`, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `FAIL`, 1); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("failing prepare: %v", err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM stock WHERE n = ?`, 1); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.QueryContext(ctx, `SELECT n FROM stock WHERE n = ?`, 1); err == nil {
		t.Error("query on a driver without queries: no error")
	}
	if _, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true}); err == nil {
		t.Error("read-only transaction on a driver without BeginTx: no error")
	}
	if ld.converted != 3 || len(ld.execs) != 2 {
		t.Errorf("column converter called %d times, %d executions; want 3 and 2", ld.converted, len(ld.execs))
	}
	series := dbSeries(e.scrape(t))
	for s, w := range map[string]float64{
		`{db_collection_name="stock",db_operation_name="UPDATE",db_system_name="legacy"}`:                                  1,
		`{db_collection_name="stock",db_operation_name="DELETE",db_system_name="legacy"}`:                                  1,
		`{db_operation_name="_OTHER",db_system_name="legacy",error_type="*errors.errorString"}`:                            1,
		`{db_collection_name="stock",db_operation_name="SELECT",db_system_name="legacy",error_type="*errors.errorString"}`: 1,
	} {
		if series[s] != w {
			t.Errorf("db series %s = %v, want %v (all: %v)", s, series[s], w, series)
		}
	}
}

// contextDriver is a driver.DriverContext.
type contextDriver struct{ d *legacyDriver }

func (d contextDriver) Open(string) (driver.Conn, error) { return legacyConn{d.d}, nil }
func (d contextDriver) OpenConnector(string) (driver.Connector, error) {
	return legacyConnector{d.d}, nil
}

func TestWrapDriverContext(t *testing.T) {
	e := newEnv(t)
	d := bizmetrics.WrapDriver(contextDriver{&legacyDriver{}}, e.m, "legacy")
	dc, ok := d.(driver.DriverContext)
	if !ok {
		t.Fatal("the wrapper of a driver.DriverContext is not one")
	}
	c, err := dc.OpenConnector("x")
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), `INSERT INTO stock VALUES (?)`, "x"); err != nil {
		t.Fatal(err)
	}
	s := `{db_collection_name="stock",db_operation_name="INSERT",db_system_name="legacy"}`
	if got := dbSeries(e.scrape(t))[s]; got != 1 {
		t.Errorf("db series %s = %v, want 1", s, got)
	}
	if _, ok := c.Driver().(driver.DriverContext); ok {
		t.Error("the connector's driver: a legacy driver's wrapper is a driver.DriverContext")
	}
	// The bare driver does not implement it, so neither does its wrapper.
	if _, ok := bizmetrics.WrapDriver(&sqlite.Driver{}, e.m, "sqlite").(driver.DriverContext); ok {
		t.Error("the wrapper of a driver without OpenConnector has one")
	}
}
