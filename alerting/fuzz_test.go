package alerting_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vitalsgo/vitals/alerting"
)

// FuzzParseRules: any input is parsed or refused with an error, never a
// panic; what parses can be written back out.
func FuzzParseRules(f *testing.F) {
	f.Add([]byte(highErrors))
	f.Add([]byte("groups: []"))
	f.Add([]byte("groups:\n  - name: g\n    rules:\n      - record: a:b\n        expr: sum(x)\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		groups, err := alerting.ParseRules(b, "fuzz.yml")
		if err != nil {
			return
		}
		if _, err := alerting.PrometheusRules(groups); err != nil {
			t.Fatalf("parsed rules cannot be written back: %v", err)
		}
	})
}

// FuzzSilenceMatchers builds a silence from two arbitrary matchers: Add
// never panics; a refusal because of a matcher names it by position; an
// accepted silence is listed with its matchers unchanged, survives the
// JSON round trip of the API (and is accepted again), never mutes an alert
// without labels, and mutes an alert whose labels its equality matchers
// name.
func FuzzSilenceMatchers(f *testing.F) {
	f.Add("alertname", "HighErrors", true, false, "severity", "page", true, false)
	f.Add("job", "api|web", true, true, "instance", ".*", true, true)
	f.Add("", "x", true, false, "a", "b", true, false)
	f.Add("a", "(", true, true, "b", "c", true, false)
	f.Add("a", "", true, false, "b", ".*", true, true)
	f.Add("a", "x", false, false, "a", "y", false, true)
	f.Add("a\xff", "\x00", true, false, "b", "[[:alpha:]]+", true, true)
	f.Fuzz(func(t *testing.T, n1, v1 string, eq1, re1 bool, n2, v2 string, eq2, re2 bool) {
		ms := []alerting.Matcher{{Name: n1, Value: v1, IsEqual: eq1, IsRegex: re1}, {Name: n2, Value: v2, IsEqual: eq2, IsRegex: re2}}
		now := time.Now()
		sil := alerting.Silence{Matchers: ms, EndsAt: now.Add(time.Hour), CreatedBy: "fuzz", Comment: "fuzz"}
		s := alerting.NewSilences(nil)
		id, err := s.Add(sil)
		if err != nil {
			msg := err.Error()
			if strings.Contains(msg, "matcher 1 ") && strings.Contains(msg, strconv.Quote(n1)) ||
				strings.Contains(msg, "matcher 2 ") && strings.Contains(msg, strconv.Quote(n2)) ||
				strings.Contains(msg, "must not match the empty string") {
				return
			}
			t.Fatalf("%+v: error names no matcher: %v", ms, err)
		}
		list := s.List()
		if len(list) != 1 || list[0].ID != id || !slices.Equal(list[0].Matchers, ms) {
			t.Fatalf("%+v: listed as %+v", ms, list)
		}
		if slices.Contains(s.Matching(map[string]string{}, now.Add(time.Minute)), id) {
			t.Fatalf("%+v: mutes an alert without labels", ms)
		}
		if eq1 && !re1 && eq2 && !re2 && (n1 != n2 || v1 == v2) {
			if !slices.Contains(s.Matching(map[string]string{n1: v1, n2: v2}, now.Add(time.Minute)), id) {
				t.Fatalf("%+v: does not mute the alert it names", ms)
			}
		}
		for _, s := range []string{n1, v1, n2, v2} {
			if !utf8.ValidString(s) {
				return // JSON replaces invalid UTF-8
			}
		}
		b, err := json.Marshal(list[0])
		if err != nil {
			t.Fatal(err)
		}
		var back alerting.Silence
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&back); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !slices.Equal(back.Matchers, ms) {
			t.Fatalf("JSON round trip: %+v became %+v", ms, back.Matchers)
		}
		back.ID = ""
		if _, err := s.Add(back); err != nil {
			t.Fatalf("%s: accepted once, refused after the round trip: %v", b, err)
		}
	})
}
