package memory

import (
	"maps"
	"strings"

	dto "github.com/prometheus/client_model/go"
)

// Metadata is what the instruments say of a metric family, as Prometheus'
// /api/v1/metadata reports it: the family's type (counter, gauge,
// histogram or unknown), its help text (the instrument's description) and
// its unit. The unit is empty, as a Prometheus scraping /metrics in the
// text format stores it: the family's name carries it as a suffix
// (_seconds, _bytes).
type Metadata struct {
	Type string `json:"type"` // counter, gauge, histogram or unknown
	Help string `json:"help"` // the instrument's description
	Unit string `json:"unit"` // always empty: the name carries the unit
}

// Metadata returns the metadata of every metric family the reader has
// collected, by family name as a Prometheus scraping /metrics in the
// OpenMetrics format (its default) keys it: a counter without its _total,
// a histogram without _bucket, _sum or _count. A family keeps its entry
// after its last series is gone, as Prometheus keeps a target's.
func (r *Reader) Metadata() map[string]Metadata {
	r.metaMu.RLock()
	defer r.metaMu.RUnlock()
	return maps.Clone(r.meta)
}

// noteMetadata records the metadata of the families of a collection. The
// caller holds collectMu, so it is the only writer of r.meta and reads it
// without metaMu; an unchanged family costs one map lookup.
func (r *Reader) noteMetadata(fams []*dto.MetricFamily) {
	for _, f := range fams {
		md := Metadata{Type: metadataType(f.GetType()), Help: f.GetHelp()}
		name := f.GetName()
		if f.GetType() == dto.MetricType_COUNTER {
			name = strings.TrimSuffix(name, "_total")
		}
		if old, ok := r.meta[name]; ok && old == md {
			continue
		}
		r.metaMu.Lock()
		if r.meta == nil {
			r.meta = map[string]Metadata{}
		}
		r.meta[name] = md
		r.metaMu.Unlock()
	}
}

// metadataType names a family's type as Prometheus' metadata API does.
func metadataType(t dto.MetricType) string {
	switch t {
	case dto.MetricType_COUNTER:
		return "counter"
	case dto.MetricType_GAUGE:
		return "gauge"
	case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
		return "histogram"
	case dto.MetricType_SUMMARY:
		return "summary"
	}
	return "unknown"
}
