package monitoring

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vitalsgo/vitals/alerting"
)

// silenceBody is a silence as POST /monitoring/api/silences takes it, with
// name as the matcher's label name; extra is more JSON members.
func silenceBody(name, extra string) string {
	return `{"matchers":[{"name":` + name + `,"value":"X","isRegex":false,"isEqual":true}],"endsAt":"` +
		time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `","createdBy":"ops","comment":"test"` + extra + `}`
}

// listSilences returns the silences GET /monitoring/api/silences lists.
func listSilences(t *testing.T, h http.Handler) []silenceView {
	t.Helper()
	code, body := jsonRequest(t, h, "GET", "/monitoring/api/silences", "", "")
	var got struct {
		Silences []silenceView `json:"silences"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil || code != http.StatusOK {
		t.Fatalf("list silences: %d %v %s", code, err, body)
	}
	return got.Silences
}

// TestSilencePOSTStrict: a body that is more than one JSON object, or
// that is not UTF-8 (raw, or escaped as half a surrogate pair, which
// encoding/json would silently make U+FFFD), is refused with 400 and
// stores nothing.
func TestSilencePOSTStrict(t *testing.T) {
	v := startForSilences(t)
	h := v.Handler()
	for _, tt := range []struct {
		name, body string
		want       string // in the 400's error; "" for 200
	}{
		{"two objects", silenceBody(`"a"`, "") + " " + silenceBody(`"b"`, ""), "data after the silence"},
		{"garbage after", silenceBody(`"a"`, "") + "garbage", "data after the silence"},
		{"brace after", silenceBody(`"a"`, "") + "}", "data after the silence"},
		{"array after", silenceBody(`"a"`, "") + "\n[]", "data after the silence"},
		{"raw invalid UTF-8 name", silenceBody("\"alert\xffname\"", ""), "not valid UTF-8"},
		{"raw invalid UTF-8 comment", strings.Replace(silenceBody(`"a"`, ""), `"test"`, "\"t\xc3\"", 1), "not valid UTF-8"},
		{"low surrogate name", silenceBody(`"a\udc80"`, ""), "escape at byte 23 is half"},
		{"high surrogate name", silenceBody(`"\ud800b"`, ""), "half a UTF-16 surrogate pair"},
		{"high surrogate at the end", silenceBody(`"\uD83D"`, ""), "half a UTF-16 surrogate pair"},
		{"two high surrogates", silenceBody(`"\ud83d\ud83d"`, ""), "half a UTF-16 surrogate pair"},
		// Not refused:
		{"whitespace after", silenceBody(`"a"`, "") + " \r\n\t", ""},
		{"surrogate pair", silenceBody(`"a\ud83d\ude00"`, ""), ""},
		{"escaped backslash before u", silenceBody(`"a\\udc80"`, ""), ""},
		{"UTF-8 label name", silenceBody(`"служба"`, ""), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := len(listSilences(t, h))
			code, body := jsonRequest(t, h, "POST", "/monitoring/api/silences", "tok", tt.body)
			if tt.want == "" {
				if code != http.StatusOK {
					t.Errorf("%d %s", code, body)
				}
				return
			}
			if code != http.StatusBadRequest || !strings.Contains(body, tt.want) || !strings.Contains(body, `"errorType":"bad_data"`) {
				t.Errorf("%d %s; want 400 saying %q", code, body, tt.want)
			}
			if after := len(listSilences(t, h)); after != before {
				t.Errorf("%d silences after a refusal, %d before", after, before)
			}
		})
	}
	// The surrogate pair arrived as the character it encodes.
	found := false
	for _, s := range listSilences(t, h) {
		found = found || s.Matchers[0].Name == "a😀"
	}
	if !found {
		t.Error(`the label name "a\ud83d\ude00" is not listed as "a😀"`)
	}
}

// TestSilencePOSTLimits: a silence past a limit is refused with 400 naming
// the limit and the field.
func TestSilencePOSTLimits(t *testing.T) {
	v := startForSilences(t)
	h := v.Handler()
	matcher := func(name, value string) string {
		return fmt.Sprintf(`{"name":%q,"value":%q,"isRegex":false,"isEqual":true}`, name, value)
	}
	body := func(matchers []string, createdBy, comment string) string {
		return `{"matchers":[` + strings.Join(matchers, ",") + `],"endsAt":"` + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) +
			`","createdBy":"` + createdBy + `","comment":"` + comment + `"}`
	}
	many := make([]string, alerting.MaxMatchersPerSilence+1)
	for i := range many {
		many[i] = matcher(fmt.Sprintf("l%d", i), "v")
	}
	for _, tt := range []struct {
		name, body string
		want       []string
	}{
		{"matchers", body(many, "ops", "c"), []string{"33 matchers", "MaxMatchersPerSilence (32)"}},
		{"name", body([]string{matcher(strings.Repeat("n", 129), "v")}, "ops", "c"), []string{"matcher 1", "label name is 129 bytes", "MaxMatcherNameLength (128)"}},
		{"value", body([]string{matcher("a", "b"), matcher("job", strings.Repeat("v", 1025))}, "ops", "c"), []string{`matcher 2 (\"job\")`, "value is 1025 bytes", "MaxMatcherValueLength (1024)"}},
		{"regexp", body([]string{`{"name":"job","value":"\\pL","isRegex":true,"isEqual":true}`}, "ops", "c"), []string{`matcher 1 (\"job\")`, "MaxSilenceRegexpSize (1024)"}},
		{"createdBy", body([]string{matcher("a", "b")}, strings.Repeat("o", 257), "c"), []string{"createdBy is 257 bytes", "MaxSilenceCreatedByLength (256)"}},
		{"comment", body([]string{matcher("a", "b")}, "ops", strings.Repeat("c", 4097)), []string{"comment is 4097 bytes", "MaxSilenceCommentLength (4096)"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, body := jsonRequest(t, h, "POST", "/monitoring/api/silences", "tok", tt.body)
			if code != http.StatusBadRequest {
				t.Errorf("status %d, want 400: %.300s", code, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("%.300s does not say %s", body, w)
				}
			}
		})
	}
	if n := len(listSilences(t, h)); n != 0 {
		t.Errorf("%d silences stored", n)
	}
}

// TestSilencePOSTUpdate: a POST with the id of a silence updates it, as
// in Alertmanager: in place when only its end, author or comment change;
// with new matchers, the old one expires and a new one, with a new id,
// replaces it; an unknown id is 404 and creates nothing.
func TestSilencePOSTUpdate(t *testing.T) {
	v := startForSilences(t)
	h := v.Handler()
	post := func(body string) (int, string, string) {
		t.Helper()
		code, resp := jsonRequest(t, h, "POST", "/monitoring/api/silences", "tok", body)
		var created struct {
			SilenceID string `json:"silenceID"`
		}
		_ = json.Unmarshal([]byte(resp), &created)
		return code, resp, created.SilenceID
	}
	code, resp, id := post(silenceBody(`"alertname"`, ""))
	if code != http.StatusOK || id == "" {
		t.Fatalf("create: %d %s", code, resp)
	}
	first := listSilences(t, h)[0]

	// Same matchers, active, start kept (by leaving startsAt out): in place.
	ends := time.Now().Add(3 * time.Hour).UTC().Truncate(time.Second)
	code, resp, got := post(`{"id":"` + id + `","matchers":[{"name":"alertname","value":"X","isRegex":false,"isEqual":true}],"endsAt":"` +
		ends.Format(time.RFC3339) + `","createdBy":"ops","comment":"longer"}`)
	if code != http.StatusOK || got != id {
		t.Fatalf("in-place update: %d %s, want the same id %s", code, resp, id)
	}
	list := listSilences(t, h)
	if len(list) != 1 || list[0].ID != id || list[0].Comment != "longer" || !list[0].EndsAt.Equal(ends) ||
		!list[0].StartsAt.Equal(first.StartsAt) || list[0].State != alerting.SilenceStateActive {
		t.Fatalf("after the in-place update: %+v", list)
	}

	// New matchers: the old silence expires, a new one replaces it.
	code, resp, newID := post(silenceBody(`"severity"`, `,"id":"`+id+`"`))
	if code != http.StatusOK || newID == "" || newID == id {
		t.Fatalf("replacing update: %d %s, want a new id", code, resp)
	}
	status := map[string]string{}
	for _, s := range listSilences(t, h) {
		status[s.ID] = s.State.String() + ":" + s.Matchers[0].Name
	}
	if len(status) != 2 || status[id] != "expired:alertname" || status[newID] != "active:severity" {
		t.Errorf("after the replacing update: %v", status)
	}

	// Unknown ids: 404, nothing created.
	for _, unknown := range []string{"0123456789abcdef0123456789abcdef", "nope"} {
		code, resp, _ := post(silenceBody(`"job"`, `,"id":"`+unknown+`"`))
		if code != http.StatusNotFound || !strings.Contains(resp, "silence not found") || !strings.Contains(resp, unknown) {
			t.Errorf("update of %q: %d %s, want 404 silence not found", unknown, code, resp)
		}
	}
	if n := len(listSilences(t, h)); n != 2 {
		t.Errorf("%d silences after updates of unknown ids, want 2", n)
	}
	// Without the token, no update.
	if code, _ := jsonRequest(t, h, "POST", "/monitoring/api/silences", "", silenceBody(`"job"`, `,"id":"`+newID+`"`)); code != http.StatusUnauthorized {
		t.Errorf("update without a token: %d", code)
	}
}
