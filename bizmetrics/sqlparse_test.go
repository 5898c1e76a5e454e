package bizmetrics

import (
	"strings"
	"testing"
)

func TestParseSQL(t *testing.T) {
	for _, tt := range []struct {
		q, op, coll string
	}{
		{"", "", ""},
		{"   -- only a comment\n", "", ""},
		{"SELECT * FROM orders WHERE id = ?", "SELECT", "orders"},
		{"select * from Orders", "SELECT", "Orders"},
		{"  /* hint */ SELECT a FROM main.orders o JOIN users u ON o.u = u.id", "SELECT", "main.orders"},
		{"SELECT (SELECT max(id) FROM users) FROM orders", "SELECT", "users"},
		{"SELECT * FROM (SELECT * FROM orders) AS t", "SELECT", "orders"},
		{"SELECT 'a FROM secrets', \"x\" FROM orders", "SELECT", "orders"},
		{"SELECT 'it''s FROM secrets' FROM orders", "SELECT", "orders"},
		{"SELECT 1", "SELECT", ""},
		{"SELECT * FROM \"order items\"", "SELECT", ""},
		{"SELECT * FROM `orders`", "SELECT", "orders"},
		{"SELECT * FROM [orders]", "SELECT", "orders"},
		{"SELECT * FROM \"main\".\"orders\"", "SELECT", ""},
		{"SELECT * FROM main . orders", "SELECT", ""},
		{"INSERT INTO orders (a, b) VALUES (?, ?)", "INSERT", "orders"},
		{"insert or replace into carts values (1)", "INSERT", "carts"},
		{"REPLACE INTO carts VALUES (1)", "REPLACE", "carts"},
		{"UPDATE orders SET paid = 1", "UPDATE", "orders"},
		{"UPDATE OR IGNORE orders SET paid = 1", "UPDATE", "orders"},
		{"UPDATE ONLY orders SET paid = 1", "UPDATE", "orders"},
		{"DELETE FROM sessions WHERE expires < ?", "DELETE", "sessions"},
		{"WITH t AS (SELECT id FROM orders) SELECT * FROM t", "WITH", "orders"},
		{"CREATE TABLE orders (id INTEGER)", "CREATE", ""},
		{"BEGIN", "BEGIN", ""},
		{"pragma journal_mode = wal", "PRAGMA", ""},
		{"SELEC * FROM orders", Overflow, ""},
		{"FOOBARBAZQUX x", Overflow, ""},
		{"'alice@example.com'", Overflow, ""},
		{"(SELECT 1)", Overflow, ""},
		{"SELECT * FROM 'alice@example.com'", "SELECT", ""},
		{"SELECT * FROM " + strings.Repeat("a", 129), "SELECT", ""},
		{"SELECT * FROM " + strings.Repeat("a", 128), "SELECT", strings.Repeat("a", 128)},
		{"SELECT * FROM /* unterminated", "SELECT", ""},
		{"SELECT * FROM \"unterminated", "SELECT", ""},
	} {
		op, coll := parseSQL(tt.q)
		if op != tt.op || coll != tt.coll {
			t.Errorf("parseSQL(%q) = %q, %q; want %q, %q", tt.q, op, coll, tt.op, tt.coll)
		}
	}
}

func TestParseSQLAllocations(t *testing.T) {
	q := "SELECT id, amount FROM orders o JOIN users u ON o.user_id = u.id WHERE u.email = ? AND o.note <> 'FROM x'"
	if n := testing.AllocsPerRun(100, func() { parseSQL(q) }); n != 0 {
		t.Errorf("parseSQL allocates %v times, want 0", n)
	}
}
