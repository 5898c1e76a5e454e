// Package otlptest provides a real, in-process OTLP metrics receiver for
// tests.
//
// A [Receiver] implements the OTLP metrics collector service
// (go.opentelemetry.io/proto/otlp/collector/metrics/v1) over either gRPC
// ([NewGRPC]) or HTTP/protobuf ([NewHTTP], POST /v1/metrics, optionally
// gzip-compressed). It listens only on 127.0.0.1, on a random port or on the
// one given to [NewGRPCAt] or [NewHTTPAt] (a collector that comes back), records
// every export request it receives together with its headers, and can be told
// how to answer subsequent requests with [Receiver.SetBehavior] (accept,
// refuse as unavailable, or hang). Tests synchronise with incoming exports
// through [Receiver.Wait]; the receiver is shut down by t.Cleanup.
package otlptest
