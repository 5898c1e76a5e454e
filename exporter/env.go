package exporter

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
)

// The environment variables MetricsConfigFromEnv reads. Where a metrics-specific
// variable and a generic one are both set, the metrics-specific one wins.
const (
	EnvServiceName                  = "OTEL_SERVICE_NAME"
	EnvResourceAttributes           = "OTEL_RESOURCE_ATTRIBUTES"
	EnvMetricsExporter              = "OTEL_METRICS_EXPORTER"
	EnvEndpoint                     = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvMetricsEndpoint              = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"
	EnvProtocol                     = "OTEL_EXPORTER_OTLP_PROTOCOL"
	EnvMetricsProtocol              = "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"
	EnvHeaders                      = "OTEL_EXPORTER_OTLP_HEADERS"
	EnvMetricsHeaders               = "OTEL_EXPORTER_OTLP_METRICS_HEADERS"
	EnvTimeout                      = "OTEL_EXPORTER_OTLP_TIMEOUT"
	EnvMetricsTimeout               = "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT"
	EnvInsecure                     = "OTEL_EXPORTER_OTLP_INSECURE"
	EnvMetricsInsecure              = "OTEL_EXPORTER_OTLP_METRICS_INSECURE"
	EnvCompression                  = "OTEL_EXPORTER_OTLP_COMPRESSION"
	EnvMetricsCompression           = "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION"
	EnvMetricsTemporalityPreference = "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"
	EnvMetricExportInterval         = "OTEL_METRIC_EXPORT_INTERVAL"
	EnvMetricExportTimeout          = "OTEL_METRIC_EXPORT_TIMEOUT"
	EnvMetricsExemplarFilter        = "OTEL_METRICS_EXEMPLAR_FILTER"
	// EnvHistogramAggregation is the specification's
	// OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION:
	// "explicit_bucket_histogram" (the default) or
	// "base2_exponential_bucket_histogram", which sets
	// MetricsConfig.ExponentialHistograms for OTLP and /metrics alike.
	EnvHistogramAggregation = "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION"
)

// EnvError reports an environment variable whose value is not valid.
// Values that may hold secrets (headers) are not repeated in the message.
type EnvError struct {
	// Name is the variable, for example OTEL_METRIC_EXPORT_INTERVAL.
	Name string
	// Value is the offending value, or "REDACTED" for header variables.
	Value string
	// Err says what is wrong with it.
	Err error
}

// Error returns the variable, its value and what is wrong with it.
func (e *EnvError) Error() string {
	return fmt.Sprintf("%s=%q: %v", e.Name, e.Value, e.Err)
}

// Unwrap returns the underlying error.
func (e *EnvError) Unwrap() error { return e.Err }

// MetricsConfigFromEnv reads the standard OTEL_* variables (the Env constants) into
// a MetricsConfig, with the specification's defaults and precedence. A value the
// specification would ignore with a warning is refused instead, so that a
// typo never silently changes what is exported: every invalid variable is
// an *EnvError, joined into the one error returned, and the MetricsConfig must then
// not be used.
func MetricsConfigFromEnv() (MetricsConfig, error) {
	return configFromLookup(os.LookupEnv)
}

type envReader struct {
	lookup func(string) (string, bool)
	errs   []error
}

func (r *envReader) get(name string) (string, bool) {
	v, ok := r.lookup(name)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

// first returns the value of the first of names that is set, and its name.
func (r *envReader) first(names ...string) (name, value string, ok bool) {
	for _, n := range names {
		if v, ok := r.get(n); ok {
			return n, v, true
		}
	}
	return "", "", false
}

func (r *envReader) fail(name, value string, err error) {
	r.errs = append(r.errs, &EnvError{Name: name, Value: value, Err: err})
}

// millis reads a whole number of milliseconds. With zeroIsNoLimit, 0 means
// no limit (as the specification says of timeouts) and is stored as -1.
func (r *envReader) millis(dst *time.Duration, zeroIsNoLimit bool, names ...string) {
	name, v, ok := r.first(names...)
	if !ok {
		return
	}
	n, err := strconv.ParseInt(v, 10, 64)
	switch {
	case err == nil && n == 0 && zeroIsNoLimit:
		*dst = -1
	case err != nil || n <= 0 || n > int64(24*time.Hour/time.Millisecond):
		want := "a positive whole number of milliseconds up to one day"
		if zeroIsNoLimit {
			want = "a whole number of milliseconds up to one day, or 0 for no limit"
		}
		r.fail(name, v, errors.New("want "+want))
	default:
		*dst = time.Duration(n) * time.Millisecond
	}
}

func (r *envReader) bool(dst *bool, names ...string) {
	name, v, ok := r.first(names...)
	if !ok {
		return
	}
	switch strings.ToLower(v) {
	case "true":
		*dst = true
	case "false":
		*dst = false
	default:
		r.fail(name, v, errors.New(`want "true" or "false"`))
	}
}

// otlp reads the OTLP variables of one signal into o: the signal's own
// (endpoint, protocol, headers, timeout, insecure, compression), each
// winning over its generic form.
func (r *envReader) otlp(o *OTLP, endpoint, protocol, headers, timeout, insecure, compression string) {
	if name, v, ok := r.first(protocol, EnvProtocol); ok {
		p, err := parseProtocol(v)
		if err != nil {
			r.fail(name, v, err)
		}
		o.Protocol = p
	}
	if v, ok := r.get(endpoint); ok {
		if _, err := resolveEndpoint(v, o.Protocol, false); err != nil {
			r.fail(endpoint, redactURL(v), err)
		}
		o.Endpoint = v
	}
	if v, ok := r.get(EnvEndpoint); ok {
		if _, err := resolveEndpoint(v, o.Protocol, false); err != nil {
			r.fail(EnvEndpoint, redactURL(v), err)
		}
		o.BaseEndpoint = v
	}
	if name, v, ok := r.first(headers, EnvHeaders); ok {
		h, err := parseHeaders(v)
		if err != nil {
			r.fail(name, redacted, err)
		}
		o.Headers = h
	}
	r.millis(&o.Timeout, true, timeout, EnvTimeout)
	r.bool(&o.Insecure, insecure, EnvInsecure)
	if name, v, ok := r.first(compression, EnvCompression); ok {
		switch strings.ToLower(v) {
		case "gzip":
			o.Compression = "gzip"
		case "none":
			o.Compression = ""
		default:
			r.fail(name, v, errors.New(`want "gzip" or "none"`))
		}
	}
}

func configFromLookup(lookup func(string) (string, bool)) (MetricsConfig, error) {
	r := &envReader{lookup: lookup}
	var cfg MetricsConfig

	if v, ok := r.get(EnvResourceAttributes); ok {
		attrs, err := parseResourceAttributes(v)
		if err != nil {
			r.fail(EnvResourceAttributes, v, err)
		}
		cfg.ResourceAttributes = attrs
	}
	if v, ok := r.get(EnvServiceName); ok {
		cfg.ServiceName = v
	}

	if v, ok := r.get(EnvMetricsExporter); ok {
		exps, err := parseExporters(v, MetricsPrometheus, MetricsOTLP, MetricsConsole)
		if err != nil {
			r.fail(EnvMetricsExporter, v, err)
		}
		cfg.Exporters = exps
	}

	r.otlp(&cfg.OTLP, EnvMetricsEndpoint, EnvMetricsProtocol, EnvMetricsHeaders, EnvMetricsTimeout, EnvMetricsInsecure, EnvMetricsCompression)
	if v, ok := r.get(EnvMetricsTemporalityPreference); ok {
		switch strings.ToLower(v) {
		case "cumulative":
			cfg.OTLP.Temporality = TemporalityCumulative
		case "delta":
			cfg.OTLP.Temporality = TemporalityDelta
		case "lowmemory":
			cfg.OTLP.Temporality = TemporalityLowMemory
		default:
			r.fail(EnvMetricsTemporalityPreference, v, errors.New(`want "cumulative", "delta" or "lowmemory"`))
		}
	}

	if v, ok := r.get(EnvHistogramAggregation); ok {
		switch strings.ToLower(v) {
		case "explicit_bucket_histogram":
			cfg.ExponentialHistograms = false
		case "base2_exponential_bucket_histogram":
			cfg.ExponentialHistograms = true
		default:
			r.fail(EnvHistogramAggregation, v, errors.New(`want "explicit_bucket_histogram" or "base2_exponential_bucket_histogram"`))
		}
	}

	r.millis(&cfg.ExportInterval, false, EnvMetricExportInterval)
	r.millis(&cfg.ExportTimeout, true, EnvMetricExportTimeout)

	if v, ok := r.get(EnvMetricsExemplarFilter); ok {
		switch strings.ToLower(v) {
		case "always_off":
			cfg.Exemplars = ExemplarsOff
		case "always_on":
			cfg.Exemplars = ExemplarsOn
		case "trace_based":
			cfg.Exemplars = ExemplarsTraceBased
		default:
			r.fail(EnvMetricsExemplarFilter, v, errors.New(`want "always_off", "always_on" or "trace_based"`))
		}
	}

	return cfg, errors.Join(r.errs...)
}

// parseExporters parses the comma-separated list of an OTEL_*_EXPORTER
// variable (metrics, traces or logs): the names of known (their String) in
// any case, blanks around them and empty items ignored, duplicates kept (the
// providers build each exporter once). "none" gives an empty, non-nil list
// and may not be combined with another name.
func parseExporters[E fmt.Stringer](v string, known ...E) ([]E, error) {
	exps := []E{}
	none := false
	for item := range strings.SplitSeq(v, ",") {
		item = strings.TrimSpace(item)
		switch name := strings.ToLower(item); name {
		case "":
		case "none":
			none = true
		default:
			i := slices.IndexFunc(known, func(e E) bool { return e.String() == name })
			if i < 0 {
				names := make([]string, len(known))
				for j, e := range known {
					names[j] = e.String()
				}
				return nil, fmt.Errorf("unknown exporter %q: want a comma-separated list of %s, or none", item, strings.Join(names, ", "))
			}
			exps = append(exps, known[i])
		}
	}
	if none && len(exps) > 0 {
		return nil, errors.New(`"none" cannot be combined with other exporters`)
	}
	return exps, nil
}

func parseProtocol(v string) (Protocol, error) {
	switch strings.ToLower(v) {
	case "grpc":
		return ProtocolGRPC, nil
	case "http/protobuf":
		return ProtocolHTTPProtobuf, nil
	case "http/json":
		return ProtocolUnknown, errors.New(`"http/json" is not supported by the Go OTLP exporter: want "grpc" or "http/protobuf"`)
	default:
		return ProtocolUnknown, errors.New(`want "grpc" or "http/protobuf"`)
	}
}

// parseKeyValues parses "key=value,key2=value2" with percent-encoded
// values, as the specification describes for resource attributes and
// headers, calling add for each pair. Its errors name the entry's position
// and key, never a value, so that they are safe to log for headers too.
func parseKeyValues(v string, validKey func(string) error, add func(key, value string)) error {
	for i, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		key, val, ok := strings.Cut(item, "=")
		key = strings.TrimSpace(key)
		if !ok {
			return fmt.Errorf("entry %d has no %q: want key=value", i+1, "=")
		}
		if err := validKey(key); err != nil {
			return fmt.Errorf("entry %d: %w", i+1, err)
		}
		dec, err := url.PathUnescape(strings.TrimSpace(val))
		if err != nil {
			return fmt.Errorf("entry %d (%s): value is not valid percent-encoding", i+1, key)
		}
		add(key, dec)
	}
	return nil
}

func parseResourceAttributes(v string) ([]attribute.KeyValue, error) {
	var attrs []attribute.KeyValue
	err := parseKeyValues(v, func(k string) error {
		if k == "" {
			return errors.New("empty key: want key=value")
		}
		return nil
	}, func(k, v string) { attrs = append(attrs, attribute.String(k, v)) })
	return attrs, err
}

func parseHeaders(v string) (map[string]string, error) {
	h := make(map[string]string)
	err := parseKeyValues(v, func(k string) error {
		if !validHeaderName(k) {
			return fmt.Errorf("%q is not a valid header name", k)
		}
		return nil
	}, func(k, v string) { h[k] = v })
	return h, err
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
