package promconv

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
)

const (
	scopeNameLabel    = otlptranslator.ScopeNameLabelKey
	scopeVersionLabel = otlptranslator.ScopeVersionLabelKey
	scopeSchemaLabel  = "otel_scope_schema_url"

	// bridgeScopeName is the scope of metrics produced by the Prometheus
	// bridge. Like the OTel exporter, we skip them: those metrics already
	// come from a Prometheus registry and would round-trip badly.
	bridgeScopeName = "go.opentelemetry.io/contrib/bridges/prometheus"

	targetInfoHelp = "Target metadata"

	// maxCacheEntries bounds each cache of the Converter. A cache that would
	// grow beyond it starts over, which only costs re-translation.
	maxCacheEntries = 10000
)

var (
	// Label names shared by every label pair that carries them.
	scopeNameLabelName    = new(scopeNameLabel)
	scopeVersionLabelName = new(scopeVersionLabel)
	traceIDLabelName      = new(otlptranslator.ExemplarTraceIDKey)
	spanIDLabelName       = new(otlptranslator.ExemplarSpanIDKey)

	errBridgeScope = errors.New("promconv: metrics of the Prometheus bridge scope " +
		bridgeScopeName + " are not supported and are dropped")
)

// Converter turns OTel metric data into Prometheus metric families, named
// exactly as go.opentelemetry.io/otel/exporters/prometheus v0.69.0 names them
// with its default translation strategy
// (otlptranslator.UnderscoreEscapingWithSuffixes): the same metric names with
// unit and _total suffixes, the same label-name sanitising (including joining
// the sorted values of keys that collide after sanitising with ";") and the
// same target_info family. Unlike the exporter it labels series with
// otel_scope_name only; see the package documentation.
//
// A Converter remembers translated metric names (keyed by name, unit and
// kind), translated label names, the type and help of every family it has
// seen and the label pairs of recently converted series (keyed by scope name
// and attribute set). Steady-state conversion therefore does no
// otlptranslator work and allocates no labels, and type conflicts are
// resolved the same way on every call. All caches are bounded. A Converter is
// safe for concurrent use.
type Converter struct {
	metricNamer otlptranslator.MetricNamer
	labelNamer  otlptranslator.LabelNamer

	// names is an immutable snapshot, replaced (copy on write) at the end of
	// a Convert call that had cache misses. Readers need no lock.
	names atomic.Pointer[nameCache]

	mu        sync.Mutex // guards families, familySeq and replacing names
	families  map[string]familyInfo
	familySeq uint64

	sets caches

	bridgeOnce sync.Once

	onError func(error)
}

// NewConverter returns a Converter with empty caches. onError receives the
// problems that do not fail a conversion (a skipped bridge scope, dropped
// exemplars, a bucket count too large): the exporter logs them at a bounded
// rate. A nil onError drops them.
func NewConverter(onError func(error)) *Converter {
	if onError == nil {
		onError = func(error) {}
	}
	c := &Converter{
		onError:     onError,
		metricNamer: otlptranslator.NewMetricNamer("", otlptranslator.UnderscoreEscapingWithSuffixes),
		labelNamer:  otlptranslator.LabelNamer{UTF8Allowed: false},
		families:    make(map[string]familyInfo),
	}
	c.names.Store(&nameCache{
		metrics: map[metricKey]metricName{},
		labels:  map[string]labelName{},
	})
	return c
}

type nameCache struct {
	metrics map[metricKey]metricName
	labels  map[string]labelName
}

type metricKey struct {
	name, unit string
	kind       otlptranslator.MetricType
}

type metricName struct {
	name string
	err  error
}

// labelName is the translation of one attribute key.
type labelName struct {
	name *string // shared by every label pair with this name
	err  error   // the key cannot be a label name at all
	// scopeReserved is set when the name is one of the otel_scope_* labels,
	// which the exporter always adds itself: an attribute with that name is
	// an error on a series (but fine in target_info and exemplars).
	scopeReserved bool
}

// familyInfo is what the first metric of a family name defined.
type familyInfo struct {
	typ        dto.MetricType
	help       string
	instrument string
	scope      string
	seq        uint64
}

// register returns the definition of family name, recording the given one
// if the name is new.
func (c *Converter) register(name string, typ dto.MetricType, help, instrument, scope string) familyInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	if info, ok := c.families[name]; ok {
		return info
	}
	if len(c.families) >= maxCacheEntries {
		clear(c.families)
	}
	c.familySeq++
	info := familyInfo{typ: typ, help: help, instrument: instrument, scope: scope, seq: c.familySeq}
	c.families[name] = info
	return info
}

// publish merges the cache misses of one call into a new snapshot.
func (c *Converter) publish(cv *conv) {
	if len(cv.newMetrics) == 0 && len(cv.newLabels) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.names.Load()
	nc := &nameCache{
		metrics: mergeBounded(old.metrics, cv.newMetrics),
		labels:  mergeBounded(old.labels, cv.newLabels),
	}
	c.names.Store(nc)
}

func mergeBounded[K comparable, V any](old, add map[K]V) map[K]V {
	if len(add) == 0 {
		return old
	}
	base := old
	if len(old)+len(add) > maxCacheEntries {
		base = nil
	}
	m := make(map[K]V, len(base)+len(add))
	for k, v := range base {
		m[k] = v
	}
	for k, v := range add {
		m[k] = v
	}
	return m
}

// Convert appends the families for rm to dst (which may be nil) and returns
// the extended slice. The appended families are sorted by name and each
// family's metrics by label values, as client_golang's registry sorts them;
// elements already in dst are left as they are. Families without series are
// omitted.
//
// Errors for individual metrics or series (an invalid name, a type conflict,
// an attribute key that cannot become a label name, an invalid UTF-8 label
// value, a duplicate series) are joined and returned; everything else is
// still converted.
//
// rm is only read. The returned families do not refer to memory owned by rm,
// so rm may be reused for the next collection.
func (c *Converter) Convert(dst []*dto.MetricFamily, rm *metricdata.ResourceMetrics) ([]*dto.MetricFamily, error) {
	if rm == nil {
		return dst, nil
	}
	cv := conv{
		c:     c,
		names: c.names.Load(),
		fams:  make(map[string]*family),
	}
	cv.targetInfo(rm.Resource)
	for i := range rm.ScopeMetrics {
		sm := &rm.ScopeMetrics[i]
		if sm.Scope.Name == bridgeScopeName {
			c.bridgeOnce.Do(func() { c.onError(errBridgeScope) })
			continue
		}
		si := cv.addScope(sm.Scope.Name, sm.Scope.Version)
		for j := range sm.Metrics {
			cv.metric(si, &sm.Metrics[j])
		}
	}
	c.publish(&cv)
	c.sets.endCall(cv.nseries, cv.nexemplars)
	dst = cv.finish(dst)
	return dst, errors.Join(cv.errs...)
}

// conv is the state of one Convert call.
type conv struct {
	c          *Converter
	names      *nameCache
	newMetrics map[metricKey]metricName
	newLabels  map[string]labelName

	fams   map[string]*family
	scopes []scopeInfo
	errs   []error

	hasTargetInfo bool
	nseries       int // series looked up in c.sets
	nexemplars    int // exemplars looked up in c.sets
	misses        int // c.sets misses in the current metric

	// memo remembers the label names of the previous attribute set by
	// position: consecutive data points almost always have the same keys.
	// exemplars is scratch space for the exemplars of one point.
	exemplars []*dto.Exemplar

	memoKeys  []string
	memoNames []labelName

	metrics  chunk[dto.Metric]
	counters chunk[dto.Counter]
	gauges   chunk[dto.Gauge]
	hists    chunk[dto.Histogram]
	buckets  chunk[dto.Bucket]
	bptrs    chunk[*dto.Bucket]
	pairs    chunk[dto.LabelPair]
	pptrs    chunk[*dto.LabelPair]
	strs     chunk[string]
	floats   chunk[float64]
	uints    chunk[uint64]
}

type scopeInfo struct {
	name, version string
	namePair      *dto.LabelPair // nil for an unnamed scope
	versionPair   *dto.LabelPair // created when needed
}

// family collects the series of one metric family during a call.
type family struct {
	name   string
	help   string
	typ    dto.MetricType
	seq    uint64 // registration order, to decide suffix collisions
	series []series
	drop   bool

	// keys holds the sort keys of the series back to back, written while
	// their labels are still in the CPU cache; keyEnds[i] is where the key
	// of series[i] ends. noKeys is set when some key cannot be built. See
	// sortSeries.
	keys    strings.Builder
	keyEnds []int
	noKeys  bool
}

type series struct {
	key   string // see setSortKeys
	m     *dto.Metric
	scope int32 // index into conv.scopes, -1 for target_info
	seq   int32 // insertion order, the tie-breaker for duplicates
}

func (cv *conv) errorf(format string, args ...any) {
	cv.errs = append(cv.errs, fmt.Errorf("promconv: "+format, args...))
}

func (cv *conv) addScope(name, version string) int32 {
	s := scopeInfo{name: name, version: version}
	if name != "" {
		s.namePair = &dto.LabelPair{Name: scopeNameLabelName, Value: new(name)}
	}
	cv.scopes = append(cv.scopes, s)
	return int32(len(cv.scopes) - 1)
}

func (cv *conv) versionPair(si int32) *dto.LabelPair {
	s := &cv.scopes[si]
	if s.versionPair == nil {
		s.versionPair = &dto.LabelPair{Name: scopeVersionLabelName, Value: new(s.version)}
	}
	return s.versionPair
}

func (cv *conv) targetInfo(res *resource.Resource) {
	if res == nil || res.Len() == 0 {
		return
	}
	lbls, err := cv.labels(res.Set(), -1, 1)
	if err != nil {
		cv.errorf("target_info: %w", err)
		return
	}
	m := cv.metrics.one(1)
	m.Label = lbls
	m.Gauge = &dto.Gauge{Value: new(1.0)}
	f := &family{name: otlptranslator.TargetInfoMetricName, help: targetInfoHelp, typ: dto.MetricType_GAUGE}
	f.series = append(f.series, series{m: m, scope: -1})
	cv.fams[f.name] = f
	cv.hasTargetInfo = true
}

// metric converts one OTel metric.
func (cv *conv) metric(si int32, m *metricdata.Metrics) {
	var (
		typ  dto.MetricType
		kind otlptranslator.MetricType
	)
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		typ, kind = sumType(d.IsMonotonic)
	case metricdata.Sum[float64]:
		typ, kind = sumType(d.IsMonotonic)
	case metricdata.Gauge[int64], metricdata.Gauge[float64]:
		typ, kind = dto.MetricType_GAUGE, otlptranslator.MetricTypeGauge
	case metricdata.Histogram[int64], metricdata.Histogram[float64],
		metricdata.ExponentialHistogram[int64], metricdata.ExponentialHistogram[float64]:
		typ, kind = dto.MetricType_HISTOGRAM, otlptranslator.MetricTypeHistogram
	case metricdata.Summary:
		return // ignored, as the exporter cannot export it either
	default:
		cv.errorf("instrument %q of scope %q: unsupported data type %T", m.Name, cv.scopes[si].name, m.Data)
		return
	}
	name, err := cv.metricName(m.Name, m.Unit, kind)
	if err != nil {
		cv.errorf("instrument %q of scope %q: %w", m.Name, cv.scopes[si].name, err)
		return
	}
	f := cv.family(name, typ, m, si)
	if f == nil {
		return
	}
	var bad badSeries
	cv.misses = 0
	cv.c.sets.mu.Lock()
	defer cv.c.sets.mu.Unlock()
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		addSum(cv, f, si, d.DataPoints, d.IsMonotonic, &bad)
	case metricdata.Sum[float64]:
		addSum(cv, f, si, d.DataPoints, d.IsMonotonic, &bad)
	case metricdata.Gauge[int64]:
		addSum(cv, f, si, d.DataPoints, false, &bad)
	case metricdata.Gauge[float64]:
		addSum(cv, f, si, d.DataPoints, false, &bad)
	case metricdata.Histogram[int64]:
		addHistogram(cv, f, si, d.DataPoints, &bad)
	case metricdata.Histogram[float64]:
		addHistogram(cv, f, si, d.DataPoints, &bad)
	case metricdata.ExponentialHistogram[int64]:
		addNativeHistogram(cv, f, si, d.DataPoints, &bad)
	case metricdata.ExponentialHistogram[float64]:
		addNativeHistogram(cv, f, si, d.DataPoints, &bad)
	}
	if bad.n > 0 {
		cv.errorf("instrument %q of scope %q: dropped %d of its series, first because: %w",
			m.Name, cv.scopes[si].name, bad.n, bad.first)
	}
}

// badSeries counts the series of one metric that could not be converted.
type badSeries struct {
	n     int
	first error
}

func (b *badSeries) add(err error) {
	if b.n == 0 {
		b.first = err
	}
	b.n++
}

func sumType(monotonic bool) (dto.MetricType, otlptranslator.MetricType) {
	if monotonic {
		return dto.MetricType_COUNTER, otlptranslator.MetricTypeMonotonicCounter
	}
	return dto.MetricType_GAUGE, otlptranslator.MetricTypeNonMonotonicCounter
}

// family returns the family a metric of type typ named name belongs to, or
// nil (after recording an error) if the name is taken by another type.
func (cv *conv) family(name string, typ dto.MetricType, m *metricdata.Metrics, si int32) *family {
	if name == otlptranslator.TargetInfoMetricName && cv.hasTargetInfo {
		cv.errorf("instrument %q of scope %q: name %q is reserved for the resource; dropped",
			m.Name, cv.scopes[si].name, name)
		return nil
	}
	f, ok := cv.fams[name]
	if ok && f.typ == typ {
		return f
	}
	info := cv.c.register(name, typ, m.Description, m.Name, cv.scopes[si].name)
	if ok || info.typ != typ {
		first := info.typ
		if ok {
			first = f.typ
		}
		cv.errorf("instrument %q of scope %q: family %q would be a %s but instrument %q of scope %q made it a %s first; dropped",
			m.Name, cv.scopes[si].name, name, typ, info.instrument, info.scope, first)
		return nil
	}
	f = &family{name: name, help: info.help, typ: typ, seq: info.seq}
	cv.fams[name] = f
	return f
}

func (cv *conv) metricName(name, unit string, kind otlptranslator.MetricType) (string, error) {
	k := metricKey{name: name, unit: unit, kind: kind}
	if v, ok := cv.names.metrics[k]; ok {
		return v.name, v.err
	}
	if v, ok := cv.newMetrics[k]; ok {
		return v.name, v.err
	}
	s, err := cv.c.metricNamer.Build(otlptranslator.Metric{Name: name, Unit: unit, Type: kind})
	if cv.newMetrics == nil {
		cv.newMetrics = make(map[metricKey]metricName)
	}
	cv.newMetrics[k] = metricName{name: s, err: err}
	return s, err
}

func (cv *conv) labelName(key string) labelName {
	if v, ok := cv.names.labels[key]; ok {
		return v
	}
	if v, ok := cv.newLabels[key]; ok {
		return v
	}
	var v labelName
	name, err := cv.c.labelNamer.Build(key)
	switch {
	case err != nil:
		v.err = err
	case strings.HasPrefix(name, "__"):
		v.err = fmt.Errorf("attribute key %q translates to reserved label name %q", key, name)
	default:
		v.name = new(name)
		switch name {
		case scopeNameLabel, scopeVersionLabel, scopeSchemaLabel:
			v.scopeReserved = true
		}
	}
	if cv.newLabels == nil {
		cv.newLabels = make(map[string]labelName)
	}
	cv.newLabels[key] = v
	return v
}

// labelSetKey identifies the labels of a series: they depend only on the
// attribute set and the scope name.
type labelSetKey struct {
	scope string
	set   attribute.Distinct
}

// caches keeps what conversions can share across calls: the label pairs of
// every series, so a steady-state scrape neither translates nor allocates
// labels, and the converted exemplars, which a reservoir reports again at
// every collection until a newer measurement replaces them. What they hold
// is shared by the families of successive calls and never modified.
// conv.metric holds mu while it converts the points of one metric.
type caches struct {
	mu        sync.Mutex
	series    generations[labelSetKey, []*dto.LabelPair]
	exemplars generations[exemplarKey, cachedExemplar]
}

const minLabelSets = 10000

// endCall records that a call looked up n series and e exemplars.
func (c *caches) endCall(n, e int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.series.endCall(n, minLabelSets)
	c.exemplars.endCall(e, 0)
}

// generations is a cache of two generations: lookups promote hits from
// prev to cur, and when cur outgrows twice the recent number of lookups per
// call it becomes prev. Entries no longer looked up are thus dropped after
// at most two rotations, and the cache holds at most about four times the
// live entries.
type generations[K comparable, V any] struct {
	cur, prev map[K]V
	peak      int // recent maximum of lookups per call
}

func (g *generations[K, V]) load(k K) (V, bool) {
	if v, ok := g.cur[k]; ok {
		return v, true
	}
	if v, ok := g.prev[k]; ok {
		delete(g.prev, k)
		g.cur[k] = v
		return v, true
	}
	var zero V
	return zero, false
}

func (g *generations[K, V]) store(k K, v V) {
	if g.cur == nil {
		g.cur = make(map[K]V)
	}
	g.cur[k] = v
}

// endCall records that a call looked up n entries and rotates the
// generations if cur has grown well beyond that (and beyond least).
func (g *generations[K, V]) endCall(n, least int) {
	g.peak = max(n, g.peak-g.peak/16)
	if len(g.cur) > max(least, 2*g.peak) {
		g.prev, g.cur = g.cur, make(map[K]V, len(g.cur)/2)
	}
}

// seriesLabels returns the labels of a series of scope si with attributes
// attrs, from the cache if possible.
func (cv *conv) seriesLabels(attrs *attribute.Set, si int32, hint int) ([]*dto.LabelPair, error) {
	cv.nseries++
	k := labelSetKey{scope: cv.scopes[si].name, set: attrs.Equivalent()}
	if l, ok := cv.c.sets.series.load(k); ok {
		return l, nil
	}
	// Size label allocations by the misses so far in this metric, not by
	// the points left: after the first scrape almost all are hits.
	cv.misses++
	l, err := cv.labels(attrs, si, min(hint, 2*cv.misses))
	if err == nil {
		cv.c.sets.series.store(k, l)
	}
	return l, err
}

// labels returns the sorted label pairs for attrs plus the otel_scope_name
// label of scope si (none when si < 0). hint is the number of series still
// to come for this metric, to size allocations.
func (cv *conv) labels(attrs *attribute.Set, si int32, hint int) ([]*dto.LabelPair, error) {
	n := attrs.Len()
	var sp *dto.LabelPair
	if si >= 0 {
		sp = cv.scopes[si].namePair
	}
	total := n
	if sp != nil {
		total++
	}
	if total == 0 {
		return nil, nil
	}
	ptrs := cv.pptrs.take(total, hint*total)
	if n > 0 {
		pairs := cv.pairs.take(n, hint*n)
		vals := cv.strs.take(n, hint*n)
		if len(cv.memoKeys) < n {
			cv.memoKeys = append(cv.memoKeys, make([]string, n-len(cv.memoKeys))...)
			cv.memoNames = append(cv.memoNames, make([]labelName, n-len(cv.memoNames))...)
		}
		it := attrs.Iter()
		for it.Next() {
			i, kv := it.IndexedAttribute()
			key := string(kv.Key)
			var ln labelName
			if cv.memoKeys[i] == key && cv.memoNames[i].name != nil {
				ln = cv.memoNames[i]
			} else {
				ln = cv.labelName(key)
				if ln.err != nil {
					return nil, ln.err
				}
				cv.memoKeys[i], cv.memoNames[i] = key, ln
			}
			if ln.scopeReserved && si >= 0 {
				return nil, fmt.Errorf("attribute key %q translates to label name %q, which is reserved for the instrumentation scope", key, *ln.name)
			}
			v := kv.Value.String()
			if !utf8.ValidString(v) {
				return nil, fmt.Errorf("value %q of attribute %q is not valid UTF-8", v, key)
			}
			vals[i] = v
			pairs[i].Name = ln.name
			pairs[i].Value = &vals[i]
			ptrs[i] = &pairs[i]
		}
	}
	if sp != nil {
		ptrs[n] = sp
	}
	sortPairs(ptrs)
	for i := 1; i < len(ptrs); i++ {
		if *ptrs[i].Name == *ptrs[i-1].Name {
			return mergeDuplicates(ptrs), nil
		}
	}
	return ptrs, nil
}

// sortPairs sorts label pairs by name. Insertion sort: the pairs are few and
// usually already sorted.
func sortPairs(p []*dto.LabelPair) {
	for i := 1; i < len(p); i++ {
		for j := i; j > 0 && *p[j].Name < *p[j-1].Name; j-- {
			p[j], p[j-1] = p[j-1], p[j]
		}
	}
}

// mergeDuplicates merges label pairs with the same name (attribute keys that
// collide after sanitising) into one whose value is the sorted values joined
// with ";", as the exporter does. p is sorted by name; the scope label never
// takes part since attributes cannot use its name.
func mergeDuplicates(p []*dto.LabelPair) []*dto.LabelPair {
	out := p[:0]
	for i := 0; i < len(p); {
		j := i + 1
		for j < len(p) && *p[j].Name == *p[i].Name {
			j++
		}
		if j-i > 1 {
			vals := make([]string, 0, j-i)
			for _, lp := range p[i:j] {
				vals = append(vals, *lp.Value)
			}
			slices.Sort(vals)
			p[i].Value = new(strings.Join(vals, ";"))
		}
		out = append(out, p[i])
		i = j
	}
	clear(p[len(out):])
	return out
}

func addSum[N int64 | float64](cv *conv, f *family, si int32, dps []metricdata.DataPoint[N], counter bool, bad *badSeries) {
	f.reserve(len(dps))
	for j := range dps {
		dp := &dps[j]
		hint := len(dps) - j
		lbls, err := cv.seriesLabels(&dp.Attributes, si, hint)
		if err != nil {
			bad.add(err)
			continue
		}
		m := cv.metrics.one(hint)
		m.Label = lbls
		v := cv.floats.one(hint)
		*v = float64(dp.Value)
		if counter {
			c := cv.counters.one(hint)
			c.Value = v
			if len(dp.Exemplars) > 0 {
				if cv.exemplars = convertExemplars(cv, cv.exemplars[:0], dp.Exemplars[len(dp.Exemplars)-1:]); len(cv.exemplars) > 0 {
					c.Exemplar = cv.exemplars[0]
				}
			}
			m.Counter = c
		} else {
			// Gauges cannot carry exemplars in client_golang either.
			g := cv.gauges.one(hint)
			g.Value = v
			m.Gauge = g
		}
		f.add(m, si)
	}
}

// reserve makes room for n more series.
func (f *family) reserve(n int) {
	f.series = slices.Grow(f.series, n)
	if !f.noKeys {
		f.keyEnds = slices.Grow(f.keyEnds, n)
		per := 32
		if k := len(f.keyEnds); k > 0 {
			per = f.keyEnds[k-1]/k + 1
		}
		f.keys.Grow(n * per)
	}
}

// add appends a series and its sort key: the label count, then each label
// value followed by a NUL. Byte order of keys is the order of cmpLabels up to
// label names, as long as no value contains a NUL.
func (f *family) add(m *dto.Metric, si int32) {
	f.series = append(f.series, series{m: m, scope: si, seq: int32(len(f.series))})
	if f.noKeys {
		return
	}
	l := m.Label
	if len(l) > math.MaxUint16 {
		f.noKeys = true
		return
	}
	f.keys.WriteByte(byte(len(l) >> 8))
	f.keys.WriteByte(byte(len(l)))
	for _, lp := range l {
		v := *lp.Value
		if strings.IndexByte(v, 0) >= 0 {
			f.noKeys = true
			return
		}
		f.keys.WriteString(v)
		f.keys.WriteByte(0)
	}
	f.keyEnds = append(f.keyEnds, f.keys.Len())
}

// chunk hands out slices of a larger allocation, so that a scrape of many
// series allocates a few big arrays instead of many small objects.
type chunk[T any] struct{ buf []T }

// take returns n zero elements; hint is how many elements are likely to be
// needed in total, used to size a new allocation.
func (c *chunk[T]) take(n, hint int) []T {
	if n > len(c.buf) {
		c.buf = make([]T, max(n, hint, 8))
	}
	s := c.buf[:n:n]
	c.buf = c.buf[n:]
	return s
}

func (c *chunk[T]) one(hint int) *T {
	return &c.take(1, hint)[0]
}
