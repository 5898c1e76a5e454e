// Package regex measures regular expressions, so that matchers given by
// callers (silences, the Alertmanager API's filters) are held to one limit.
package regex

import "regexp/syntax"

// Size returns the size of the program pattern compiles to, as
// labels.NewMatcher anchors it: instructions plus character-class range
// bounds, the measure alerting.MaxSilenceRegexpSize bounds.
func Size(pattern string) (int, error) {
	re, err := syntax.Parse("^(?s:"+pattern+")$", syntax.Perl)
	if err != nil {
		return 0, err
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return 0, err
	}
	n := len(prog.Inst)
	for _, in := range prog.Inst {
		n += len(in.Rune)
	}
	return n, nil
}
