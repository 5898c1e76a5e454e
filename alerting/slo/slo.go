package slo

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/vitalsgo/vitals/internal/buckets"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

// DefaultPeriod is the period of an SLO that states none.
const DefaultPeriod = 30 * 24 * time.Hour

// DefaultLatencyMetric is the histogram a LatencySLI reads by default: the
// HTTP middleware's http.server.request.duration, as named on /metrics.
const DefaultLatencyMetric = "http_server_request_duration_seconds"

// HTTPDurationBoundaries returns the bucket boundaries (seconds) of
// http.server.request.duration as the instrument package records it (the
// semantic conventions' advice, exporter.SecondsBoundaries). A LatencySLI
// threshold must be one of them unless the SLI says otherwise.
func HTTPDurationBoundaries() []float64 { return buckets.Seconds() }

// SLO is a service level objective: the share of good events (Objective,
// a percentage) a service promises over a rolling Period. Rules turns it
// into the recording and multiwindow, multi-burn-rate alerting rules Sloth
// generates; InProcessRules into their in-process form.
type SLO struct {
	// Service and Name identify the SLO (labels sloth_service, sloth_slo
	// and sloth_id "<service>-<name>", or "<name>" without a service).
	Service string
	Name    string
	// Description says what the SLO measures, for people; the rules do not
	// use it.
	Description string
	// Objective is a percentage strictly between 0 and 100, such as 99.9.
	Objective float64
	// Period is the rolling window of the error budget. By default,
	// DefaultPeriod (30 days); it cannot be shorter than the longest
	// alert window (3 days).
	Period time.Duration
	// Labels are added to every generated series and alert.
	Labels map[string]string
	// SLI says which events are bad.
	SLI SLI
	// Alerting names and labels the generated alerts.
	Alerting Alerting
}

// SLI says which events are bad; exactly one field is set.
type SLI struct {
	// Events is a ratio of bad to total events given as PromQL; Latency
	// counts slow requests from a histogram.
	Events  *EventsSLI
	Latency *LatencySLI
}

// EventsSLI is a ratio of bad to total events, as two PromQL expressions in
// which {{.window}} stands for the range of each window (as in Sloth's
// error_query and total_query), such as
// sum(rate(http_server_request_duration_seconds_count{http_response_status_code=~"5.."}[{{.window}}])).
type EventsSLI struct {
	// ErrorQuery is the rate of bad events over {{.window}}, TotalQuery the
	// rate of all events.
	ErrorQuery string
	TotalQuery string
}

// LatencySLI counts requests slower than Threshold as bad, from a
// histogram's _bucket and _count series.
type LatencySLI struct {
	// Threshold must be one of Boundaries.
	Threshold time.Duration
	// Route restricts the SLI to one http_route; empty means every route.
	Route string
	// Metric is the histogram's name without _bucket or _count. By
	// default, DefaultLatencyMetric.
	Metric string
	// Boundaries are the histogram's bucket boundaries in seconds. By
	// default, HTTPDurationBoundaries().
	Boundaries []float64
}

// Alerting configures the page and ticket alerts of an SLO.
type Alerting struct {
	// Name is the alertname of both alerts (they differ by sloth_severity).
	// By default, "<Service><Name>SLO" in camel case, such as
	// "ShopAvailabilitySLO".
	Name string
	// Labels and Annotations are added to both alerts; Page's and Ticket's
	// win over them.
	Labels      map[string]string
	Annotations map[string]string
	// Page and Ticket add labels and annotations to one alert. By default,
	// each has a severity label, "page" or "ticket".
	Page, Ticket Alert
}

// Alert adds labels and annotations to one of an SLO's alerts, or
// disables it.
type Alert struct {
	// Disable leaves the alert out of the rules.
	Disable bool
	// Labels and Annotations are added to this alert only.
	Labels      map[string]string
	Annotations map[string]string
}

// HTTPAvailability returns an SLO whose bad events are HTTP responses with
// a 5xx status, out of every response, for one route or (route "") all. A
// route is an http.route value, the path template without the method
// ("/checkout/{id}", not "POST /checkout/{id}").
func HTTPAvailability(name string, objective float64, route string) SLO {
	sel := routeMatcher(route)
	bad := `http_response_status_code=~"5.."`
	if sel != "" {
		bad += "," + sel
	}
	return SLO{
		Name:        name,
		Description: "Share of HTTP responses that are not server errors (5xx).",
		Objective:   objective,
		SLI: SLI{Events: &EventsSLI{
			ErrorQuery: "sum(rate(" + DefaultLatencyMetric + "_count{" + bad + "}[{{.window}}]))",
			TotalQuery: "sum(rate(" + DefaultLatencyMetric + "_count" + braces(sel) + "[{{.window}}]))",
		}},
	}
}

// HTTPLatency returns an SLO whose bad events are HTTP requests that took
// longer than threshold (a bucket boundary of HTTPDurationBoundaries()), for
// one route or (route "") all, given as HTTPAvailability's.
func HTTPLatency(name string, objective float64, threshold time.Duration, route string) SLO {
	return SLO{
		Name:        name,
		Description: fmt.Sprintf("Share of HTTP requests served within %s.", threshold),
		Objective:   objective,
		SLI:         SLI{Latency: &LatencySLI{Threshold: threshold, Route: route}},
	}
}

func routeMatcher(route string) string {
	if route == "" {
		return ""
	}
	return "http_route=" + strconv.Quote(route)
}

func braces(sel string) string {
	if sel == "" {
		return ""
	}
	return "{" + sel + "}"
}

// Error reports an invalid SLO, naming it and the field.
type Error struct {
	// SLO is the SLO's Name, Field the field that is wrong ("objective",
	// "sli", ...) and Err what is wrong with it.
	SLO, Field string
	Err        error
}

// Error names the SLO and field and says what is wrong.
func (e *Error) Error() string {
	return fmt.Sprintf("slo %q: %s: %v", e.SLO, e.Field, e.Err)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// ErrThresholdNotBoundary is wrapped by the error of a LatencySLI whose
// threshold is not a bucket boundary.
var ErrThresholdNotBoundary = errors.New("threshold is not a bucket boundary")

// Validate checks the SLO and reports every problem, each an *Error.
func (s SLO) Validate() error {
	_, err := s.resolve()
	return err
}

// sloWindows are the alert windows, shortest first.
var sloWindows = []time.Duration{5 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 6 * time.Hour, 24 * time.Hour, 72 * time.Hour}

// resolved is an SLO with defaults applied and its SLI as two templates.
type resolved struct {
	SLO
	errTmpl, totTmpl *template.Template
}

func (s SLO) resolve() (resolved, error) {
	var errs []error
	bad := func(field string, err error) { errs = append(errs, &Error{SLO: s.Name, Field: field, Err: err}) }
	if s.Period == 0 {
		s.Period = DefaultPeriod
	}
	switch {
	case s.Name == "":
		bad("name", errors.New("empty"))
	case strings.ContainsAny(s.Name, "\"\\\n") || strings.ContainsAny(s.Service, "\"\\\n"):
		bad("name", errors.New("service and name cannot contain quotes, backslashes or newlines"))
	}
	if math.IsNaN(s.Objective) || s.Objective <= 0 || s.Objective >= 100 {
		bad("objective", fmt.Errorf("%v is not a percentage strictly between 0 and 100 (such as 99.9)", s.Objective))
	}
	if longest := sloWindows[len(sloWindows)-1]; s.Period < longest {
		bad("period", fmt.Errorf("%s is shorter than the longest alert window (%s)", model.Duration(s.Period), model.Duration(longest)))
	}
	for k := range s.Labels {
		if !model.UTF8Validation.IsValidLabelName(k) || strings.HasPrefix(k, "sloth_") || k == "__name__" {
			bad("labels", fmt.Errorf("invalid or reserved label name %q", k))
		}
	}
	r := resolved{SLO: s}
	var errQ, totQ string
	switch {
	case s.SLI.Events != nil && s.SLI.Latency != nil:
		bad("sli", errors.New("set events or latency, not both"))
	case s.SLI.Events != nil:
		errQ, totQ = s.SLI.Events.ErrorQuery, s.SLI.Events.TotalQuery
		if errQ == "" {
			bad("sli.events.error_query", errors.New("empty"))
		}
		if totQ == "" {
			bad("sli.events.total_query", errors.New("empty"))
		}
	case s.SLI.Latency != nil:
		var err error
		errQ, totQ, err = s.SLI.Latency.queries()
		if err != nil {
			bad("sli.latency", err)
		}
	default:
		bad("sli", errors.New("set events or latency"))
	}
	if len(errs) == 0 {
		var err error
		if r.errTmpl, err = parseSLITemplate(errQ); err != nil {
			bad("sli error query", err)
		}
		if r.totTmpl, err = parseSLITemplate(totQ); err != nil {
			bad("sli total query", err)
		}
	}
	return r, errors.Join(errs...)
}

// parseSLITemplate parses q as a template and checks that it renders to
// valid PromQL.
func parseSLITemplate(q string) (*template.Template, error) {
	t, err := template.New("sli").Option("missingkey=error").Parse(q)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", q, err)
	}
	out, err := render(t, 5*time.Minute)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", q, err)
	}
	if _, err := promqlParser.ParseExpr(out); err != nil {
		return nil, fmt.Errorf("%q: %w", out, err)
	}
	return t, nil
}

// promqlParser checks the rendered SLI queries.
var promqlParser = parser.NewParser(parser.Options{})

func render(t *template.Template, window time.Duration) (string, error) {
	var b bytes.Buffer
	if err := t.Execute(&b, map[string]string{"window": model.Duration(window).String()}); err != nil {
		return "", err
	}
	return b.String(), nil
}

// queries returns the SLI's bad and total event rates as templates.
func (l LatencySLI) queries() (bad, total string, err error) {
	metric := l.Metric
	if metric == "" {
		metric = DefaultLatencyMetric
	}
	if !model.UTF8Validation.IsValidMetricName(metric) || !model.IsValidLegacyMetricName(metric) {
		return "", "", fmt.Errorf("metric %q is not a valid histogram name", metric)
	}
	if strings.HasSuffix(metric, "_bucket") || strings.HasSuffix(metric, "_count") || strings.HasSuffix(metric, "_sum") {
		return "", "", fmt.Errorf("metric %q: name the histogram without its _bucket, _count or _sum suffix", metric)
	}
	if method, path, ok := strings.Cut(l.Route, " "); ok && method != "" && strings.Trim(method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == "" && strings.HasPrefix(path, "/") {
		return "", "", fmt.Errorf("route %q: http.route holds the path template without the method, such as %q", l.Route, path)
	}
	bounds := l.Boundaries
	if len(bounds) == 0 {
		bounds = HTTPDurationBoundaries()
	}
	secs := l.Threshold.Seconds()
	if l.Threshold <= 0 {
		return "", "", fmt.Errorf("threshold %s: must be positive", l.Threshold)
	}
	if !slices.Contains(bounds, secs) {
		return "", "", fmt.Errorf("threshold %s: %w of %s; nearest: %s", l.Threshold, ErrThresholdNotBoundary, metric, nearest(bounds, secs))
	}
	sel := routeMatcher(l.Route)
	bucketSel := `le="` + leString(secs) + `"`
	if sel != "" {
		bucketSel += "," + sel
	}
	total = "sum(rate(" + metric + "_count" + braces(sel) + "[{{.window}}]))"
	bad = "(" + total + " - sum(rate(" + metric + "_bucket{" + bucketSel + "}[{{.window}}])))"
	return bad, total, nil
}

// nearest names the boundaries just below and above secs.
func nearest(bounds []float64, secs float64) string {
	b := slices.Clone(bounds)
	slices.Sort(b)
	i, _ := slices.BinarySearch(b, secs)
	var near []string
	if i > 0 {
		near = append(near, fmtSeconds(b[i-1]))
	}
	if i < len(b) {
		near = append(near, fmtSeconds(b[i]))
	}
	return strings.Join(near, " or ")
}

func fmtSeconds(s float64) string {
	return time.Duration(s * float64(time.Second)).String()
}

// leString formats a bound as the memory reader and Prometheus 3 store le:
// integral values get ".0".
func leString(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return s
}

// SLO spec files: Sloth's prometheus/v1 format, plus a latency SLI and a
// period per SLO.

type sloFileSpec struct {
	Version string            `yaml:"version"`
	Service string            `yaml:"service"`
	Labels  map[string]string `yaml:"labels"`
	SLOs    []sloSpec         `yaml:"slos"`
}

type sloSpec struct {
	Name        string            `yaml:"name"`
	Objective   float64           `yaml:"objective"`
	Description string            `yaml:"description"`
	Period      model.Duration    `yaml:"period"`
	Labels      map[string]string `yaml:"labels"`
	SLI         struct {
		Events *struct {
			ErrorQuery string `yaml:"error_query"`
			TotalQuery string `yaml:"total_query"`
		} `yaml:"events"`
		Latency *struct {
			Threshold  model.Duration `yaml:"threshold"`
			Route      string         `yaml:"route"`
			Metric     string         `yaml:"metric"`
			Boundaries []float64      `yaml:"boundaries"`
		} `yaml:"latency"`
	} `yaml:"sli"`
	Alerting struct {
		Name        string            `yaml:"name"`
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
		PageAlert   alertSpec         `yaml:"page_alert"`
		TicketAlert alertSpec         `yaml:"ticket_alert"`
	} `yaml:"alerting"`
}

type alertSpec struct {
	Disable     bool              `yaml:"disable"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// Parse reads an SLO spec in Sloth's "prometheus/v1" format (version,
// service, labels, slos with name, objective, description, labels,
// sli.events.error_query/total_query and alerting), extended with an
// optional period per SLO (such as "28d"; by default 30 days) and a latency
// SLI (sli.latency: threshold such as "250ms", route, metric, boundaries).
// Unknown fields are errors. Every SLO is validated; every error is
// returned, naming the SLO and field.
func Parse(content []byte) ([]SLO, error) {
	var f sloFileSpec
	dec := yaml.NewDecoder(bytes.NewReader(content))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("slo spec: %w", err)
	}
	if f.Version != "prometheus/v1" {
		return nil, fmt.Errorf("slo spec: version %q: want \"prometheus/v1\"", f.Version)
	}
	var out []SLO
	var errs []error
	for _, sp := range f.SLOs {
		s := SLO{
			Service: f.Service, Name: sp.Name, Description: sp.Description, Objective: sp.Objective,
			Period: time.Duration(sp.Period), Labels: mergeLabels(f.Labels, sp.Labels),
			Alerting: Alerting{
				Name: sp.Alerting.Name, Labels: sp.Alerting.Labels, Annotations: sp.Alerting.Annotations,
				Page:   Alert(sp.Alerting.PageAlert),
				Ticket: Alert(sp.Alerting.TicketAlert),
			},
		}
		if e := sp.SLI.Events; e != nil {
			s.SLI.Events = &EventsSLI{ErrorQuery: e.ErrorQuery, TotalQuery: e.TotalQuery}
		}
		if l := sp.SLI.Latency; l != nil {
			s.SLI.Latency = &LatencySLI{Threshold: time.Duration(l.Threshold), Route: l.Route, Metric: l.Metric, Boundaries: l.Boundaries}
		}
		if err := s.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, s)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// mergeLabels returns the union of the maps, later ones winning; nil if
// empty.
func mergeLabels(ms ...map[string]string) map[string]string {
	var out map[string]string
	for _, m := range ms {
		for k, v := range m {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}
