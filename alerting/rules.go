package alerting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"

	"github.com/vitalsgo/vitals/exporter/memory"
)

// DefaultInterval is how often a group is evaluated when it says nothing.
const DefaultInterval = 15 * time.Second

// Store is what the engine evaluates rules over: PromQL at its clock
// (memory.Evaluator), and appenders for the samples recording rules write
// back, so that later rules and queries read them. The in-memory reader
// (*memory.Reader) is one.
type Store interface {
	memory.Evaluator
	// NewNamedAppender returns an appender of samples that arrive every
	// interval, kept for retention (0: the store's own). Its name
	// identifies its series across a restart (memory.Reader.SaveState).
	NewNamedAppender(name string, interval, retention time.Duration) *memory.Appender
}

var _ Store = (*memory.Reader)(nil)

// Rule is an alerting rule (Alert set) or a recording rule (Record set),
// with the fields of a Prometheus rule file.
type Rule struct {
	Alert  string
	Record string
	// Expr is a PromQL expression. An alerting rule fires for each element
	// of the vector it returns.
	Expr string
	// Condition, for alerting rules built in Go, replaces Expr: it returns
	// the vector of instances that hold at ts, the evaluation's time (query
	// q at ts, not at q.Now()). Such rules cannot be written to a
	// Prometheus rule file.
	Condition func(ctx context.Context, q memory.Evaluator, ts time.Time) (memory.Vector, error)
	// For is how long the condition must hold before a pending instance
	// fires; KeepFiringFor how long an instance keeps firing after it stops
	// holding. Both zero by default, as in Prometheus.
	For           time.Duration
	KeepFiringFor time.Duration
	// Labels are added to each instance (recording: to each sample); values
	// may be templates, as annotations.
	Labels map[string]string
	// Annotations are templates with {{ $labels.x }}, {{ $value }} and
	// Prometheus' template functions (humanize, humanizeDuration, ...).
	Annotations map[string]string
}

// Name returns the rule's alert or record name.
func (r Rule) Name() string {
	if r.Alert != "" {
		return r.Alert
	}
	return r.Record
}

// Exportable reports whether the rule can be written to a Prometheus rule
// file (it has an Expr, not a Go Condition).
func (r Rule) Exportable() bool { return r.Condition == nil }

// Group is a list of rules evaluated in order, every Interval.
type Group struct {
	// Name identifies the group: unique among the engine's groups.
	Name string
	// Interval defaults to DefaultInterval.
	Interval time.Duration
	// Retention is how long the group's recorded series are kept in
	// memory. By default, the memory reader's retention.
	Retention time.Duration
	// Rules are evaluated in order, so a rule can read what the recording
	// rules before it recorded at the same evaluation.
	Rules []Rule
}

// RuleError reports an invalid rule, naming where it is.
type RuleError struct {
	// File, Group and Rule say where the rule is (empty when unknown: a
	// rule built in Go has no file); Err is what is wrong with it.
	File, Group, Rule string
	Err               error
}

// Error names where the rule is and what is wrong with it.
func (e *RuleError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File + ": ")
	}
	if e.Group != "" {
		fmt.Fprintf(&b, "group %q: ", e.Group)
	}
	if e.Rule != "" {
		fmt.Fprintf(&b, "rule %q: ", e.Rule)
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the underlying error.
func (e *RuleError) Unwrap() error { return e.Err }

var promqlParser = parser.NewParser(parser.Options{})

// LoadFiles reads Prometheus rule files. Every error of every file is
// reported (a YAML error, an unknown field, a rule that is both or neither
// alert and record, an expression that does not parse or names an unknown
// function, a bad template), each naming the file, group and rule; on error
// no group is returned.
func LoadFiles(paths ...string) ([]Group, error) {
	var groups []Group
	var errs []error
	for _, p := range paths {
		rgs, perrs := rulefmt.ParseFile(p, false, model.UTF8Validation, promqlParser, slog.New(slog.DiscardHandler))
		if len(perrs) > 0 {
			for _, e := range perrs {
				errs = append(errs, &RuleError{Err: e})
			}
			continue
		}
		gs, err := fromRuleFile(rgs, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		groups = append(groups, gs...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return groups, nil
}

// ParseRules parses the content of a Prometheus rule file; name is used in
// errors.
func ParseRules(content []byte, name string) ([]Group, error) {
	rgs, perrs := rulefmt.Parse(content, false, model.UTF8Validation, promqlParser, slog.New(slog.DiscardHandler))
	if len(perrs) > 0 {
		errs := make([]error, len(perrs))
		for i, e := range perrs {
			errs[i] = &RuleError{File: name, Err: e}
		}
		return nil, errors.Join(errs...)
	}
	return fromRuleFile(rgs, name)
}

func fromRuleFile(rgs *rulefmt.RuleGroups, file string) ([]Group, error) {
	groups := make([]Group, 0, len(rgs.Groups))
	for _, g := range rgs.Groups {
		if len(g.Labels) > 0 {
			return nil, &RuleError{File: file, Group: g.Name, Err: errors.New("group labels are not supported; put them on the rules")}
		}
		if g.QueryOffset != nil || g.Limit != 0 {
			return nil, &RuleError{File: file, Group: g.Name, Err: errors.New("query_offset and limit are not supported")}
		}
		grp := Group{Name: g.Name, Interval: time.Duration(g.Interval)}
		for _, r := range g.Rules {
			grp.Rules = append(grp.Rules, Rule{
				Alert: r.Alert, Record: r.Record, Expr: r.Expr,
				For: time.Duration(r.For), KeepFiringFor: time.Duration(r.KeepFiringFor),
				Labels: r.Labels, Annotations: r.Annotations,
			})
		}
		groups = append(groups, grp)
	}
	return groups, nil
}

// validate checks groups built in Go (files are checked by rulefmt too).
func validate(groups []Group) error {
	var errs []error
	names := map[string]bool{}
	for _, g := range groups {
		if g.Name == "" {
			errs = append(errs, &RuleError{Err: errors.New("group without a name")})
		}
		if names[g.Name] {
			errs = append(errs, &RuleError{Group: g.Name, Err: errors.New("duplicate group name")})
		}
		names[g.Name] = true
		if g.Interval < 0 {
			errs = append(errs, &RuleError{Group: g.Name, Err: errors.New("negative interval")})
		}
		for _, r := range g.Rules {
			re := func(err error) { errs = append(errs, &RuleError{Group: g.Name, Rule: r.Name(), Err: err}) }
			switch {
			case r.Alert != "" && r.Record != "":
				re(errors.New("a rule is an alert or a record, not both"))
				continue
			case r.Alert == "" && r.Record == "":
				re(errors.New("a rule needs an alert or a record name"))
				continue
			case r.Record != "" && r.Condition != nil:
				re(errors.New("recording rules need an expression, not a Go condition"))
			case r.Record != "" && (r.For != 0 || r.KeepFiringFor != 0 || len(r.Annotations) > 0):
				re(errors.New("for, keep_firing_for and annotations belong to alerting rules"))
			case r.Record != "" && !model.UTF8Validation.IsValidMetricName(r.Record):
				re(fmt.Errorf("invalid recording rule name %q", r.Record))
			case r.For < 0 || r.KeepFiringFor < 0:
				re(errors.New("negative for or keep_firing_for"))
			}
			if r.Condition == nil {
				if r.Expr == "" {
					re(errors.New("empty expression"))
				} else if _, err := promqlParser.ParseExpr(r.Expr); err != nil {
					re(fmt.Errorf("expression %q: %w", r.Expr, err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// PrometheusRules writes groups as a Prometheus rule file that `promtool
// check rules` accepts. Rules with a Go Condition cannot be expressed in
// PromQL; they are left out and named in the returned error, with the file
// of the rest still returned.
func PrometheusRules(groups []Group) ([]byte, error) {
	var out rulefmt.RuleGroups
	var skipped []string
	for _, g := range groups {
		rg := rulefmt.RuleGroup{Name: g.Name, Interval: model.Duration(g.Interval)}
		for _, r := range g.Rules {
			if !r.Exportable() {
				skipped = append(skipped, g.Name+"/"+r.Name())
				continue
			}
			rg.Rules = append(rg.Rules, rulefmt.Rule{
				Alert: r.Alert, Record: r.Record, Expr: r.Expr,
				For: model.Duration(r.For), KeepFiringFor: model.Duration(r.KeepFiringFor),
				Labels: sortedCopy(r.Labels), Annotations: sortedCopy(r.Annotations),
			})
		}
		if len(rg.Rules) > 0 {
			out.Groups = append(out.Groups, rg)
		}
	}
	b, err := yaml.Marshal(out)
	if err != nil {
		return nil, err
	}
	if len(skipped) > 0 {
		return b, fmt.Errorf("alerting: rules with a Go condition are not exportable: %s", strings.Join(skipped, ", "))
	}
	return b, nil
}

func sortedCopy(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}
