package monitoring

import (
	"cmp"
	"fmt"
	"github.com/vitalsgo/vitals/internal/regex"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/vitalsgo/vitals/alerting"
)

// AlertmanagerAPIPath is where the handler serves Alertmanager's API v2:
// amtool (--alertmanager.url) and Grafana's Alertmanager data source take
// http://HOST/monitoring/alertmanager as their base URL, under whatever
// prefix the handler is mounted.
const AlertmanagerAPIPath = "/monitoring/alertmanager"

// amBase is AlertmanagerAPIPath, for the routes.
const amBase = AlertmanagerAPIPath

// amReceiver is the one receiver the API reports: the engine's routes are
// not visible from here, so every alert goes, as far as the API tells, to
// "vitals", the receiver a notifier names when it has no route
// (alerting.NotificationGroup), grouped by alertname.
const amReceiver = "vitals"

// amResolveTimeout is Alertmanager's default resolve_timeout: an alert
// received without an end resolves unless it is sent again within it. The
// API gives each firing alert an endsAt this far from now, as Alertmanager
// would give one that Vitals sent it now.
const amResolveTimeout = 5 * time.Minute

// amConfigYAML is the configuration GET /api/v2/status reports, an
// Alertmanager configuration that says what the API serves: one receiver,
// alerts grouped by alertname. Grafana parses it for its contact points
// and notification policies pages.
const amConfigYAML = `# Vitals serves the alerts and silences of its in-process alert engine
# in Alertmanager's API v2. It runs no Alertmanager: its routes are set in
# code (alerting.WithRoutes), and the API reports every alert with the
# receiver "vitals", grouped by alertname.
global:
  resolve_timeout: 5m
route:
  receiver: vitals
  group_by: [alertname]
receivers:
  - name: vitals
`

// registerAlertmanagerAPI adds Alertmanager's API v2 under
// /monitoring/alertmanager: status, receivers, alerts and alert groups (the
// engine's firing alerts, as a Prometheus would have sent them), and the
// engine's silences, which are those of /monitoring/api/silences (one
// implementation: see alerts.go). Reads follow protected reads; creating
// and expiring silences need the authorizer.
func (m *Handler) registerAlertmanagerAPI() {
	read := m.requireRead
	m.handle("GET /monitoring/alertmanager/api/v2/status", read(m.amStatus))
	m.handle("GET /monitoring/alertmanager/api/v2/receivers", read(m.amReceivers))
	m.handle("GET /monitoring/alertmanager/api/v2/alerts", read(m.amAlerts))
	m.handle("GET /monitoring/alertmanager/api/v2/alerts/groups", read(m.amAlertGroups))
	m.handle("GET /monitoring/alertmanager/api/v2/silences", read(m.amSilences))
	m.handle("POST /monitoring/alertmanager/api/v2/silences", m.requireAuth(m.amPostSilence))
	m.handle("GET /monitoring/alertmanager/api/v2/silence/{id}", read(m.amSilence))
	m.handle("DELETE /monitoring/alertmanager/api/v2/silence/{id}", m.requireAuth(m.amDeleteSilence))
	m.handle(amBase+"/", http.HandlerFunc(m.amNotFound))
}

// amError answers a failed request as Alertmanager does: status, and the
// message as a JSON string.
func amError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, msg)
}

// amNotFound answers a path under /monitoring/alertmanager that no route
// matches: 405 with Allow when the path has other methods, else 404, each
// with a JSON string, as Alertmanager's errors are.
func (m *Handler) amNotFound(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = method
		if _, pattern := m.mux.Handler(probe); pattern != amBase+"/" {
			allow = append(allow, method)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		amError(w, http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed on "+r.URL.Path+"; allowed: "+strings.Join(allow, ", "))
		return
	}
	amError(w, http.StatusNotFound, "no such Alertmanager API v2 endpoint: "+r.URL.Path+" (the API's base URL is "+amBase+")")
}

// amStatusBody is Alertmanager's alertmanagerStatus.
type amStatusBody struct {
	Cluster     amClusterStatus `json:"cluster"`
	VersionInfo amVersionInfo   `json:"versionInfo"`
	Config      amConfig        `json:"config"`
	Uptime      time.Time       `json:"uptime"`
}

// amClusterStatus is Alertmanager's clusterStatus: Vitals is never a
// cluster.
type amClusterStatus struct {
	Status string   `json:"status"`
	Peers  []amPeer `json:"peers"`
}

// amPeer is Alertmanager's peerStatus; there are none.
type amPeer struct {
	Name    string `json:"name"`
	Address string `json:"address"`
}

// amVersionInfo is Alertmanager's versionInfo, of Vitals.
type amVersionInfo struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"`
	Branch    string `json:"branch"`
	BuildUser string `json:"buildUser"`
	BuildDate string `json:"buildDate"`
	GoVersion string `json:"goVersion"`
}

// amConfig is Alertmanager's alertmanagerConfig.
type amConfig struct {
	Original string `json:"original"`
}

// amStatus serves GET /api/v2/status: a cluster that is disabled, the
// version of Vitals (not of an Alertmanager: amtool warns that the two
// differ), amConfigYAML, and when the handler started.
func (m *Handler) amStatus(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, amStatusBody{
		Cluster:     amClusterStatus{Status: "disabled", Peers: []amPeer{}},
		VersionInfo: amVersion(),
		Config:      amConfig{Original: amConfigYAML},
		Uptime:      m.started.UTC(),
	})
}

// amVersion returns the version of the Vitals module this binary
// links, from its build information, without the "v" (as Alertmanager
// writes its own); the revision and build time when Vitals is the main
// module and was built from version control.
func amVersion() amVersionInfo {
	v := amVersionInfo{Version: "unknown", GoVersion: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	module := strings.TrimSuffix(reflect.TypeFor[Handler]().PkgPath(), "/monitoring")
	version := ""
	if bi.Main.Path == module {
		version = bi.Main.Version
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Revision = s.Value
			case "vcs.time":
				v.BuildDate = s.Value
			}
		}
	} else {
		for _, d := range bi.Deps {
			if d.Path == module {
				version = d.Version
			}
		}
	}
	if version != "" {
		v.Version = strings.TrimPrefix(version, "v")
	}
	return v
}

// amReceiverRef is Alertmanager's receiver and receiverReference.
type amReceiverRef struct {
	Name string `json:"name"`
}

// amReceivers serves GET /api/v2/receivers: amReceiver, unless
// receiver_matchers leave it out (it has no labels).
func (m *Handler) amReceivers(w http.ResponseWriter, r *http.Request) {
	ms, err := parseAMMatchers("receiver_matchers", r.URL.Query()["receiver_matchers"])
	if err != nil {
		amError(w, http.StatusBadRequest, "failed to parse receiver_matchers param: "+err.Error())
		return
	}
	out := []amReceiverRef{}
	if amMatchFilterLabels(ms, nil) {
		out = append(out, amReceiverRef{Name: amReceiver})
	}
	writeJSON(w, http.StatusOK, out)
}

// amAlert is Alertmanager's gettableAlert.
type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	Receivers    []amReceiverRef   `json:"receivers"`
	Fingerprint  string            `json:"fingerprint"`
	StartsAt     time.Time         `json:"startsAt"`
	UpdatedAt    time.Time         `json:"updatedAt"`
	EndsAt       time.Time         `json:"endsAt"`
	Status       amAlertStatus     `json:"status"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// amAlertStatus is Alertmanager's alertStatus. Vitals has no inhibition
// and no mute time intervals: inhibitedBy and mutedBy are always empty, so
// an alert is suppressed only by silences.
type amAlertStatus struct {
	State       string   `json:"state"`
	SilencedBy  []string `json:"silencedBy"`
	InhibitedBy []string `json:"inhibitedBy"`
	MutedBy     []string `json:"mutedBy"`
}

// amAlertGroup is Alertmanager's alertGroup.
type amAlertGroup struct {
	Labels      map[string]string `json:"labels"`
	RouteLabels map[string]string `json:"routeLabels"`
	Receiver    amReceiverRef     `json:"receiver"`
	Alerts      []amAlert         `json:"alerts"`
}

// amAlertQuery is what the query parameters of GET /api/v2/alerts and
// /api/v2/alerts/groups select, with Alertmanager's meanings: alerts whose
// labels the filter matchers match (amMatchFilterLabels), sent to a
// receiver the receiver regular expression matches in full, whose labels
// receiverMatchers match; active (not suppressed) ones unless active is
// false, silenced ones unless silenced is false. The parameters inhibited,
// unprocessed and muted are checked and have no effect: nothing inhibits
// an alert, the engine processes every alert as it evaluates, and nothing
// mutes a group.
type amAlertQuery struct {
	filter           []*labels.Matcher
	receiver         *regexp.Regexp
	receiverMatchers []*labels.Matcher
	active           bool
	silenced         bool
}

// parseAlertQuery parses the parameters of an alert listing; its error is
// the message of Alertmanager's 400.
func parseAlertQuery(q url.Values) (amAlertQuery, error) {
	var (
		aq  amAlertQuery
		err error
	)
	for _, b := range []struct {
		name string
		v    *bool
	}{{"active", &aq.active}, {"silenced", &aq.silenced}, {"inhibited", new(bool)}, {"unprocessed", new(bool)}, {"muted", new(bool)}} {
		if *b.v, err = amBoolParam(q, b.name); err != nil {
			return aq, err
		}
	}
	if aq.filter, err = parseAMMatchers("filter", q["filter"]); err != nil {
		return aq, err
	}
	if v := q.Get("receiver"); v != "" {
		if err := amCheckRegexp(v); err != nil {
			return aq, fmt.Errorf("failed to parse receiver param: %w", err)
		}
		if aq.receiver, err = regexp.Compile("^(?:" + v + ")$"); err != nil {
			return aq, fmt.Errorf("failed to parse receiver param: %w", err)
		}
	}
	if aq.receiverMatchers, err = parseAMMatchers("receiver_matchers", q["receiver_matchers"]); err != nil {
		return aq, fmt.Errorf("failed to parse receiver_matchers param: %w", err)
	}
	return aq, nil
}

// amBoolParam returns the boolean parameter name of q: true when absent or
// empty, as Alertmanager's defaults are.
func amBoolParam(q url.Values, name string) (bool, error) {
	v := q.Get(name)
	if v == "" {
		return true, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s in query must be of type boolean: %q", name, v)
	}
	return b, nil
}

// toReceiver reports whether the query selects the alerts of amReceiver.
func (q amAlertQuery) toReceiver() bool {
	if q.receiver != nil && !q.receiver.MatchString(amReceiver) {
		return false
	}
	return len(q.receiverMatchers) == 0 || amMatchFilterLabels(q.receiverMatchers, nil)
}

// amAlertList returns the alerts an Alertmanager would hold of the
// engine's, those the query selects, sorted by fingerprint as Alertmanager
// sorts them: the firing ones, as Prometheus sends those and not the
// pending ones. An alert resolved, or resolved by hand, has ended, and
// Alertmanager does not list ended alerts.
//
// Each alert's fingerprint is its ID in the engine (the ID of
// /monitoring/api/alerts), startsAt when it started firing, updatedAt the
// last evaluation of its rule (when Prometheus would have sent it again),
// endsAt amResolveTimeout from now; its state is suppressed when a silence
// mutes it, else active.
func (m *Handler) amAlertList(q amAlertQuery) []amAlert {
	out := []amAlert{}
	if !q.toReceiver() {
		return out
	}
	now := m.alerts.Now()
	evaluated := map[string]time.Time{}
	for _, r := range m.alerts.Rules() {
		if r.Type == "alerting" && r.LastEvaluation.After(evaluated[r.Name]) {
			evaluated[r.Name] = r.LastEvaluation
		}
	}
	for _, a := range m.alerts.Alerts() {
		if a.State != alerting.StateFiring || !amMatchFilterLabels(q.filter, a.Labels) {
			continue
		}
		silenced := len(a.SilencedBy) > 0
		if (!q.active && !silenced) || (!q.silenced && silenced) {
			continue
		}
		st := amAlertStatus{State: "active", SilencedBy: []string{}, InhibitedBy: []string{}, MutedBy: []string{}}
		if silenced {
			st.State, st.SilencedBy = "suppressed", a.SilencedBy
		}
		updated := evaluated[a.Name()]
		if updated.Before(a.StartsAt) {
			updated = a.StartsAt
		}
		annotations := a.Annotations
		if annotations == nil {
			annotations = map[string]string{}
		}
		out = append(out, amAlert{
			Labels:       a.Labels,
			Annotations:  annotations,
			Receivers:    []amReceiverRef{{Name: amReceiver}},
			Fingerprint:  a.ID,
			StartsAt:     a.StartsAt.UTC(),
			UpdatedAt:    updated.UTC(),
			EndsAt:       now.Add(amResolveTimeout).UTC(),
			Status:       st,
			GeneratorURL: a.GeneratorURL,
		})
	}
	slices.SortFunc(out, func(a, b amAlert) int { return strings.Compare(a.Fingerprint, b.Fingerprint) })
	return out
}

// amAlerts serves GET /api/v2/alerts (amAlertList).
func (m *Handler) amAlerts(w http.ResponseWriter, r *http.Request) {
	q, err := parseAlertQuery(r.URL.Query())
	if err != nil {
		amError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, m.amAlertList(q))
}

// amAlertGroups serves GET /api/v2/alerts/groups: the alerts of
// amAlertList grouped by alertname, sent to amReceiver, sorted by
// alertname. A group none of whose alerts the query selects is left out,
// as in Alertmanager.
func (m *Handler) amAlertGroups(w http.ResponseWriter, r *http.Request) {
	q, err := parseAlertQuery(r.URL.Query())
	if err != nil {
		amError(w, http.StatusBadRequest, err.Error())
		return
	}
	groups := []amAlertGroup{}
	byName := map[string]int{}
	for _, a := range m.amAlertList(q) {
		name := a.Labels["alertname"]
		i, ok := byName[name]
		if !ok {
			i = len(groups)
			byName[name] = i
			groups = append(groups, amAlertGroup{Labels: map[string]string{"alertname": name}, RouteLabels: map[string]string{},
				Receiver: amReceiverRef{Name: amReceiver}})
		}
		groups[i].Alerts = append(groups[i].Alerts, a)
	}
	slices.SortFunc(groups, func(a, b amAlertGroup) int { return strings.Compare(a.Labels["alertname"], b.Labels["alertname"]) })
	writeJSON(w, http.StatusOK, groups)
}

// amSilenceView is Alertmanager's gettableSilence.
type amSilenceView struct {
	ID        string             `json:"id"`
	Status    amSilenceStatus    `json:"status"`
	UpdatedAt time.Time          `json:"updatedAt"`
	Matchers  []alerting.Matcher `json:"matchers"`
	StartsAt  time.Time          `json:"startsAt"`
	EndsAt    time.Time          `json:"endsAt"`
	CreatedBy string             `json:"createdBy"`
	Comment   string             `json:"comment"`
}

// amSilenceStatus is Alertmanager's silenceStatus.
type amSilenceStatus struct {
	State alerting.SilenceState `json:"state"`
}

// newAMSilenceView returns s as GET /api/v2/silences shows it at now;
// updated is when it was last changed (alerting.Silences.UpdatedAt), or
// zero if it is gone meanwhile, then its start.
func newAMSilenceView(s alerting.Silence, updated, now time.Time) amSilenceView {
	if updated.IsZero() {
		updated = s.StartsAt
	}
	return amSilenceView{
		ID: s.ID, Status: amSilenceStatus{State: s.State(now)}, UpdatedAt: updated.UTC(),
		Matchers: s.Matchers, StartsAt: s.StartsAt.UTC(), EndsAt: s.EndsAt.UTC(), CreatedBy: s.CreatedBy, Comment: s.Comment,
	}
}

// amSilenceOrder ranks the silence states as Alertmanager lists them.
var amSilenceOrder = map[alerting.SilenceState]int{
	alerting.SilenceStateActive:  1,
	alerting.SilenceStatePending: 2,
	alerting.SilenceStateExpired: 3,
}

// sortAMSilences sorts list as Alertmanager's SortSilences does, at now:
// active silences first, the next to end first; then pending ones, the
// next to start first; then expired ones, the latest ended first.
func sortAMSilences(list []alerting.Silence, now time.Time) {
	slices.SortStableFunc(list, func(a, b alerting.Silence) int {
		sa, sb := a.State(now), b.State(now)
		if sa != sb {
			return cmp.Compare(amSilenceOrder[sa], amSilenceOrder[sb])
		}
		switch sa {
		case alerting.SilenceStateActive:
			return a.EndsAt.Compare(b.EndsAt)
		case alerting.SilenceStatePending:
			return a.StartsAt.Compare(b.StartsAt)
		default:
			return b.EndsAt.Compare(a.EndsAt)
		}
	})
}

// amSilences serves GET /api/v2/silences: the silences the filter
// matchers select (amSilenceMatchesFilter), of the states active, pending
// and expired select (each true by default), sorted by sortAMSilences. It
// writes them one at a time, as GET /monitoring/api/silences does
// (writeJSONArray).
func (m *Handler) amSilences(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	filter, err := parseAMMatchers("filter", q["filter"])
	if err != nil {
		amError(w, http.StatusBadRequest, err.Error())
		return
	}
	include := map[alerting.SilenceState]bool{}
	for _, state := range []alerting.SilenceState{alerting.SilenceStateActive, alerting.SilenceStatePending, alerting.SilenceStateExpired} {
		if include[state], err = amBoolParam(q, state.String()); err != nil {
			amError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	now := m.alerts.Now()
	list := m.alerts.Silences().List()
	list = slices.DeleteFunc(list, func(s alerting.Silence) bool {
		return !include[s.State(now)] || !amSilenceMatchesFilter(s, filter)
	})
	sortAMSilences(list, now)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	sils := m.alerts.Silences()
	if err := writeJSONArray(w, list, func(s alerting.Silence) any {
		updated, _ := sils.UpdatedAt(s.ID)
		return newAMSilenceView(s, updated, now)
	}); err != nil {
		return // the client went away
	}
	_, _ = w.Write([]byte("\n"))
}

// amSilenceMatchesFilter reports whether every filter matcher has its like
// in s: a matcher of the same label name, type and value, as
// Alertmanager's CheckSilenceMatchesFilterLabels requires.
func amSilenceMatchesFilter(s alerting.Silence, filter []*labels.Matcher) bool {
	for _, f := range filter {
		if !slices.ContainsFunc(s.Matchers, func(sm alerting.Matcher) bool {
			return sm.Name == f.Name && sm.Value == f.Value && amMatchType(sm) == f.Type
		}) {
			return false
		}
	}
	return true
}

// amMatchType returns the operator of a silence's matcher.
func amMatchType(sm alerting.Matcher) labels.MatchType {
	switch {
	case sm.IsRegex && sm.IsEqual:
		return labels.MatchRegexp
	case sm.IsRegex:
		return labels.MatchNotRegexp
	case sm.IsEqual:
		return labels.MatchEqual
	default:
		return labels.MatchNotEqual
	}
}

// amSilence serves GET /api/v2/silence/{id}: 404 for an id that is not
// held (never given, or dropped after alerting.SilenceRetention).
func (m *Handler) amSilence(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	now := m.alerts.Now()
	for _, s := range m.alerts.Silences().List() {
		if s.ID == id {
			updated, _ := m.alerts.Silences().UpdatedAt(id)
			writeJSON(w, http.StatusOK, newAMSilenceView(s, updated, now))
			return
		}
	}
	amError(w, http.StatusNotFound, fmt.Sprintf("%v: %q", alerting.ErrSilenceNotFound, id))
}

// amPostSilence serves POST /api/v2/silences, as POST
// /monitoring/api/silences does (addSilence): {"silenceID": id}, or
// Alertmanager's errors, a JSON string with 400 (413 for a body too large)
// or with 404 for the update of an unknown silence.
func (m *Handler) amPostSilence(w http.ResponseWriter, r *http.Request) {
	id, status, err := m.addSilence(w, r)
	if err != nil {
		amError(w, status, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"silenceID": id})
}

// amDeleteSilence serves DELETE /api/v2/silence/{id}, as DELETE
// /monitoring/api/silences/{id} does (expireSilenceID): 200 without a
// body, as Alertmanager answers, or a JSON string with 404 for an unknown
// silence, 400 for one already expired (Alertmanager answers 500).
func (m *Handler) amDeleteSilence(w http.ResponseWriter, r *http.Request) {
	if status, err := m.expireSilenceID(r.PathValue("id")); err != nil {
		amError(w, status, err.Error())
		return
	}
	w.WriteHeader(http.StatusOK)
}

// Alertmanager's matcher syntax (its pkg/labels, and the quoted label
// names of its UTF-8 matchers): name, operator, value; the value may be
// double-quoted.
var (
	amClassicMatcher = regexp.MustCompile(`^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*((?s).*?)\s*$`)
	amUTF8Matcher    = regexp.MustCompile(`^\s*("(?:[^"\\]|\\.)*"|[^\s{}!=~,\\"'` + "`" + `]+)\s*(=~|=|!=|!~)\s*("(?:[^"\\]|\\.)*"|[^\s{}!=~,\\"'` + "`" + `]*)\s*$`)
	amMatchOps       = map[string]labels.MatchType{"=": labels.MatchEqual, "!=": labels.MatchNotEqual, "=~": labels.MatchRegexp, "!~": labels.MatchNotRegexp}
)

// parseAMMatchers parses the matchers of the query parameter param, one
// per value (parseAMMatcher). They are held to a silence's limits: at most
// alerting.MaxMatchersPerSilence, and their regular expressions together
// within alerting.MaxSilenceRegexpSize.
func parseAMMatchers(param string, values []string) ([]*labels.Matcher, error) {
	if len(values) > alerting.MaxMatchersPerSilence {
		return nil, fmt.Errorf("%d %s matchers, more than the %d allowed (MaxMatchersPerSilence)", len(values), param, alerting.MaxMatchersPerSilence)
	}
	out := make([]*labels.Matcher, 0, len(values))
	budget := alerting.MaxSilenceRegexpSize
	for _, v := range values {
		lm, size, err := parseAMMatcher(v, budget)
		if err != nil {
			return nil, err
		}
		budget -= size
		out = append(out, lm)
	}
	return out, nil
}

// parseAMMatcher parses one matcher as Alertmanager's API parses a filter:
// `name="value"`, `name=value`, `name=~"regexp"`, `"quoted.name"!="v"`;
// no braces. As in Alertmanager, the classic syntax takes precedence: an
// unquoted value runs to the end, and in a quoted one \" is a quote, \n a
// line feed and \\ a backslash. The name and value are held to a
// silence's matcher limits; size is what its regular expression takes of
// budget (0 for an equality).
func parseAMMatcher(s string, budget int) (lm *labels.Matcher, size int, err error) {
	if strings.HasPrefix(s, "{") || strings.HasSuffix(s, "}") {
		return nil, 0, fmt.Errorf("unexpected open or close brace: %s", s)
	}
	var name, op, value string
	if ms := amClassicMatcher.FindStringSubmatch(s); ms != nil {
		name, op = ms[1], ms[2]
		if value, err = amUnescapeClassic(ms[3]); err != nil {
			return nil, 0, err
		}
	} else if ms := amUTF8Matcher.FindStringSubmatch(s); ms != nil {
		op = ms[2]
		if name, err = amUnquote(ms[1]); err == nil {
			value, err = amUnquote(ms[3])
		}
		if err != nil {
			return nil, 0, fmt.Errorf("bad matcher format: %s: %w", s, err)
		}
	} else {
		return nil, 0, fmt.Errorf("bad matcher format: %s", s)
	}
	switch {
	case len(name) > alerting.MaxMatcherNameLength:
		return nil, 0, fmt.Errorf("matcher %q: label name is %d bytes, more than MaxMatcherNameLength (%d)", s, len(name), alerting.MaxMatcherNameLength)
	case !model.UTF8Validation.IsValidLabelName(name):
		return nil, 0, fmt.Errorf("matcher %q: %q is not a valid label name", s, name)
	case len(value) > alerting.MaxMatcherValueLength:
		return nil, 0, fmt.Errorf("matcher %q: value is %d bytes, more than MaxMatcherValueLength (%d)", s, len(value), alerting.MaxMatcherValueLength)
	case !utf8.ValidString(value):
		return nil, 0, fmt.Errorf("matcher value not valid UTF-8: %s", s)
	}
	t := amMatchOps[op]
	if t == labels.MatchRegexp || t == labels.MatchNotRegexp {
		if size, err = regex.Size(value); err != nil {
			return nil, 0, fmt.Errorf("matcher %q: %w", s, err)
		}
		if size > budget {
			return nil, 0, fmt.Errorf("matcher %q: its regular expression brings the filter's to size %d, more than MaxSilenceRegexpSize (%d)",
				s, alerting.MaxSilenceRegexpSize-budget+size, alerting.MaxSilenceRegexpSize)
		}
	}
	if lm, err = labels.NewMatcher(t, name, value); err != nil {
		return nil, 0, fmt.Errorf("matcher %q: %w", s, err)
	}
	return lm, size, nil
}

// amUnescapeClassic returns the value of a matcher in Alertmanager's
// classic syntax (its pkg/labels.ParseMatcher): optionally double-quoted;
// \" is a quote, \n a line feed, \\ a backslash, and any other backslash
// itself; an unescaped quote may only close the value.
func amUnescapeClassic(raw string) (string, error) {
	quoted := strings.HasPrefix(raw, `"`)
	if quoted {
		raw = raw[1:]
	}
	if !utf8.ValidString(raw) {
		return "", fmt.Errorf("matcher value not valid UTF-8: %s", raw)
	}
	var b strings.Builder
	escaped := false
	for i, r := range raw {
		if escaped {
			escaped = false
			switch r {
			case 'n':
				b.WriteByte('\n')
			case '"', '\\':
				b.WriteRune(r)
			default:
				b.WriteByte('\\')
				b.WriteRune(r)
			}
			continue
		}
		switch r {
		case '\\':
			if i < len(raw)-1 {
				escaped = true
				continue
			}
			b.WriteByte('\\')
		case '"':
			if !quoted || i < len(raw)-1 {
				return "", fmt.Errorf("matcher value contains unescaped double quote: %s", raw)
			}
			quoted = false
		default:
			b.WriteRune(r)
		}
	}
	if quoted {
		return "", fmt.Errorf("matcher value contains unescaped double quote: %s", raw)
	}
	return b.String(), nil
}

// amUnquote returns a name or value of Alertmanager's UTF-8 matcher
// syntax: a Go-quoted string unquoted, anything else as it is.
func amUnquote(tok string) (string, error) {
	if strings.HasPrefix(tok, `"`) {
		return strconv.Unquote(tok)
	}
	return tok, nil
}

// amCheckRegexp refuses a regular expression of a query parameter longer
// than alerting.MaxMatcherValueLength or of a size (regex.Size) over
// alerting.MaxSilenceRegexpSize, as a silence's would be.
func amCheckRegexp(pattern string) error {
	if len(pattern) > alerting.MaxMatcherValueLength {
		return fmt.Errorf("%d bytes, more than MaxMatcherValueLength (%d)", len(pattern), alerting.MaxMatcherValueLength)
	}
	size, err := regex.Size(pattern)
	if err != nil {
		return err
	}
	if size > alerting.MaxSilenceRegexpSize {
		return fmt.Errorf("regular expression of size %d, more than MaxSilenceRegexpSize (%d)", size, alerting.MaxSilenceRegexpSize)
	}
	return nil
}

// amMatchFilterLabels reports whether lbls match every matcher, as
// Alertmanager's matchFilterLabels decides: a matcher of an empty value
// matches a label that is absent, for = and =~ (and a present label of any
// value, for != and !~).
func amMatchFilterLabels(ms []*labels.Matcher, lbls map[string]string) bool {
	for _, m := range ms {
		v, present := lbls[m.Name]
		switch m.Type {
		case labels.MatchNotRegexp, labels.MatchNotEqual:
			if m.Value == "" && present {
				continue
			}
		default:
			if m.Value == "" && !present {
				continue
			}
		}
		if !m.Matches(v) {
			return false
		}
	}
	return true
}
