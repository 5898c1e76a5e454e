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
set -eu

time=${1:-10s}
cd "$(dirname "$0")/.."

run() {
	pkg=$1
	name=$2
	echo "fuzz: $name in $pkg for $time"
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "$time" "$pkg"
}

run . FuzzMonitoringAPI
run ./instrument FuzzNormalizePath
run ./instrument FuzzRequestID
run ./exporter FuzzConfigFromEnv
run ./alerting FuzzParseRules
run ./alerting FuzzParseSLOs
run ./alerting FuzzSilenceMatchers

echo "fuzz: every target ran for $time without a failure"
