package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// TestPrometheusAPIClients points clients nobody here wrote at the shop's
// Prometheus API v1 (/monitoring/prometheus) and at a real Prometheus that
// scrapes the same shop: client_golang's api/prometheus/v1 calls every
// endpoint on both, and every answer decodes on both; the series, label
// names and values, metadata and query results agree (the label sets once
// Prometheus' target labels job and instance are set aside). Debian's
// promtool runs query instant, range, series and labels against both with
// the same results.
func TestPrometheusAPIClients(t *testing.T) {
	promBin := lookBinary(t, "prometheus")
	promtool := lookBinary(t, "promtool")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_METRICS_EXPORTER", "")
	shopAddr := startShopWith(t, "-collect", "1s")
	ours := "http://" + shopAddr + "/monitoring/prometheus"
	prom := startPrometheus(t, promBin, shopAddr)
	apis := map[string]promv1.API{"vitals": newPromAPI(t, ours), "prometheus": newPromAPI(t, prom.url)}
	ctx := t.Context()

	pollUntil(t, 30*time.Second, "Prometheus to scrape the shop", []*sideProcess{prom}, func() (bool, string) {
		v, _, _, err := apis["prometheus"].Query(ctx, `up{job="shop"}`, time.Now())
		vec, _ := v.(model.Vector)
		return err == nil && len(vec) == 1 && vec[0].Value == 1, fmt.Sprint(v, err)
	})
	client := &http.Client{Timeout: 5 * time.Second}
	accepted, _, _ := driveOrders(t, client, "http://"+shopAddr, 5*time.Second)
	want := float64(accepted)
	pollUntil(t, 20*time.Second, "both sides to hold every accepted order", []*sideProcess{prom}, func() (bool, string) {
		status := ""
		ok := true
		for name, a := range apis {
			v, _, _, err := a.Query(ctx, "sum(shop_orders_placed_total)", time.Now())
			status += fmt.Sprintf("%s: %v (%v); ", name, v, err)
			vec, _ := v.(model.Vector)
			ok = ok && err == nil && len(vec) == 1 && float64(vec[0].Value) == want
		}
		return ok, status
	})
	// Both sides hold the totals for a while before now: the range below
	// sees them at every step.
	pollUntil(t, 20*time.Second, "three seconds of stable totals on both sides", []*sideProcess{prom}, func() (bool, string) {
		status := ""
		ok := true
		for name, a := range apis {
			v, _, _, err := a.Query(ctx, "min_over_time(sum(shop_orders_placed_total)[3s:1s])", time.Now())
			status += fmt.Sprintf("%s: %v (%v); ", name, v, err)
			vec, _ := v.(model.Vector)
			ok = ok && err == nil && len(vec) == 1 && float64(vec[0].Value) == want
		}
		return ok, status
	})
	at := time.Now().Truncate(time.Second)
	start, end := at.Add(-time.Minute), at

	// Every endpoint answers on both sides and decodes.
	type answers struct {
		query     model.Value
		rng       model.Value
		series    []model.LabelSet
		names     model.LabelNames
		values    model.LabelValues
		metadata  map[string][]promv1.Metadata
		buildinfo promv1.BuildinfoResult
	}
	got := map[string]answers{}
	for name, a := range apis {
		var an answers
		var err error
		check := func(what string, err error) {
			if err != nil {
				t.Errorf("%s: %s: %v", name, what, err)
			}
		}
		an.query, _, _, err = a.Query(ctx, "sum(shop_orders_placed_total)", at)
		check("query", err)
		an.rng, _, _, err = a.QueryRange(ctx, "sum(shop_orders_placed_total)", promv1.Range{Start: at.Add(-2 * time.Second), End: at, Step: time.Second})
		check("query_range", err)
		an.series, _, _, err = a.Series(ctx, []string{"shop_orders_placed_total"}, start, end)
		check("series", err)
		an.names, _, _, err = a.LabelNames(ctx, []string{`{__name__=~"shop_orders_placed_total|http_server_request_duration_seconds_count"}`}, start, end)
		check("labels", err)
		an.values, _, _, err = a.LabelValues(ctx, "http_route", []string{"http_server_request_duration_seconds_count"}, start, end)
		check("label values", err)
		an.metadata, err = a.Metadata(ctx, "", "")
		check("metadata", err)
		an.buildinfo, err = a.Buildinfo(ctx)
		check("buildinfo", err)
		_, err = a.Runtimeinfo(ctx)
		check("runtimeinfo", err)
		_, err = a.Rules(ctx, nil)
		check("rules", err)
		_, err = a.Alerts(ctx)
		check("alerts", err)
		_, err = a.QueryExemplars(ctx, "shop_orders_placed_total", start, end)
		check("query_exemplars", err)
		got[name] = an
	}
	v, p := got["vitals"], got["prometheus"]
	if fmt.Sprint(v.query) != fmt.Sprint(p.query) {
		t.Errorf("query: vitals %v, Prometheus %v", v.query, p.query)
	}
	if fmt.Sprint(v.rng) != fmt.Sprint(p.rng) {
		t.Errorf("query_range: vitals %v, Prometheus %v", v.rng, p.rng)
	}
	if a, b := labelSetKeys(v.series), labelSetKeys(p.series); !slices.Equal(a, b) || len(a) == 0 {
		t.Errorf("series:\nvitals     %v\nPrometheus %v", a, b)
	}
	pnames := slices.DeleteFunc(slices.Clone(p.names), func(n model.LabelName) bool { return n == "job" || n == "instance" })
	if !reflect.DeepEqual(v.names, pnames) {
		t.Errorf("labels: vitals %v, Prometheus %v", v.names, pnames)
	}
	if !reflect.DeepEqual(v.values, p.values) || len(v.values) == 0 {
		t.Errorf("label values of http_route: vitals %v, Prometheus %v", v.values, p.values)
	}
	for _, family := range []string{"shop_orders_placed", "http_server_request_duration_seconds", "shop_order_amount"} {
		vm, pm := v.metadata[family], p.metadata[family]
		if len(vm) != 1 || len(pm) == 0 || vm[0].Type != pm[0].Type || vm[0].Help != pm[0].Help || vm[0].Unit != pm[0].Unit {
			t.Errorf("metadata of %s: vitals %+v, Prometheus %+v", family, vm, pm)
		}
	}
	if !strings.HasPrefix(v.buildinfo.Version, "3.") || v.buildinfo.GoVersion == "" {
		t.Errorf("buildinfo: %+v, want the engine's Prometheus 3 version", v.buildinfo)
	}

	// promtool gets the same answers from both.
	ts := strconv.FormatInt(at.Unix(), 10)
	for _, args := range [][]string{
		{"query", "instant", "-o", "json", "--time", ts, "{server}", "sum(shop_orders_placed_total)"},
		{"query", "range", "-o", "json", "--start", strconv.FormatInt(at.Add(-2*time.Second).Unix(), 10), "--end", ts, "--step", "1s", "{server}", "sum by (http_route) (http_server_request_duration_seconds_count)"},
		{"query", "series", "-o", "json", "--match", "shop_orders_placed_total", "--start", strconv.FormatInt(start.Unix(), 10), "--end", ts, "{server}"},
		{"query", "labels", "-o", "json", "--match", "http_server_request_duration_seconds_count", "--start", strconv.FormatInt(start.Unix(), 10), "--end", ts, "{server}", "http_route"},
	} {
		out := map[string]string{}
		for name, server := range map[string]string{"vitals": ours, "prometheus": prom.url} {
			full := slices.Clone(args)
			full[slices.Index(full, "{server}")] = server
			b, err := exec.CommandContext(ctx, promtool, full...).CombinedOutput()
			if err != nil {
				t.Fatalf("promtool %s against %s: %v\n%s", strings.Join(full, " "), name, err, b)
			}
			out[name] = normalizePromtool(t, b)
		}
		if out["vitals"] != out["prometheus"] {
			t.Errorf("promtool %s:\nvitals     %s\nPrometheus %s", strings.Join(args[:2], " "), out["vitals"], out["prometheus"])
		}
	}
}

// newPromAPI returns client_golang's Prometheus API client for base.
func newPromAPI(t *testing.T, base string) promv1.API {
	t.Helper()
	c, err := api.NewClient(api.Config{Address: base})
	if err != nil {
		t.Fatal(err)
	}
	return promv1.NewAPI(c)
}

// labelSetKeys renders label sets without Prometheus' target labels,
// sorted.
func labelSetKeys(sets []model.LabelSet) []string {
	out := make([]string, 0, len(sets))
	for _, s := range sets {
		s = s.Clone()
		delete(s, "job")
		delete(s, "instance")
		out = append(out, s.String())
	}
	slices.Sort(out)
	return out
}

// normalizePromtool re-encodes promtool's JSON output without the target
// labels job and instance, sorted, so that the two sides compare.
func normalizePromtool(t *testing.T, b []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("promtool output is not JSON: %v\n%s", err, b)
	}
	var strip func(any) any
	strip = func(x any) any {
		switch x := x.(type) {
		case map[string]any:
			delete(x, "job")
			delete(x, "instance")
			for k, e := range x {
				x[k] = strip(e)
			}
			return x
		case []any:
			for i, e := range x {
				x[i] = strip(e)
			}
			slices.SortFunc(x, func(a, b any) int {
				ja, _ := json.Marshal(a)
				jb, _ := json.Marshal(b)
				return strings.Compare(string(ja), string(jb))
			})
			return x
		}
		return x
	}
	out, _ := json.Marshal(strip(v))
	return string(out)
}

// shapeRules are the rules of TestPrometheusAPIShapes, evaluated by the
// shop and by Prometheus alike: a recording rule, a firing and a pending
// alert.
const shapeRules = `groups:
  - name: shapes
    interval: 1s
    rules:
      - record: shop:orders:sum
        expr: sum(shop_orders_placed_total) or vector(0)
      - alert: ShapeFiring
        expr: vector(1)
        labels:
          severity: ticket
        annotations:
          summary: always
      - alert: ShapePending
        expr: vector(1)
        for: 1h
`

// TestPrometheusAPIShapes compares, endpoint by endpoint, the JSON shape of
// the shop's Prometheus API with a real Prometheus 2.42's over the same
// shop and the same rules: every field Prometheus answers with (its path,
// and whether it is an object, array, string, number or bool) is in the
// shop's answer too, errors included. Objects keyed by label or metric
// names compare as maps of strings.
func TestPrometheusAPIShapes(t *testing.T) {
	promBin := lookBinary(t, "prometheus")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_METRICS_EXPORTER", "")
	rules := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(rules, []byte(shapeRules), 0o644); err != nil {
		t.Fatal(err)
	}
	shopAddr := startShopWith(t, "-collect", "1s", "-rules", rules, "-default-rules=false")
	prom := startPrometheus(t, promBin, shopAddr, rules)
	bases := map[string]string{"vitals": "http://" + shopAddr + "/monitoring/prometheus", "prometheus": prom.url}
	client := &http.Client{Timeout: 5 * time.Second}
	driveOrders(t, client, "http://"+shopAddr, 2*time.Second)
	// Both sides have evaluated the rules and hold the orders.
	pollUntil(t, 30*time.Second, "both sides to evaluate the rules", []*sideProcess{prom}, func() (bool, string) {
		status := ""
		ok := true
		for name, base := range bases {
			var r struct {
				Data struct {
					Alerts []struct {
						State string `json:"state"`
					} `json:"alerts"`
				} `json:"data"`
			}
			err := getJSON(t.Context(), client, base+"/api/v1/alerts", &r)
			status += fmt.Sprintf("%s: %+v (%v); ", name, r.Data.Alerts, err)
			ok = ok && err == nil && len(r.Data.Alerts) == 2
			var md struct {
				Data map[string]any `json:"data"`
			}
			err = getJSON(t.Context(), client, base+"/api/v1/metadata", &md)
			ok = ok && err == nil && md.Data["shop_orders_placed"] != nil
			v, err := queryVector(t.Context(), client, base+"/api/v1/query", "sum(shop_orders_placed_total)", "")
			status += fmt.Sprintf("orders %v (%v); ", v, err)
			ok = ok && err == nil && len(v) == 1
		}
		return ok, status
	})
	now := time.Now().Unix()
	q := func(v url.Values) string { return v.Encode() }
	for _, ep := range []struct {
		path    string
		dynamic []string // paths of objects keyed by names
		status  int
	}{
		{"/api/v1/query?" + q(url.Values{"query": {"sum by (currency) (shop_orders_placed_total)"}}), []string{".data.result[].metric"}, 200},
		{"/api/v1/query?" + q(url.Values{"query": {"scalar(vector(1))"}}), nil, 200},
		{"/api/v1/query_range?" + q(url.Values{"query": {"shop_orders_placed_total"}, "start": {fmt.Sprint(now - 5)}, "end": {fmt.Sprint(now)}, "step": {"1"}}), []string{".data.result[].metric"}, 200},
		{"/api/v1/query?" + q(url.Values{"query": {"sum("}}), nil, 400},
		{"/api/v1/query?" + q(url.Values{"query": {"1"}, "time": {"yesterday"}}), nil, 400},
		{"/api/v1/series?" + q(url.Values{"match[]": {"shop_orders_placed_total"}}), []string{".data[]"}, 200},
		{"/api/v1/series", nil, 400},
		{"/api/v1/labels", nil, 200},
		{"/api/v1/label/currency/values", nil, 200},
		{"/api/v1/metadata", []string{".data"}, 200},
		{"/api/v1/status/buildinfo", nil, 200},
		{"/api/v1/status/runtimeinfo", nil, 200},
		{"/api/v1/rules", nil, 200},
		{"/api/v1/rules?type=alert", nil, 200},
		{"/api/v1/alerts", nil, 200},
	} {
		shapes := map[string]map[string]string{}
		for name, base := range bases {
			resp, err := client.Get(base + ep.path)
			if err != nil {
				t.Fatal(err)
			}
			var v any
			err = json.NewDecoder(resp.Body).Decode(&v)
			resp.Body.Close()
			if err != nil || resp.StatusCode != ep.status {
				t.Errorf("%s from %s: %d, %v; want %d and JSON", ep.path, name, resp.StatusCode, err, ep.status)
				continue
			}
			shapes[name] = map[string]string{}
			jsonShape(shapes[name], "", v, ep.dynamic)
		}
		if len(shapes["prometheus"]) < 3 {
			t.Errorf("%s: Prometheus' answer has %d fields: %v", ep.path, len(shapes["prometheus"]), shapes["prometheus"])
		}
		t.Logf("%s: %d fields compared", ep.path, len(shapes["prometheus"]))
		var missing []string
		for path, typ := range shapes["prometheus"] {
			if got, ok := shapes["vitals"][path]; !ok || got != typ {
				missing = append(missing, fmt.Sprintf("%s (%s; vitals: %q)", path, typ, got))
			}
		}
		slices.Sort(missing)
		if len(missing) > 0 {
			t.Errorf("%s: fields of Prometheus' answer missing or of another type in the shop's:\n\t%s", ep.path, strings.Join(missing, "\n\t"))
		}
	}
}

// jsonShape records the path and JSON type of every value of v under path
// into out; arrays merge their elements under path[]. Objects at a path
// in dynamic, and every labels and annotations object, are maps keyed by
// names: their values are recorded under path.{name}.
func jsonShape(out map[string]string, path string, v any, dynamic []string) {
	switch x := v.(type) {
	case map[string]any:
		out[path] = "object"
		keyed := slices.Contains(dynamic, path) || strings.HasSuffix(path, ".labels") || strings.HasSuffix(path, ".annotations")
		for k, e := range x {
			if keyed {
				k = "{name}"
			}
			jsonShape(out, path+"."+k, e, dynamic)
		}
	case []any:
		out[path] = "array"
		for _, e := range x {
			jsonShape(out, path+"[]", e, dynamic)
		}
	case string:
		out[path] = "string"
	case float64:
		out[path] = "number"
	case bool:
		out[path] = "bool"
	case nil:
		out[path] = "null"
	}
}
