package exporter

import "testing"

// TestRedactURL pins what redactURL keeps of an endpoint (scheme, host,
// path, query keys) and what it hides (user information of any form, query
// values, the fragment), for URLs and for strings that are not URLs.
func TestRedactURL(t *testing.T) {
	tests := []struct{ raw, want string }{
		{"", ""},
		{"http://collector:4318/v1/metrics", "http://collector:4318/v1/metrics"},
		{"collector:4317", "collector:4317"},
		{"http://USERTOKEN@host/base?api_key=SECRET", "http://REDACTED@host/base?api_key=REDACTED"},
		{"https://user:pass@host:4318", "https://REDACTED@host:4318"},
		{"http://user:pass@host:bad-port/?token=x", "http://REDACTED@host:bad-port/?token=REDACTED"},
		{"USERTOKEN@host:4317", "REDACTED@host:4317"},
		{"USERTOKEN:SECRET@host:4317?k=v", "REDACTED@host:4317?k=REDACTED"},
		{"://TOKEN@x?k=v", "://REDACTED@x?k=REDACTED"},
		{"TOKEN@http://host", "REDACTED@http://host"},
		{"user:SECRET@host://x", "REDACTED@host://x"},
		{"http://a:b@c@host/", "http://REDACTED@host/"},
		{"http://host/p?a=1&b=&c&&d=SECRET", "http://host/p?a=REDACTED&b=&REDACTED&&d=REDACTED"},
		{"http://host/p?a=1;b=SECRET", "http://host/p?a=REDACTED"},
		{"http://host/p#frag", "http://host/p#REDACTED"},
		{"http://host/p#", "http://host/p#"},
		{"http://host/p#x?k=SECRET", "http://host/p#REDACTED"},
		{"http://host/p?k=v#SECRET", "http://host/p?k=REDACTED#REDACTED"},
		// A "?" or "#" before the "@": a password holding one, or an "@"
		// in a query value or fragment. Either way all of it is hidden.
		{"http://user:pa?ss@host/", "http://REDACTED"},
		{"http://user:pa#ss@host/", "http://REDACTED"},
		{"https://host/v1?notify=me@SECRET.example", "https://REDACTED"},
	}
	for _, tt := range tests {
		if got := redactURL(tt.raw); got != tt.want {
			t.Errorf("redactURL(%q) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}
