package instrument

import (
	"context"
	"net/http"
	"strings"
	"sync"
)

// Routes wraps an http.ServeMux so that the middleware learns its matched
// pattern even when a middleware between them copies the request, which
// hides the pattern (see "Routes" in the package documentation). Put it
// directly around the mux.
func Routes(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r)
		if st, ok := r.Context().Value(stateKey{}).(*state); ok {
			st.inner = r
		}
	})
}

// SetRoute records the route template of the request that ctx belongs to,
// for routers that know it only inside (for example in a chi middleware:
// instrument.SetRoute(r.Context(), chi.RouteContext(r.Context()).RoutePattern())).
// It wins over every other source. It does nothing outside the middleware.
func SetRoute(ctx context.Context, route string) {
	if st, ok := ctx.Value(stateKey{}).(*state); ok {
		st.route = route
	}
}

// patternRoute returns the path part of a ServeMux pattern, without method
// and host: "GET example.com/orders/{id}" becomes "/orders/{id}".
func patternRoute(pattern string) string {
	if i := strings.IndexByte(pattern, '/'); i >= 0 {
		return pattern[i:]
	}
	return ""
}

// SkipRecording tells the middleware that the request ctx belongs to is not
// application traffic (a metrics scrape, a health probe), so that no
// metric, log line or hook records it (see "Monitoring traffic" in the
// package documentation). Call it from the handler; it does nothing
// outside the middleware.
func SkipRecording(ctx context.Context) {
	if st, ok := ctx.Value(stateKey{}).(*state); ok {
		st.rw.skip = true
	}
}

// cappedSet admits at most max distinct values. It is safe for concurrent
// use.
type cappedSet[K comparable] struct {
	mu  sync.RWMutex
	set map[K]struct{}
	max int
}

func newCappedSet[K comparable](max int) *cappedSet[K] {
	return &cappedSet[K]{set: make(map[K]struct{}), max: max}
}

// add reports whether k is, or has now become, one of the admitted values;
// keep turns a new value into the one to store (to copy a string out of a
// request's memory, say).
func (s *cappedSet[K]) add(k K, keep func(K) K) bool {
	s.mu.RLock()
	_, ok := s.set[k]
	full := len(s.set) >= s.max
	s.mu.RUnlock()
	if ok || full {
		return ok
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.set[k]; ok {
		return true
	}
	if len(s.set) >= s.max {
		return false
	}
	s.set[keep(k)] = struct{}{}
	return true
}

// routeSet admits at most max distinct strings; later ones are replaced by
// Overflow, which itself takes no room.
type routeSet struct{ s *cappedSet[string] }

func newRouteSet(max int) routeSet { return routeSet{newCappedSet[string](max)} }

// admit returns v if it is (or can become) one of the admitted values,
// else Overflow.
func (r routeSet) admit(v string) string {
	if v == Overflow || r.s.add(v, strings.Clone) { // do not keep a request's memory alive
		return v
	}
	return Overflow
}

// pathSets admits at most max attribute sets whose route is a normalised
// path: a budget of series, not only of routes, so that a flood of paths
// with every method cannot make more series than that either. Its strings
// are kept as they are: the route is NormalizePath's own string, not the
// request's memory, and the others come from capped sets.
type pathSets struct{ s *cappedSet[attrKey] }

func newPathSets(max int) pathSets { return pathSets{newCappedSet[attrKey](max)} }

// admit reports whether k is, or can become, one of the admitted sets.
func (p pathSets) admit(k attrKey) bool {
	return p.s.add(k, func(k attrKey) attrKey { return k })
}

// Limits of NormalizePath.
const (
	maxSegments   = 12
	maxSegmentLen = 64
	// maxPathLen bounds NormalizePath's result: 12 segments of at most 64
	// bytes, then "/{rest}" (787 bytes).
	maxPathLen = maxSegments*(maxSegmentLen+1) + len("/{rest}")
)

// NormalizePath turns a raw URL path into a route template by replacing
// the segments that look like identifiers with {id}, {uuid}, {token},
// {email} or {value}, keeping words, versions and file names:
// /users/123/orders/9f1c2b6e-... becomes /users/{id}/orders/{uuid}. The
// result starts with "/", has at most 12 segments (the rest becomes {rest})
// and is at most 787 bytes long. The package documentation ("Path
// normalisation") gives the rule for each placeholder.
func NormalizePath(p string) string {
	var b strings.Builder
	b.Grow(min(len(p)+1, maxPathLen))
	n := 0
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "" {
			continue
		}
		b.WriteByte('/')
		if n == maxSegments {
			b.WriteString("{rest}")
			break
		}
		n++
		b.WriteString(normalizeSegment(seg))
	}
	if b.Len() == 0 {
		return "/"
	}
	if strings.HasSuffix(p, "/") && n < maxSegments {
		b.WriteByte('/')
	}
	return b.String()
}

func normalizeSegment(s string) string {
	if len(s) > maxSegmentLen {
		return "{token}"
	}
	if strings.IndexByte(s, '@') >= 0 {
		return "{email}"
	}
	if isUUID(s) {
		return "{uuid}"
	}
	c := scanSegment(s)
	switch {
	case c.plain && c.digits > 0 && c.letters == 0:
		return "{id}"
	case c.hex && c.digits > 0 && len(s) >= 6 && len(s) <= 24:
		return "{id}"
	case c.hex && len(s) >= 16:
		return "{token}"
	case isVersion(s):
		return s
	case c.tokenChars && c.looksLikeToken(len(s)):
		return "{token}"
	case !c.plain:
		return "{value}"
	}
	return s
}

// segmentScan describes the characters of a path segment.
type segmentScan struct {
	letters, digits int
	upper           bool
	hex             bool // only hex digits
	plain           bool // only [A-Za-z0-9-_.~]
	tokenChars      bool // only [A-Za-z0-9-_.~+=]: base64 alphabets
	alternations    int  // letter-digit changes between adjacent characters
	digitRun        int  // longest run of digits
	numberPart      int  // longest part between - _ . ~ made only of digits
}

func scanSegment(s string) segmentScan {
	c := segmentScan{hex: true, plain: true, tokenChars: true}
	prev := byte(0) // 'a' letter, '0' digit, 0 other
	run, part, partDigitsOnly := 0, 0, true
	endPart := func() {
		if partDigitsOnly && part > c.numberPart {
			c.numberPart = part
		}
		part, partDigitsOnly = 0, true
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		var class byte
		switch {
		case b >= '0' && b <= '9':
			class = '0'
			c.digits++
			run++
			c.digitRun = max(c.digitRun, run)
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z':
			class = 'a'
			c.letters++
			c.upper = c.upper || b <= 'Z'
			c.hex = c.hex && isHexByte(b)
			run = 0
			partDigitsOnly = false
		default:
			c.hex = false
			run = 0
			switch b {
			case '-', '_', '.', '~':
			case '+', '=':
				c.plain = false
			default:
				c.plain, c.tokenChars = false, false
			}
			endPart()
			prev = 0
			continue
		}
		part++
		if prev != 0 && prev != class {
			c.alternations++
		}
		prev = class
	}
	endPart()
	return c
}

// looksLikeToken reports a segment of n bytes of letters and digits mixed
// that is an encoded value rather than a word.
func (c segmentScan) looksLikeToken(n int) bool {
	if c.letters == 0 || c.digits == 0 || n < 6 {
		return false
	}
	return n >= 20 || c.alternations >= 3 || c.upper && n >= 8 || c.digitRun >= 5 || c.numberPart >= 3
}

// isVersion reports an API version segment: v1, v10, v1beta1, v2alpha3,
// with numbers of at most 3 digits.
func isVersion(s string) bool {
	if len(s) < 2 || s[0] != 'v' && s[0] != 'V' {
		return false
	}
	n, rest := leadingDigits(s[1:])
	if n == 0 || n > 3 {
		return false
	}
	i := 0
	for i < len(rest) && rest[i] >= 'a' && rest[i] <= 'z' {
		i++
	}
	if i == 0 {
		return rest == ""
	}
	n, rest = leadingDigits(rest[i:])
	return n <= 3 && rest == ""
}

// leadingDigits returns the number of digits s starts with and the rest.
func leadingDigits(s string) (int, string) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i, s[i:]
}

func isHexByte(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isHexByte(s[i]) {
				return false
			}
		}
	}
	return true
}
