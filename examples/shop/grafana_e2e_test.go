package main

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

const (
	dashboardFile  = "../../docs/grafana/vitals.json"
	metricsDocFile = "../../docs/metrics.md"
)

// TestGrafanaQueriesReturnData checks the promise of docs/grafana/vitals.json:
// imported into Grafana over a Prometheus that scrapes a Vitals service,
// every panel shows data. It runs the shop in-process with -load (50
// requests per second, some 4xx, 5xx and slow ones), a real Prometheus
// (Debian's package, 2.42) scraping it every second, and sends every
// targets[].expr of the dashboard, with its variables substituted as
// Grafana would, to Prometheus' /api/v1/query until each returns at least
// one series with a value other than NaN, or fails listing those that do
// not.
//
// Variables: $__rate_interval becomes 30s (Grafana's is at least four
// scrape intervals; 30s holds enough 1 s samples and is reached quickly),
// $__range 1m, $job the scrape job, $instance the target (regexp-quoted and
// escaped for a PromQL string, as Grafana interpolates a multi-value
// variable into a regex matcher), ${ns} shop (the shop's
// bizmetrics namespace; the dashboard's default is app).
//
// There is no allow-list of queries that may stay empty: the test creates
// the two conditions the dashboard's conditional series need. It sets a
// memory limit (go_memory_limit_bytes exists only then) and gives the shop
// a rule file with an alert that always fires (so ALERTS{alertstate="firing"}
// has a series).
func TestGrafanaQueriesReturnData(t *testing.T) {
	promBin := lookBinary(t, "prometheus")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_METRICS_EXPORTER", "")
	setMemoryLimit(t)

	dash := readDashboard(t)
	checkDashboardVariables(t, dash)
	queries := dash.queries()
	if len(queries) == 0 {
		t.Fatal("the dashboard has no queries")
	}
	// Every selector filters on the template variables, so the dashboard
	// shows one job and instance at a time.
	// (A brace after $ is a variable's, ${ns}.)
	selector := regexp.MustCompile(`(?:^|[^$])(\{[^{}]*\})`)
	for _, q := range queries {
		sels := selector.FindAllStringSubmatch(q.expr, -1)
		if len(sels) == 0 {
			t.Errorf("%s: no label matchers in %s", q, q.expr)
		}
		for _, m := range sels {
			s := m[1]
			if !strings.Contains(s, `job=~"$job"`) || !strings.Contains(s, `instance=~"$instance"`) {
				t.Errorf("%s: selector %s does not filter on job=~\"$job\" and instance=~\"$instance\"", q, s)
			}
		}
	}

	client := &http.Client{Timeout: 5 * time.Second}
	shopAddr := startShopWith(t, "-addr", "127.0.0.1:0", "-collect", "1s", "-load", "-rate", "50",
		"-data", t.TempDir(), "-rules", alwaysFiringRules(t))
	prom := startPrometheus(t, promBin, shopAddr)
	promQuery := prom.url + "/api/v1/query"

	const job = "shop" // startPrometheus' job_name
	// As Grafana interpolates a multi-value variable into a regex matcher:
	// regex-quoted, then escaped for the PromQL string.
	instance := strings.ReplaceAll(regexp.QuoteMeta(shopAddr), `\`, `\\`)
	subst := strings.NewReplacer(
		"${datasource}", "", // not used in query text; replaced so that no $ is left unnoticed
		"$__rate_interval", "30s",
		"$__range", "1m",
		"${ns}", "shop", "$ns", "shop",
		"${job}", job, "$job", job,
		"${instance}", instance, "$instance", instance,
	)
	for i := range queries {
		queries[i].expr = subst.Replace(queries[i].expr)
		if strings.Contains(queries[i].expr, "$") {
			t.Errorf("%s: a variable is left after substitution: %s", queries[i], queries[i].expr)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// The variables' own queries: label_values(selector, label) is what
	// Grafana asks /api/v1/label/<label>/values?match[]=selector.
	labelValues := regexp.MustCompile(`^label_values\((.+),\s*(\w+)\)$`)
	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValues.FindStringSubmatch(v.Definition)
		if m == nil {
			t.Fatalf("variable %s: query %q is not label_values(selector, label)", v.Name, v.Definition)
		}
		sel, label := subst.Replace(m[1]), m[2]
		want := map[string]string{"job": job, "instance": shopAddr}[label]
		pollUntil(t, 30*time.Second, "variable "+v.Name+" to list "+want, []*sideProcess{prom}, func() (bool, string) {
			var r struct {
				Status string   `json:"status"`
				Data   []string `json:"data"`
			}
			u := prom.url + "/api/v1/label/" + label + "/values?" + url.Values{"match[]": {sel}}.Encode()
			if err := getJSON(t.Context(), client, u, &r); err != nil {
				return false, err.Error()
			}
			return slices.Contains(r.Data, want), fmt.Sprintf("%s: %v", u, r.Data)
		})
	}

	// A query with a syntax error or an unknown function never gets data:
	// report those at once rather than after the deadline.
	for _, q := range queries {
		if _, err := queryVector(t.Context(), client, promQuery, q.expr, ""); err != nil && strings.Contains(err.Error(), "bad_data") {
			t.Errorf("%s: %v", q, err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	results := make([]vector, len(queries))
	pollUntil(t, 60*time.Second, "every dashboard query to return data", []*sideProcess{prom}, func() (bool, string) {
		var missing []string
		for i, q := range queries {
			if hasValue(results[i]) {
				continue
			}
			v, err := queryVector(t.Context(), client, promQuery, q.expr, "")
			switch {
			case err != nil:
				missing = append(missing, fmt.Sprintf("%s: %v", q, err))
			case !hasValue(v):
				missing = append(missing, fmt.Sprintf("%s: %d series, none with a value other than NaN: %s", q, len(v), q.expr))
			default:
				results[i] = v
			}
		}
		return len(missing) == 0, fmt.Sprintf("%d of %d queries without data:\n\t%s", len(missing), len(queries), strings.Join(missing, "\n\t"))
	})
	for i, q := range queries {
		t.Logf("%s: %d series", q, len(results[i]))
	}
}

// hasValue reports whether v holds a series whose value is not NaN (what
// histogram_quantile and ratios give over a window without events, and
// Grafana draws as nothing).
func hasValue(v vector) bool {
	for _, f := range v {
		if !math.IsNaN(f) {
			return true
		}
	}
	return false
}

// setMemoryLimit sets a Go memory limit far above what the test uses, so
// that the runtime instrumentation reports go_memory_limit_bytes (only
// reported when a limit is set), and restores the previous limit when the
// test ends.
func setMemoryLimit(t *testing.T) {
	t.Helper()
	prev := debug.SetMemoryLimit(64 << 30)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
}

// alwaysFiringRules writes a rule file whose one alert fires at the first
// evaluation, for the shop's -rules, and returns its path: ALERTS and
// ALERTS_FOR_STATE are on /metrics only while an alert is pending or
// firing.
func alwaysFiringRules(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "always-firing.yml")
	const rules = `groups:
  - name: e2e-always
    interval: 1s
    rules:
      - alert: E2EAlwaysFiring
        expr: vector(1)
        labels:
          severity: none
        annotations:
          summary: "Fires at once, so that ALERTS has a series"
`
	if err := os.WriteFile(path, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// grafanaDashboard is the part of a Grafana dashboard model the tests read.
type grafanaDashboard struct {
	SchemaVersion int            `json:"schemaVersion"`
	Panels        []grafanaPanel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Query      any    `json:"query"` // a string, or an object for query variables
			Definition string `json:"definition"`
			Options    []struct {
				Value string `json:"value"`
			} `json:"options"`
			Current struct {
				Value any `json:"value"`
			} `json:"current"`
		} `json:"list"`
	} `json:"templating"`
}

type grafanaPanel struct {
	Title      string `json:"title"`
	Type       string `json:"type"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		RefID      string `json:"refId"`
		Expr       string `json:"expr"`
		Datasource *struct {
			UID string `json:"uid"`
		} `json:"datasource"`
	} `json:"targets"`
	Panels []grafanaPanel `json:"panels"` // of a collapsed row
}

// dashQuery is one target of one panel.
type dashQuery struct {
	panel, refID, expr string
}

func (q dashQuery) String() string { return fmt.Sprintf("panel %q, query %s", q.panel, q.refID) }

// queries returns every target's expression, rows' nested panels included.
func (d *grafanaDashboard) queries() []dashQuery {
	var qs []dashQuery
	var walk func([]grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				qs = append(qs, dashQuery{panel: p.Title, refID: tg.RefID, expr: tg.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return qs
}

func readDashboard(t *testing.T) *grafanaDashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return &d
}

// checkDashboardVariables checks the template variables the dashboard's
// queries rely on, and that every panel and target uses the ${datasource}
// variable rather than a fixed data source.
func checkDashboardVariables(t *testing.T, d *grafanaDashboard) {
	t.Helper()
	if d.SchemaVersion < 36 {
		t.Errorf("schemaVersion %d: want a current dashboard model (36 or later)", d.SchemaVersion)
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
		switch v.Name {
		case "datasource":
			if v.Query != "prometheus" {
				t.Errorf("variable datasource: query %v, want prometheus", v.Query)
			}
		case "ns":
			var opts []string
			for _, o := range v.Options {
				opts = append(opts, o.Value)
			}
			if !slices.Contains(opts, "app") || !slices.Contains(opts, "shop") || v.Current.Value != "app" {
				t.Errorf("variable ns: options %v, current %v; want app (the default namespace, current) and shop", opts, v.Current.Value)
			}
		}
	}
	for name, typ := range map[string]string{"datasource": "datasource", "job": "query", "instance": "query", "ns": "custom"} {
		if vars[name] != typ {
			t.Errorf("template variable %s: type %q, want %q", name, vars[name], typ)
		}
	}
	var walk func([]grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			if p.Type != "row" && (p.Datasource == nil || p.Datasource.UID != "${datasource}") {
				t.Errorf("panel %q: data source %+v, want uid ${datasource}", p.Title, p.Datasource)
			}
			for _, tg := range p.Targets {
				if tg.Datasource != nil && tg.Datasource.UID != "${datasource}" {
					t.Errorf("panel %q, query %s: data source %q, want ${datasource}", p.Title, tg.RefID, tg.Datasource.UID)
				}
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
}

// docMetric is one row of a table of docs/metrics.md.
type docMetric struct {
	family string // the metric family on /metrics (a histogram's without _bucket)
	typ    dto.MetricType
	labels []string // backticked names in the labels column; a trailing * is a prefix
	open   bool     // the labels column admits labels it does not name
	line   int
}

// TestMetricsDocMatchesEndpoint checks docs/metrics.md against /metrics:
// every metric documented there exists on the shop's /metrics with the
// documented type, every family on /metrics is documented, and every label
// a family carries is named in its row. The shop's business namespace,
// shop, stands for the document's app.
func TestMetricsDocMatchesEndpoint(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_METRICS_EXPORTER", "")
	setMemoryLimit(t)
	documented := parseMetricsDoc(t)

	// Documented metrics the shop cannot show, each for a reason outside
	// this test's control. Everything else documented must be on /metrics.
	absent := map[string]string{
		"http_server_request_body_size_bytes":   "only with instrument.WithBodySizes, which the shop does not use",
		"http_server_response_body_size_bytes":  "only with instrument.WithBodySizes, which the shop does not use",
		"vitals_exporter_exports_total":         "only with a push exporter (OTLP or console); the test unsets them",
		"vitals_alerting_notifications_total":   "only with a notifier; the shop routes no alerts",
		"shop_users":                            "only after SetUsers or WithUsersFunc; the shop counts registrations, not users",
		"shop_cache_operation_duration_seconds": "only with bizmetrics.WithCacheDuration, which the shop does not use",
		"shop_api_calls_total":                  "the shop calls no external API",
		"http_client_request_duration_seconds":  "the shop calls no external API through v.Transport",
		"http_client_active_requests":           "the shop calls no external API through v.Transport",
		"shop_timer_duration_seconds":           "the shop times nothing with bizmetrics.Time",
	}
	for name := range absent {
		if _, ok := documented[name]; !ok {
			t.Errorf("allow-list: %s is not documented; remove it from the list", name)
		}
	}

	client := &http.Client{Timeout: 5 * time.Second}
	base := "http://" + startShopWith(t, "-addr", "127.0.0.1:0", "-collect", "1s", "-load", "-rate", "50",
		"-data", t.TempDir(), "-rules", alwaysFiringRules(t))

	// Some series appear only after their first event (a slow request, a
	// failed query, a firing alert): poll until every expected family is
	// there.
	var families map[string]*dto.MetricFamily
	deadline := time.NewTimer(45 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		var missing []string
		var err error
		if families, err = scrapeFamilies(client, base+"/metrics"); err == nil {
			for name := range documented {
				if _, ok := families[name]; !ok && absent[name] == "" {
					missing = append(missing, name)
				}
			}
		} else {
			missing = []string{err.Error()}
		}
		if len(missing) == 0 {
			break
		}
		select {
		case <-tick.C:
			continue
		case <-deadline.C:
		case <-t.Context().Done():
		}
		slices.Sort(missing)
		t.Fatalf("documented in %s but not on /metrics after 45 s:\n\t%s", metricsDocFile, strings.Join(missing, "\n\t"))
	}

	names := slices.Sorted(func(yield func(string) bool) {
		for n := range families {
			if !yield(n) {
				return
			}
		}
	})
	for _, name := range names {
		f := families[name]
		d, ok := documented[name]
		if !ok {
			t.Errorf("%s (%v) is on /metrics but not documented in %s", name, f.GetType(), metricsDocFile)
			continue
		}
		if absent[name] != "" {
			t.Errorf("%s is on /metrics but in the allow-list of absent metrics (%s): remove it", name, absent[name])
		}
		if f.GetType() != d.typ {
			t.Errorf("%s: %v on /metrics, documented (line %d) as %v", name, f.GetType(), d.line, d.typ)
		}
		if d.open {
			continue
		}
		seen := map[string]bool{}
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				seen[lp.GetName()] = true
			}
		}
		for l := range seen {
			if l == "otel_scope_name" || l == "otel_scope_version" || l == model.BucketLabel {
				continue
			}
			if !slices.ContainsFunc(d.labels, func(doc string) bool {
				if p, ok := strings.CutSuffix(doc, "*"); ok {
					return strings.HasPrefix(l, p)
				}
				return doc == l
			}) {
				t.Errorf("%s: label %s on /metrics is not among the documented labels (line %d) %v", name, l, d.line, d.labels)
			}
		}
	}
	t.Logf("%d documented families, %d on /metrics, %d documented but conditional and absent", len(documented), len(families), len(absent))
}

// parseMetricsDoc reads the tables of docs/metrics.md: the backticked names
// of the first column (name_bucket, _sum, _count and name_* forms are one
// histogram family; app_ is the shop's shop_), the type column's first
// word, the labels column's backticked names. Rows naming a pattern
// (app_<name>) are left out.
func parseMetricsDoc(t *testing.T) map[string]docMetric {
	t.Helper()
	b, err := os.ReadFile(metricsDocFile)
	if err != nil {
		t.Fatal(err)
	}
	ticks := regexp.MustCompile("`([^`]+)`")
	typeWord := regexp.MustCompile(`^(histogram|counter|gauge)\b`)
	types := map[string]dto.MetricType{"histogram": dto.MetricType_HISTOGRAM, "counter": dto.MetricType_COUNTER, "gauge": dto.MetricType_GAUGE}
	out := map[string]docMetric{}
	var prev docMetric
	for i, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cols := strings.Split(line, "|")
		if len(cols) < 6 {
			t.Errorf("%s:%d: want at least four columns: %s", metricsDocFile, i+1, line)
			continue
		}
		first := ticks.FindAllStringSubmatch(cols[1], -1)
		name := first[0][1]
		if strings.Contains(name, "<") {
			continue
		}
		for _, p := range []string{"${ns}_", "app_"} {
			if rest, ok := strings.CutPrefix(name, p); ok {
				name = "shop_" + rest
			}
		}
		d := docMetric{line: i + 1}
		typ := typeWord.FindStringSubmatch(strings.TrimSpace(cols[3]))
		if typ == nil {
			t.Errorf("%s:%d: type column %q does not start with histogram, counter or gauge", metricsDocFile, i+1, cols[3])
			continue
		}
		d.typ = types[typ[1]]
		switch {
		case strings.HasSuffix(name, "_*"):
			d.family = strings.TrimSuffix(name, "_*")
		case strings.HasSuffix(name, "_bucket"):
			var rest []string
			for _, m := range first[1:] {
				rest = append(rest, m[1])
			}
			if !slices.Equal(rest, []string{"_sum", "_count"}) {
				t.Errorf("%s:%d: %s followed by %v, want _sum, _count", metricsDocFile, i+1, name, rest)
			}
			d.family = strings.TrimSuffix(name, "_bucket")
		default:
			d.family = name
		}
		if (d.typ == dto.MetricType_HISTOGRAM) != (d.family != name) {
			t.Errorf("%s:%d: %s is documented as %v: a histogram is written name_bucket, _sum, _count or name_*, nothing else is", metricsDocFile, i+1, name, d.typ)
		}
		labels := cols[4]
		d.open = strings.Contains(labels, "the alert's labels") || strings.Contains(labels, "attributes given")
		if strings.HasPrefix(strings.TrimSpace(labels), "as the ") {
			// "as the duration", "as the counter": the labels of the row
			// it refers to, which is the one above or shares its labels.
			d.labels, d.open = slices.Clone(prev.labels), prev.open
		}
		for _, m := range ticks.FindAllStringSubmatch(labels, -1) {
			d.labels = append(d.labels, m[1])
		}
		if _, dup := out[d.family]; dup {
			t.Errorf("%s:%d: %s documented twice", metricsDocFile, i+1, d.family)
		}
		out[d.family] = d
		prev = d
	}
	if len(out) == 0 {
		t.Fatalf("%s: no metrics found in its tables", metricsDocFile)
	}
	return out
}

// scrapeFamilies reads the text exposition at u.
func scrapeFamilies(client *http.Client, u string) (map[string]*dto.MetricFamily, error) {
	resp, err := client.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	return fams, nil
}

// TestGrafanaQueriesWithoutPrometheus checks the promise of "Grafana
// without Prometheus" (docs/deployment.md): with a Prometheus data source
// whose URL is the service's /monitoring/prometheus, every panel of
// docs/grafana/vitals.json shows data. It sends every targets[].expr, with
// the variables at their defaults (All: job and instance .*, which also
// match the in-process series, which have no target labels), to
// /monitoring/prometheus/api/v1/query_range over the last minute, as
// Grafana draws a panel, until each returns a series with a value other
// than NaN.
func TestGrafanaQueriesWithoutPrometheus(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_METRICS_EXPORTER", "")
	setMemoryLimit(t)
	queries := readDashboard(t).queries()
	shopAddr := startShopWith(t, "-addr", "127.0.0.1:0", "-collect", "1s", "-load", "-rate", "50",
		"-data", t.TempDir(), "-rules", alwaysFiringRules(t))
	subst := strings.NewReplacer(
		"${datasource}", "",
		"$__rate_interval", "30s",
		"$__range", "1m",
		"${ns}", "shop", "$ns", "shop",
		"${job}", ".*", "$job", ".*",
		"${instance}", ".*", "$instance", ".*",
	)
	a := newPromAPI(t, "http://"+shopAddr+"/monitoring/prometheus")
	done := make([]bool, len(queries))
	pollUntil(t, 60*time.Second, "every dashboard query to return data from /monitoring/prometheus", nil, func() (bool, string) {
		var missing []string
		now := time.Now()
		for i, q := range queries {
			if done[i] {
				continue
			}
			v, _, _, err := a.QueryRange(t.Context(), subst.Replace(q.expr), promv1.Range{Start: now.Add(-time.Minute), End: now, Step: 5 * time.Second})
			if err != nil {
				missing = append(missing, fmt.Sprintf("%s: %v", q, err))
				continue
			}
			m, _ := v.(model.Matrix)
			for _, s := range m {
				for _, p := range s.Values {
					done[i] = done[i] || !math.IsNaN(float64(p.Value))
				}
			}
			if !done[i] {
				missing = append(missing, fmt.Sprintf("%s: %d series, no value other than NaN", q, len(m)))
			}
		}
		return len(missing) == 0, fmt.Sprintf("%d of %d queries without data:\n\t%s", len(missing), len(queries), strings.Join(missing, "\n\t"))
	})
}
