package monitoring

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/exporter/memory"
)

// amAPI is the base path of Alertmanager's API v2 in the tests.
const amAPI = "/monitoring/alertmanager/api/v2"

// startForAlertmanager starts a Vitals whose engine has evaluated once:
// AmFiring and AmOther fire, AmPending is pending (for an hour). opts add
// to the environment (an authorizer, protected reads).
func startForAlertmanager(t *testing.T, opts ...envOption) *env {
	t.Helper()
	rules := alerting.Group{Name: "am", Rules: []alerting.Rule{
		{Alert: "AmFiring", Expr: "vector(1)", Labels: map[string]string{"severity": "warning"},
			Annotations: map[string]string{"summary": "always firing"}},
		{Alert: "AmOther", Expr: "vector(1)", Labels: map[string]string{"severity": "critical"}},
		{Alert: "AmPending", Expr: "vector(1)", For: time.Hour},
	}}
	v := newEnv(t, append([]envOption{withAlertRules(rules), withMemory(memory.WithInterval(time.Hour))}, opts...)...)
	if err := v.Alerts().Eval(t.Context(), time.Now()); err != nil {
		t.Fatal(err)
	}
	return v
}

// amGet decodes the JSON answer of GET amAPI+path into v (unless nil),
// failing the test unless it is 200.
func amGet(t *testing.T, h http.Handler, path string, v any) string {
	t.Helper()
	code, body := jsonRequest(t, h, http.MethodGet, amAPI+path, "tok", "")
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(body), v); err != nil {
			t.Fatalf("GET %s: %v\n%s", path, err, body)
		}
	}
	return body
}

// amErrorBody returns the JSON string of an Alertmanager error answer, or
// fails the test.
func amErrorBody(t *testing.T, body string) string {
	t.Helper()
	var msg string
	if err := json.Unmarshal([]byte(body), &msg); err != nil {
		t.Fatalf("the error is not a JSON string: %v: %s", err, body)
	}
	return msg
}

// amPostSilenceJSON posts a silence to the Alertmanager API with the
// token and returns the status, the body and the silence's ID.
func amPostSilenceJSON(t *testing.T, h http.Handler, body string) (int, string, string) {
	t.Helper()
	code, resp := jsonRequest(t, h, http.MethodPost, amAPI+"/silences", "tok", body)
	var created struct {
		SilenceID string `json:"silenceID"`
	}
	if code == http.StatusOK {
		if err := json.Unmarshal([]byte(resp), &created); err != nil || created.SilenceID == "" {
			t.Fatalf("POST silences: %v %s", err, resp)
		}
	}
	return code, resp, created.SilenceID
}

// amSilenceJSON is a silence of the Alertmanager API with matchers (JSON),
// ending in an hour; extra is more members.
func amSilenceJSON(matchers, extra string) string {
	return `{"matchers":[` + matchers + `],"startsAt":"` + time.Now().UTC().Format(time.RFC3339Nano) + `","endsAt":"` +
		time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano) + `","createdBy":"amtool","comment":"test"` + extra + `}`
}

// alertNames returns the alertname of each alert, in order.
func alertNames(alerts []amAlert) string {
	var names []string
	for _, a := range alerts {
		names = append(names, a.Labels["alertname"])
	}
	return strings.Join(names, ",")
}

// TestAlertmanagerStatus: GET /status has what amtool and Grafana read:
// a disabled cluster without peers, every field of versionInfo, the
// configuration as YAML, the uptime; /receivers names the one receiver.
func TestAlertmanagerStatus(t *testing.T) {
	v := startForAlertmanager(t)
	h := v.Handler()
	var raw map[string]json.RawMessage
	body := amGet(t, h, "/status", &raw)
	for _, k := range []string{"cluster", "versionInfo", "config", "uptime"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("status has no %s: %s", k, body)
		}
	}
	if !strings.Contains(body, `"cluster":{"status":"disabled","peers":[]}`) {
		t.Errorf("cluster: %s", raw["cluster"])
	}
	var version map[string]string
	if err := json.Unmarshal(raw["versionInfo"], &version); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"version", "revision", "branch", "buildUser", "buildDate", "goVersion"} {
		if _, ok := version[k]; !ok {
			t.Errorf("versionInfo has no %s: %s", k, raw["versionInfo"])
		}
	}
	if version["version"] == "" || !strings.HasPrefix(version["goVersion"], "go") {
		t.Errorf("versionInfo: %v", version)
	}
	var st amStatusBody
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Route struct {
			Receiver string   `yaml:"receiver"`
			GroupBy  []string `yaml:"group_by"`
		} `yaml:"route"`
		Receivers []struct {
			Name string `yaml:"name"`
		} `yaml:"receivers"`
	}
	if err := yaml.Unmarshal([]byte(st.Config.Original), &cfg); err != nil || cfg.Route.Receiver != "vitals" ||
		len(cfg.Receivers) != 1 || cfg.Receivers[0].Name != "vitals" || !slices.Equal(cfg.Route.GroupBy, []string{"alertname"}) {
		t.Errorf("config.original: %v %+v\n%s", err, cfg, st.Config.Original)
	}
	if st.Uptime.IsZero() || st.Uptime.After(time.Now()) {
		t.Errorf("uptime %v", st.Uptime)
	}

	if body := amGet(t, h, "/receivers", nil); body != `[{"name":"vitals"}]`+"\n" {
		t.Errorf("receivers: %s", body)
	}
	if body := amGet(t, h, "/receivers?receiver_matchers=team%3Dops", nil); body != "[]\n" {
		t.Errorf("receivers with a team: %s", body)
	}
}

// TestAlertmanagerAlerts: GET /alerts lists the firing alerts, not the
// pending one, in gettableAlert's shape, and its parameters select them as
// Alertmanager's do: filter matchers, receiver, active, silenced; bad
// parameters are 400 with a JSON string. /alerts/groups groups them by
// alertname.
func TestAlertmanagerAlerts(t *testing.T) {
	v := startForAlertmanager(t, withAuthorizer(BearerToken("tok")))
	h := v.Handler()

	// The shape, field by field.
	var raw []map[string]json.RawMessage
	body := amGet(t, h, "/alerts", &raw)
	if len(raw) != 2 {
		t.Fatalf("%d alerts, want AmFiring and AmOther: %s", len(raw), body)
	}
	for _, k := range []string{"labels", "annotations", "receivers", "fingerprint", "startsAt", "updatedAt", "endsAt", "status"} {
		if _, ok := raw[0][k]; !ok {
			t.Errorf("an alert has no %s: %s", k, body)
		}
	}
	if got := string(raw[0]["status"]); got != `{"state":"active","silencedBy":[],"inhibitedBy":[],"mutedBy":[]}` {
		t.Errorf("status %s", got)
	}
	if got := string(raw[0]["receivers"]); got != `[{"name":"vitals"}]` {
		t.Errorf("receivers %s", got)
	}

	var alerts []amAlert
	amGet(t, h, "/alerts", &alerts)
	ids := map[string]string{}
	for _, a := range v.Alerts().Alerts() {
		ids[a.Name()] = a.ID
	}
	if !slices.IsSortedFunc(alerts, func(a, b amAlert) int { return strings.Compare(a.Fingerprint, b.Fingerprint) }) {
		t.Errorf("not sorted by fingerprint: %+v", alerts)
	}
	now := time.Now()
	for _, a := range alerts {
		name := a.Labels["alertname"]
		if a.Fingerprint != ids[name] {
			t.Errorf("%s: fingerprint %s, want its ID %s", name, a.Fingerprint, ids[name])
		}
		if a.StartsAt.IsZero() || a.StartsAt.After(now) || a.UpdatedAt.Before(a.StartsAt) || !a.EndsAt.After(now) {
			t.Errorf("%s: startsAt %v, updatedAt %v, endsAt %v", name, a.StartsAt, a.UpdatedAt, a.EndsAt)
		}
	}
	if i := slices.IndexFunc(alerts, func(a amAlert) bool { return a.Labels["alertname"] == "AmFiring" }); i < 0 ||
		alerts[i].Annotations["summary"] != "always firing" || alerts[i].Labels["severity"] != "warning" {
		t.Errorf("AmFiring: %+v", alerts)
	}

	list := func(query string) string {
		t.Helper()
		var got []amAlert
		amGet(t, h, "/alerts?"+query, &got)
		slices.SortFunc(got, func(a, b amAlert) int { return strings.Compare(a.Labels["alertname"], b.Labels["alertname"]) })
		return alertNames(got)
	}
	f := func(matchers ...string) string { return url.Values{"filter": matchers}.Encode() }
	for _, tt := range []struct{ query, want string }{
		{"", "AmFiring,AmOther"},
		{f(`alertname="AmFiring"`), "AmFiring"},
		{f(`alertname=AmFiring`), "AmFiring"},
		{f(`severity=~"crit.*"`), "AmOther"},
		{f(`alertname!=AmFiring`), "AmOther"},
		{f(`alertname=~"Am.*"`, `severity!~"warn.*"`), "AmOther"},
		{f(`alertname="AmPending"`), ""},
		{f(`team=""`), "AmFiring,AmOther"}, // an absent label is empty
		{"receiver=vitals", "AmFiring,AmOther"},
		{"receiver=vit.*", "AmFiring,AmOther"},
		{"receiver=pager", ""},
		{"active=false", ""},
		{"silenced=false&inhibited=false&unprocessed=false&active=true", "AmFiring,AmOther"},
	} {
		if got := list(tt.query); got != tt.want {
			t.Errorf("alerts?%s: %q, want %q", tt.query, got, tt.want)
		}
	}
	for _, tt := range []struct{ query, want string }{
		{f(`{alertname="AmFiring"}`), "unexpected open or close brace"},
		{f(`alertname`), "bad matcher format: alertname"},
		{f(`a="b`), "unescaped double quote"},
		{f(`a=~"("`), "missing closing )"},
		{"receiver=(", "failed to parse receiver param"},
		{"active=maybe", `active in query must be of type boolean: "maybe"`},
		{"silenced=2", "silenced in query must be of type boolean"},
		{"receiver_matchers=x", "failed to parse receiver_matchers param"},
	} {
		code, body := jsonRequest(t, h, http.MethodGet, amAPI+"/alerts?"+tt.query, "", "")
		if code != http.StatusBadRequest || !strings.Contains(amErrorBody(t, body), tt.want) {
			t.Errorf("alerts?%s: %d %s, want 400 saying %q", tt.query, code, body, tt.want)
		}
	}

	// A silence of AmFiring suppresses it.
	code, resp, id := amPostSilenceJSON(t, h, amSilenceJSON(`{"name":"alertname","value":"AmFiring","isRegex":false}`, ""))
	if code != http.StatusOK {
		t.Fatalf("silence: %d %s", code, resp)
	}
	amGet(t, h, "/alerts?"+f(`alertname="AmFiring"`), &alerts)
	if len(alerts) != 1 || alerts[0].Status.State != "suppressed" || !slices.Equal(alerts[0].Status.SilencedBy, []string{id}) {
		t.Errorf("silenced AmFiring: %+v", alerts)
	}
	for _, tt := range []struct{ query, want string }{
		{"", "AmFiring,AmOther"},
		{"silenced=false", "AmOther"},
		{"active=false", "AmFiring"},
		// What amtool alert query asks by default.
		{"active=true&inhibited=false&silenced=false&unprocessed=false", "AmOther"},
		{"active=false&silenced=true&inhibited=false&unprocessed=false", "AmFiring"},
	} {
		if got := list(tt.query); got != tt.want {
			t.Errorf("silenced: alerts?%s: %q, want %q", tt.query, got, tt.want)
		}
	}

	// Groups: by alertname, to the one receiver; empty groups left out.
	var groups []amAlertGroup
	body = amGet(t, h, "/alerts/groups", &groups)
	if len(groups) != 2 || groups[0].Labels["alertname"] != "AmFiring" || groups[1].Labels["alertname"] != "AmOther" ||
		groups[0].Receiver.Name != "vitals" || len(groups[0].Alerts) != 1 || groups[0].Alerts[0].Status.State != "suppressed" {
		t.Errorf("groups: %s", body)
	}
	if !strings.Contains(body, `"routeLabels":{}`) || !strings.Contains(body, `"labels":{"alertname":"AmOther"}`) {
		t.Errorf("groups shape: %s", body)
	}
	amGet(t, h, "/alerts/groups?silenced=false", &groups)
	if len(groups) != 1 || groups[0].Labels["alertname"] != "AmOther" {
		t.Errorf("groups without silenced alerts: %+v", groups)
	}
	amGet(t, h, "/alerts/groups?"+f(`severity="warning"`), &groups)
	if len(groups) != 1 || groups[0].Labels["alertname"] != "AmFiring" {
		t.Errorf("groups of warnings: %+v", groups)
	}
	if body := amGet(t, h, "/alerts/groups?receiver=pager", nil); body != "[]\n" {
		t.Errorf("groups of another receiver: %s", body)
	}
	if code, body := jsonRequest(t, h, http.MethodGet, amAPI+"/alerts/groups?muted=x", "", ""); code != http.StatusBadRequest {
		t.Errorf("groups?muted=x: %d %s", code, body)
	}
}

// TestAlertmanagerSilences: the silence endpoints in Alertmanager's
// shapes: a matcher without isEqual is an equality; a POST with the id of
// a silence updates it; the listing is sorted and filtered as
// Alertmanager's; GET and DELETE of an unknown id are 404; and the
// silences are those of /monitoring/api/silences.
func TestAlertmanagerSilences(t *testing.T) {
	v := startForAlertmanager(t, withAuthorizer(BearerToken("tok")))
	h := v.Handler()
	mutedBy := func(name string) []string {
		t.Helper()
		for _, a := range v.Alerts().Alerts() {
			if a.Name() == name {
				return a.SilencedBy
			}
		}
		t.Fatalf("no alert %s", name)
		return nil
	}

	// isEqual left out: "=", so it mutes AmFiring and not the others (as
	// "!=" it would mute AmOther).
	code, resp, id := amPostSilenceJSON(t, h, amSilenceJSON(`{"name":"alertname","value":"AmFiring","isRegex":false}`, ""))
	if code != http.StatusOK {
		t.Fatalf("create: %d %s", code, resp)
	}
	if got := mutedBy("AmFiring"); !slices.Equal(got, []string{id}) {
		t.Errorf("AmFiring silenced by %v, want [%s]", got, id)
	}
	if got := mutedBy("AmOther"); len(got) != 0 {
		t.Errorf("AmOther silenced by %v", got)
	}
	var raw map[string]json.RawMessage
	body := amGet(t, h, "/silence/"+id, &raw)
	for _, k := range []string{"id", "status", "updatedAt", "matchers", "startsAt", "endsAt", "createdBy", "comment"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("a silence has no %s: %s", k, body)
		}
	}
	if got := string(raw["matchers"]); got != `[{"name":"alertname","value":"AmFiring","isRegex":false,"isEqual":true}]` {
		t.Errorf("matchers %s", got)
	}
	if got := string(raw["status"]); got != `{"state":"active"}` {
		t.Errorf("status %s", got)
	}
	var first amSilenceView
	amGet(t, h, "/silence/"+id, &first)
	if first.ID != id || first.CreatedBy != "amtool" || first.Comment != "test" || first.UpdatedAt.IsZero() ||
		first.UpdatedAt.After(time.Now()) {
		t.Errorf("silence: %+v", first)
	}

	// An explicit isEqual false is "!=".
	code, resp, notID := amPostSilenceJSON(t, h, amSilenceJSON(`{"name":"alertname","value":"Am.*","isRegex":true},{"name":"severity","value":"warning","isRegex":false,"isEqual":false}`, ""))
	if code != http.StatusOK {
		t.Fatalf("create: %d %s", code, resp)
	}
	if got := mutedBy("AmOther"); !slices.Equal(got, []string{notID}) {
		t.Errorf("AmOther silenced by %v, want [%s]", got, notID)
	}

	// The same id, same matchers, a new end and comment: updated in place.
	ends := time.Now().Add(3 * time.Hour).UTC().Truncate(time.Millisecond)
	code, resp, got := amPostSilenceJSON(t, h, `{"id":"`+id+`","matchers":[{"name":"alertname","value":"AmFiring","isRegex":false,"isEqual":true}],"startsAt":"`+
		first.StartsAt.Format(time.RFC3339Nano)+`","endsAt":"`+ends.Format(time.RFC3339Nano)+`","createdBy":"amtool","comment":"longer"}`)
	if code != http.StatusOK || got != id {
		t.Fatalf("update: %d %s, want the same id %s", code, resp, id)
	}
	var updated amSilenceView
	amGet(t, h, "/silence/"+id, &updated)
	if updated.Comment != "longer" || !updated.EndsAt.Equal(ends) || !updated.StartsAt.Equal(first.StartsAt) || updated.Status.State != alerting.SilenceStateActive {
		t.Errorf("after the update: %+v", updated)
	}
	// New matchers: the old silence expires, a new one replaces it.
	code, resp, replaced := amPostSilenceJSON(t, h, amSilenceJSON(`{"name":"alertname","value":"AmPending","isRegex":false}`, `,"id":"`+id+`"`))
	if code != http.StatusOK || replaced == id {
		t.Fatalf("replacing update: %d %s", code, resp)
	}
	amGet(t, h, "/silence/"+id, &updated)
	if updated.Status.State != alerting.SilenceStateExpired || !updated.UpdatedAt.Equal(updated.EndsAt) {
		t.Errorf("the replaced silence: %+v", updated)
	}

	// Refusals, as JSON strings.
	for _, tt := range []struct {
		name, body string
		code       int
		want       string
	}{
		{"unknown id", amSilenceJSON(`{"name":"a","value":"b","isRegex":false}`, `,"id":"nope"`), http.StatusNotFound, `silence not found: "nope"`},
		{"no matchers", amSilenceJSON(``, ""), http.StatusBadRequest, "at least one matcher is required"},
		{"unknown member", amSilenceJSON(`{"name":"a","value":"b","isRegex":false,"isequals":true}`, ""), http.StatusBadRequest, "body must be a silence"},
		{"two objects", amSilenceJSON(`{"name":"a","value":"b"}`, "") + "{}", http.StatusBadRequest, "data after the silence"},
		{"ended", `{"matchers":[{"name":"a","value":"b"}],"endsAt":"2020-01-01T00:00:00Z","createdBy":"x","comment":"y"}`, http.StatusBadRequest, "endsAt must be in the future"},
		{"too large", amSilenceJSON(`{"name":"a","value":"`+strings.Repeat("b", MaxRequestBody)+`"}`, ""), http.StatusRequestEntityTooLarge, "request body larger than"},
	} {
		code, resp, _ := amPostSilenceJSON(t, h, tt.body)
		if code != tt.code || !strings.Contains(amErrorBody(t, resp), tt.want) {
			t.Errorf("%s: %d %.200s, want %d saying %q", tt.name, code, resp, tt.code, tt.want)
		}
	}

	// A pending silence, then the listing: active (next to end first),
	// pending, expired (latest ended first).
	starts := time.Now().Add(time.Hour).UTC()
	code, resp, pendingID := amPostSilenceJSON(t, h, `{"matchers":[{"name":"alertname","value":"AmOther"}],"startsAt":"`+starts.Format(time.RFC3339Nano)+
		`","endsAt":"`+starts.Add(time.Hour).Format(time.RFC3339Nano)+`","createdBy":"amtool","comment":"later"}`)
	if code != http.StatusOK {
		t.Fatalf("pending: %d %s", code, resp)
	}
	ids := func(query string) []string {
		t.Helper()
		var list []amSilenceView
		amGet(t, h, "/silences?"+query, &list)
		var out []string
		for _, s := range list {
			out = append(out, s.ID)
		}
		return out
	}
	if got, want := ids(""), []string{notID, replaced, pendingID, id}; !slices.Equal(got, want) {
		t.Errorf("listing %v, want %v (active by end, pending, expired)", got, want)
	}
	f := func(matchers ...string) string { return url.Values{"filter": matchers}.Encode() }
	for _, tt := range []struct {
		query string
		want  []string
	}{
		// A filter matcher selects the silences that have the same matcher.
		{f(`alertname="AmFiring"`), []string{id}},
		{f(`alertname=AmPending`), []string{replaced}},
		{f(`alertname=~"Am.*"`), []string{notID}},
		{f(`alertname=~"Am.*"`, `severity!="warning"`), []string{notID}},
		{f(`alertname=~"Am.*"`, `severity="warning"`), nil},
		{f(`alertname="Am.*"`), nil},
		{"active=false&expired=false", []string{pendingID}},
		{"pending=false", []string{notID, replaced, id}},
	} {
		if got := ids(tt.query); !slices.Equal(got, tt.want) {
			t.Errorf("silences?%s: %v, want %v", tt.query, got, tt.want)
		}
	}
	if code, body := jsonRequest(t, h, http.MethodGet, amAPI+"/silences?filter=alertname", "", ""); code != http.StatusBadRequest ||
		!strings.Contains(amErrorBody(t, body), "bad matcher format") {
		t.Errorf("bad filter: %d %s", code, body)
	}

	// DELETE expires; again is 400; an unknown id is 404, as is its GET.
	req := httptest.NewRequest(http.MethodDelete, amAPI+"/silence/"+notID, nil)
	req.Header.Set("Authorization", "Bearer tok")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Errorf("DELETE: %d %q", rec.Code, rec.Body)
	}
	if got := mutedBy("AmOther"); len(got) != 0 {
		t.Errorf("AmOther still silenced by %v", got)
	}
	if code, body := jsonRequest(t, h, http.MethodDelete, amAPI+"/silence/"+notID, "tok", ""); code != http.StatusBadRequest ||
		!strings.Contains(amErrorBody(t, body), "already expired") {
		t.Errorf("second DELETE: %d %s", code, body)
	}
	for _, method := range []string{http.MethodGet, http.MethodDelete} {
		if code, body := jsonRequest(t, h, method, amAPI+"/silence/no-such-silence", "tok", ""); code != http.StatusNotFound ||
			!strings.Contains(amErrorBody(t, body), `silence not found: "no-such-silence"`) {
			t.Errorf("%s of an unknown silence: %d %s", method, code, body)
		}
	}

	// One set of silences behind both APIs.
	var listed []string
	for _, s := range listSilences(t, h) {
		listed = append(listed, s.ID)
	}
	slices.Sort(listed)
	all := ids("")
	slices.Sort(all)
	if !slices.Equal(listed, all) {
		t.Errorf("/monitoring/api/silences lists %v, the Alertmanager API %v", listed, all)
	}
	if code, body := jsonRequest(t, h, http.MethodDelete, "/monitoring/api/silences/"+pendingID, "tok", ""); code != http.StatusOK {
		t.Fatalf("DELETE on the monitoring API: %d %s", code, body)
	}
	var expired amSilenceView
	amGet(t, h, "/silence/"+pendingID, &expired)
	if expired.Status.State != alerting.SilenceStateExpired {
		t.Errorf("expired on the monitoring API, on the Alertmanager API: %+v", expired)
	}
	// The monitoring API's POST takes isEqual's default too.
	code, body = jsonRequest(t, h, http.MethodPost, "/monitoring/api/silences", "tok", amSilenceJSON(`{"name":"alertname","value":"AmOther"}`, ""))
	if code != http.StatusOK || len(mutedBy("AmOther")) != 1 {
		t.Errorf("POST /monitoring/api/silences without isEqual: %d %s, AmOther silenced by %v", code, body, mutedBy("AmOther"))
	}
}

// TestAlertmanagerAccess: creating and expiring silences needs the
// authorizer (403 without one configured, 401 without the token); reads
// are open unless reads are protected, then they need the token too.
func TestAlertmanagerAccess(t *testing.T) {
	reads := []string{"/status", "/receivers", "/alerts", "/alerts/groups", "/silences", "/silence/nope"}
	silence := amSilenceJSON(`{"name":"alertname","value":"AmFiring"}`, "")
	for _, tc := range []struct {
		name      string
		opts      []envOption
		write     int // anonymous POST and DELETE
		read      int // anonymous reads; 0 means served
		tokenRead bool
	}{
		{"no authorizer", nil, http.StatusForbidden, 0, false},
		{"token", []envOption{withAdminToken("tok")}, http.StatusUnauthorized, 0, true},
		{"token, protected reads", []envOption{withAdminToken("tok"), withProtectedReads()}, http.StatusUnauthorized, http.StatusUnauthorized, true},
		{"protected reads, no authorizer", []envOption{withProtectedReads()}, http.StatusForbidden, http.StatusForbidden, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := startForAlertmanager(t, tc.opts...)
			h := v.Handler()
			id, err := v.Alerts().Silences().Add(alerting.Silence{Matchers: []alerting.Matcher{{Name: "alertname", Value: "AmOther", IsEqual: true}},
				EndsAt: time.Now().Add(time.Hour), CreatedBy: "ops", Comment: "c"})
			if err != nil {
				t.Fatal(err)
			}
			for _, token := range []string{"", "wrong"} {
				if code, body := jsonRequest(t, h, http.MethodPost, amAPI+"/silences", token, silence); code != tc.write {
					t.Errorf("POST with token %q: %d %s, want %d", token, code, body, tc.write)
				}
				if code, body := jsonRequest(t, h, http.MethodDelete, amAPI+"/silence/"+id, token, ""); code != tc.write {
					t.Errorf("DELETE with token %q: %d %s, want %d", token, code, body, tc.write)
				}
			}
			if n := len(v.Alerts().Silences().List()); n != 1 || v.Alerts().Silences().List()[0].State(time.Now()) != alerting.SilenceStateActive {
				t.Errorf("refused writes changed the silences: %+v", v.Alerts().Silences().List())
			}
			for _, p := range reads {
				code, body := jsonRequest(t, h, http.MethodGet, amAPI+p, "", "")
				if tc.read != 0 && code != tc.read {
					t.Errorf("anonymous GET %s: %d, want %d", p, code, tc.read)
				}
				if tc.read == 0 && (code == http.StatusUnauthorized || code == http.StatusForbidden || code >= 500) {
					t.Errorf("anonymous GET %s: %d %s, want it served", p, code, body)
				}
				if tc.tokenRead {
					if code, body := jsonRequest(t, h, http.MethodGet, amAPI+p, "tok", ""); code == http.StatusUnauthorized ||
						code == http.StatusForbidden || code >= 500 {
						t.Errorf("GET %s with the token: %d %s", p, code, body)
					}
				}
			}
			if tc.tokenRead {
				if code, body, _ := amPostSilenceJSON(t, h, silence); code != http.StatusOK {
					t.Errorf("POST with the token: %d %s", code, body)
				}
				if code, body := jsonRequest(t, h, http.MethodDelete, amAPI+"/silence/"+id, "tok", ""); code != http.StatusOK {
					t.Errorf("DELETE with the token: %d %s", code, body)
				}
			}
		})
	}
}

// TestAlertmanagerRoutes: the routes are registered (and listed by
// Routes) only with an alert engine; a path under
// /monitoring/alertmanager that no route matches is 404, one with another
// method 405 with Allow, each with a JSON string.
func TestAlertmanagerRoutes(t *testing.T) {
	v := startForAlertmanager(t)
	routes := v.h.Routes()
	for _, want := range []string{"GET " + amAPI + "/status", "GET " + amAPI + "/alerts", "GET " + amAPI + "/alerts/groups",
		"GET " + amAPI + "/silences", "POST " + amAPI + "/silences", "GET " + amAPI + "/silence/{id}",
		"DELETE " + amAPI + "/silence/{id}", "/monitoring/alertmanager/"} {
		if !slices.Contains(routes, want) {
			t.Errorf("route %q not registered: %v", want, routes)
		}
	}
	without := newEnv(t, withoutMemory())
	if slices.ContainsFunc(without.h.Routes(), func(r string) bool { return strings.Contains(r, "/alertmanager") }) {
		t.Errorf("Alertmanager routes without an alert engine: %v", without.h.Routes())
	}

	h := v.Handler()
	for _, tt := range []struct {
		method, path string
		code         int
		allow        string
	}{
		{http.MethodGet, amAPI + "/nope", http.StatusNotFound, ""},
		{http.MethodGet, "/monitoring/alertmanager/", http.StatusNotFound, ""},
		{http.MethodGet, "/monitoring/alertmanager/api/v1/alerts", http.StatusNotFound, ""},
		{http.MethodPut, amAPI + "/silences", http.StatusMethodNotAllowed, "GET, POST"},
		{http.MethodPost, amAPI + "/silence/x", http.StatusMethodNotAllowed, "GET, DELETE"},
		{http.MethodPost, amAPI + "/alerts", http.StatusMethodNotAllowed, "GET"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
		if rec.Code != tt.code || rec.Header().Get("Allow") != tt.allow || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: %d, Allow %q, %q; want %d, Allow %q", tt.method, tt.path, rec.Code, rec.Header().Get("Allow"),
				rec.Header().Get("Content-Type"), tt.code, tt.allow)
		}
		amErrorBody(t, rec.Body.String())
	}
}

// TestAlertmanagerMatcherSyntax: filter matchers parse as Alertmanager's
// API parses them, within a silence's limits.
func TestAlertmanagerMatcherSyntax(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want string // the matcher's String, or the error
	}{
		{`alertname=Foo`, `alertname="Foo"`},
		{`alertname="Foo"`, `alertname="Foo"`},
		{`  job = "a b" `, `job="a b"`},
		{`code=~"5.."`, `code=~"5.."`},
		{`env!~dev|test`, `env!~"dev|test"`},
		{`env!=`, `env!=""`},
		{`msg="a \"quote\", a \\ and a \n"`, `msg="a \"quote\", a \\ and a \n"`},
		{`path=C:\dir`, `path="C:\\dir"`},
		{`a=b=c`, `a="b=c"`},
		{`"service.name"="shop"`, `"service.name"="shop"`},
		{`service.name=shop`, `"service.name"="shop"`},
		{`"служба"=~"веб.*"`, `"служба"=~"веб.*"`},
		{`{a="b"}`, "unexpected open or close brace"},
		{`a`, "bad matcher format: a"},
		{`a="b`, "unescaped double quote"},
		{`a="b"c"`, "unescaped double quote"},
		{`a=~"("`, "missing closing )"},
		{`a="` + strings.Repeat("v", alerting.MaxMatcherValueLength+1) + `"`, "more than MaxMatcherValueLength (1024)"},
		{strings.Repeat("n", alerting.MaxMatcherNameLength+1) + `=x`, "more than MaxMatcherNameLength (128)"},
		{`a=~"\pL\pL"`, "more than MaxSilenceRegexpSize (1024)"},
	} {
		lm, _, err := parseAMMatcher(tt.in, alerting.MaxSilenceRegexpSize)
		got := ""
		if err != nil {
			got = err.Error()
		} else {
			got = lm.String()
		}
		if !strings.Contains(got, tt.want) {
			t.Errorf("%s: %s, want %s", tt.in, got, tt.want)
		}
	}
	many := make([]string, alerting.MaxMatchersPerSilence+1)
	for i := range many {
		many[i] = fmt.Sprintf("l%d=v", i)
	}
	if _, err := parseAMMatchers("filter", many); err == nil || !strings.Contains(err.Error(), "33 filter matchers, more than the 32 allowed") {
		t.Errorf("33 matchers: %v", err)
	}
	if _, err := parseAMMatchers("filter", many[:alerting.MaxMatchersPerSilence]); err != nil {
		t.Errorf("32 matchers: %v", err)
	}
	// The regular expressions of a filter share one budget.
	if _, err := parseAMMatchers("filter", []string{`a=~"x{500}"`, `b=~"y{10}"`}); err == nil || !strings.Contains(err.Error(), `matcher "b=~\"y{10}\""`) {
		t.Errorf("two regular expressions past the budget: %v", err)
	}
	if _, err := parseAMMatchers("filter", []string{`a=~"x{400}"`, `b=~"y{10}"`}); err != nil {
		t.Errorf("two regular expressions within the budget: %v", err)
	}
}
