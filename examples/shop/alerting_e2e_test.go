package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/alerting/notify"
	"github.com/vitalsgo/vitals/internal/logtest"
)

// The alerts of testdata/e2e-alerts.yml.
const (
	alertBurst         = "ShopErrorBurst"           // the fault's alert, on the raw series
	alertBurstRecorded = "ShopErrorBurstRecorded"   // the same, on the recorded series
	alertImpossible    = "ShopImpossibleErrorRatio" // must never be pending or firing
	recordedRatio      = "shop:http_orders_5xx:ratio_rate15s"
)

// TestAlertsAgreeWithPrometheus checks the promise of the alerting
// package: a Prometheus rule file evaluated in-process by Vitals fires the
// same alerts, with the same labels, as a real Prometheus (Debian's
// package, 2.42) evaluating the same file over the same service; and the
// alerts Vitals hands to a real Alertmanager (Debian's package, 0.25) are
// accepted and listed by it unchanged.
//
// The shop runs in-process with testdata/e2e-alerts.yml, collecting every
// second; Prometheus scrapes it every second and evaluates the same file.
// Orders are placed every 50 ms throughout. Once both sides hold 15 s of
// successful orders (the rules' window), POST /admin/fault makes every
// order fail with 503 for 40 s, and the test waits until both sides fire,
// each on its own clock (each applies the rules' for: 5s to its own
// evaluations). It then compares the firing alerts, their labels and
// annotations, when each became active, and the recorded series.
//
// The shop does not yet route alerts to Alertmanager by flag: there is no
// such flag. The Alertmanager half therefore takes the alerts Vitals
// reports firing on /monitoring/api/alerts and sends them with the
// package's notify.Alertmanager notifier, as a route to it would. The
// Prometheus the test runs has no alertmanagers configured on purpose:
// its alerts have the same labels as Vitals', and Alertmanager would
// merge the two, so it could not tell whose it lists.
func TestAlertsAgreeWithPrometheus(t *testing.T) {
	promBin := lookBinary(t, "prometheus")
	amBin := lookBinary(t, "prometheus-alertmanager")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_METRICS_EXPORTER", "")
	client := &http.Client{Timeout: 5 * time.Second}
	began := time.Now()

	rulePath, err := filepath.Abs(filepath.Join("testdata", "e2e-alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	// The rule templates, to compare rendered annotations.
	ruleGroups, err := alerting.LoadFiles(rulePath)
	if err != nil {
		t.Fatalf("the rule file does not load in-process: %v", err)
	}
	templates := map[string]map[string]string{} // alertname -> annotation -> template
	for _, g := range ruleGroups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				templates[r.Alert] = r.Annotations
			}
		}
	}
	if promtool, err := exec.LookPath("promtool"); err == nil {
		if out, err := exec.Command(promtool, "check", "rules", rulePath).CombinedOutput(); err != nil {
			t.Fatalf("promtool check rules %s: %v\n%s", rulePath, err, out)
		}
	}

	token := rand.Text()
	// Only the file's rules, so that both sides evaluate the same ones.
	shopAddr := startShopWith(t, "-addr", "127.0.0.1:0", "-collect", "1s", "-rules", rulePath, "-default-rules=false", "-admin-token", token)
	shopURL := "http://" + shopAddr
	prom := startPrometheus(t, promBin, shopAddr, rulePath)
	am := startAlertmanager(t, amBin)
	procs := []*sideProcess{prom, am}

	// Make sure the shop evaluates our rules, and Prometheus too. Prometheus must also scrape the
	// shop before the first order, so that both sides see the traffic from
	// its start.
	pollUntil(t, 30*time.Second, "both sides to evaluate the rule file, and Prometheus to scrape the shop", procs, func() (bool, string) {
		p, perr := promRules(t.Context(), client, prom.url)
		o, oerr := vitalsRules(t.Context(), client, shopURL)
		up, uerr := queryVector(t.Context(), client, prom.url+"/api/v1/query", `up{job="shop"}`, "")
		status := fmt.Sprintf("rules in Prometheus: %v (%v); in Vitals: %v (%v); up: %v (%v)", p, perr, o, oerr, up, uerr)
		return perr == nil && oerr == nil && len(p) == 4 && slices.Equal(p, o) && anyValue(up) == 1, status
	})
	pollUntil(t, 10*time.Second, "Alertmanager to be ready", procs, func() (bool, string) {
		code, err := getStatus(t.Context(), client, am.url+"/-/ready")
		return code == http.StatusOK, fmt.Sprintf("GET /-/ready: %d %v", code, err)
	})

	// Successful orders fill the rules' 15s windows on both sides before
	// the fault, as in production: traffic runs for the window plus two
	// sampling intervals (each side's first sample of a series comes up to
	// one interval after its first order). Without that, a side whose
	// window held less history of successes would see the ratio cross
	// 0.5 seconds earlier than the other (seen: 4.5 s apart when
	// Prometheus began scraping 5 s after the first order).
	trafficStart := time.Now()
	load := startOrders(t, client, shopURL, 50*time.Millisecond)
	const ordersRate = `sum(rate(http_server_request_duration_seconds_count{http_route="/orders"}[15s]))`
	const history = 15*time.Second + 2*time.Second
	pollUntil(t, history+15*time.Second, "both sides to hold 15s of orders", procs, func() (bool, string) {
		p, perr := queryVector(t.Context(), client, prom.url+"/api/v1/query", ordersRate, "")
		o, oerr := queryVector(t.Context(), client, shopURL+"/monitoring/api/query", ordersRate, "")
		status := fmt.Sprintf("after %v: Prometheus: %v (%v); Vitals: %v (%v)", time.Since(trafficStart).Round(time.Millisecond), p, perr, o, oerr)
		return time.Since(trafficStart) >= history && anyValue(p) > 0 && anyValue(o) > 0, status
	})
	// Nothing fires before the fault.
	{
		p, perr := promAlerts(t.Context(), client, prom.url)
		o, oerr := vitalsAlerts(t.Context(), client, shopURL)
		if perr != nil || oerr != nil {
			t.Fatalf("listing alerts: Prometheus: %v; Vitals: %v", perr, oerr)
		}
		if len(p) > 0 || len(o) > 0 {
			t.Fatalf("alerts before the fault: Prometheus: %v; Vitals: %v", p, o)
		}
	}
	t.Logf("%v: both sides see the orders (%v so far)", time.Since(began).Round(time.Millisecond), load.counts())

	// The scripted fault, behind the admin token.
	if code, err := postFault(t.Context(), client, shopURL, "40s", ""); err != nil || code != http.StatusUnauthorized {
		t.Fatalf("POST /admin/fault without the token: %d %v, want 401", code, err)
	}
	faultAt := time.Now()
	if code, err := postFault(t.Context(), client, shopURL, "40s", token); err != nil || code != http.StatusOK {
		t.Fatalf("POST /admin/fault: %d %v, want 200", code, err)
	}

	// Poll both sides until each fires both burst alerts. Each poll also
	// checks that the impossible alert is neither pending nor firing.
	type side struct {
		name     string
		views    []alertView
		firstSaw map[string]time.Time // alertname -> when the poll first saw it firing
	}
	sides := []*side{{name: "Prometheus", firstSaw: map[string]time.Time{}}, {name: "Vitals", firstSaw: map[string]time.Time{}}}
	var vitalsFiring []alerting.Alert // Vitals' firing alerts at the last poll
	var impossible []string
	pollUntil(t, 35*time.Second, "both sides to fire "+alertBurst+" and "+alertBurstRecorded, procs, func() (bool, string) {
		p, perr := promAlerts(t.Context(), client, prom.url)
		o, oerr := vitalsAlerts(t.Context(), client, shopURL)
		if perr != nil || oerr != nil {
			return false, fmt.Sprintf("Prometheus: %v; Vitals: %v", perr, oerr)
		}
		now := time.Now()
		sides[0].views, sides[1].views = fromProm(p), fromVitals(o)
		vitalsFiring = vitalsFiring[:0]
		for _, a := range o {
			if a.State == alerting.StateFiring {
				vitalsFiring = append(vitalsFiring, a)
			}
		}
		done := true
		var status []string
		for _, s := range sides {
			for _, v := range s.views {
				if v.name == alertImpossible {
					impossible = append(impossible, fmt.Sprintf("%s: %s %s", s.name, v.state, v.labels))
				}
				if _, ok := s.firstSaw[v.name]; !ok && v.state == "firing" {
					s.firstSaw[v.name] = now
				}
			}
			for _, name := range []string{alertBurst, alertBurstRecorded} {
				done = done && hasFiring(s.views, name)
			}
			status = append(status, fmt.Sprintf("%s: %v", s.name, s.views))
		}
		return done, strings.Join(status, "; ") + fmt.Sprintf("; orders: %v", load.counts())
	})
	firedAfter := time.Since(faultAt)
	t.Logf("%v: both sides fire, %v after the fault (orders so far: %v)", time.Since(began).Round(time.Millisecond), firedAfter.Round(time.Millisecond), load.counts())
	if len(impossible) > 0 {
		t.Errorf("%s was active: %v", alertImpossible, impossible)
	}

	// The sets of firing alerts and their labels are equal. Prometheus's
	// labels are the expression result's labels plus the rule's; job and
	// instance, which scraping adds to every series, would be the only ones
	// Vitals cannot know (it scrapes nothing). The expressions aggregate
	// them away, so dropping them changes nothing here; it keeps the
	// comparison right for rules that keep them.
	promFiring, vitalsFiringViews := firingByLabels(t, sides[0].views), firingByLabels(t, sides[1].views)
	if p, o := slices.Sorted(maps.Keys(promFiring)), slices.Sorted(maps.Keys(vitalsFiringViews)); !slices.Equal(p, o) {
		t.Errorf("firing alerts differ:\n  Prometheus: %v\n  Vitals:     %v", p, o)
	}
	for key, pv := range promFiring {
		ov, ok := vitalsFiringViews[key]
		if !ok {
			continue
		}
		compareAnnotations(t, key, templates[pv.name], pv.annotations, ov.annotations)
		// Each side honours for: 5s on its own clock. Prometheus 2.42 does
		// not report when an alert started firing: the poll that first saw
		// it firing is an upper bound.
		for _, c := range []struct {
			v       alertView
			firedAt time.Time
			seen    time.Time
		}{
			{pv, sides[0].firstSaw[pv.name], sides[0].firstSaw[pv.name]},
			{ov, ov.firedAt, sides[1].firstSaw[ov.name]},
		} {
			if !c.v.activeAt.After(faultAt) {
				t.Errorf("%s in %s: active since %v, before the fault at %v", key, c.v.side, c.v.activeAt, faultAt)
			}
			if d := c.firedAt.Sub(c.v.activeAt); d < 5*time.Second {
				t.Errorf("%s in %s: firing %v after it became active, before its for: 5s", key, c.v.side, d)
			}
			t.Logf("%s in %s: active %v after the fault, seen firing %v after it", key, c.v.side,
				c.v.activeAt.Sub(faultAt).Round(time.Millisecond), c.seen.Sub(faultAt).Round(time.Millisecond))
		}
		// Both sides see the condition start at about the same time. The
		// ratio climbs by about 1/15 a second once the fault starts (the
		// 15s windows fill with 503s), crossing 0.5 about 7.5 s after it.
		// Each side notices up to one sampling interval (1 s) plus one
		// evaluation interval (1 s) late, and the two rate()
		// implementations extrapolate a series that starts inside the
		// window differently (Prometheus 2.42 back to the counter's zero
		// point, up to 1.1 intervals; the in-process Prometheus 3 engine at
		// most half an interval), which moves the ratio by at most half a
		// second of orders, 0.5 s on the time axis. So the two activeAt
		// are at most 2.5 s apart (seen: under 1 s); 3 s leaves a margin
		// while catching an off-by-one-window or a wrong for.
		if d := pv.activeAt.Sub(ov.activeAt).Abs(); d > 3*time.Second {
			t.Errorf("%s: active since %v in Prometheus, %v in Vitals: %v apart, want at most 3s", key,
				pv.activeAt.Sub(faultAt).Round(time.Millisecond), ov.activeAt.Sub(faultAt).Round(time.Millisecond), d.Round(time.Millisecond))
		}
	}

	// The recorded series has the same labels on both sides (job and
	// instance are again the only ones Prometheus may add), and a value in
	// (0.5, 1]: the alert on it fires, and a ratio of a part to its whole
	// is at most 1.
	{
		p, perr := queryVector(t.Context(), client, prom.url+"/api/v1/query", recordedRatio, "", "job", "instance")
		o, oerr := queryVector(t.Context(), client, shopURL+"/monitoring/api/query", recordedRatio, "")
		switch {
		case perr != nil || oerr != nil:
			t.Errorf("querying %s: Prometheus: %v; Vitals: %v", recordedRatio, perr, oerr)
		case !slices.Equal(slices.Sorted(maps.Keys(p)), slices.Sorted(maps.Keys(o))) || len(p) != 1:
			t.Errorf("%s: series differ: Prometheus %v, Vitals %v", recordedRatio, p, o)
		default:
			for _, v := range []float64{anyValue(p), anyValue(o)} {
				if !(v > 0.5 && v <= 1) {
					t.Errorf("%s: Prometheus %v, Vitals %v: want both in (0.5, 1]", recordedRatio, p, o)
					break
				}
			}
			t.Logf("%s: Prometheus %v, Vitals %v", recordedRatio, p, o)
		}
	}

	// No rule failed on either side.
	if err := promRuleErrors(t.Context(), client, prom.url); err != nil {
		t.Errorf("Prometheus: %v", err)
	}
	if err := vitalsRuleErrors(t.Context(), client, shopURL); err != nil {
		t.Errorf("Vitals: %v", err)
	}

	// Alertmanager: Vitals' firing alerts, sent by the Alertmanager
	// notifier, are listed active with the same labels (Alertmanager adds
	// none), annotations and start.
	if len(vitalsFiring) == 0 {
		t.Fatal("Vitals fires nothing to send to Alertmanager")
	}
	sent := slices.Clone(vitalsFiring)
	nctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	err = (&notify.Alertmanager{URLs: []string{am.url}, Client: client}).Notify(nctx, sent)
	cancel()
	if err != nil {
		t.Fatalf("notifying Alertmanager: %v", err)
	}
	want := map[string]alerting.Alert{}
	for _, a := range sent {
		want[labelsKey(a.Labels)] = a
	}
	var listed map[string]amGettableAlert
	pollUntil(t, 10*time.Second, "Alertmanager to list Vitals' alerts as active", procs, func() (bool, string) {
		got, err := amAlerts(t.Context(), client, am.url)
		if err != nil {
			return false, err.Error()
		}
		listed = map[string]amGettableAlert{}
		for _, a := range got {
			listed[labelsKey(a.Labels)] = a
		}
		for key := range want {
			if a, ok := listed[key]; !ok || a.Status.State != "active" {
				return false, fmt.Sprintf("want %v, Alertmanager lists %v", slices.Sorted(maps.Keys(want)), got)
			}
		}
		return true, ""
	})
	if w, g := slices.Sorted(maps.Keys(want)), slices.Sorted(maps.Keys(listed)); !slices.Equal(w, g) {
		t.Errorf("Alertmanager lists %v, sent %v", g, w)
	}
	for key, a := range want {
		l, ok := listed[key]
		if !ok {
			continue
		}
		if !maps.Equal(l.Annotations, a.Annotations) {
			t.Errorf("Alertmanager: %s: annotations %v, sent %v", key, l.Annotations, a.Annotations)
		}
		// Alertmanager's API renders times with millisecond precision.
		if !l.StartsAt.Equal(a.StartsAt.Truncate(time.Millisecond)) {
			t.Errorf("Alertmanager: %s: startsAt %v, sent %v", key, l.StartsAt, a.StartsAt)
		}
		if !l.EndsAt.After(time.Now()) {
			t.Errorf("Alertmanager: %s: endsAt %v is past: a firing alert sent without endsAt must stay active until resolve_timeout", key, l.EndsAt)
		}
	}
	t.Logf("%v: Alertmanager lists %d alerts from Vitals (orders: %v)", time.Since(began).Round(time.Millisecond), len(listed), load.counts())
}

// alertView is an alert of either side, in the terms they share.
type alertView struct {
	side        string
	name        string
	labels      string // labelsKey of the labels, without job and instance
	state       string // pending, firing (or resolved, Vitals only)
	annotations map[string]string
	activeAt    time.Time
	firedAt     time.Time // zero for Prometheus, which does not report it
}

func (v alertView) String() string { return v.name + "=" + v.state }

// promAlert is an alert of Prometheus' GET /api/v1/alerts.
type promAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
	ActiveAt    time.Time         `json:"activeAt"`
	Value       string            `json:"value"`
}

func fromProm(alerts []promAlert) []alertView {
	out := make([]alertView, 0, len(alerts))
	for _, a := range alerts {
		ls := maps.Clone(a.Labels)
		delete(ls, "job")
		delete(ls, "instance")
		out = append(out, alertView{side: "Prometheus", name: a.Labels["alertname"], labels: labelsKey(ls), state: a.State,
			annotations: a.Annotations, activeAt: a.ActiveAt})
	}
	return out
}

func fromVitals(alerts []alerting.Alert) []alertView {
	out := make([]alertView, 0, len(alerts))
	for _, a := range alerts {
		out = append(out, alertView{side: "Vitals", name: a.Name(), labels: labelsKey(a.Labels), state: a.State.String(),
			annotations: a.Annotations, activeAt: a.ActiveAt, firedAt: a.StartsAt})
	}
	return out
}

func hasFiring(views []alertView, name string) bool {
	return slices.ContainsFunc(views, func(v alertView) bool { return v.name == name && v.state == "firing" })
}

// firingByLabels maps the label set of each firing alert to it.
func firingByLabels(t *testing.T, views []alertView) map[string]alertView {
	t.Helper()
	out := map[string]alertView{}
	for _, v := range views {
		if v.state != "firing" {
			continue
		}
		if _, dup := out[v.labels]; dup {
			t.Errorf("%s: two firing alerts %s", v.side, v.labels)
		}
		out[v.labels] = v
	}
	return out
}

// compareAnnotations checks that both sides rendered the same annotations
// from the rule's templates. An annotation without a template is equal
// on both sides. One with a template is rendered at each side's own
// evaluation, from its own samples, so $value differs: the text around
// the template must be equal, and a humanizePercentage must render a
// ratio above the alert's threshold of 50 %.
func compareAnnotations(t *testing.T, key string, templates, prom, ours map[string]string) {
	t.Helper()
	if p, o := slices.Sorted(maps.Keys(prom)), slices.Sorted(maps.Keys(ours)); !slices.Equal(p, o) {
		t.Errorf("%s: annotations %v in Prometheus, %v in Vitals", key, p, o)
	}
	for name, tmpl := range templates {
		p, o := prom[name], ours[name]
		start, end := strings.Index(tmpl, "{{"), strings.LastIndex(tmpl, "}}")
		if start < 0 || end < 0 {
			if p != tmpl || o != tmpl {
				t.Errorf("%s: annotation %s: %q in Prometheus, %q in Vitals, want %q", key, name, p, o, tmpl)
			}
			continue
		}
		prefix, suffix := tmpl[:start], tmpl[end+2:]
		for _, s := range []struct{ side, text string }{{"Prometheus", p}, {"Vitals", o}} {
			if !strings.HasPrefix(s.text, prefix) || !strings.HasSuffix(s.text, suffix) || len(s.text) < len(prefix)+len(suffix) {
				t.Errorf("%s: annotation %s in %s: %q, want %q...%q", key, name, s.side, s.text, prefix, suffix)
				continue
			}
			value := s.text[len(prefix) : len(s.text)-len(suffix)]
			if strings.Contains(tmpl, "humanizePercentage") {
				pct, err := strconv.ParseFloat(strings.TrimSuffix(value, "%"), 64)
				if err != nil || !strings.HasSuffix(value, "%") || pct <= 50 || pct > 100 {
					t.Errorf("%s: annotation %s in %s: %q renders %q, want a percentage in (50%%, 100%%]", key, name, s.side, s.text, value)
				}
			}
		}
		t.Logf("%s: %s: Prometheus %q, Vitals %q", key, name, p, o)
	}
}

// promAlerts lists Prometheus' pending and firing alerts.
func promAlerts(ctx context.Context, client *http.Client, base string) ([]promAlert, error) {
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Alerts []promAlert `json:"alerts"`
		} `json:"data"`
	}
	if err := getJSON(ctx, client, base+"/api/v1/alerts", &r); err != nil {
		return nil, err
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("GET /api/v1/alerts: status %q", r.Status)
	}
	return r.Data.Alerts, nil
}

// vitalsAlerts lists Vitals' pending, firing and resolved alerts.
func vitalsAlerts(ctx context.Context, client *http.Client, base string) ([]alerting.Alert, error) {
	var r struct {
		Alerts []alerting.Alert `json:"alerts"`
	}
	if err := getJSON(ctx, client, base+"/monitoring/api/alerts", &r); err != nil {
		return nil, err
	}
	return r.Alerts, nil
}

// promRuleList is the body of Prometheus' GET /api/v1/rules.
type promRuleList struct {
	Status string `json:"status"`
	Data   struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Name           string    `json:"name"`
				Type           string    `json:"type"`
				Health         string    `json:"health"`
				LastError      string    `json:"lastError"`
				LastEvaluation time.Time `json:"lastEvaluation"`
			} `json:"rules"`
		} `json:"groups"`
	} `json:"data"`
}

// promRules returns "group/type/name" of each rule Prometheus has
// evaluated at least once, in order.
func promRules(ctx context.Context, client *http.Client, base string) ([]string, error) {
	var r promRuleList
	if err := getJSON(ctx, client, base+"/api/v1/rules", &r); err != nil {
		return nil, err
	}
	var out []string
	for _, g := range r.Data.Groups {
		for _, rule := range g.Rules {
			if rule.LastEvaluation.Year() > 1 {
				out = append(out, g.Name+"/"+rule.Type+"/"+rule.Name)
			}
		}
	}
	return out, nil
}

// promRuleErrors reports the rules whose last evaluation failed.
func promRuleErrors(ctx context.Context, client *http.Client, base string) error {
	var r promRuleList
	if err := getJSON(ctx, client, base+"/api/v1/rules", &r); err != nil {
		return err
	}
	var bad []string
	for _, g := range r.Data.Groups {
		for _, rule := range g.Rules {
			if rule.Health != "ok" || rule.LastError != "" {
				bad = append(bad, fmt.Sprintf("%s/%s: health %s: %s", g.Name, rule.Name, rule.Health, rule.LastError))
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("rules failing: %v", bad)
	}
	return nil
}

// vitalsRuleStatus is one rule of GET /monitoring/api/rules.
type vitalsRuleStatus struct {
	Group       string `json:"group"`
	Name        string `json:"name"`
	Type        string `json:"type"`
	LastError   string `json:"lastError"`
	Evaluations int64  `json:"evaluations"`
	Failures    int64  `json:"failures"`
}

func vitalsRuleStatuses(ctx context.Context, client *http.Client, base string) ([]vitalsRuleStatus, error) {
	var r struct {
		Rules []vitalsRuleStatus `json:"rules"`
	}
	err := getJSON(ctx, client, base+"/monitoring/api/rules", &r)
	return r.Rules, err
}

// vitalsRules returns "group/type/name" of each rule Vitals has evaluated
// at least once, in order, as promRules does.
func vitalsRules(ctx context.Context, client *http.Client, base string) ([]string, error) {
	rules, err := vitalsRuleStatuses(ctx, client, base)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range rules {
		// The shop's own SLO rules are not in the shared file.
		if r.Evaluations > 0 && !strings.HasPrefix(r.Group, "sloth-") {
			out = append(out, r.Group+"/"+r.Type+"/"+r.Name)
		}
	}
	return out, nil
}

// vitalsRuleErrors reports the rules that failed an evaluation.
func vitalsRuleErrors(ctx context.Context, client *http.Client, base string) error {
	rules, err := vitalsRuleStatuses(ctx, client, base)
	if err != nil {
		return err
	}
	var bad []string
	for _, r := range rules {
		if r.Failures > 0 || r.LastError != "" {
			bad = append(bad, fmt.Sprintf("%s/%s: %d of %d evaluations failed: %s", r.Group, r.Name, r.Failures, r.Evaluations, r.LastError))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("rules failing: %v", bad)
	}
	return nil
}

// amGettableAlert is an alert of Alertmanager's GET /api/v2/alerts.
type amGettableAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
	Status      struct {
		State string `json:"state"`
	} `json:"status"`
}

func (a amGettableAlert) String() string { return labelsKey(a.Labels) + "=" + a.Status.State }

func amAlerts(ctx context.Context, client *http.Client, base string) ([]amGettableAlert, error) {
	var out []amGettableAlert
	err := getJSON(ctx, client, base+"/api/v2/alerts", &out)
	return out, err
}

// getJSON decodes the JSON answer of a GET that must answer 200.
func getJSON(ctx context.Context, client *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w: %s", url, err, body)
	}
	return nil
}

// getStatus returns the status of a GET.
func getStatus(ctx context.Context, client *http.Client, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// postFault asks the shop to fail orders for d, with the bearer token
// unless it is empty, and returns the answer's status.
func postFault(ctx context.Context, client *http.Client, base, d, token string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/admin/fault?duration="+d, nil)
	if err != nil {
		return 0, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// orderLoad counts the answers to the orders startOrders places.
type orderLoad struct {
	mu       sync.Mutex
	byStatus map[int]int
}

func (l *orderLoad) counts() map[int]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.byStatus)
}

// startOrders places a valid order every interval until the test ends.
// Every order is answered 201, or 503 during a fault; the test fails on
// anything else, reported when it ends. Register it after the shop, so
// that it stops first.
func startOrders(t *testing.T, client *http.Client, base string, every time.Duration) *orderLoad {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	l := &orderLoad{byStatus: map[int]int{}}
	var errs []error
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			o := orderMix[i%len(orderMix)]
			body := fmt.Sprintf(`{"product_id":%d,"quantity":%d,"currency":%q}`, o.product, o.quantity, currencies[i%len(currencies)])
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/orders", strings.NewReader(body))
			if err != nil {
				errs = append(errs, err)
				return
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				if ctx.Err() == nil {
					errs = append(errs, err)
				}
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusServiceUnavailable {
				errs = append(errs, fmt.Errorf("POST /orders %s: status %d, want 201 or 503", body, resp.StatusCode))
			}
			l.mu.Lock()
			l.byStatus[resp.StatusCode]++
			l.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		t.Logf("orders placed, by status: %v", l.counts())
		if len(errs) > 0 {
			t.Errorf("%d orders failed; first: %v", len(errs), errs[0])
		}
	})
	return l
}

// startShopWith runs the shop with args until the test ends, and returns
// its address. Its output is shown only if the test fails.
func startShopWith(t *testing.T, args ...string) string {
	t.Helper()
	addr, _ := runShop(t, args...)
	return addr
}

// runShop runs the shop with args and returns its address once it listens.
// stop ends it and waits for run to return (a test that must see the shop
// shut down calls it); otherwise it stops when the test ends, and a failed
// test shows the shop's output.
func runShop(t *testing.T, args ...string) (addr string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	var out logtest.Buffer
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, args, &out, func(a string) { addrc <- a })
	}()
	select {
	case a := <-addrc:
		var once sync.Once
		stop = func() {
			once.Do(func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("run: %v", err)
				}
			})
		}
		t.Cleanup(func() {
			stop()
			if t.Failed() {
				t.Logf("shop output:\n%s", out.String())
			}
		})
		return a, stop
	case err := <-done:
		cancel()
		t.Fatalf("run ended early: %v\n%s", err, out.String())
		return "", nil
	}
}

// sideProcess is a server the test runs beside the shop: Prometheus or
// Alertmanager.
type sideProcess struct {
	name string
	url  string
	out  *logtest.Buffer
	done chan struct{} // closed when the process has exited
	err  error         // how it exited; set before done is closed
}

// lookBinary returns the path of Debian's name (the package of the same
// name, which .ci/run installs), skipping the test when it is absent.
func lookBinary(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s binary not found (install Debian's %s package, as .ci/run does): %v", name, name, err)
	}
	return path
}

// startSideProcess runs bin in dir, listening on a free address of
// 127.0.0.1 that it is given through args, until the test ends, when it is
// killed and waited for; it returns once the address accepts connections.
// A port free when chosen can be taken (as another connection's local
// port) before the process binds it: then the process is started again on
// another, up to three times. Its output is shown only if the test fails.
func startSideProcess(t *testing.T, name, dir, bin string, args func(listen string) []string) *sideProcess {
	t.Helper()
	for attempt := 1; ; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		listen := ln.Addr().String()
		ln.Close()

		p := &sideProcess{name: name, url: "http://" + listen, out: &logtest.Buffer{}, done: make(chan struct{})}
		cmd := exec.Command(bin, args(listen)...)
		cmd.Dir = dir
		cmd.Stdout = p.out
		cmd.Stderr = p.out
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting %s: %v", name, err)
		}
		go func() {
			p.err = cmd.Wait()
			close(p.done)
		}()
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			<-p.done
			if t.Failed() {
				t.Logf("%s output:\n%s", name, p.out.String())
			}
		})
		switch err := p.waitListening(listen); {
		case err == nil:
			return p
		case attempt < 3 && strings.Contains(p.out.String(), "address already in use"):
			t.Logf("%s: %s was taken before it bound it; again on another port", name, listen)
		default:
			t.Fatalf("%s on %s: %v\n%s", name, listen, err, p.out.String())
		}
	}
}

// waitListening waits until listen accepts connections, for 30 s at most.
func (p *sideProcess) waitListening(listen string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", listen, time.Second); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("exited before listening: %v", p.err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return errors.New("not listening after 30s")
		}
	}
}

// startPrometheus runs Prometheus (bin) on a free port of 127.0.0.1, in job
// "shop", scraping target's /metrics and evaluating ruleFiles every second,
// with no Alertmanager, until the test ends.
func startPrometheus(t *testing.T, bin, target string, ruleFiles ...string) *sideProcess {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	quoted := make([]string, len(ruleFiles))
	for i, f := range ruleFiles {
		quoted[i] = fmt.Sprintf("%q", f)
	}
	yml := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [%s]
scrape_configs:
  - job_name: shop
    static_configs:
      - targets: [%q]
`, strings.Join(quoted, ", "), target)
	if err := os.WriteFile(config, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	return startSideProcess(t, "prometheus", dir, bin, func(listen string) []string {
		return []string{
			"--config.file=" + config,
			"--storage.tsdb.path=" + filepath.Join(dir, "data"),
			"--web.listen-address=" + listen,
		}
	})
}

// startAlertmanager runs Alertmanager on a free port of 127.0.0.1, without
// clustering, routing every alert to a receiver that sends nothing.
func startAlertmanager(t *testing.T, bin string) *sideProcess {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, "alertmanager.yml")
	yml := `route:
  receiver: "null"
receivers:
  - name: "null"
`
	if err := os.WriteFile(config, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	return startSideProcess(t, "alertmanager", dir, bin, func(listen string) []string {
		return []string{
			"--config.file=" + config,
			"--storage.path=" + filepath.Join(dir, "data"),
			"--web.listen-address=" + listen,
			"--cluster.listen-address=",
		}
	})
}

// pollUntil calls cond every 250 ms until it reports true, failing the test
// when d has passed or one of procs (none for nil) has exited first.
// cond's status describes what it saw, for the failure message.
func pollUntil(t *testing.T, d time.Duration, what string, procs []*sideProcess, cond func() (ok bool, status string)) {
	t.Helper()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	exited := make(chan *sideProcess, len(procs))
	stop := make(chan struct{})
	defer close(stop)
	for _, p := range procs {
		go func() {
			select {
			case <-p.done:
				exited <- p
			case <-stop:
			}
		}()
	}
	status := "not checked yet"
	for {
		select {
		case <-tick.C:
			var ok bool
			if ok, status = cond(); ok {
				return
			}
		case p := <-exited:
			t.Fatalf("waiting for %s: %s exited: %v", what, p.name, p.err)
		case <-deadline.C:
			t.Fatalf("waiting for %s: still not there after %v: %s", what, d, status)
		case <-t.Context().Done():
			t.Fatalf("waiting for %s: %v", what, t.Context().Err())
		}
	}
}
