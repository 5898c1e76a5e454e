package instrument

import (
	"time"

	"go.opentelemetry.io/contrib/instrumentation/runtime"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// RuntimeProducerReadingAlways returns the producer of RuntimeProducer
// reading the runtime at every Produce instead of at most every 15 s (every
// nanosecond: contrib takes 0 for its default), so that concurrent readers
// each overwrite the read buffer.
func RuntimeProducerReadingAlways() sdkmetric.Producer {
	o, ok := runtime.WithMinimumReadMemStatsInterval(time.Nanosecond).(runtime.ProducerOption)
	if !ok {
		panic("contrib's WithMinimumReadMemStatsInterval is no longer a ProducerOption")
	}
	return newRuntimeProducer(o)
}
