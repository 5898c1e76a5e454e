package bizmetrics

import (
	"hash/maphash"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
)

// Overflow is the attribute value recorded instead of a value that would
// exceed its attribute's cap, or that is empty where a value is required
// (db.system.name). It is the semantic conventions' token for "another
// value", the same as instrument.Overflow.
const Overflow = "_OTHER"

// overflowKV marks the measurements of custom instruments past their
// attribute-set cap, as the SDK marks those past its cardinality limit.
var overflowKV = attribute.Bool("otel.metric.overflow", true)

// cow is a copy-on-write map for small, read-mostly tables: a read is one
// atomic load and a map lookup, never locks and never allocates; a write
// copies the map under a mutex. Tables here are bounded by their caps.
type cow[K comparable, V any] struct {
	mu sync.Mutex
	p  atomic.Pointer[map[K]V]
}

func (c *cow[K, V]) load(k K) (V, bool) {
	if m := c.p.Load(); m != nil {
		v, ok := (*m)[k]
		return v, ok
	}
	var zero V
	return zero, false
}

// snapshot returns the current map; it must not be modified.
func (c *cow[K, V]) snapshot() map[K]V {
	if m := c.p.Load(); m != nil {
		return *m
	}
	return nil
}

// storeLocked adds k to a copy of the map; c.mu must be held.
func (c *cow[K, V]) storeLocked(k K, v V) {
	old := c.snapshot()
	m := make(map[K]V, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[k] = v
	c.p.Store(&m)
}

// keyed holds one handle per value of a capped string attribute. Values
// past the cap, and Overflow itself, share the overflow handle, which is
// created (and so reported) only when first needed.
type keyed[T any] struct {
	m        cow[string, *T]
	max      int
	newT     func(value string) *T
	overflow atomic.Pointer[T]
}

func newKeyed[T any](max int, newT func(string) *T) *keyed[T] {
	return &keyed[T]{max: max, newT: newT}
}

// get returns the handle of v, which must not be empty.
func (k *keyed[T]) get(v string) *T {
	if h, ok := k.m.load(v); ok {
		return h
	}
	return k.create(v)
}

func (k *keyed[T]) create(v string) *T {
	k.m.mu.Lock()
	defer k.m.mu.Unlock()
	if h, ok := k.m.load(v); ok {
		return h
	}
	if v == Overflow || len(k.m.snapshot()) >= k.max {
		if h := k.overflow.Load(); h != nil {
			return h
		}
		h := k.newT(Overflow)
		k.overflow.Store(h)
		return h
	}
	own := strings.Clone(v)
	h := k.newT(own)
	k.m.storeLocked(own, h)
	return h
}

// each calls fn with every handle, the overflow handle last.
func (k *keyed[T]) each(fn func(*T)) {
	for _, h := range k.m.snapshot() {
		fn(h)
	}
	if h := k.overflow.Load(); h != nil {
		fn(h)
	}
}

// capped admits at most max distinct values of one attribute; past the cap
// it answers Overflow.
type capped struct {
	m   cow[string, string]
	max int
}

// admit returns v (a private copy of it), or Overflow past the cap.
func (c *capped) admit(v string) string {
	if s, ok := c.m.load(v); ok {
		return s
	}
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	if s, ok := c.m.load(v); ok {
		return s
	}
	if v == Overflow || len(c.m.snapshot()) >= c.max {
		return Overflow
	}
	s := strings.Clone(v)
	c.m.storeLocked(s, s)
	return s
}

// maxFastAttrs is the number of attributes an unbound call can pass and
// still find its handle without allocating.
const maxFastAttrs = 8

// table holds the handles of an instrument by attribute set, for unbound
// calls that pass attributes. A lookup normalises the attributes as
// attribute.NewSet does (sorted by key, the last value of a repeated key
// wins) into a buffer on the stack, hashes them and compares them with the
// handles of that hash: no allocation when the handle exists.
type table[T any] struct {
	mu     sync.Mutex
	st     atomic.Pointer[tableState[T]]
	seed   maphash.Seed
	max    int
	budget *setBudget           // when not nil, shared with other tables of the instrument
	base   []attribute.KeyValue // carried by every handle; wins over the caller's
	newT   func(attribute.Set) *T
	empty  atomic.Pointer[T] // the handle without caller attributes
}

type tableState[T any] struct {
	byHash   map[uint64][]tableEntry[T]
	all      []*T
	overflow *T
}

type tableEntry[T any] struct {
	kvs []attribute.KeyValue // normalised caller attributes
	h   *T
}

func newTable[T any](max int, base []attribute.KeyValue, newT func(attribute.Set) *T) *table[T] {
	t := &table[T]{seed: maphash.MakeSeed(), max: max, base: base, newT: newT}
	t.st.Store(&tableState[T]{byHash: map[uint64][]tableEntry[T]{}})
	return t
}

// get returns the handle of attrs.
func (t *table[T]) get(attrs []attribute.KeyValue) *T {
	if len(attrs) == 0 {
		if h := t.empty.Load(); h != nil {
			return h
		}
		return t.create(nil, 0)
	}
	if len(attrs) > maxFastAttrs {
		kvs := normalize(slices.Clone(attrs))
		return t.lookup(kvs, t.hash(kvs))
	}
	var buf [maxFastAttrs]attribute.KeyValue
	kvs := normalize(buf[:copy(buf[:], attrs)])
	return t.lookup(kvs, t.hash(kvs))
}

// getSet returns the handle of set.
func (t *table[T]) getSet(set attribute.Set) *T {
	kvs := set.ToSlice()
	if len(kvs) == 0 {
		return t.get(nil)
	}
	return t.lookup(kvs, t.hash(kvs))
}

func (t *table[T]) lookup(kvs []attribute.KeyValue, h uint64) *T {
	for _, e := range t.st.Load().byHash[h] {
		if slices.Equal(e.kvs, kvs) {
			return e.h
		}
	}
	return t.create(kvs, h)
}

// create adds the handle of kvs (normalised; nil for none), or returns the
// overflow handle past the cap. kvs is copied.
func (t *table[T]) create(kvs []attribute.KeyValue, h uint64) *T {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.st.Load()
	if len(kvs) == 0 {
		if e := t.empty.Load(); e != nil {
			return e
		}
	} else {
		for _, e := range old.byHash[h] {
			if slices.Equal(e.kvs, kvs) {
				return e.h
			}
		}
	}
	st := &tableState[T]{byHash: old.byHash, all: old.all, overflow: old.overflow}
	if len(old.all) >= t.max || !t.budget.take() {
		if st.overflow == nil {
			st.overflow = t.newT(attribute.NewSet(append(slices.Clone(t.base), overflowKV)...))
			t.st.Store(st)
		}
		return st.overflow
	}
	own := slices.Clone(kvs)
	all := make([]attribute.KeyValue, 0, len(own)+len(t.base))
	all = append(append(all, own...), t.base...)
	handle := t.newT(attribute.NewSet(all...))
	st.all = append(slices.Clip(old.all), handle)
	if len(kvs) == 0 {
		t.empty.Store(handle)
	} else {
		st.byHash = make(map[uint64][]tableEntry[T], len(old.byHash)+1)
		for k, v := range old.byHash {
			st.byHash[k] = v
		}
		st.byHash[h] = append(slices.Clip(old.byHash[h]), tableEntry[T]{kvs: own, h: handle})
	}
	t.st.Store(st)
	return handle
}

// setBudget is a number of attribute sets that the tables of one
// instrument share, so that together they stay within the SDK's
// cardinality limit, which applies to the instrument as a whole.
type setBudget struct{ left atomic.Int64 }

func newSetBudget(n int) *setBudget {
	b := &setBudget{}
	b.left.Store(int64(max(n, 0)))
	return b
}

// take uses one set of the budget, reporting false when none is left. A nil
// budget has no limit.
func (b *setBudget) take() bool {
	if b == nil {
		return true
	}
	for {
		n := b.left.Load()
		if n <= 0 {
			return false
		}
		if b.left.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

// each calls fn with every handle, the overflow handle last.
func (t *table[T]) each(fn func(*T)) {
	st := t.st.Load()
	for _, h := range st.all {
		fn(h)
	}
	if st.overflow != nil {
		fn(st.overflow)
	}
}

// hash hashes normalised attributes. Values other than booleans, numbers
// and strings hash by key and type only: equal hashes are compared in full.
func (t *table[T]) hash(kvs []attribute.KeyValue) uint64 {
	var h maphash.Hash
	h.SetSeed(t.seed)
	var b [8]byte
	for _, kv := range kvs {
		h.WriteString(string(kv.Key))
		var n uint64
		switch kv.Value.Type() {
		case attribute.STRING:
			h.WriteString(kv.Value.AsString())
		case attribute.INT64:
			n = uint64(kv.Value.AsInt64())
		case attribute.FLOAT64:
			n = math.Float64bits(kv.Value.AsFloat64())
		case attribute.BOOL:
			if kv.Value.AsBool() {
				n = 1
			}
		}
		b[0] = byte(kv.Value.Type())
		for i := 1; i < 8; i++ {
			b[i] = byte(n >> (8 * (i - 1)))
		}
		_, _ = h.Write(b[:])
		_ = h.WriteByte(byte(n >> 56))
	}
	return h.Sum64()
}

// normalize sorts kvs by key in place, stably, and drops all but the last
// value of each key, as attribute.NewSet does.
func normalize(kvs []attribute.KeyValue) []attribute.KeyValue {
	for i := 1; i < len(kvs); i++ {
		for j := i; j > 0 && kvs[j].Key < kvs[j-1].Key; j-- {
			kvs[j], kvs[j-1] = kvs[j-1], kvs[j]
		}
	}
	out := kvs[:0]
	for i := range kvs {
		if i+1 < len(kvs) && kvs[i+1].Key == kvs[i].Key {
			continue
		}
		out = append(out, kvs[i])
	}
	return out
}
