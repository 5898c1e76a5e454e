package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"modernc.org/sqlite"

	"github.com/vitalsgo/vitals/bizmetrics"
)

// product is an item of the catalogue.
type product struct {
	ID    int64   `json:"id"`
	Name  string  `json:"name"`
	Price float64 `json:"price"`
}

// placedOrder is an order as stored.
type placedOrder struct {
	ID        int64     `json:"id"`
	UserID    int64     `json:"user_id,omitempty"`
	ProductID int64     `json:"product_id"`
	Quantity  int       `json:"quantity"`
	Total     float64   `json:"total"`
	Currency  string    `json:"currency"`
	CreatedAt time.Time `json:"created_at"`
}

// errNotFound is returned for a missing row.
var errNotFound = errors.New("not found")

// store keeps the shop's data in SQLite, every statement timed through the
// bizmetrics database/sql wrapper, with an LRU cache in front of product
// reads.
type store struct {
	db    *sql.DB
	cache *lru.Cache[int64, product]
	hits  *bizmetrics.Cache
}

const schema = `
CREATE TABLE IF NOT EXISTS products (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL NOT NULL);
CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, source TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, user_id INTEGER, product_id INTEGER NOT NULL REFERENCES products(id),
  quantity INTEGER NOT NULL, total REAL NOT NULL, currency TEXT NOT NULL, created_at TEXT NOT NULL);
INSERT OR IGNORE INTO products (id, name, price) VALUES
  (1, 'Espresso beans 1 kg', 24.90), (2, 'Hand grinder', 89.00), (3, 'Milk jug', 12.50),
  (4, 'Pour-over kettle', 54.00), (5, 'Paper filters (100)', 6.90);
`

// openStore opens (or creates) the database file shop.db in dir.
func openStore(ctx context.Context, dir string, m *bizmetrics.Metrics) (*store, error) {
	path := filepath.Join(dir, "shop.db")
	connector := dsnConnector{dsn: "file:" + path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)", drv: &sqlite.Driver{}}
	db := sql.OpenDB(bizmetrics.WrapConnector(connector, m, "sqlite"))
	db.SetMaxOpenConns(4)
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("creating the schema in %s: %w", path, err)
	}
	cache, err := lru.New[int64, product](128)
	if err != nil {
		db.Close()
		return nil, err
	}
	hits, err := m.CacheOperations("products")
	if err != nil {
		db.Close()
		return nil, err
	}
	return &store{db: db, cache: cache, hits: hits}, nil
}

func (s *store) close() error { return s.db.Close() }

// dsnConnector opens connections of a driver that has no connector of its
// own, without registering it globally.
type dsnConnector struct {
	dsn string
	drv driver.Driver
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.drv }

func (s *store) products(ctx context.Context) ([]product, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, price FROM products ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	list := []product{}
	for rows.Next() {
		var p product
		if err := rows.Scan(&p.ID, &p.Name, &p.Price); err != nil {
			return nil, err
		}
		list = append(list, p)
	}
	return list, rows.Err()
}

// product reads one product through the cache.
func (s *store) product(ctx context.Context, id int64) (product, error) {
	if p, ok := s.cache.Get(id); ok {
		s.hits.Hit(ctx)
		return p, nil
	}
	s.hits.Miss(ctx)
	var p product
	err := s.db.QueryRowContext(ctx, `SELECT id, name, price FROM products WHERE id = ?`, id).Scan(&p.ID, &p.Name, &p.Price)
	if errors.Is(err, sql.ErrNoRows) {
		return product{}, errNotFound
	}
	if err != nil {
		return product{}, err
	}
	s.cache.Add(id, p)
	return p, nil
}

// addUser stores a user and returns its ID; a taken email is errExists.
func (s *store) addUser(ctx context.Context, email, source string) (int64, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO users (email, source, created_at) VALUES (?, ?, ?)`,
		email, source, time.Now().UTC().Format(time.RFC3339))
	if err != nil {
		var se *sqlite.Error
		if errors.As(err, &se) && se.Code()&0xff == 19 { // SQLITE_CONSTRAINT
			return 0, errExists
		}
		return 0, err
	}
	return res.LastInsertId()
}

var errExists = errors.New("exists")

func (s *store) userExists(ctx context.Context, id int64) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE id = ?`, id).Scan(&n)
	return n > 0, err
}

func (s *store) countUsers(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n)
	return n, err
}

func (s *store) addOrder(ctx context.Context, o placedOrder) (int64, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO orders (user_id, product_id, quantity, total, currency, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		sql.NullInt64{Int64: o.UserID, Valid: o.UserID != 0}, o.ProductID, o.Quantity, o.Total, o.Currency, o.CreatedAt.Format(time.RFC3339Nano))
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

func (s *store) order(ctx context.Context, id int64) (placedOrder, error) {
	var o placedOrder
	var user sql.NullInt64
	var created string
	err := s.db.QueryRowContext(ctx, `SELECT id, user_id, product_id, quantity, total, currency, created_at FROM orders WHERE id = ?`, id).
		Scan(&o.ID, &user, &o.ProductID, &o.Quantity, &o.Total, &o.Currency, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return placedOrder{}, errNotFound
	}
	if err != nil {
		return placedOrder{}, err
	}
	o.UserID = user.Int64
	o.CreatedAt, _ = time.Parse(time.RFC3339Nano, created)
	return o, nil
}
