// Package promconv is the single place where OpenTelemetry metric data becomes
// Prometheus metric families. Both the /metrics endpoint and the in-memory
// time-series reader use it, so a series has the same name and labels
// everywhere.
//
// # Naming rules
//
// Names follow go.opentelemetry.io/otel/exporters/prometheus v0.69.0 with its
// default translation strategy, otlptranslator.UnderscoreEscapingWithSuffixes,
// and no namespace:
//
//   - Metric names go through otlptranslator.MetricNamer: characters outside
//     [a-zA-Z0-9:] become "_", runs of "_" collapse, a leading digit gets a "_"
//     prefix, the unit becomes a suffix ("s" → "_seconds", "By" → "_bytes",
//     "1" on a gauge → "_ratio", "{request}" annotations are dropped, "m/s" →
//     "_meters_per_second") and monotonic sums get "_total".
//   - Monotonic sums are COUNTERs, non-monotonic sums and gauges are GAUGEs,
//     explicit-bucket histograms are classic HISTOGRAMs (one bucket per bound,
//     cumulative, the +Inf bucket implied by the count) and exponential
//     histograms are native HISTOGRAMs (scale clamped to at most 8 by merging
//     buckets; scales below -4 are rejected). Summaries are ignored. Integer
//     values are converted to float64. Samples carry no timestamps.
//   - Attribute keys go through otlptranslator.LabelNamer: invalid characters
//     become "_", runs of "_" collapse, a leading digit gets a "key_" prefix.
//     When two keys of one attribute set become the same label name, their
//     values are sorted and joined with ";". Keys that translate to a reserved
//     name ("__…", or on a series one of the otel_scope_* labels) are errors.
//   - The resource becomes one GAUGE family "target_info" (help "Target
//     metadata", value 1) labelled with the resource attributes. It is omitted
//     when the resource has no attributes.
//   - When two metrics translate to the same family name, the type and help
//     seen first win (remembered across calls, as the exporter does); a metric
//     with a different type is dropped and reported as an error.
//   - Exemplars are attached to counters (the last one) and histogram buckets
//     (the first bucket whose upper bound is ≥ the value) with trace_id and
//     span_id labels, hex encoded.
//
// # Scope labels
//
// The exporter labels every series with otel_scope_name, otel_scope_version,
// otel_scope_schema_url and one otel_scope_<key> label per scope attribute.
// This package adds only otel_scope_name, and only for scopes with a
// non-empty name. The version changes with every dependency upgrade and would
// split every series at each deploy, breaking rate() and increase() across
// it; the schema URL and scope attributes are rarely used. The name alone is
// enough to tell instrumentation scopes apart.
//
// The one case where the name is not enough is two scopes with the same name
// and different versions reporting the same instrument with the same
// attributes (two versions of a library linked into one binary). Within that
// family, every series of those scopes then also gets otel_scope_version, so
// no duplicate series is ever emitted. Any duplicate that remains (for
// example two instruments whose names differ only in characters that
// translate to "_") is dropped and reported as an error.
//
// Metrics from the Prometheus bridge scope
// ("go.opentelemetry.io/contrib/bridges/prometheus") are skipped, as the
// exporter skips them, and reported once to the converter's error handler
// (NewConverter), where the exporter uses otel.Handle.
//
// # Sharing
//
// To keep a scrape cheap, the families returned share immutable pieces: label
// name strings and the scope label pairs are the same pointers in many
// metrics, and the label slice of a series (with its pairs) is reused by every
// later call that reports the same series. Treat the output as read-only, as
// client_golang's own const metrics require; replacing a field of a returned
// dto.Metric is fine, modifying what it points to is not.
package promconv
