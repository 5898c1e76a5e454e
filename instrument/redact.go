package instrument

import (
	"net/http"
	"net/url"
	"strings"
)

// Redacted replaces the values of secret headers in RedactHeaders.
const Redacted = "REDACTED"

// redactedHeaders are redacted whatever their name looks like (lower case):
// credentials, cookies, the client's address, and the user's e-mail (From).
var redactedHeaders = map[string]bool{
	"authorization":       true,
	"proxy-authorization": true,
	"cookie":              true,
	"cookie2":             true,
	"set-cookie":          true,
	"set-cookie2":         true,
	"x-api-key":           true,
	"forwarded":           true,
	"x-forwarded":         true,
	"via":                 true,
	"from":                true,
}

// secretWords make a header redacted when its lower-cased name contains
// one.
var secretWords = []string{
	"password", "passwd", "pwd", "secret", "key", "token", "session", "auth",
	"credit", "card", "cookie", "credential", "signature", "jwt", "csrf", "xsrf",
	"cert", "forwarded-for", "forwarded_for",
}

// addressWords make a header redacted when its name, split at - and _, has
// one as a part: X-Real-Ip, Cf-Connecting-Ipv6, X-Azure-ClientIP,
// X-Remote-Addr, X-Envoy-External-Address.
var addressWords = map[string]bool{
	"ip": true, "ipv4": true, "ipv6": true, "ips": true, "addr": true, "address": true,
	"clientip": true, "realip": true, "userip": true, "remoteip": true, "socketip": true,
	"peerip": true, "sourceip": true, "srcip": true, "clientaddr": true, "remoteaddr": true,
}

// urlHeaders carry a URL (lower case); so do headers whose name has a part
// url, uri or path (X-Original-Url, X-Rewrite-Url, X-Envoy-Original-Path).
var urlHeaders = map[string]bool{
	"referer":          true,
	"referrer":         true,
	"origin":           true,
	"location":         true,
	"content-location": true,
	"destination":      true,
}

// RedactHeaders returns a copy of h with nothing in it that identifies the
// client or its user, for error reports (ErrorEvent.Header). Credentials,
// cookies, the client's address (X-Forwarded-For, X-Real-Ip, Via, ...) and
// From are replaced by Redacted. URL headers (Referer, Origin, ...) and any
// value that is an absolute URL or a path with a query are cut to scheme,
// host and NormalizePath's template of the path; a value that does not
// parse is Redacted. Names match in any case; other headers are kept. The
// package documentation ("Header redaction") lists the names.
func RedactHeaders(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for name, vals := range h {
		kind := classifyHeader(name)
		red := make([]string, len(vals))
		for i, v := range vals {
			switch {
			case kind == secretHeader:
				red[i] = Redacted
			case kind == urlHeader || isURLValue(v):
				red[i] = stripURL(v)
			default:
				red[i] = v
			}
		}
		out[name] = red
	}
	return out
}

// headerKind is how RedactHeaders treats a header.
type headerKind uint8

const (
	plainHeader  headerKind = iota // kept, unless a value is a URL
	secretHeader                   // redacted
	urlHeader                      // cut to scheme, host and route
)

func classifyHeader(name string) headerKind {
	lower := strings.ToLower(name)
	if redactedHeaders[lower] {
		return secretHeader
	}
	for _, w := range secretWords {
		if strings.Contains(lower, w) {
			return secretHeader
		}
	}
	kind := plainHeader
	if urlHeaders[lower] {
		kind = urlHeader
	}
	for part := range strings.FieldsFuncSeq(lower, func(r rune) bool { return r == '-' || r == '_' }) {
		switch {
		case addressWords[part]:
			return secretHeader
		case part == "url" || part == "uri" || part == "path":
			kind = urlHeader
		}
	}
	return kind
}

// isURLValue reports a value that carries a URL: an absolute one, or a path
// with a query.
func isURLValue(v string) bool {
	if strings.HasPrefix(v, "/") {
		return strings.ContainsAny(v, "?#")
	}
	i := strings.Index(v, "://")
	if i <= 0 {
		return false
	}
	for j := 0; j < i; j++ { // a scheme: letters, digits, + - .
		c := v[j]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || j > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}

// stripURL returns the scheme, host and normalised path of the URL v (or
// the path alone of a relative one), or Redacted when v is no such URL.
// "null" (an opaque Origin) and "" are kept.
func stripURL(v string) string {
	v = strings.TrimSpace(v)
	if v == "" || v == "null" {
		return v
	}
	u, err := url.Parse(v)
	if err != nil || u.Opaque != "" || u.Scheme == "" && u.Host == "" && !strings.HasPrefix(u.Path, "/") {
		return Redacted
	}
	var b strings.Builder
	if u.Scheme != "" {
		b.WriteString(u.Scheme)
		b.WriteByte(':')
	}
	if u.Scheme != "" || u.Host != "" {
		b.WriteString("//")
		b.WriteString(u.Host)
	}
	if u.Path != "" {
		b.WriteString(NormalizePath(u.Path))
	}
	return b.String()
}
