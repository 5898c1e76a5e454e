package vitals_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vitalsgo/vitals"
	"github.com/vitalsgo/vitals/alerting"
)

// ruleNames lists the rules an engine evaluates, group/name.
func ruleNames(e *alerting.Engine) []string {
	var out []string
	for _, r := range e.Rules() {
		out = append(out, r.Group+"/"+r.Name)
	}
	slices.Sort(out)
	return out
}

// fileRuleNames lists the rules of a rule file, group/name.
func fileRuleNames(t *testing.T, path string) []string {
	t.Helper()
	groups, err := alerting.LoadFiles(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, g := range groups {
		for _, r := range g.Rules {
			out = append(out, g.Name+"/"+r.Name())
		}
	}
	slices.Sort(out)
	return out
}

// TestDefaultAlertRulesAreTheDocsFile: the rules built into the library are
// docs/rules/vitals-alerts.yml byte for byte, the file users load into
// Prometheus.
func TestDefaultAlertRulesAreTheDocsFile(t *testing.T) {
	file, err := os.ReadFile("docs/rules/vitals-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(vitals.DefaultAlertRules(), file) {
		t.Error("DefaultAlertRules() differs from docs/rules/vitals-alerts.yml")
	}
	// A copy: a caller cannot change what the next Start runs.
	b := vitals.DefaultAlertRules()
	b[0] ^= 0xff
	if !bytes.Equal(vitals.DefaultAlertRules(), file) {
		t.Error("changing the returned bytes changed the default rules")
	}
}

// TestDefaultAlertRulesRun: with no option, Start evaluates every rule of
// the default file, from a directory without any rule file;
// WithAlertRuleFiles adds to them; WithoutDefaultAlertRules leaves them out.
func TestDefaultAlertRulesRun(t *testing.T) {
	vitals.CleanEnv(t)
	defaults := fileRuleNames(t, "docs/rules/vitals-alerts.yml")
	if len(defaults) < 5 {
		t.Fatalf("the default file has %d rules", len(defaults))
	}
	extra := filepath.Join(t.TempDir(), "extra.yml")
	if err := os.WriteFile(extra, []byte("groups:\n  - name: mine\n    rules:\n      - alert: Mine\n        expr: vector(1) > 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir()) // no rule file anywhere near

	for _, tc := range []struct {
		name string
		opts []vitals.Option
		want []string
	}{
		{"defaults", nil, defaults},
		{"defaults and a file", []vitals.Option{vitals.WithAlertRuleFiles(extra)}, slices.Sorted(slices.Values(append(slices.Clone(defaults), "mine/Mine")))},
		{"without defaults", []vitals.Option{vitals.WithoutDefaultAlertRules(), vitals.WithAlertRuleFiles(extra)}, []string{"mine/Mine"}},
		{"none at all", []vitals.Option{vitals.WithoutDefaultAlertRules()}, nil},
	} {
		v, err := vitals.Start(t.Context(), tc.opts...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := ruleNames(v.Alerting()); !slices.Equal(got, tc.want) {
			t.Errorf("%s: rules %v, want %v", tc.name, got, tc.want)
		}
		if err := v.Shutdown(t.Context()); err != nil {
			t.Error(err)
		}
	}
}

// TestDefaultAlertRulesGivenAgain: a rule file whose group is a default
// group (the default file loaded by hand, as before the rules were built
// in) fails Start with an error that says why and what to do, instead of
// evaluating and notifying every rule twice.
func TestDefaultAlertRulesGivenAgain(t *testing.T) {
	vitals.CleanEnv(t)
	v, err := vitals.Start(t.Context(), vitals.WithAlertRuleFiles("docs/rules/vitals-alerts.yml"))
	if err == nil {
		_ = v.Shutdown(t.Context())
		t.Fatal("Start ran the default rules twice")
	}
	for _, want := range []string{"docs/rules/vitals-alerts.yml", "vitals-http", "default alert rules", "WithoutDefaultAlertRules"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	// Without the defaults the same file is fine: it is how a service pins
	// its own copy.
	v, err = vitals.Start(t.Context(), vitals.WithoutDefaultAlertRules(), vitals.WithAlertRuleFiles("docs/rules/vitals-alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	_ = v.Shutdown(t.Context())
}
