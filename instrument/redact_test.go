package instrument_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/vitalsgo/vitals/instrument"
)

// redactCases are request headers and what RedactHeaders makes of them.
var redactCases = []struct{ name, in, want string }{
	// Credentials and cookies.
	{"Authorization", "Bearer s3cret", instrument.Redacted},
	{"Proxy-Authorization", "Basic dXNlcjpwdw==", instrument.Redacted},
	{"Cookie", "session=abc", instrument.Redacted},
	{"Cookie2", "$Version=1", instrument.Redacted},
	{"Set-Cookie", "id=1", instrument.Redacted},
	{"X-Api-Key", "k", instrument.Redacted},
	{"X-User-Password", "p", instrument.Redacted},
	{"X-Passwd", "p", instrument.Redacted},
	{"X-Pwd", "p", instrument.Redacted},
	{"X-Client-Secret", "s", instrument.Redacted},
	{"X-Signing-Key", "k", instrument.Redacted},
	{"X-Csrf-Token", "t", instrument.Redacted},
	{"X-Xsrf", "t", instrument.Redacted},
	{"X-Session-Id", "s", instrument.Redacted},
	{"X-Auth-User", "u", instrument.Redacted},
	{"X-Credit-Limit", "1", instrument.Redacted},
	{"X-Card-Number", "4111", instrument.Redacted},
	{"X-Jwt-Assertion", "eyJ", instrument.Redacted},
	{"X-Amz-Credential", "c", instrument.Redacted},
	{"X-Hub-Signature", "sha1=0", instrument.Redacted},
	{"X-Forwarded-Client-Cert", "By=spiffe://a;Subject=\"CN=alice\"", instrument.Redacted},

	// The client's address, under every name proxies give it.
	{"X-Forwarded-For", "203.0.113.7, 10.0.0.1", instrument.Redacted},
	{"X-Original-Forwarded-For", "203.0.113.7", instrument.Redacted},
	{"Forwarded", "for=203.0.113.7;proto=https", instrument.Redacted},
	{"X-Forwarded", "for=203.0.113.7", instrument.Redacted},
	{"X-Real-Ip", "203.0.113.7", instrument.Redacted},
	{"True-Client-Ip", "203.0.113.7", instrument.Redacted},
	{"Cf-Connecting-Ip", "203.0.113.7", instrument.Redacted},
	{"Cf-Connecting-Ipv6", "2001:db8::1", instrument.Redacted},
	{"X-Client-Ip", "203.0.113.7", instrument.Redacted},
	{"X-Cluster-Client-Ip", "203.0.113.7", instrument.Redacted},
	{"Fastly-Client-Ip", "203.0.113.7", instrument.Redacted},
	{"X-Appengine-User-Ip", "203.0.113.7", instrument.Redacted},
	{"X-Azure-Clientip", "203.0.113.7", instrument.Redacted},
	{"X-Azure-Socketip", "203.0.113.7", instrument.Redacted},
	{"X-Envoy-External-Address", "203.0.113.7", instrument.Redacted},
	{"X-Remote-Addr", "203.0.113.7", instrument.Redacted},
	{"X-Originating-Ip", "[203.0.113.7]", instrument.Redacted},
	{"Client-Ip", "203.0.113.7", instrument.Redacted},
	{"Via", "1.1 proxy.corp.example", instrument.Redacted},
	{"From", "alice@example.com", instrument.Redacted},

	// URLs keep scheme, host and the normalised path: no user info,
	// query, fragment or identifier in the path.
	{"Referer", "https://shop.example/checkout?coupon=X&email=a@b.c#pay", "https://shop.example/checkout"},
	{"Referer", "https://alice:pw@shop.example:8443/orders/12345/?token=t", "https://shop.example:8443/orders/{id}/"},
	{"Referer", "https://shop.example/reset/eyJhbGciOiJIUzI1NiJ9abc123XYZ", "https://shop.example/reset/{token}"},
	{"Referer", "https://shop.example/users/alice@example.com", "https://shop.example/users/{email}"},
	{"Referer", "https://shop.example", "https://shop.example"},
	{"Referrer", "https://shop.example/a?b=c", "https://shop.example/a"},
	{"Origin", "https://shop.example", "https://shop.example"},
	{"Origin", "null", "null"},
	{"X-Original-Url", "/orders/42?session=abc", "/orders/{id}"},
	{"X-Rewrite-Url", "/search?q=alice", "/search"},
	{"X-Original-Uri", "/a/b?c=d", "/a/b"},
	{"X-Forwarded-Uri", "/a?c=d", "/a"},
	{"X-Envoy-Original-Path", "/a?c=d", "/a"},
	{"Destination", "https://dav.example/f.txt?x=1", "https://dav.example/f.txt"},
	{"Content-Location", "/docs/1?x=1", "/docs/{id}"},
	{"Referer", "mailto:alice@example.com", instrument.Redacted},
	{"Referer", "not a url?x=1", instrument.Redacted},
	{"Referer", "%zz", instrument.Redacted},
	// Any header whose value is an absolute URL, or a path with a query.
	{"X-Return-To", "https://shop.example/cart?sid=abc", "https://shop.example/cart"},
	{"X-Callback", "/cb?code=abc", "/cb"},

	// Everything else is kept as it is.
	{"Accept", "text/html", "text/html"},
	{"User-Agent", "curl/8.0", "curl/8.0"},
	{"X-Request-Id", "abc", "abc"},
	{"X-Forwarded-Proto", "https", "https"},
	{"X-Forwarded-Host", "shop.example", "shop.example"},
	{"Content-Type", "application/json", "application/json"},
	{"X-Trace", "t1", "t1"},
}

func TestRedactHeaders(t *testing.T) {
	for _, tc := range redactCases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			h.Add(tc.name, tc.in)
			h.Add(tc.name, tc.in)
			red := instrument.RedactHeaders(h)
			got := red.Values(tc.name)
			if len(got) != 2 || got[0] != tc.want || got[1] != tc.want {
				t.Errorf("%s: %q became %q, want %q twice", tc.name, tc.in, got, tc.want)
			}
			if h.Get(tc.name) != tc.in {
				t.Error("RedactHeaders changed its input")
			}
		})
	}
}

// TestRedactHeadersAnySpelling checks that a header set in the map under
// a non-canonical name is redacted too.
func TestRedactHeadersAnySpelling(t *testing.T) {
	h := http.Header{"x-forwarded-for": {"203.0.113.7"}, "REFERER": {"https://a.example/p?q=1"}, "cookie": {"a=b"}}
	red := instrument.RedactHeaders(h)
	want := map[string]string{"x-forwarded-for": instrument.Redacted, "REFERER": "https://a.example/p", "cookie": instrument.Redacted}
	for name, w := range want {
		if got := red[name]; len(got) != 1 || got[0] != w {
			t.Errorf("%s = %q, want %q", name, got, w)
		}
	}
}

// TestErrorHookRedactsClientData serves a 5xx through the middleware with
// every header of redactCases and checks the ErrorEvent's headers.
func TestErrorHookRedactsClientData(t *testing.T) {
	var events []instrument.ErrorEvent
	mux := http.NewServeMux()
	mux.HandleFunc("GET /fail", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	h := instrument.Middleware(mux, instrument.WithMeterProvider(mwProvider(t)),
		instrument.WithErrorHook(func(e instrument.ErrorEvent) { events = append(events, e) }))

	var hdr []string
	want := http.Header{}
	for _, tc := range redactCases {
		if want.Get(tc.name) != "" {
			continue // one value per name here
		}
		hdr = append(hdr, tc.name, tc.in)
		want.Set(tc.name, tc.want)
	}
	if rec := mwDo(t, h, http.MethodGet, "/fail?email=alice@example.com", hdr...); rec.Code != http.StatusBadGateway {
		t.Fatalf("status %d", rec.Code)
	}
	if len(events) != 1 {
		t.Fatalf("%d error events, want 1", len(events))
	}
	e := events[0]
	if e.Status != http.StatusBadGateway || e.Route != "/fail" {
		t.Errorf("event %d %q, want 502 /fail", e.Status, e.Route)
	}
	for name := range want {
		if got := e.Header.Get(name); got != want.Get(name) {
			t.Errorf("%s in the event = %q, want %q", name, got, want.Get(name))
		}
	}
	var all strings.Builder
	for name, vals := range e.Header {
		all.WriteString(name + ": " + strings.Join(vals, ",") + "\n")
	}
	for _, leak := range []string{"203.0.113.7", "2001:db8", "alice", "s3cret", "session=", "coupon", "token=", "?"} {
		if strings.Contains(all.String(), leak) {
			t.Errorf("the event's headers contain %q:\n%s", leak, all.String())
		}
	}
}
