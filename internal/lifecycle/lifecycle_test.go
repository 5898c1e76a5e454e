package lifecycle_test

import (
	"errors"
	"testing"

	"github.com/vitalsgo/vitals"
	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/alerting/notify"
	"github.com/vitalsgo/vitals/exporter"
	"github.com/vitalsgo/vitals/exporter/memory"
	"github.com/vitalsgo/vitals/healthcheck"
	"github.com/vitalsgo/vitals/instrument"
)

// TestOneSentinel: every component's ErrShutdown is vitals.ErrShutdown.
func TestOneSentinel(t *testing.T) {
	for name, err := range map[string]error{
		"alerting":    alerting.ErrShutdown,
		"exporter":    exporter.ErrShutdown,
		"healthcheck": healthcheck.ErrShutdown,
		"instrument":  instrument.ErrShutdown,
		"memory":      memory.ErrShutdown,
		"notify":      notify.ErrShutdown,
	} {
		if !errors.Is(err, vitals.ErrShutdown) {
			t.Errorf("%s.ErrShutdown is not vitals.ErrShutdown: %v", name, err)
		}
	}
}
