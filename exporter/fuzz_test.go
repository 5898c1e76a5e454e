package exporter

import (
	"strings"
	"testing"
)

// FuzzMetricsConfigFromEnv feeds arbitrary values to every variable: the parsers
// (metrics, traces and logs) never panic, and an error never repeats a header
// value.
func FuzzMetricsConfigFromEnv(f *testing.F) {
	for _, s := range []string{"", "a=b", "k=%zz", "grpc", "http://c:4318", "1000", "true", "a=b,,c", "=", "x\x00y"} {
		f.Add(s, "secret-value")
	}
	f.Fuzz(func(t *testing.T, v, secret string) {
		env := map[string]string{}
		for _, name := range []string{EnvServiceName, EnvResourceAttributes, EnvMetricsExporter, EnvEndpoint, EnvMetricsEndpoint,
			EnvProtocol, EnvTimeout, EnvInsecure, EnvCompression, EnvMetricsTemporalityPreference, EnvMetricExportInterval, EnvMetricsExemplarFilter,
			EnvTracesExporter, EnvLogsExporter} {
			env[name] = v
		}
		env[EnvHeaders] = v + "=" + secret
		_, metricsErr := configFromLookup(lookupFrom(env))
		_, tracesErr := tracesConfigFromLookup(lookupFrom(env))
		_, logsErr := logsConfigFromLookup(lookupFrom(env))
		for _, err := range []error{metricsErr, tracesErr, logsErr} {
			if err != nil && len(secret) > 8 && !strings.Contains(v, secret) && strings.Contains(err.Error(), secret) {
				t.Fatalf("error leaks the header value: %v", err)
			}
		}
	})
}
