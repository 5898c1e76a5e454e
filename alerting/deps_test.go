package alerting_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDepsNoSMTP holds the split of the package: a program that only
// evaluates rules links no SMTP client (package alerting/notify does), and
// alerting imports neither alerting/notify nor alerting/slo.
func TestDepsNoSMTP(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH: cannot list the package's dependencies")
	}
	out, err := exec.Command(gobin, "list", "-deps", "github.com/vitalsgo/vitals/alerting").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for dep := range strings.FieldsSeq(string(out)) {
		for _, banned := range []string{
			"github.com/emersion/go-smtp",
			"github.com/emersion/go-sasl",
			"github.com/vitalsgo/vitals/alerting/notify",
			"github.com/vitalsgo/vitals/alerting/slo",
		} {
			if dep == banned || strings.HasPrefix(dep, banned+"/") {
				t.Errorf("alerting depends on %s", dep)
			}
		}
	}
}
