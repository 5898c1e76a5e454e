package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// modulePath is stripped from package paths: results are keyed by the
// package's directory ("" for the root package).
const modulePath = "github.com/vitalsgo/vitals"

// results holds parsed `go test -bench` output: every value reported for
// each benchmark and unit, and the header lines (goos, cpu, vitals-go ...).
type results struct {
	meta   map[string]string
	values map[string]map[string][]float64 // "pkg BenchmarkName" -> unit -> values
}

var procsSuffix = regexp.MustCompile(`-(\d+)$`)

// parse reads the output of one or more `go test -bench` runs.
func parse(r io.Reader) (*results, error) {
	res := &results{meta: map[string]string{}, values: map[string]map[string][]float64{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	pkg := ""
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if k, v, ok := strings.Cut(line, ": "); ok && !strings.HasPrefix(line, "Benchmark") && !strings.ContainsAny(k, " \t") {
			if k == "pkg" {
				pkg = strings.TrimPrefix(strings.TrimPrefix(v, modulePath), "/")
			} else {
				res.meta[k] = v
			}
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || len(f)%2 != 0 {
			continue // a benchmark's name printed before its log output
		}
		name := f[0]
		if m := procsSuffix.FindStringSubmatch(name); m != nil {
			name = strings.TrimSuffix(name, m[0])
			res.meta["procs"] = m[1]
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			return nil, fmt.Errorf("line %d: iterations %q: %w", n, f[1], err)
		}
		key := pkg + " " + name
		units := res.values[key]
		if units == nil {
			units = map[string][]float64{}
			res.values[key] = units
		}
		for i := 2; i < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("line %d: value %q of %s: %w", n, f[i], f[i+1], err)
			}
			units[f[i+1]] = append(units[f[i+1]], v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(res.values) == 0 {
		return nil, fmt.Errorf("no benchmark results in the input")
	}
	return res, nil
}

// median returns the median of the values reported for a benchmark in a
// unit, or NaN when the benchmark did not run.
func (r *results) median(pkg, name, unit string) float64 {
	vs := slices.Clone(r.values[pkg+" "+name][unit])
	if len(vs) == 0 {
		return math.NaN()
	}
	slices.Sort(vs)
	if len(vs)%2 == 1 {
		return vs[len(vs)/2]
	}
	return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
}

// medianRatio returns the median over runs of one run's a divided by the
// same run's b: for figures a benchmark measures side by side, so that a
// drift between runs cancels out.
func (r *results) medianRatio(pkg, name, a, b string) float64 {
	as, bs := r.values[pkg+" "+name][a], r.values[pkg+" "+name][b]
	if len(as) == 0 || len(as) != len(bs) {
		return math.NaN()
	}
	rs := make([]float64, len(as))
	for i := range as {
		rs[i] = as[i] / bs[i]
	}
	slices.Sort(rs)
	if len(rs)%2 == 1 {
		return rs[len(rs)/2]
	}
	return (rs[len(rs)/2-1] + rs[len(rs)/2]) / 2
}

// spread returns the smallest and largest values reported.
func (r *results) spread(pkg, name, unit string) (lo, hi float64) {
	vs := r.values[pkg+" "+name][unit]
	if len(vs) == 0 {
		return math.NaN(), math.NaN()
	}
	return slices.Min(vs), slices.Max(vs)
}
