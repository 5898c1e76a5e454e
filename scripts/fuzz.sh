#!/bin/sh
# Runs every fuzz target of the module for a bounded time each.
#
#   scripts/fuzz.sh [duration]     duration per target, default 10s
#
# Go fuzzes one target per invocation, so each target gets its own
# `go test -fuzz` call. The targets are listed here explicitly: a new fuzz
# target must be added below (and get a seed corpus in its package's
# testdata/fuzz/<Name>/). The script stops at the first failure; the failing
# input is written to testdata/fuzz/<Name>/ by go test, to be kept as a
# regression seed once the bug is fixed.
#
# -fuzzminimizetime 0 turns minimization off. In a run this short, minimizing
# each input that adds coverage takes most of the time, and a worker that
# dies while minimizing is reported only as "fuzzing process hung or
# terminated unexpectedly while minimizing: EOF", without the crash's own
# output (golang/go#52569). Unminimized, a crash is reported with its
# output and its input is still written.
set -eu

time=${1:-10s}
cd "$(dirname "$0")/.."

run() {
	pkg=$1
	name=$2
	echo "fuzz: $name in $pkg for $time"
	out=$(mktemp)
	if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$time" -fuzzminimizetime 0 "$pkg" >"$out" 2>&1; then
		cat "$out"
		rm -f "$out"
		return 0
	fi
	cat "$out"
	# With minimization off, an input that adds coverage in the last moment
	# can end the run with a bare "context deadline exceeded" and no failing
	# input: the fuzzer's own deadline, not a crash. Run such a target once
	# more; a real failure names its input ("Failing input written").
	if grep -q 'context deadline exceeded' "$out" && ! grep -q 'Failing input written' "$out"; then
		rm -f "$out"
		echo "fuzz: $name ended on the fuzzer's own deadline without a failing input; once more"
		go test -run '^$' -fuzz "^${name}\$" -fuzztime "$time" -fuzzminimizetime 0 "$pkg"
		return
	fi
	rm -f "$out"
	return 1
}

run ./monitoring FuzzMonitoringAPI
run ./instrument FuzzNormalizePath
run ./instrument FuzzRequestID
run ./instrument FuzzRedactHeaders
run ./exporter FuzzMetricsConfigFromEnv
run ./alerting FuzzParseRules
run ./alerting/slo FuzzParse
run ./alerting FuzzSilenceMatchers

echo "fuzz: every target ran for $time without a failure"
