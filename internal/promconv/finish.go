package promconv

import (
	"cmp"
	"slices"
	"strings"

	dto "github.com/prometheus/client_model/go"
)

// histogramSuffixes are the series suffixes of a classic histogram; a family
// named like one of them would make the exposition ambiguous, which
// client_golang's registry rejects.
var histogramSuffixes = [...]string{"_count", "_sum", "_bucket"}

// finish sorts the collected families and their series, resolves
// collisions and appends the result to dst.
func (cv *conv) finish(dst []*dto.MetricFamily) []*dto.MetricFamily {
	names := make([]string, 0, len(cv.fams))
	for name, f := range cv.fams {
		if len(f.series) > 0 {
			names = append(names, name)
		}
	}
	slices.Sort(names)

	for _, name := range names {
		f := cv.fams[name]
		if f.typ != dto.MetricType_HISTOGRAM || f.drop {
			continue
		}
		for _, suffix := range histogramSuffixes {
			g, ok := cv.fams[name+suffix]
			if !ok || len(g.series) == 0 || g.drop {
				continue
			}
			lose := g
			if g.seq < f.seq {
				lose = f
			}
			lose.drop = true
			cv.errorf("family %q collides with the %s series of histogram family %q; dropped %q, which was defined later",
				g.name, suffix, f.name, lose.name)
			if lose == f {
				break
			}
		}
	}

	for _, name := range names {
		f := cv.fams[name]
		if f.drop {
			continue
		}
		s := cv.sortSeries(f)
		ms := make([]*dto.Metric, len(s))
		for i := range s {
			ms[i] = s[i].m
		}
		dst = append(dst, &dto.MetricFamily{
			Name:   new(f.name),
			Help:   new(f.help),
			Type:   f.typ.Enum(),
			Metric: ms,
		})
	}
	return dst
}

// sortSeries sorts the series of f by label values, as client_golang's
// registry does, and makes sure no two series have the same labels.
func (cv *conv) sortSeries(f *family) []series {
	s := f.series
	keyed := setSortKeys(f)
	if keyed {
		sortByKey(s)
	} else {
		slices.SortFunc(s, cmpSeries)
	}
	for i := 1; i < len(s); i++ {
		if keyed && s[i-1].key != s[i].key {
			continue
		}
		if cmpLabels(s[i-1].m.Label, s[i].m.Label) == 0 {
			return cv.resolveDuplicates(f)
		}
	}
	return s
}

// setSortKeys hands the keys built by family.add to the series. Comparing
// keys that sit next to each other in one buffer is several times faster
// than chasing the label pointers of two metrics for every comparison. It
// reports false if the keys are not usable.
func setSortKeys(f *family) bool {
	s := f.series
	if len(s) < 2 || f.noKeys || len(f.keyEnds) != len(s) {
		return false
	}
	all := f.keys.String()
	off := 0
	for i, end := range f.keyEnds {
		s[i].key = all[off:end]
		off = end
	}
	// Drop the prefix all keys share (typically the label count and the
	// scope name), so that comparisons start where the keys differ.
	first := s[0].key
	lcp := len(first)
	for i := 1; i < len(s) && lcp > 0; i++ {
		k := s[i].key
		n := min(lcp, len(k))
		j := 0
		for j < n && k[j] == first[j] {
			j++
		}
		lcp = j
	}
	if lcp > 0 {
		for i := range s {
			s[i].key = s[i].key[lcp:]
		}
	}
	return true
}

func cmpSeriesByKey(a, b series) int {
	if c := strings.Compare(a.key, b.key); c != 0 {
		return c
	}
	return cmpSeries(a, b)
}

// resolveDuplicates handles series with identical labels in the sorted f.
// When they come from scopes with the same name but different versions, every
// series of the scopes with that name gets otel_scope_version. Whatever is
// still duplicated after that is dropped, keeping the series added first.
func (cv *conv) resolveDuplicates(f *family) []series {
	s := f.series
	var flagged map[string]bool
	for i := 1; i < len(s); i++ {
		if cmpLabels(s[i-1].m.Label, s[i].m.Label) != 0 {
			continue
		}
		a, b := s[i-1].scope, s[i].scope
		if a >= 0 && b >= 0 && a != b && cv.scopes[a].version != cv.scopes[b].version {
			if flagged == nil {
				flagged = make(map[string]bool)
			}
			flagged[cv.scopes[a].name] = true
		}
	}
	if flagged != nil {
		for i := range s {
			if si := s[i].scope; si >= 0 && flagged[cv.scopes[si].name] {
				s[i].m.Label = insertPair(s[i].m.Label, cv.versionPair(si))
			}
		}
		slices.SortFunc(s, cmpSeries)
	}
	out := s[:1]
	dropped := 0
	var example []*dto.LabelPair
	for _, x := range s[1:] {
		if cmpLabels(out[len(out)-1].m.Label, x.m.Label) == 0 {
			if dropped == 0 {
				example = x.m.Label
			}
			dropped++
			continue
		}
		out = append(out, x)
	}
	if dropped > 0 {
		cv.errorf("family %q: dropped %d series with the same labels as another series, e.g. %s",
			f.name, dropped, formatLabels(example))
	}
	return out
}

func insertPair(l []*dto.LabelPair, p *dto.LabelPair) []*dto.LabelPair {
	i, _ := slices.BinarySearchFunc(l, *p.Name, func(lp *dto.LabelPair, name string) int {
		return strings.Compare(*lp.Name, name)
	})
	out := make([]*dto.LabelPair, 0, len(l)+1)
	out = append(out, l[:i]...)
	out = append(out, p)
	return append(out, l[i:]...)
}

// cmpSeries orders series like client_golang's MetricSorter (label count,
// then label values in label-name order), then by label names and insertion
// order so that the result is deterministic.
func cmpSeries(a, b series) int {
	if c := cmpLabels(a.m.Label, b.m.Label); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

func cmpLabels(a, b []*dto.LabelPair) int {
	if len(a) != len(b) {
		return cmp.Compare(len(a), len(b))
	}
	for i := range a {
		if a[i] == b[i] {
			continue // a shared pair, such as the scope label
		}
		if c := strings.Compare(*a[i].Value, *b[i].Value); c != 0 {
			return c
		}
	}
	for i := range a {
		if a[i].Name != b[i].Name {
			if c := strings.Compare(*a[i].Name, *b[i].Name); c != 0 {
				return c
			}
		}
	}
	return 0
}

func formatLabels(l []*dto.LabelPair) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, lp := range l {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(lp.GetName())
		b.WriteString(`="`)
		b.WriteString(lp.GetValue())
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

// sortByKey sorts s as slices.SortFunc(s, cmpSeriesByKey) would, by MSD
// radix sort on the keys: a scrape of many series spends much of its time
// sorting, and comparison sorts pay for every comparison of long shared key
// prefixes again.
func sortByKey(s []series) {
	radixSort(s, make([]series, len(s)), 0)
}

// radixSortCutoff is the size below which a comparison sort is faster.
const radixSortCutoff = 32

// radixSort sorts s, whose keys agree on their first depth bytes; tmp is
// scratch space as long as s.
func radixSort(s, tmp []series, depth int) {
	for len(s) > radixSortCutoff {
		// Bucket 0 holds keys that end at depth, bucket b+1 keys whose
		// byte at depth is b.
		var count [257]int
		for i := range s {
			count[keyBucket(s[i].key, depth)]++
		}
		if count[keyBucket(s[0].key, depth)] == len(s) {
			if len(s[0].key) <= depth {
				// All keys are equal.
				slices.SortFunc(s, cmpSeries)
				return
			}
			depth++ // one shared byte: nothing to move
			continue
		}
		var next [257]int
		sum := 0
		for b, n := range count {
			next[b] = sum
			sum += n
		}
		start := next
		for i := range s {
			b := keyBucket(s[i].key, depth)
			tmp[next[b]] = s[i]
			next[b]++
		}
		copy(s, tmp)
		if count[0] > 1 {
			slices.SortFunc(s[:count[0]], cmpSeries) // equal keys
		}
		for b := 1; b < len(count); b++ {
			if n := count[b]; n > 1 {
				lo := start[b]
				radixSort(s[lo:lo+n], tmp[lo:lo+n], depth+1)
			}
		}
		return
	}
	slices.SortFunc(s, cmpSeriesByKey)
}

func keyBucket(k string, depth int) int {
	if depth < len(k) {
		return int(k[depth]) + 1
	}
	return 0
}
