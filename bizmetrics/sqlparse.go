package bizmetrics

import "strings"

// sqlOperations are the db.operation.name values read from the first
// keyword of a statement; any other first word gives Overflow.
var sqlOperations = [...]string{
	"SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE", "UPSERT", "MERGE", "WITH", "VALUES",
	"CREATE", "DROP", "ALTER", "TRUNCATE", "RENAME", "COMMENT",
	"BEGIN", "START", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE",
	"PRAGMA", "EXPLAIN", "ANALYZE", "VACUUM", "REINDEX", "ATTACH", "DETACH",
	"CALL", "EXEC", "EXECUTE", "DO", "SET", "SHOW", "DESCRIBE", "USE",
	"GRANT", "REVOKE", "LOCK", "UNLOCK", "COPY", "LOAD", "LISTEN", "NOTIFY", "REFRESH",
}

// sqlOperation returns the sqlOperations entry equal to w, ignoring case,
// or Overflow.
func sqlOperation(w string) string {
	if len(w) > 9 {
		return Overflow
	}
	for _, op := range sqlOperations {
		if strings.EqualFold(w, op) {
			return op
		}
	}
	return Overflow
}

// parseSQL returns the operation and the collection of a statement, cheaply
// and without allocating: the operation from the first keyword (SELECT,
// INSERT, ...; Overflow for any other, "" for an empty statement), the
// collection as the semantic conventions ask for it when parsed from query
// text, the first one named: the table after INTO for INSERT and REPLACE,
// after UPDATE, after DELETE FROM, after the first FROM that is not
// followed by a subquery for SELECT and WITH. The collection is "" when
// there is none, or when it is not a plain identifier (letters, digits,
// _ and $, at most 128 bytes, optionally schema-qualified, quoted with
// "", “ or [] when single): literals are skipped, never returned, so no
// value of the statement can become an attribute.
func parseSQL(q string) (op, coll string) {
	l := sqlLexer{s: q}
	kind, w := l.next()
	switch kind {
	case tokEnd:
		return "", ""
	case tokWord:
		op = sqlOperation(w)
	default:
		return Overflow, ""
	}
	switch op {
	case "INSERT", "REPLACE", "UPSERT":
		coll = l.tableAfter("INTO")
	case "DELETE":
		coll = l.tableAfter("FROM")
	case "SELECT", "WITH":
		coll = l.tableAfter("FROM")
	case "UPDATE":
		for {
			save := l.i
			kind, w := l.next()
			if kind == tokWord && strings.EqualFold(w, "OR") {
				l.next() // the conflict resolution: UPDATE OR IGNORE t
				continue
			}
			if kind == tokWord && strings.EqualFold(w, "ONLY") {
				continue
			}
			l.i = save
			break
		}
		coll = l.table()
	}
	return op, coll
}

// Token kinds of sqlLexer.
const (
	tokEnd    = iota
	tokWord   // an unquoted identifier or keyword
	tokQuoted // a quoted identifier; the text is without quotes
	tokPunct  // one of ( ) , ; .
	tokOther  // a literal, a number, a parameter, an operator
)

// sqlLexer splits SQL into tokens, skipping white space, comments and
// string literals.
type sqlLexer struct {
	s string
	i int
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

func isIdentPart(c byte) bool {
	return isIdentStart(c) || c >= '0' && c <= '9' || c == '$'
}

// skipSpace skips white space and comments.
func (l *sqlLexer) skipSpace() {
	s := l.s
	for l.i < len(s) {
		switch c := s[l.i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			l.i++
		case c == '-' && l.i+1 < len(s) && s[l.i+1] == '-':
			if j := strings.IndexByte(s[l.i:], '\n'); j >= 0 {
				l.i += j + 1
			} else {
				l.i = len(s)
			}
		case c == '/' && l.i+1 < len(s) && s[l.i+1] == '*':
			if j := strings.Index(s[l.i+2:], "*/"); j >= 0 {
				l.i += j + 4
			} else {
				l.i = len(s)
			}
		default:
			return
		}
	}
}

// next returns the next token.
func (l *sqlLexer) next() (kind int, text string) {
	l.skipSpace()
	s := l.s
	if l.i >= len(s) {
		return tokEnd, ""
	}
	start := l.i
	switch c := s[l.i]; {
	case isIdentStart(c):
		for l.i < len(s) && isIdentPart(s[l.i]) {
			l.i++
		}
		return tokWord, s[start:l.i]
	case c == '"' || c == '`' || c == '[':
		closing := c
		if c == '[' {
			closing = ']'
		}
		j := strings.IndexByte(s[l.i+1:], closing)
		if j < 0 {
			l.i = len(s)
			return tokOther, ""
		}
		l.i += j + 2
		return tokQuoted, s[start+1 : l.i-1]
	case c == '\'':
		l.i++
		for l.i < len(s) {
			if s[l.i] == '\'' {
				if l.i+1 < len(s) && s[l.i+1] == '\'' {
					l.i += 2
					continue
				}
				l.i++
				return tokOther, ""
			}
			l.i++
		}
		return tokOther, ""
	case c == '(' || c == ')' || c == ',' || c == ';' || c == '.':
		l.i++
		return tokPunct, s[start:l.i]
	}
	l.i++
	return tokOther, ""
}

// tableAfter returns the table named after the first keyword kw that is
// followed by one, or "".
func (l *sqlLexer) tableAfter(kw string) string {
	for {
		kind, w := l.next()
		switch {
		case kind == tokEnd:
			return ""
		case kind == tokWord && strings.EqualFold(w, kw):
			if t := l.table(); t != "" {
				return t
			}
		}
	}
}

// maxCollection is the longest collection name parseSQL returns.
const maxCollection = 128

// table reads a table name at the current position: an identifier,
// optionally qualified (main.orders); "" if there is none.
func (l *sqlLexer) table() string {
	l.skipSpace()
	start := l.i
	kind, w := l.next()
	if kind == tokWord && strings.EqualFold(w, "ONLY") {
		l.skipSpace()
		start = l.i
		kind, w = l.next()
	}
	if kind != tokWord && kind != tokQuoted || !plainIdent(w) {
		return ""
	}
	quoted := kind == tokQuoted
	parts := 1
	for {
		save := l.i
		if k, p := l.next(); k != tokPunct || p != "." {
			l.i = save
			break
		}
		k, p := l.next()
		if k != tokWord && k != tokQuoted || !plainIdent(p) {
			return ""
		}
		quoted = quoted || k == tokQuoted
		parts++
	}
	switch {
	case parts == 1 && len(w) <= maxCollection:
		return w
	case !quoted && l.i-start <= maxCollection && qualifiedIdent(l.s[start:l.i]):
		return l.s[start:l.i]
	}
	return ""
}

// qualifiedIdent reports whether s is identifiers joined by dots, without
// spaces or comments between them.
func qualifiedIdent(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isIdentPart(s[i]) && s[i] != '.' {
			return false
		}
	}
	return true
}

// plainIdent reports whether s is made of identifier characters only.
func plainIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isIdentPart(s[i]) {
			return false
		}
	}
	return true
}
