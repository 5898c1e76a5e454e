package slo

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/prometheus/common/model"

	"github.com/vitalsgo/vitals/alerting"
)

// Label names of the generated series and alerts (Sloth's, so Sloth's
// Grafana dashboards work unchanged).
const (
	// LabelID holds the SLO's ID (SLO.ID).
	LabelID = "sloth_id"
	// LabelService holds its Service, LabelName its Name.
	LabelService = "sloth_service"
	LabelName    = "sloth_slo"
	// LabelWindow holds the window of an error ratio, such as "5m".
	LabelWindow = "sloth_window"
	// LabelSeverity holds an alert's severity, "page" or "ticket".
	LabelSeverity = "sloth_severity"
)

// Interval is the evaluation interval (alerting.Group.Interval) of the
// groups of InProcessRules.
const Interval = time.Minute

// burnWindow is one multiwindow, multi-burn-rate condition: both windows
// above factor × the error budget (Google SRE workbook, chapter 5).
type burnWindow struct {
	short, long time.Duration
	factor      float64
}

var (
	pageWindows   = []burnWindow{{5 * time.Minute, time.Hour, 14.4}, {30 * time.Minute, 6 * time.Hour, 6}}
	ticketWindows = []burnWindow{{2 * time.Hour, 24 * time.Hour, 3}, {6 * time.Hour, 72 * time.Hour, 1}}
)

// RecordName returns the name of the recorded error ratio over window,
// such as "slo:sli_error:ratio_rate5m".
func RecordName(window time.Duration) string {
	return "slo:sli_error:ratio_rate" + model.Duration(window).String()
}

// ID returns the SLO's sloth_id: "<service>-<name>", or the name alone.
func (s SLO) ID() string {
	if s.Service == "" {
		return s.Name
	}
	return s.Service + "-" + s.Name
}

// Rules returns the SLO's rules as Sloth generates them for Prometheus: the
// groups sloth-slo-sli-recordings-<id>, sloth-slo-meta-recordings-<id> and,
// unless both alerts are disabled, sloth-slo-alerts-<id>, described in the
// package documentation. The groups have no interval (the Prometheus global
// one applies); alerting.PrometheusRules writes them as a file. An invalid
// SLO gives an error naming each bad field (*Error).
func (s SLO) Rules() ([]alerting.Group, error) {
	r, err := s.resolve()
	if err != nil {
		return nil, err
	}
	return r.groups(false)
}

// InProcessRules returns the SLO's rules in the form the in-process engine
// evaluates every Interval: the same series and alerts as Rules, but
// the windows from 1h up and the period are means of the recorded 5m ratio
// (Sloth's optimized form), which is kept for the whole period whatever
// the memory reader's retention. The package doc's Rules section and
// docs/slos.md (In process) have the details.
func (s SLO) InProcessRules() ([]alerting.Group, error) {
	r, err := s.resolve()
	if err != nil {
		return nil, err
	}
	return r.groups(true)
}

func (r resolved) idLabels() map[string]string {
	m := map[string]string{LabelID: r.ID(), LabelName: r.Name}
	if r.Service != "" {
		m[LabelService] = r.Service
	}
	return m
}

// filter returns the selector of the SLO's series, as Sloth writes it:
// {sloth_id="...", sloth_service="...", sloth_slo="..."}.
func (r resolved) filter() string {
	id := r.idLabels()
	keys := slices.Sorted(maps.Keys(id))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Quote(id[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func (r resolved) groups(inProcess bool) ([]alerting.Group, error) {
	id := r.ID()
	base := mergeLabels(r.Labels, r.idLabels())
	withWindow := func(w time.Duration) map[string]string {
		return mergeLabels(base, map[string]string{LabelWindow: model.Duration(w).String()})
	}
	filter := r.filter()
	optimized := func(w time.Duration) string {
		sel := RecordName(sloWindows[0]) + filter + "[" + model.Duration(w).String() + "]"
		return "sum_over_time(" + sel + ")\n/ ignoring (" + LabelWindow + ")\ncount_over_time(" + sel + ")\n"
	}

	var sli []alerting.Rule
	windows := slices.Clone(sloWindows)
	if !slices.Contains(windows, r.Period) {
		windows = append(windows, r.Period)
	}
	for _, w := range windows {
		rule := alerting.Rule{Record: RecordName(w), Labels: withWindow(w)}
		switch {
		case w == r.Period && w != sloWindows[len(sloWindows)-1], inProcess && w >= time.Hour:
			rule.Expr = optimized(w)
		default:
			errQ, err := render(r.errTmpl, w)
			if err != nil {
				return nil, &Error{SLO: r.Name, Field: "sli", Err: err}
			}
			totQ, err := render(r.totTmpl, w)
			if err != nil {
				return nil, &Error{SLO: r.Name, Field: "sli", Err: err}
			}
			// A zero total gives no sample rather than NaN or +Inf, which
			// would poison the averages over the 5m ratio (Sloth's
			// sli_rules_v1 plugin does the same).
			rule.Expr = "(" + errQ + ")\n/\n((" + totQ + ") > 0)\n"
		}
		sli = append(sli, rule)
	}

	objective := r.Objective / 100
	budget := (100 - r.Objective) / 100
	on := "/ on(" + LabelID + ", " + LabelName + ", " + LabelService + ") group_left\n"
	period := model.Duration(r.Period).String()
	meta := []alerting.Rule{
		{Record: "slo:objective:ratio", Expr: "vector(" + fmtFloat(objective) + ")", Labels: base},
		{Record: "slo:error_budget:ratio", Expr: "vector(1-" + fmtFloat(objective) + ")", Labels: base},
		{Record: "slo:time_period:days", Expr: "vector(" + fmtFloat(r.Period.Hours()/24) + ")", Labels: base},
		{Record: "slo:current_burn_rate:ratio", Expr: RecordName(sloWindows[0]) + filter + "\n" + on + "slo:error_budget:ratio" + filter + "\n", Labels: base},
		{Record: "slo:period_burn_rate:ratio", Expr: RecordName(r.Period) + filter + "\n" + on + "slo:error_budget:ratio" + filter + "\n", Labels: base},
		{Record: "slo:period_error_budget_remaining:ratio", Expr: "1 - slo:period_burn_rate:ratio" + filter, Labels: base},
		{Record: "sloth_slo_info", Expr: "vector(1)", Labels: mergeLabels(base, map[string]string{
			"sloth_mode": "vitals", "sloth_spec": "prometheus/v1", "sloth_version": "vitals",
		})},
	}

	name := r.Alerting.Name
	if name == "" {
		name = camel(r.Service) + camel(r.Name) + "SLO"
	}
	alert := func(sev string, windows []burnWindow, a Alert) alerting.Rule {
		var conds []string
		var burnt []string
		for _, bw := range windows {
			thr := "(" + fmtFloat(bw.factor) + " * " + fmtFloat(budget) + ")"
			conds = append(conds, "(\n"+
				"    ("+RecordName(bw.short)+filter+" > "+thr+")\n"+
				"    and ignoring ("+LabelWindow+")\n"+
				"    ("+RecordName(bw.long)+filter+" > "+thr+")\n"+
				")")
			burnt = append(burnt, fmt.Sprintf("%s× the error rate the objective allows over %s (and %s), which spends %s of the %s error budget in %s",
				fmtFloat(bw.factor), model.Duration(bw.long), model.Duration(bw.short),
				fmtFloat(roundTo(100*bw.factor*bw.long.Hours()/r.Period.Hours(), 2))+"%", period, model.Duration(bw.long)))
		}
		labels := mergeLabels(map[string]string{"severity": sev}, r.Alerting.Labels, a.Labels, map[string]string{LabelSeverity: sev})
		ann := mergeLabels(map[string]string{
			"title":       "(" + sev + ") {{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn rate is too fast.",
			"summary":     "{{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn rate is over expected.",
			"description": "The error rate of SLO " + id + " (objective " + fmtFloat(r.Objective) + "% over " + period + ") is above " + strings.Join(burnt, "; or ") + ".",
		}, r.Alerting.Annotations, a.Annotations)
		return alerting.Rule{Alert: name, Expr: strings.Join(conds, "\nor ignoring ("+LabelWindow+")\n") + "\n", Labels: labels, Annotations: ann}
	}
	var alerts []alerting.Rule
	if !r.Alerting.Page.Disable {
		alerts = append(alerts, alert("page", pageWindows, r.Alerting.Page))
	}
	if !r.Alerting.Ticket.Disable {
		alerts = append(alerts, alert("ticket", ticketWindows, r.Alerting.Ticket))
	}

	if !inProcess {
		gs := []alerting.Group{
			{Name: "sloth-slo-sli-recordings-" + id, Rules: sli},
			{Name: "sloth-slo-meta-recordings-" + id, Rules: meta},
		}
		if len(alerts) > 0 {
			gs = append(gs, alerting.Group{Name: "sloth-slo-alerts-" + id, Rules: alerts})
		}
		return gs, nil
	}
	// The engine gives each group one appender, written once per
	// evaluation: one recording rule per group.
	var gs []alerting.Group
	for _, rule := range append(sli, meta...) {
		g := alerting.Group{Name: "sloth-slo-recording-" + id + "-" + rule.Record, Interval: Interval, Rules: []alerting.Rule{rule}}
		if rule.Record == RecordName(5*time.Minute) {
			// The 5m ratio is what every longer window and the budget
			// are computed from: keep it for the whole period, at one
			// value a minute (8 bytes each: about 345 KB for 30 days).
			g.Retention = r.Period
		}
		gs = append(gs, g)
	}
	if len(alerts) > 0 {
		gs = append(gs, alerting.Group{Name: "sloth-slo-alerts-" + id, Interval: Interval, Rules: alerts})
	}
	return gs, nil
}

// Rules returns the rules of every SLO (SLO.Rules), for a Prometheus rule
// file.
func Rules(slos ...SLO) ([]alerting.Group, error) {
	var out []alerting.Group
	for _, s := range slos {
		gs, err := s.Rules()
		if err != nil {
			return nil, err
		}
		out = append(out, gs...)
	}
	return out, nil
}

// InProcessRules returns the in-process rules of every SLO
// (SLO.InProcessRules), for alerting.New.
func InProcessRules(slos ...SLO) ([]alerting.Group, error) {
	var out []alerting.Group
	for _, s := range slos {
		gs, err := s.InProcessRules()
		if err != nil {
			return nil, err
		}
		out = append(out, gs...)
	}
	return out, nil
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func roundTo(f float64, digits int) float64 {
	p, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'f', digits, 64), 64)
	return p
}

// camel turns "requests-availability" into "RequestsAvailability".
func camel(s string) string {
	var b strings.Builder
	up := true
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
			up = false
		}
		b.WriteRune(r)
	}
	return b.String()
}
