package instrument

import (
	"context"
	"net/http"
	"strings"
	"sync"
)

// Routes wraps a router so that the middleware learns the matched pattern
// even when a middleware between them copies the request
// (r.WithContext): http.ServeMux writes the pattern on the copy it is
// given, which the outer middleware never sees. Put Routes directly around
// the ServeMux, inside such middleware:
//
//	h := vitalsMiddleware(auth(instrument.Routes(mux)))
//
// Without Routes the middleware still works: it uses the request it passed
// on, or a normalised path, so cardinality stays bounded either way.
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

// routeSet admits at most max distinct values; later values are replaced
// by OverflowRoute. It is safe for concurrent use.
type routeSet struct {
	mu  sync.RWMutex
	set map[string]struct{}
	max int
}

func newRouteSet(max int) *routeSet {
	return &routeSet{set: make(map[string]struct{}), max: max}
}

// admit returns v if it is (or can become) one of the admitted values,
// else OverflowRoute.
func (s *routeSet) admit(v string) string {
	s.mu.RLock()
	_, ok := s.set[v]
	s.mu.RUnlock()
	if ok {
		return v
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.set[v]; ok {
		return v
	}
	if len(s.set) >= s.max {
		return OverflowRoute
	}
	v = strings.Clone(v) // do not keep a request's memory alive
	s.set[v] = struct{}{}
	return v
}

// Limits of NormalizePath.
const (
	maxSegments   = 12
	maxSegmentLen = 64
)

// NormalizePath turns a raw URL path into a route template by replacing the
// segments that look like identifiers: numbers and 24-hex object IDs become
// {id}, UUIDs {uuid}, and long hex or base64-like tokens {token}:
// /users/123/orders/9f1c2b6e-... becomes /users/{id}/orders/{uuid}. The
// result always starts with "/", has at most 12 segments (the rest becomes
// {rest}) and no segment longer than 64 bytes (longer ones become {token}).
func NormalizePath(p string) string {
	var b strings.Builder
	b.Grow(min(len(p), maxSegments*(maxSegmentLen+1)) + 1)
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
	switch {
	case isDigits(s):
		return "{id}"
	case isUUID(s):
		return "{uuid}"
	case len(s) == 24 && isHex(s):
		return "{id}"
	case len(s) >= 16 && isHex(s):
		return "{token}"
	case len(s) > maxSegmentLen || looksLikeToken(s):
		return "{token}"
	case !isPlain(s):
		return "{value}"
	}
	return s
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return len(s) > 0
}

func isHexByte(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHexByte(s[i]) {
			return false
		}
	}
	return len(s) > 0
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

// looksLikeToken reports a base64-like segment: at least 20 characters of
// the base64 alphabets, with both letters and digits.
func looksLikeToken(s string) bool {
	if len(s) < 20 {
		return false
	}
	letters, digits := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits = true
		case (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
			letters = true
		case c == '-' || c == '_' || c == '+' || c == '=' || c == '.':
		default:
			return false
		}
	}
	return letters && digits
}

// isPlain reports a segment safe to keep as it is: letters, digits and a
// few punctuation marks. Anything else (percent-escapes, braces, control
// bytes) is replaced, so a template never carries arbitrary input.
func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-' || c == '_' || c == '.' || c == '~':
		default:
			return false
		}
	}
	return true
}
