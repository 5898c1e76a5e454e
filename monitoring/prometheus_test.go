package monitoring

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/exporter/memory"
)

// promReply is Prometheus' envelope with the data left raw.
type promReply struct {
	Status    string          `json:"status"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Data      json.RawMessage `json:"data"`
	Warnings  []string        `json:"warnings"`
}

// promCall sends a request to the Prometheus API under the handler and
// decodes the envelope, failing the test if the answer is not JSON.
func promCall(t *testing.T, h http.Handler, method, path string, form url.Values, token string) (int, promReply) {
	t.Helper()
	var req *http.Request
	if method == http.MethodPost {
		req = httptest.NewRequest(method, PrometheusAPIPath+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, PrometheusAPIPath+path+"?"+form.Encode(), nil)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var r promReply
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		t.Fatalf("%s %s: not JSON: %v\n%s", method, path, err, rec.Body)
	}
	return rec.Code, r
}

// promData decodes the data of a successful reply into v.
func promData(t *testing.T, what string, code int, r promReply, v any) {
	t.Helper()
	if code != http.StatusOK || r.Status != "success" {
		t.Fatalf("%s: %d %+v", what, code, r)
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("%s: %v\n%s", what, err, r.Data)
	}
}

// promEnv is a handler over a reader holding two counters and a
// histogram, collected twice.
func promEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	v := newEnv(t, append([]envOption{withAlertRules(alerting.Group{Name: "g", Interval: time.Minute, Rules: []alerting.Rule{
		{Record: "job:orders:sum", Expr: "sum(orders_total)"},
		{Alert: "Always", Expr: "vector(1)", For: time.Hour, Labels: map[string]string{"severity": "page"}, Annotations: map[string]string{"summary": "always"}},
	}})}, opts...)...)
	m := v.Meter("shop")
	c, _ := m.Int64Counter("orders", metric.WithDescription("Orders placed."))
	r, _ := m.Int64Counter("refunds", metric.WithDescription("Refunds."))
	h, _ := m.Float64Histogram("latency", metric.WithUnit("s"), metric.WithDescription("Latency."))
	for _, cur := range []string{"EUR", "USD", "GBP"} {
		c.Add(t.Context(), 1, metric.WithAttributes(attribute.String("currency", cur)))
	}
	r.Add(t.Context(), 1, metric.WithAttributes(attribute.String("reason", "damaged")))
	h.Record(t.Context(), 0.2)
	if err := v.Memory().Collect(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := v.Alerts().Eval(t.Context(), v.Memory().Now()); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestPrometheusAPISeriesAndLabels(t *testing.T) {
	v := promEnv(t)
	h := v.Handler()
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		var series []map[string]string
		code, r := promCall(t, h, method, "/api/v1/series", url.Values{"match[]": {`orders_total{currency!="GBP"}`, "refunds_total"}}, "")
		promData(t, method+" series", code, r, &series)
		var got []string
		for _, s := range series {
			got = append(got, s["__name__"]+"/"+s["currency"]+s["reason"])
		}
		slices.Sort(got)
		if strings.Join(got, " ") != "orders_total/EUR orders_total/USD refunds_total/damaged" {
			t.Errorf("%s series = %v", method, got)
		}

		var names []string
		code, r = promCall(t, h, method, "/api/v1/labels", url.Values{"match[]": {"orders_total"}}, "")
		promData(t, method+" labels", code, r, &names)
		if !slices.Contains(names, "currency") || slices.Contains(names, "reason") || !slices.IsSorted(names) {
			t.Errorf("%s labels with match[] = %v", method, names)
		}
	}
	var values []string
	code, r := promCall(t, h, http.MethodGet, "/api/v1/label/currency/values", nil, "")
	promData(t, "label values", code, r, &values)
	if strings.Join(values, ",") != "EUR,GBP,USD" {
		t.Errorf("currency values = %v", values)
	}
	code, r = promCall(t, h, http.MethodGet, "/api/v1/label/currency/values", url.Values{"limit": {"2"}}, "")
	promData(t, "label values with limit", code, r, &values)
	if strings.Join(values, ",") != "EUR,GBP" || len(r.Warnings) != 1 || r.Warnings[0] != "results truncated due to limit" {
		t.Errorf("currency values with limit 2 = %v, warnings %v", values, r.Warnings)
	}
	var all []string
	code, r = promCall(t, h, http.MethodGet, "/api/v1/labels", nil, "")
	promData(t, "labels", code, r, &all)
	for _, want := range []string{"__name__", "currency", "reason", "le", "otel_scope_name"} {
		if !slices.Contains(all, want) {
			t.Errorf("labels = %v, missing %s", all, want)
		}
	}
	// A time range before every sample has no series.
	var none []map[string]string
	code, r = promCall(t, h, http.MethodGet, "/api/v1/series", url.Values{"match[]": {"orders_total"}, "end": {"1000"}}, "")
	promData(t, "series before the samples", code, r, &none)
	if len(none) != 0 {
		t.Errorf("series before every sample: %v", none)
	}

	for _, tc := range []struct {
		path string
		form url.Values
		want string
	}{
		{"/api/v1/series", nil, "no match[] parameter provided"},
		{"/api/v1/series", url.Values{"match[]": {`{a=""}`}}, "match[] must contain at least one non-empty matcher"},
		{"/api/v1/series", url.Values{"match[]": {`orders_total{`}}, "invalid parameter 'match[]'"},
		{"/api/v1/labels", url.Values{"limit": {"-1"}}, "limit must be non-negative"},
		{"/api/v1/labels", url.Values{"start": {"yesterday"}}, "invalid parameter 'start'"},
		{"/api/v1/label/0bad%ff/values", nil, "invalid label name"},
	} {
		code, r := promCall(t, h, http.MethodGet, tc.path, tc.form, "")
		if code != http.StatusBadRequest || r.ErrorType != "bad_data" || !strings.Contains(r.Error, tc.want) {
			t.Errorf("%s %v: %d %+v, want 400 bad_data with %q", tc.path, tc.form, code, r, tc.want)
		}
	}
}

func TestPrometheusAPIQueryMetadataAndStatus(t *testing.T) {
	v := promEnv(t)
	h := v.Handler()
	var q struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Value [2]any `json:"value"`
		} `json:"result"`
	}
	code, r := promCall(t, h, http.MethodPost, "/api/v1/query", url.Values{"query": {"sum(orders_total)"}}, "")
	promData(t, "query", code, r, &q)
	if q.ResultType != "vector" || len(q.Result) != 1 || q.Result[0].Value[1] != "3" {
		t.Errorf("query = %+v", q)
	}
	code, r = promCall(t, h, http.MethodGet, "/api/v1/query", url.Values{"query": {"sum("}}, "")
	if code != http.StatusBadRequest || r.ErrorType != "bad_data" {
		t.Errorf("bad query: %d %+v", code, r)
	}

	var md map[string][]memory.Metadata
	code, r = promCall(t, h, http.MethodGet, "/api/v1/metadata", nil, "")
	promData(t, "metadata", code, r, &md)
	for name, want := range map[string]memory.Metadata{
		"orders":          {Type: "counter", Help: "Orders placed."},
		"latency_seconds": {Type: "histogram", Help: "Latency."},
	} {
		if got := md[name]; len(got) != 1 || got[0] != want {
			t.Errorf("metadata of %s = %+v, want %+v", name, got, want)
		}
	}
	md = nil
	code, r = promCall(t, h, http.MethodGet, "/api/v1/metadata", url.Values{"metric": {"refunds"}}, "")
	promData(t, "metadata of one metric", code, r, &md)
	if len(md) != 1 || md["refunds"][0].Help != "Refunds." {
		t.Errorf("metadata?metric=refunds = %+v", md)
	}
	md = nil
	code, r = promCall(t, h, http.MethodGet, "/api/v1/metadata", url.Values{"limit": {"1"}}, "")
	promData(t, "metadata with limit", code, r, &md)
	if len(md) != 1 {
		t.Errorf("metadata?limit=1 has %d families", len(md))
	}

	var bi map[string]string
	code, r = promCall(t, h, http.MethodGet, "/api/v1/status/buildinfo", nil, "")
	promData(t, "buildinfo", code, r, &bi)
	if !regexp.MustCompile(`^3\.\d+\.\d+$`).MatchString(bi["version"]) || bi["goVersion"] == "" {
		t.Errorf("buildinfo = %v, want the engine's Prometheus 3 version", bi)
	}
	var ri map[string]any
	code, r = promCall(t, h, http.MethodGet, "/api/v1/status/runtimeinfo", nil, "")
	promData(t, "runtimeinfo", code, r, &ri)
	if ri["storageRetention"] != "6h" || ri["CWD"] != "" || ri["goroutineCount"].(float64) < 1 {
		t.Errorf("runtimeinfo = %v", ri)
	}

	var formatted string
	code, r = promCall(t, h, http.MethodGet, "/api/v1/format_query", url.Values{"query": {"sum  by(a)(rate(x[5m]))"}}, "")
	promData(t, "format_query", code, r, &formatted)
	if formatted != "sum by (a) (rate(x[5m]))" {
		t.Errorf("format_query = %q", formatted)
	}
	var ex []any
	code, r = promCall(t, h, http.MethodGet, "/api/v1/query_exemplars", url.Values{"query": {"orders_total"}}, "")
	promData(t, "query_exemplars", code, r, &ex)
	if ex == nil || len(ex) != 0 {
		t.Errorf("query_exemplars = %v, want []", ex)
	}
}

func TestPrometheusAPIRulesAndAlerts(t *testing.T) {
	v := promEnv(t)
	h := v.Handler()
	var rules struct {
		Groups []struct {
			Name     string           `json:"name"`
			File     string           `json:"file"`
			Interval float64          `json:"interval"`
			Rules    []map[string]any `json:"rules"`
		} `json:"groups"`
	}
	code, r := promCall(t, h, http.MethodGet, "/api/v1/rules", nil, "")
	promData(t, "rules", code, r, &rules)
	if len(rules.Groups) != 1 || rules.Groups[0].Name != "g" || rules.Groups[0].Interval != 60 || len(rules.Groups[0].Rules) != 2 {
		t.Fatalf("rules = %+v", rules)
	}
	rec, alert := rules.Groups[0].Rules[0], rules.Groups[0].Rules[1]
	if rec["type"] != "recording" || rec["name"] != "job:orders:sum" || rec["health"] != "ok" {
		t.Errorf("recording rule = %v", rec)
	}
	alerts, _ := alert["alerts"].([]any)
	if alert["type"] != "alerting" || alert["state"] != "pending" || alert["duration"] != 3600.0 || alert["health"] != "ok" ||
		alert["labels"].(map[string]any)["severity"] != "page" || len(alerts) != 1 {
		t.Errorf("alerting rule = %v", alert)
	}
	code, r = promCall(t, h, http.MethodGet, "/api/v1/rules", url.Values{"type": {"record"}}, "")
	promData(t, "rules?type=record", code, r, &rules)
	if len(rules.Groups) != 1 || len(rules.Groups[0].Rules) != 1 || rules.Groups[0].Rules[0]["type"] != "recording" {
		t.Errorf("rules?type=record = %+v", rules)
	}
	code, r = promCall(t, h, http.MethodGet, "/api/v1/rules", url.Values{"rule_name[]": {"nope"}}, "")
	promData(t, "rules?rule_name[]=nope", code, r, &rules)
	if len(rules.Groups) != 0 {
		t.Errorf("rules of an unknown name = %+v", rules)
	}
	if code, r = promCall(t, h, http.MethodGet, "/api/v1/rules", url.Values{"type": {"x"}}, ""); code != http.StatusBadRequest || r.ErrorType != "bad_data" {
		t.Errorf("rules?type=x: %d %+v", code, r)
	}

	var al struct {
		Alerts []struct {
			Labels   map[string]string `json:"labels"`
			State    string            `json:"state"`
			ActiveAt time.Time         `json:"activeAt"`
			Value    string            `json:"value"`
		} `json:"alerts"`
	}
	code, r = promCall(t, h, http.MethodGet, "/api/v1/alerts", nil, "")
	promData(t, "alerts", code, r, &al)
	if len(al.Alerts) != 1 || al.Alerts[0].Labels["alertname"] != "Always" || al.Alerts[0].State != "pending" ||
		al.Alerts[0].ActiveAt.IsZero() || time.Since(al.Alerts[0].ActiveAt) > time.Minute || al.Alerts[0].Value != "1e+00" {
		t.Errorf("alerts = %+v", al)
	}
}

func TestPrometheusAPIAccessAndUnknownPaths(t *testing.T) {
	v := promEnv(t, withAdminToken("tok"), withProtectedReads())
	h := v.Handler()
	for _, path := range []string{"/api/v1/query?query=1", "/api/v1/series?match[]=up", "/api/v1/labels", "/api/v1/label/a/values",
		"/api/v1/metadata", "/api/v1/status/buildinfo", "/api/v1/rules", "/api/v1/alerts"} {
		req := httptest.NewRequest(http.MethodGet, PrometheusAPIPath+path, nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized && rec.Code != http.StatusForbidden {
			t.Errorf("GET %s without the token: %d, want refused", path, rec.Code)
		}
		req.Header.Set("Authorization", "Bearer tok")
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s with the token: %d %s", path, rec.Code, rec.Body)
		}
	}
	code, r := promCall(t, h, http.MethodGet, "/api/v1/targets", nil, "tok")
	if code != http.StatusNotFound || r.Status != "error" || r.ErrorType != "not_found" {
		t.Errorf("unknown endpoint: %d %+v", code, r)
	}
	code, r = promCall(t, h, http.MethodDelete, "/api/v1/query", nil, "tok")
	if code != http.StatusMethodNotAllowed || r.Status != "error" {
		t.Errorf("DELETE query: %d %+v", code, r)
	}
}
