package bizmetrics

import (
	"testing"
	"unsafe"
)

// TestHandleSizes holds the sizes that keep each handle's atomics on a
// cache line of their own.
func TestHandleSizes(t *testing.T) {
	for name, size := range map[string]uintptr{
		"BoundCounter":       unsafe.Sizeof(BoundCounter{}),
		"BoundFloatCounter":  unsafe.Sizeof(BoundFloatCounter{}),
		"BoundUpDownCounter": unsafe.Sizeof(BoundUpDownCounter{}),
		"BoundGauge":         unsafe.Sizeof(BoundGauge{}),
		"orderCounts":        unsafe.Sizeof(orderCounts{}),
		"cacheCell":          unsafe.Sizeof(cacheCell{}),
	} {
		if size != cacheLine {
			t.Errorf("%s is %d bytes, want %d", name, size, cacheLine)
		}
	}
}
