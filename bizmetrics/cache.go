package bizmetrics

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// CacheOperation is the cache.operation attribute.
type CacheOperation uint8

// Cache operations.
const (
	// CacheOperationUnknown is not a valid operation: recording it is
	// refused.
	CacheOperationUnknown CacheOperation = iota
	// CacheGet is a lookup: its result is CacheHit or CacheMiss.
	CacheGet
	// CacheSet stores a value.
	CacheSet
	// CacheDelete removes a value.
	CacheDelete
)

const numCacheOps = 4

// String returns the attribute value: "get", "set", "delete", or "unknown".
func (o CacheOperation) String() string {
	switch o {
	case CacheGet:
		return "get"
	case CacheSet:
		return "set"
	case CacheDelete:
		return "delete"
	}
	return "unknown"
}

// CacheResult is the cache.result attribute.
type CacheResult uint8

// Cache results.
const (
	// CacheResultNone records the operation without cache.result: for sets
	// and deletes.
	CacheResultNone CacheResult = iota
	// CacheHit is a lookup that found its key.
	CacheHit
	// CacheMiss is a lookup that did not.
	CacheMiss
)

const numCacheResults = 3

// String returns the attribute value: "hit", "miss", or "none" for
// CacheResultNone (recorded without the attribute).
func (r CacheResult) String() string {
	switch r {
	case CacheHit:
		return "hit"
	case CacheMiss:
		return "miss"
	case CacheResultNone:
		return "none"
	}
	return "unknown"
}

// Cache counts the operations of one named cache: get it once with
// Metrics.CacheOperations and call Hit, Miss, Set and Delete on the hot path, each an
// atomic add read at collection time. The hit ratio is hits over hits plus
// misses (see the package documentation for the PromQL). With
// WithTracerProvider, each operation is also an event on the recording span
// in its context (see the package doc's Tracing). Methods on a nil Cache do
// nothing; it is safe for concurrent use.
type Cache struct {
	n    *[numCacheOps][numCacheResults]cacheCell
	seen [numCacheOps][numCacheResults]atomic.Bool // set once, then only read
	name string
	dur  metric.Float64Histogram // nil without WithCacheDuration
	obs  [numCacheOps][numCacheResults][]metric.ObserveOption
	rec  [numCacheOps][numCacheResults][]metric.RecordOption
	ev   *[numCacheOps][numCacheResults]cacheEvent // nil without WithTracerProvider
}

// cacheEvent is the span event of one (operation, result) of a cache,
// built once.
type cacheEvent struct {
	name string
	opts []trace.EventOption
}

// cacheCell is the count of one (operation, result) of a cache, 64 bytes:
// the cells are allocated together, at a multiple of 64 (see cacheLine),
// so that each is on a cache line of its own, apart from what is only
// read.
type cacheCell struct {
	atomic.Int64
	_ [cacheLine - 8]byte
}

func (m *Metrics) newCache(name string) *Cache {
	c := &Cache{n: new([numCacheOps][numCacheResults]cacheCell), name: name, dur: m.cacheDuration}
	if m.tracer != nil {
		c.ev = new([numCacheOps][numCacheResults]cacheEvent)
	}
	for op := CacheGet; op < numCacheOps; op++ {
		for res := CacheResultNone; res < numCacheResults; res++ {
			kvs := []attribute.KeyValue{keyCacheName.String(name), keyCacheOp.String(op.String())}
			if res != CacheResultNone {
				kvs = append(kvs, keyCacheResult.String(res.String()))
			}
			set := attribute.NewSet(kvs...)
			c.obs[op][res] = []metric.ObserveOption{metric.WithAttributeSet(set)}
			c.rec[op][res] = []metric.RecordOption{metric.WithAttributeSet(set)}
			if c.ev != nil {
				c.ev[op][res] = cacheEvent{name: "cache." + op.String(), opts: []trace.EventOption{trace.WithAttributes(kvs...)}}
			}
		}
	}
	// Hits and misses are reported from the start, so that the hit ratio
	// of a cache that never hit is 0, not absent.
	c.seen[CacheGet][CacheHit].Store(true)
	c.seen[CacheGet][CacheMiss].Store(true)
	return c
}

// CacheOperations returns the operation counter of the cache called name
// (such as "sessions" or "products"), for hot paths. Names past
// WithMaxCacheNames share the Overflow counter. An empty name returns an
// error wrapping ErrEmptyName.
func (m *Metrics) CacheOperations(name string) (*Cache, error) {
	if name == "" {
		return nil, fmt.Errorf("bizmetrics: cache name: %w", ErrEmptyName)
	}
	return m.caches.get(name), nil
}

// CountCache counts one operation of the cache called name. An empty name
// returns an error wrapping ErrEmptyName; an operation or result out of
// range returns an error wrapping ErrInvalidCacheOperation; neither counts
// anything.
func (m *Metrics) CountCache(ctx context.Context, name string, op CacheOperation, res CacheResult) error {
	if name == "" {
		return fmt.Errorf("bizmetrics: cache name: %w", ErrEmptyName)
	}
	if !validCacheOp(op, res) {
		return fmt.Errorf("bizmetrics: cache %q operation %v result %v: %w", name, op, res, ErrInvalidCacheOperation)
	}
	c := m.caches.get(name)
	c.count(op, res)
	if c.ev != nil {
		c.event(ctx, op, res)
	}
	return nil
}

func validCacheOp(op CacheOperation, res CacheResult) bool {
	return op > CacheOperationUnknown && op < numCacheOps && res < numCacheResults
}

// Name returns the cache's name as recorded: Overflow past the cap.
func (c *Cache) Name() string {
	if c == nil {
		return ""
	}
	return c.name
}

// Hit counts a lookup that found its key.
func (c *Cache) Hit(ctx context.Context) {
	if c == nil {
		return
	}
	c.count(CacheGet, CacheHit)
	if c.ev != nil {
		c.event(ctx, CacheGet, CacheHit)
	}
}

// Miss counts a lookup that did not find its key.
func (c *Cache) Miss(ctx context.Context) {
	if c == nil {
		return
	}
	c.count(CacheGet, CacheMiss)
	if c.ev != nil {
		c.event(ctx, CacheGet, CacheMiss)
	}
}

// Set counts a store.
func (c *Cache) Set(ctx context.Context) {
	if c == nil {
		return
	}
	c.count(CacheSet, CacheResultNone)
	if c.ev != nil {
		c.event(ctx, CacheSet, CacheResultNone)
	}
}

// Delete counts a removal.
func (c *Cache) Delete(ctx context.Context) {
	if c == nil {
		return
	}
	c.count(CacheDelete, CacheResultNone)
	if c.ev != nil {
		c.event(ctx, CacheDelete, CacheResultNone)
	}
}

// Count counts one operation, and with WithTracerProvider adds its event
// to the recording span in ctx. An operation or result out of range is
// ignored.
func (c *Cache) Count(ctx context.Context, op CacheOperation, res CacheResult) {
	if c == nil || !validCacheOp(op, res) {
		return
	}
	c.count(op, res)
	if c.ev != nil {
		c.event(ctx, op, res)
	}
}

// count counts one valid operation. It is inlined in each method, with
// the event's check after it rather than in it, so that the methods cost
// without tracing what they did before it: Hit, Miss, Set and Delete are
// one call, with constant indices.
func (c *Cache) count(op CacheOperation, res CacheResult) {
	c.n[op][res].Add(1)
	if !c.seen[op][res].Load() {
		c.seen[op][res].Store(true)
	}
}

// event adds the event of (op, res) to the span in ctx if it is
// recording.
func (c *Cache) event(ctx context.Context, op CacheOperation, res CacheResult) {
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		e := &c.ev[op][res]
		span.AddEvent(e.name, e.opts...)
	}
}

// Record counts one operation that took d, as Count does, and, with
// WithCacheDuration, records d in the cache duration histogram. An
// operation or result out of range is ignored.
func (c *Cache) Record(ctx context.Context, op CacheOperation, res CacheResult, d time.Duration) {
	if c == nil || !validCacheOp(op, res) {
		return
	}
	c.count(op, res)
	if c.ev != nil {
		c.event(ctx, op, res)
	}
	if c.dur != nil {
		c.dur.Record(ctx, d.Seconds(), c.rec[op][res]...)
	}
}

func (c *Cache) observe(o metric.Observer, inst metric.Int64ObservableCounter) {
	for op := CacheGet; op < numCacheOps; op++ {
		for res := CacheResultNone; res < numCacheResults; res++ {
			if c.seen[op][res].Load() {
				o.ObserveInt64(inst, c.n[op][res].Load(), c.obs[op][res]...)
			}
		}
	}
}
