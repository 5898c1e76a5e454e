package vitals

import (
	_ "embed"
	"fmt"
	"slices"

	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/alerting/slo"
)

// defaultRules is docs/rules/vitals-alerts.yml, the default alert rules,
// built into the library so that Start needs no file next to the binary.
//
//go:embed docs/rules/vitals-alerts.yml
var defaultRules []byte

// defaultRulesName names the embedded rules in errors and logs.
const defaultRulesName = "vitals-alerts.yml (built in)"

// DefaultAlertRules returns the default alert rules that Start evaluates
// unless WithoutDefaultAlertRules is given: the content of
// docs/rules/vitals-alerts.yml, a Prometheus rule file that runs in
// Prometheus unchanged. Write it out to load the same rules there.
func DefaultAlertRules() []byte { return slices.Clone(defaultRules) }

// ruleGroups returns every rule group Start evaluates: the defaults unless
// turned off, those built in Go, the SLOs' and those of rule files. A group
// of a file that has a default group's name (the default file given again,
// say) is an error that says so, rather than the rules running twice.
func ruleGroups(cfg config) ([]alerting.Group, error) {
	var groups []alerting.Group
	defaults := map[string]bool{}
	if cfg.defaultRules {
		gs, err := alerting.ParseRules(defaultRules, defaultRulesName)
		if err != nil {
			return nil, fmt.Errorf("default alert rules: %w", err) // a defect of the library
		}
		for _, g := range gs {
			defaults[g.Name] = true
		}
		groups = append(groups, gs...)
	}
	groups = append(groups, cfg.alertGroups...)
	if len(cfg.slos) > 0 {
		sloGroups, err := slo.InProcessRules(cfg.slos...)
		if err != nil {
			return nil, err
		}
		groups = append(groups, sloGroups...)
	}
	for _, path := range cfg.ruleFiles {
		fromFile, err := alerting.LoadFiles(path)
		if err != nil {
			return nil, err
		}
		for _, g := range fromFile {
			if defaults[g.Name] {
				return nil, fmt.Errorf("rule file %q: group %q is one of the default alert rules, which run already: remove the file, or give WithoutDefaultAlertRules to run it instead", path, g.Name)
			}
		}
		groups = append(groups, fromFile...)
	}
	return groups, nil
}
