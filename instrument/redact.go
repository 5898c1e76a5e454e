package instrument

import (
	"net/http"
	"strings"
)

// Redacted replaces the values of secret headers in RedactHeaders.
const Redacted = "[REDACTED]"

// secretHeaders are redacted whatever their name looks like.
var secretHeaders = map[string]bool{
	"Authorization":       true,
	"Proxy-Authorization": true,
	"Cookie":              true,
	"Set-Cookie":          true,
	"X-Api-Key":           true,
}

// secretWords make a header secret when its lower-cased name contains one.
var secretWords = []string{"password", "passwd", "pwd", "secret", "key", "token", "session", "auth", "credit", "card"}

// RedactHeaders returns a copy of h in which the values of secret headers
// are replaced by Redacted: Authorization, Proxy-Authorization, Cookie,
// Set-Cookie, X-Api-Key, and any header whose name contains password,
// passwd, pwd, secret, key, token, session, auth, credit or card.
func RedactHeaders(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for name, vals := range h {
		if isSecretHeader(name) {
			red := make([]string, len(vals))
			for i := range red {
				red[i] = Redacted
			}
			out[name] = red
			continue
		}
		out[name] = append([]string(nil), vals...)
	}
	return out
}

func isSecretHeader(name string) bool {
	if secretHeaders[http.CanonicalHeaderKey(name)] {
		return true
	}
	lower := strings.ToLower(name)
	for _, w := range secretWords {
		if strings.Contains(lower, w) {
			return true
		}
	}
	return false
}
