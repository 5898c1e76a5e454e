package vitals_test

import (
	"os/exec"
	"path"
	"slices"
	"strings"
	"testing"
)

// leanPackages are linked by every user of the middleware, the business
// metrics or the health checks: they must stay free of the heavy engines.
var leanPackages = []string{
	"github.com/vitalsgo/vitals/instrument",
	"github.com/vitalsgo/vitals/bizmetrics",
	"github.com/vitalsgo/vitals/healthcheck",
}

// heavyPackages are the import paths (and everything under them) that
// leanPackages must not link: the PromQL engine and the SMTP client.
var heavyPackages = []string{
	"github.com/prometheus/prometheus/promql",
	"github.com/emersion/go-smtp",
}

// TestLeanPackagesDoNotLinkEngines lists the non-test dependencies of the
// middleware, bizmetrics and healthcheck with `go list -deps` and fails on
// the PromQL engine or the SMTP client, naming the import chain that brings
// it in.
func TestLeanPackagesDoNotLinkEngines(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH: cannot list the packages' dependencies")
	}
	for _, pkg := range leanPackages {
		t.Run(path.Base(pkg), func(t *testing.T) {
			out, err := exec.CommandContext(t.Context(), goCmd, "list", "-deps",
				"-f", `{{.ImportPath}}:{{range .Imports}} {{.}}{{end}}`, pkg).Output()
			if err != nil {
				if ee, ok := err.(*exec.ExitError); ok {
					t.Fatalf("go list -deps %s: %v\n%s", pkg, err, ee.Stderr)
				}
				t.Fatalf("go list -deps %s: %v", pkg, err)
			}
			imports, root := parseDeps(string(out))
			if root == "" {
				t.Fatalf("go list -deps %s listed nothing", pkg)
			}
			for dep := range imports {
				if !isHeavy(dep) {
					continue
				}
				// Report where a chain enters the heavy packages, not every
				// package they import in turn.
				chain := importChain(imports, root, dep)
				if i := slices.IndexFunc(chain, isHeavy); i == len(chain)-1 {
					t.Errorf("%s links %s: %s", root, dep, strings.Join(chain, " → "))
				}
			}
		})
	}
}

// TestIsHeavy checks the matching of heavy packages: a package under a
// heavy path counts, a path that only shares its prefix does not.
func TestIsHeavy(t *testing.T) {
	for path, want := range map[string]bool{
		"github.com/prometheus/prometheus/promql":                 true,
		"github.com/prometheus/prometheus/promql/parser":          true,
		"github.com/emersion/go-smtp":                             true,
		"github.com/prometheus/prometheus/promqlx":                false,
		"github.com/prometheus/prometheus/model/labels":           false,
		"github.com/vitalsgo/vitals/exporter/memory":              false,
		"github.com/prometheus/prometheus/promql/parser/posrange": true,
	} {
		if got := isHeavy(path); got != want {
			t.Errorf("isHeavy(%q) = %v, want %v", path, got, want)
		}
	}
}

// parseDeps reads lines "path: import import ..." and returns the import
// graph and the package listed last, which go list -deps prints after all
// its dependencies: the one asked about.
func parseDeps(out string) (map[string][]string, string) {
	imports := make(map[string][]string)
	var last string
	for line := range strings.Lines(out) {
		path, deps, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		imports[path] = strings.Fields(deps)
		last = path
	}
	return imports, last
}

// isHeavy reports whether p is one of heavyPackages or under one.
func isHeavy(p string) bool {
	return slices.ContainsFunc(heavyPackages, func(h string) bool {
		return p == h || strings.HasPrefix(p, h+"/")
	})
}

// importChain returns a shortest import chain from root to dep, found
// breadth first.
func importChain(imports map[string][]string, root, dep string) []string {
	prev := map[string]string{root: ""}
	queue := []string{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p == dep {
			var chain []string
			for ; p != ""; p = prev[p] {
				chain = append(chain, p)
			}
			slices.Reverse(chain)
			return chain
		}
		for _, q := range imports[p] {
			if _, seen := prev[q]; !seen {
				prev[q] = p
				queue = append(queue, q)
			}
		}
	}
	return []string{root, "…", dep}
}
