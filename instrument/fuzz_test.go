package instrument_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/metric/noop"

	"github.com/vitalsgo/vitals/instrument"
)

// wantKept is the documented rule for an incoming request ID: 1 to 64
// bytes of letters, digits and - _ . :.
func wantKept(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for _, c := range []byte(id) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':'
		if !ok {
			return false
		}
	}
	return true
}

// FuzzRequestID sends arbitrary X-Request-Id values through the
// middleware: it never panics; an ID is kept exactly when the documented
// rule accepts it; whatever is echoed and handed to the handler is the
// same, at most 64 bytes, with no control characters, spaces or quotes
// (safe in a log line and a header); a refused ID is replaced by 16 new
// hex digits.
func FuzzRequestID(f *testing.F) {
	for _, s := range []string{"abc-123", "550e8400-e29b-41d4-a716-446655440000", "", " ", "a b", "new\nline", "x\r\nSet-Cookie: a=b",
		"<script>", "naïve", "\x00", "\x7f", `"quoted"`, "a=b", "01HZX3K8Q2:trace.7_x"} {
		f.Add(s)
	}
	var seen string
	h := instrument.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = instrument.RequestID(r.Context())
	}), instrument.WithMeterProvider(noop.NewMeterProvider()))
	f.Fuzz(func(t *testing.T, in string) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header[instrument.RequestIDHeader] = []string{in}
		rec := httptest.NewRecorder()
		seen = ""
		h.ServeHTTP(rec, req)
		got := rec.Header().Get(instrument.RequestIDHeader)
		if got != seen {
			t.Fatalf("%q: header %q, RequestID(ctx) %q", in, got, seen)
		}
		if len(got) == 0 || len(got) > 64 {
			t.Fatalf("%q: echoed ID %q has %d bytes", in, got, len(got))
		}
		for _, c := range []byte(got) {
			if c <= ' ' || c >= 0x7f || c == '"' || c == '\\' || c == '=' {
				t.Fatalf("%q: echoed ID %q has byte %#x", in, got, c)
			}
		}
		if kept := got == in; kept != wantKept(in) {
			t.Fatalf("%q: kept %v, want %v", in, kept, wantKept(in))
		}
		if got != in {
			if len(got) != 16 {
				t.Fatalf("%q: generated ID %q is not 16 digits", in, got)
			}
			for _, c := range []byte(got) {
				if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
					t.Fatalf("%q: generated ID %q is not hex", in, got)
				}
			}
		}
	})
}

// FuzzRedactHeaders sends arbitrary values through RedactHeaders under
// URL, address and other headers: it never panics; a URL header keeps no
// query, fragment or user info and no e-mail address; an address header
// is always Redacted; and any value that is an absolute URL is cut the
// same way whatever its header.
func FuzzRedactHeaders(f *testing.F) {
	for _, s := range []string{"https://a.example/p?q=1#f", "https://u:p@a.example:8443/x/123?t=s", "/orders/1?x=y", "null", "",
		"mailto:a@b.c", "%zz", "http://[::1]:80/a@b/c", "//host/p?q", "https://a.example/%40/x?y", "ftp://x@y/z", "203.0.113.7"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		h := http.Header{"Referer": {v}, "X-Original-Url": {v}, "X-Forwarded-For": {v}, "X-Real-Ip": {v}, "X-Custom": {v}}
		red := instrument.RedactHeaders(h)
		for _, name := range []string{"X-Forwarded-For", "X-Real-Ip"} {
			if got := red.Get(name); got != instrument.Redacted {
				t.Fatalf("%s: %q became %q", name, v, got)
			}
		}
		check := func(name string) {
			got := red.Get(name)
			if got == instrument.Redacted || got == "null" || got == "" {
				return
			}
			if strings.ContainsAny(got, "?#@") {
				t.Fatalf("%s: %q became %q, with a query, fragment, user info or e-mail address", name, v, got)
			}
		}
		check("Referer")
		check("X-Original-Url")
		lower := strings.ToLower(v)
		if strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://") || strings.HasPrefix(v, "/") && strings.ContainsAny(v, "?#") {
			check("X-Custom")
		}
	})
}
