package monitoring

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/timestamp"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/vitalsgo/vitals/alerting"
)

// PrometheusAPIPath is where the handler serves Prometheus' HTTP API v1: a
// Prometheus client (Grafana's Prometheus data source, promtool,
// client_golang's api/prometheus/v1) takes http://HOST/monitoring/prometheus
// as its base URL, under whatever prefix the handler is mounted.
const PrometheusAPIPath = "/monitoring/prometheus"

// The times a series, labels or label values request covers by default:
// all of them, as in Prometheus.
var (
	promMinTime = time.Unix(math.MinInt64/1000+62135596801, 0).UTC()
	promMaxTime = time.Unix(math.MaxInt64/1000-62135596801, 999999999).UTC()
)

// registerPrometheusAPI adds Prometheus' HTTP API v1 under
// PrometheusAPIPath: query slots and limits as the monitoring API's own
// PromQL endpoints, reads behind the authorizer with protected reads.
func (m *Handler) registerPrometheusAPI(query func(http.HandlerFunc) http.HandlerFunc) {
	const v1 = PrometheusAPIPath + "/api/v1/"
	read := m.requireRead
	if m.query != nil {
		api := &queryAPI{mem: m.query}
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			m.handle(method+" "+v1+"query", query(api.query))
			m.handle(method+" "+v1+"query_range", query(api.queryRange))
			m.handle(method+" "+v1+"series", query(m.promSeries))
			m.handle(method+" "+v1+"labels", query(m.promLabels))
			m.handle(method+" "+v1+"query_exemplars", query(m.promExemplars))
			m.handle(method+" "+v1+"format_query", read(m.promFormatQuery))
		}
		m.handle("GET "+v1+"label/{name}/values", query(m.promLabelValues))
		m.handle("GET "+v1+"metadata", read(m.promMetadata))
	}
	m.handle("GET "+v1+"status/buildinfo", read(m.promBuildInfo))
	m.handle("GET "+v1+"status/runtimeinfo", read(m.promRuntimeInfo))
	if m.alerts != nil {
		m.handle("GET "+v1+"rules", read(m.promRules))
		m.handle("GET "+v1+"alerts", read(m.promAlerts))
	}
	m.handle(PrometheusAPIPath+"/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.notFound(w, r, PrometheusAPIPath+"/", "no such endpoint of Prometheus' API v1 here")
	}))
}

// writePromData answers 200 with data and the warnings, in Prometheus'
// envelope.
func writePromData(w http.ResponseWriter, data any, warnings annotations.Annotations) {
	ws, infos := warnings.AsStrings("", 10, 10)
	writeJSON(w, http.StatusOK, apiResponse{Status: "success", Data: data, Warnings: ws, Infos: infos})
}

// promRange parses start and end (default: all time), limit and match[]
// as Prometheus' series, labels and label values endpoints do. needMatch
// makes match[] required. On error it has answered.
func promRange(w http.ResponseWriter, r *http.Request, needMatch bool) (start, end time.Time, limit int, sets [][]*labels.Matcher, ok bool) {
	fail := func(err error) {
		writeAPIError(w, errorBadData, err)
	}
	if needMatch && len(r.Form["match[]"]) == 0 {
		fail(errors.New("no match[] parameter provided"))
		return
	}
	var err error
	if limit, err = parseLimit(r.Form.Get("limit")); err != nil {
		fail(fmt.Errorf("invalid parameter 'limit': %w", err))
		return
	}
	if start, err = parseTimeParam(r.Form.Get("start"), "start", promMinTime); err != nil {
		fail(fmt.Errorf("invalid parameter 'start': %w", err))
		return
	}
	if end, err = parseTimeParam(r.Form.Get("end"), "end", promMaxTime); err != nil {
		fail(fmt.Errorf("invalid parameter 'end': %w", err))
		return
	}
	if sets, err = parseMatchers(r.Form["match[]"]); err != nil {
		fail(fmt.Errorf("invalid parameter 'match[]': %w", err))
		return
	}
	return start, end, limit, sets, true
}

// parseLimit parses Prometheus' limit parameter: 0 or absent means none.
func parseLimit(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, errors.New("limit must be non-negative")
	}
	return n, nil
}

// parseMatchers parses the match[] selectors, each at most MaxQueryLength
// bytes, refusing one that matches the empty label set, as Prometheus does.
func parseMatchers(params []string) ([][]*labels.Matcher, error) {
	sets := make([][]*labels.Matcher, 0, len(params))
	for _, p := range params {
		if err := checkQueryLength("match[]", p); err != nil {
			return nil, err
		}
		ms, err := selectorParser.ParseMetricSelector(p)
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(ms, func(m *labels.Matcher) bool { return !m.Matches("") }) {
			return nil, errors.New("match[] must contain at least one non-empty matcher")
		}
		sets = append(sets, ms)
	}
	return sets, nil
}

// hintLimit asks storage for one more than limit, so that truncation can be
// told apart.
func hintLimit(limit int) int {
	if limit > 0 && limit < math.MaxInt {
		return limit + 1
	}
	return limit
}

// promQuerier parses the parameters of the series, labels and label values
// endpoints (promRange) and opens a querier over their time range, which
// the caller closes. On error it has answered.
func (m *Handler) promQuerier(w http.ResponseWriter, r *http.Request, needMatch bool) (q storage.Querier, start, end time.Time, limit int, sets [][]*labels.Matcher, ok bool) {
	if start, end, limit, sets, ok = promRange(w, r, needMatch); !ok {
		return
	}
	q, err := m.query.Querier(timestamp.FromTime(start), timestamp.FromTime(end))
	if err != nil {
		writeAPIError(w, errorExecution, err)
		return nil, start, end, 0, nil, false
	}
	return q, start, end, limit, sets, true
}

var errTruncated = errors.New("results truncated due to limit")

// promSeries serves /api/v1/series: the label sets of the series that
// match any match[] and have samples between start and end.
func (m *Handler) promSeries(w http.ResponseWriter, r *http.Request) {
	q, start, end, limit, sets, ok := m.promQuerier(w, r, true)
	if !ok {
		return
	}
	defer q.Close()
	hints := &storage.SelectHints{Start: timestamp.FromTime(start), End: timestamp.FromTime(end), Func: "series", Limit: hintLimit(limit)}
	var set storage.SeriesSet
	if len(sets) == 1 {
		set = q.Select(r.Context(), false, hints, sets[0]...)
	} else {
		all := make([]storage.SeriesSet, 0, len(sets))
		for _, ms := range sets {
			all = append(all, q.Select(r.Context(), true, hints, ms...))
		}
		set = storage.NewMergeSeriesSet(all, 0, storage.ChainedSeriesMerge)
	}
	out := []labels.Labels{}
	warnings := set.Warnings()
	for set.Next() {
		if err := r.Context().Err(); err != nil {
			writeAPIError(w, errorCanceled, err)
			return
		}
		out = append(out, set.At().Labels())
		if limit > 0 && len(out) > limit {
			out = out[:limit]
			warnings.Add(errTruncated)
			break
		}
	}
	if err := set.Err(); err != nil {
		writeAPIError(w, errorExecution, err)
		return
	}
	writePromData(w, out, warnings)
}

// promLabels serves /api/v1/labels: the label names of the series that
// match any match[] (all series without it).
func (m *Handler) promLabels(w http.ResponseWriter, r *http.Request) {
	m.promLabelList(w, r, func(q storage.Querier, hints *storage.LabelHints, ms []*labels.Matcher) ([]string, annotations.Annotations, error) {
		return q.LabelNames(r.Context(), hints, ms...)
	})
}

// promLabelValues serves /api/v1/label/{name}/values: the values of the
// label among the series that match any match[] (all series without it).
func (m *Handler) promLabelValues(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if strings.HasPrefix(name, "U__") {
		name = model.UnescapeName(name, model.ValueEncodingEscaping)
	}
	if !model.UTF8Validation.IsValidLabelName(name) {
		writeAPIError(w, errorBadData, fmt.Errorf("invalid label name: %q", name))
		return
	}
	m.promLabelList(w, r, func(q storage.Querier, hints *storage.LabelHints, ms []*labels.Matcher) ([]string, annotations.Annotations, error) {
		return q.LabelValues(r.Context(), name, hints, ms...)
	})
}

// promLabelList answers with the sorted union of what list returns for
// each match[] (or once, for all series), truncated to limit.
func (m *Handler) promLabelList(w http.ResponseWriter, r *http.Request,
	list func(storage.Querier, *storage.LabelHints, []*labels.Matcher) ([]string, annotations.Annotations, error),
) {
	q, _, _, limit, sets, ok := m.promQuerier(w, r, false)
	if !ok {
		return
	}
	defer q.Close()
	hints := &storage.LabelHints{Limit: hintLimit(limit)}
	if len(sets) == 0 {
		sets = [][]*labels.Matcher{nil}
	}
	seen := map[string]struct{}{}
	var warnings annotations.Annotations
	for _, ms := range sets {
		vals, ws, err := list(q, hints, ms)
		if err != nil {
			writeAPIError(w, errorExecution, err)
			return
		}
		warnings.Merge(ws)
		for _, v := range vals {
			seen[v] = struct{}{}
		}
	}
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	slices.Sort(out)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
		warnings.Add(errTruncated)
	}
	writePromData(w, out, warnings)
}

// promExemplars serves /api/v1/query_exemplars: the exemplars, between
// start and end, of the series the query's selectors select, in
// Prometheus' shape. The history keeps exemplars of histogram buckets when
// measurements carry sampled traces (memory.Reader.Exemplars).
func (m *Handler) promExemplars(w http.ResponseWriter, r *http.Request) {
	expr, ok := parseQueryForm(w, r)
	if !ok {
		return
	}
	e, err := selectorParser.ParseExpr(expr)
	if err != nil {
		writeAPIError(w, errorBadData, fmt.Errorf("invalid parameter 'query': %w", err))
		return
	}
	start, err := parseTimeParam(r.Form.Get("start"), "start", promMinTime)
	if err != nil {
		writeAPIError(w, errorBadData, fmt.Errorf("invalid parameter 'start': %w", err))
		return
	}
	end, err := parseTimeParam(r.Form.Get("end"), "end", promMaxTime)
	if err != nil {
		writeAPIError(w, errorBadData, fmt.Errorf("invalid parameter 'end': %w", err))
		return
	}
	if end.Before(start) {
		writeAPIError(w, errorBadData, errors.New("end timestamp must not be before start timestamp"))
		return
	}
	res, err := m.query.Exemplars(r.Context(), start, end, parser.ExtractSelectors(e)...)
	if err != nil {
		writeAPIError(w, errorExecution, err)
		return
	}
	type promExemplar struct {
		Labels    labels.Labels `json:"labels"`
		Value     string        `json:"value"`
		Timestamp float64       `json:"timestamp"`
	}
	type promSeriesExemplars struct {
		SeriesLabels labels.Labels  `json:"seriesLabels"`
		Exemplars    []promExemplar `json:"exemplars"`
	}
	out := make([]promSeriesExemplars, 0, len(res))
	for _, s := range res {
		se := promSeriesExemplars{SeriesLabels: s.SeriesLabels, Exemplars: make([]promExemplar, 0, len(s.Exemplars))}
		for _, x := range s.Exemplars {
			se.Exemplars = append(se.Exemplars, promExemplar{Labels: x.Labels,
				Value: strconv.FormatFloat(x.Value, 'f', -1, 64), Timestamp: float64(x.Ts) / 1000})
		}
		out = append(out, se)
	}
	writePromData(w, out, nil)
}

// promFormatQuery serves /api/v1/format_query: the query pretty-printed
// as Prometheus prints it.
func (m *Handler) promFormatQuery(w http.ResponseWriter, r *http.Request) {
	if !m.readForm(w, r) {
		return
	}
	expr, ok := parseQueryForm(w, r)
	if !ok {
		return
	}
	e, err := selectorParser.ParseExpr(expr)
	if err != nil {
		writeAPIError(w, errorBadData, fmt.Errorf("invalid parameter 'query': %w", err))
		return
	}
	writePromData(w, e.Pretty(0), nil)
}

// promMetadata serves /api/v1/metadata: each metric family's type, help
// and unit, from the instruments. limit bounds the families,
// limit_per_metric the entries of each (there is one), metric selects one.
func (m *Handler) promMetadata(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeAPIError(w, errorBadData, err)
		return
	}
	limit, err := promMetadataLimit(r.Form.Get("limit"))
	if err != nil {
		writeAPIError(w, errorBadData, fmt.Errorf("invalid parameter 'limit': %w", err))
		return
	}
	perMetric, err := promMetadataLimit(r.Form.Get("limit_per_metric"))
	if err != nil {
		writeAPIError(w, errorBadData, fmt.Errorf("invalid parameter 'limit_per_metric': %w", err))
		return
	}
	md := m.query.Metadata()
	names := make([]string, 0, len(md))
	for name := range md {
		if metric := r.Form.Get("metric"); metric == "" || metric == name {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	out := map[string][]any{}
	for _, name := range names {
		if limit >= 0 && len(out) >= limit {
			break
		}
		if perMetric == 0 {
			continue
		}
		out[name] = []any{md[name]}
	}
	writePromData(w, out, nil)
}

// promMetadataLimit parses a limit of the metadata endpoint: absent or
// negative means none (-1).
func promMetadataLimit(s string) (int, error) {
	if s == "" {
		return -1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, errors.New("limit must be a number")
	}
	if n < 0 {
		return -1, nil
	}
	return n, nil
}

// promBuildInfo serves /api/v1/status/buildinfo as a Prometheus of the
// version of the PromQL engine linked in would: clients (Grafana) read the
// version to tell which PromQL features they may use.
func (m *Handler) promBuildInfo(w http.ResponseWriter, _ *http.Request) {
	writePromData(w, map[string]string{
		"version":   promEngineVersion(),
		"revision":  "",
		"branch":    "",
		"buildUser": "vitals",
		"buildDate": "",
		"goVersion": runtime.Version(),
	}, nil)
}

// promEngineVersion returns the Prometheus release of the linked
// github.com/prometheus/prometheus module: module v0.316.0 is Prometheus
// 3.16.0, v0.54.1 is 2.54.1. Without build information it answers 3.0.0.
func promEngineVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "3.0.0"
	}
	for _, d := range bi.Deps {
		if d.Path != "github.com/prometheus/prometheus" {
			continue
		}
		parts := strings.SplitN(strings.TrimPrefix(d.Version, "v"), ".", 3)
		if len(parts) != 3 || parts[0] != "0" {
			break
		}
		minor, err := strconv.Atoi(parts[1])
		if err != nil {
			break
		}
		patch, _, _ := strings.Cut(parts[2], "-")
		if minor >= 300 {
			return fmt.Sprintf("3.%d.%s", minor-300, patch)
		}
		return fmt.Sprintf("2.%d.%s", minor, patch)
	}
	return "3.0.0"
}

// promRuntimeInfo serves /api/v1/status/runtimeinfo in Prometheus' shape.
// The working directory and host name are left empty: a monitoring
// endpoint need not tell them.
func (m *Handler) promRuntimeInfo(w http.ResponseWriter, _ *http.Request) {
	retention := ""
	if m.query != nil {
		retention = model.Duration(m.query.Retention()).String()
	}
	writePromData(w, map[string]any{
		"startTime":           m.started.UTC(),
		"CWD":                 "",
		"hostname":            "",
		"serverTime":          time.Now().UTC(),
		"reloadConfigSuccess": true,
		"lastConfigTime":      m.started.UTC(),
		"corruptionCount":     0,
		"goroutineCount":      runtime.NumGoroutine(),
		"GOMAXPROCS":          runtime.GOMAXPROCS(0),
		"GOMEMLIMIT":          debug.SetMemoryLimit(-1),
		"GOGC":                os.Getenv("GOGC"),
		"GODEBUG":             os.Getenv("GODEBUG"),
		"storageRetention":    retention,
	}, nil)
}

// promAlert is an alert in Prometheus' /api/v1/alerts and /rules.
type promAlert struct {
	Labels          map[string]string `json:"labels"`
	Annotations     map[string]string `json:"annotations"`
	State           string            `json:"state"`
	ActiveAt        *time.Time        `json:"activeAt,omitempty"`
	KeepFiringSince *time.Time        `json:"keepFiringSince,omitempty"`
	Value           string            `json:"value"`
}

// toPromAlerts keeps the pending and firing alerts, as Prometheus lists
// them.
func toPromAlerts(alerts []alerting.Alert) []promAlert {
	out := []promAlert{}
	for _, a := range alerts {
		if a.State != alerting.StatePending && a.State != alerting.StateFiring {
			continue
		}
		pa := promAlert{Labels: a.Labels, Annotations: a.Annotations, State: a.State.String(),
			Value: strconv.FormatFloat(a.Value, 'e', -1, 64)}
		if pa.Annotations == nil {
			pa.Annotations = map[string]string{}
		}
		if !a.ActiveAt.IsZero() {
			at := a.ActiveAt.UTC()
			pa.ActiveAt = &at
		}
		out = append(out, pa)
	}
	return out
}

// promAlerts serves /api/v1/alerts: the pending and firing alerts.
func (m *Handler) promAlerts(w http.ResponseWriter, _ *http.Request) {
	writePromData(w, map[string]any{"alerts": toPromAlerts(m.alerts.Alerts())}, nil)
}

// promRuleFile is the file every rule group is reported in: the engine
// does not keep where a group came from.
const promRuleFile = "vitals"

// promRules serves /api/v1/rules: the rule groups with their rules'
// health and alerts, filtered by type (alert, record), rule_name[],
// rule_group[] and file[]; exclude_alerts leaves the alerts out.
func (m *Handler) promRules(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeAPIError(w, errorBadData, err)
		return
	}
	typ := strings.ToLower(r.Form.Get("type"))
	if typ != "" && typ != "alert" && typ != "record" {
		writeAPIError(w, errorBadData, fmt.Errorf("not supported value %q", typ))
		return
	}
	excludeAlerts := false
	if v := r.Form.Get("exclude_alerts"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeAPIError(w, errorBadData, fmt.Errorf("parsing exclude_alerts: %w", err))
			return
		}
		excludeAlerts = b
	}
	in := func(param, v string) bool {
		vals := r.Form[param]
		return len(vals) == 0 || slices.Contains(vals, v)
	}
	type group struct {
		Name           string    `json:"name"`
		File           string    `json:"file"`
		Rules          []any     `json:"rules"`
		Interval       float64   `json:"interval"`
		Limit          int       `json:"limit"`
		EvaluationTime float64   `json:"evaluationTime"`
		LastEvaluation time.Time `json:"lastEvaluation"`
	}
	groups := []*group{}
	var cur *group
	for _, st := range m.alerts.Rules() {
		if cur == nil || cur.Name != st.Group {
			cur = &group{Name: st.Group, File: promRuleFile, Rules: []any{}, Interval: st.Interval.Seconds()}
			groups = append(groups, cur)
		}
		cur.EvaluationTime += st.EvaluationDuration.Seconds()
		if st.LastEvaluation.After(cur.LastEvaluation) {
			cur.LastEvaluation = st.LastEvaluation
		}
		if !in("rule_group[]", st.Group) || !in("file[]", promRuleFile) || !in("rule_name[]", st.Name) {
			continue
		}
		health := "unknown"
		switch {
		case st.LastError != "":
			health = "err"
		case st.Evaluations > 0:
			health = "ok"
		}
		labels := st.Labels
		if labels == nil {
			labels = map[string]string{}
		}
		if st.Type == "recording" {
			if typ == "alert" {
				continue
			}
			rule := map[string]any{
				"name": st.Name, "query": st.Expr, "labels": labels, "health": health,
				"evaluationTime": st.EvaluationDuration.Seconds(), "lastEvaluation": st.LastEvaluation, "type": "recording",
			}
			if st.LastError != "" {
				rule["lastError"] = st.LastError
			}
			cur.Rules = append(cur.Rules, rule)
			continue
		}
		if typ == "record" {
			continue
		}
		alerts := toPromAlerts(st.Alerts)
		state := "inactive"
		for _, a := range alerts {
			if a.State == alerting.StateFiring.String() {
				state = "firing"
				break
			}
			state = "pending"
		}
		ann := st.Annotations
		if ann == nil {
			ann = map[string]string{}
		}
		rule := map[string]any{
			"state": state, "name": st.Name, "query": st.Expr, "duration": st.For.Seconds(),
			"keepFiringFor": st.KeepFiringFor.Seconds(), "labels": labels, "annotations": ann,
			"health": health, "evaluationTime": st.EvaluationDuration.Seconds(),
			"lastEvaluation": st.LastEvaluation, "type": "alerting",
		}
		if st.LastError != "" {
			rule["lastError"] = st.LastError
		}
		if !excludeAlerts {
			rule["alerts"] = alerts
		}
		cur.Rules = append(cur.Rules, rule)
	}
	// A group whose rules were all filtered out is left out, as in
	// Prometheus.
	out := make([]*group, 0, len(groups))
	for _, g := range groups {
		if len(g.Rules) > 0 {
			out = append(out, g)
		}
	}
	writePromData(w, map[string]any{"groups": out}, nil)
}
