package monitoring

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// BearerToken returns an authorizer (Config.Authorizer,
// vitals.WithAuthorizer) that accepts requests carrying "Authorization:
// Bearer <token>", the token compared in constant time. The scheme is
// case-insensitive and may be followed by more than one space, as RFC 9110
// (section 11.1) allows. An empty token accepts nothing.
func BearerToken(token string) func(*http.Request) bool {
	want := []byte(token)
	return func(r *http.Request) bool {
		got, ok := bearer(r.Header.Get("Authorization"))
		return ok && len(want) > 0 && subtle.ConstantTimeCompare([]byte(got), want) == 1
	}
}

// bearer returns the credentials of an Authorization value in the Bearer
// scheme: "Bearer", any case, then one or more spaces.
func bearer(auth string) (string, bool) {
	const scheme = "Bearer"
	if len(auth) <= len(scheme) || !strings.EqualFold(auth[:len(scheme)], scheme) || auth[len(scheme)] != ' ' {
		return "", false
	}
	return strings.TrimLeft(auth[len(scheme):], " "), true
}

// authorized reports whether r may see details and use mutating endpoints.
func (m *Handler) authorized(r *http.Request) bool {
	return m.authorize != nil && m.authorize(r)
}

// requireAuth wraps a mutating handler: without an authorizer configured it
// is refused (403), and a request the authorizer rejects gets 401.
func (m *Handler) requireAuth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if m.authorize == nil {
			writeJSON(w, http.StatusForbidden, apiResponse{Status: "error", ErrorType: "forbidden",
				Error: "this endpoint changes state and is disabled until an authorizer is configured (Config.Authorizer; vitals.WithAuthorizer)"})
			return
		}
		if !m.authorize(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="vitals"`)
			writeJSON(w, http.StatusUnauthorized, apiResponse{Status: "error", ErrorType: "unauthorized", Error: "missing or invalid credentials"})
			return
		}
		h(w, r)
	}
}

// requireRead wraps a reading endpoint of the monitoring API: open unless
// WithProtectedReads was given, then as requireAuth.
func (m *Handler) requireRead(h http.HandlerFunc) http.HandlerFunc {
	if !m.protectReads {
		return h
	}
	return m.requireAuth(h)
}
