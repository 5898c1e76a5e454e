// Package otlptest provides a real, in-process OTLP metrics and traces
// receiver for tests.
//
// A [Receiver] implements the OTLP metrics and trace collector services
// (go.opentelemetry.io/proto/otlp/collector/metrics/v1 and
// go.opentelemetry.io/proto/otlp/collector/trace/v1) over either gRPC
// ([NewGRPC]) or HTTP/protobuf ([NewHTTP], POST /v1/metrics and POST
// /v1/traces, optionally gzip-compressed). It listens only on 127.0.0.1, on
// a random port or on the one given to [NewGRPCAt] or [NewHTTPAt] (a
// collector that comes back), records every export request it receives
// together with its headers, metrics ([Receiver.Requests]) apart from traces
// ([Receiver.TraceRequests], [Receiver.Spans]), and can be told how to
// answer subsequent requests of both kinds with [Receiver.SetBehavior]
// (accept, refuse as unavailable, or hang). Tests synchronise with incoming
// exports through [Receiver.Wait], [Receiver.WaitTraces] and
// [Receiver.WaitSpans]; the receiver is shut down by t.Cleanup.
package otlptest
