package alerting_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain is the package's only TestMain: every test of alerting, engine
// and notifiers alike, must leave no goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
