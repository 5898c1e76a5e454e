package main

import (
	"testing"

	"github.com/vitalsgo/vitals/exporter"
	"github.com/vitalsgo/vitals/internal/otlptest"
)

func TestPushesToTheEndpoint(t *testing.T) {
	for _, proto := range []string{"http/protobuf", "grpc"} {
		t.Run(proto, func(t *testing.T) {
			var rcv *otlptest.Receiver
			if proto == "grpc" {
				rcv = otlptest.NewGRPC(t)
			} else {
				rcv = otlptest.NewHTTP(t)
			}
			t.Setenv(exporter.EnvEndpoint, "http://"+rcv.Addr())
			t.Setenv(exporter.EnvProtocol, proto)
			t.Setenv(exporter.EnvMetricsExporter, "")
			if err := run(t.Context()); err != nil {
				t.Fatal(err)
			}
			ms := otlptest.FindMetric(rcv.Requests(), "example.jobs")
			if len(ms) == 0 || ms[0].GetSum().GetDataPoints()[0].GetAsInt() != 3 {
				t.Errorf("received %v", otlptest.MetricNames(rcv.Requests()))
			}
		})
	}
}

func TestNeedsAnEndpoint(t *testing.T) {
	t.Setenv(exporter.EnvEndpoint, "")
	t.Setenv(exporter.EnvMetricsEndpoint, "")
	if err := run(t.Context()); err == nil {
		t.Error("run without an endpoint succeeded")
	}
}
