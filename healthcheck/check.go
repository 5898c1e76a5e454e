package healthcheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Status is the health of a check or of a set of checks, as in the IETF
// draft "Health Check Response Format for HTTP APIs".
type Status int

// The statuses. StatusUnknown is a check that has not run yet; it never
// counts as passing.
const (
	StatusUnknown Status = iota
	StatusPass           // healthy
	StatusWarn           // degraded: a non-critical failure or a warning
	StatusFail           // down: the probe answers 503
)

// String returns "unknown", "pass", "warn" or "fail".
func (s Status) String() string {
	switch s {
	case StatusPass:
		return "pass"
	case StatusWarn:
		return "warn"
	case StatusFail:
		return "fail"
	default:
		return "unknown"
	}
}

// MarshalText encodes the status as its String.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText decodes a status's String.
func (s *Status) UnmarshalText(b []byte) error {
	for _, st := range []Status{StatusUnknown, StatusPass, StatusWarn, StatusFail} {
		if string(b) == st.String() {
			*s = st
			return nil
		}
	}
	return fmt.Errorf("healthcheck: unknown status %q (want pass, warn, fail or unknown)", b)
}

// Kind says which probes a check belongs to. Kinds combine with |.
type Kind int

// The probe kinds.
const (
	// Liveness checks say whether the process should be restarted.
	Liveness Kind = 1 << iota
	// Readiness checks say whether the process should get traffic.
	Readiness
)

// String returns "liveness", "readiness", "liveness|readiness" or "none".
func (k Kind) String() string {
	switch k {
	case Liveness:
		return "liveness"
	case Readiness:
		return "readiness"
	case Liveness | Readiness:
		return "liveness|readiness"
	default:
		return "none"
	}
}

// Result is what one run of a check found.
type Result struct {
	// Status is the check's verdict. StatusUnknown is reported as a failure.
	Status Status
	// ObservedValue and ObservedUnit describe what was measured (for
	// example 0.003 and "s", as the built-in checks report). They are
	// shown only to authorized callers.
	ObservedValue any
	ObservedUnit  string
	// Output explains a warn or fail. It is shown only to authorized
	// callers, since it may name hosts or carry driver messages.
	Output string
}

// Checker checks one dependency or property. Check must honour ctx: it is
// cancelled when the check's timeout expires.
type Checker interface {
	Check(ctx context.Context) Result
}

// CheckFunc adapts a function returning an error to a Checker: nil passes,
// an error wrapped with Warn warns, any other error fails with the error's
// text as output.
type CheckFunc func(ctx context.Context) error

// Check runs f.
func (f CheckFunc) Check(ctx context.Context) Result {
	err := f(ctx)
	switch {
	case err == nil:
		return Result{Status: StatusPass}
	case errors.As(err, new(*warning)):
		return Result{Status: StatusWarn, Output: err.Error()}
	default:
		return Result{Status: StatusFail, Output: err.Error()}
	}
}

// ResultFunc adapts a function returning a Result to a Checker.
type ResultFunc func(ctx context.Context) Result

// Check runs f.
func (f ResultFunc) Check(ctx context.Context) Result { return f(ctx) }

// Warn marks err as a warning rather than a failure when a CheckFunc
// returns it: the service is degraded, not down.
func Warn(err error) error {
	if err == nil {
		return nil
	}
	return &warning{err}
}

type warning struct{ err error }

func (w *warning) Error() string { return w.err.Error() }
func (w *warning) Unwrap() error { return w.err }

// CheckResult is the latest result of one registered check, as
// /monitoring/api/health serves it. In JSON, Kinds is a string (as Kind.String
// gives it) and the durations are numbers of seconds: durationSeconds,
// averageDurationSeconds, intervalSeconds and timeoutSeconds.
type CheckResult struct {
	// Name is the name the check was registered under.
	Name string `json:"name"`
	// Status is the last run's, StatusUnknown before the first.
	Status Status `json:"status"`
	// Critical, Kinds, ComponentType, Measurement and Tags are the check's
	// options (WithoutCritical, WithKinds, WithComponentType, WithMeasurement,
	// WithTags).
	Critical      bool     `json:"critical"`
	Kinds         Kind     `json:"-"`
	ComponentType string   `json:"componentType,omitempty"`
	Measurement   string   `json:"measurement,omitempty"`
	Tags          []string `json:"tags,omitempty"`
	// ObservedValue, ObservedUnit and Output are the last run's (Result).
	ObservedValue any    `json:"observedValue,omitempty"`
	ObservedUnit  string `json:"observedUnit,omitempty"`
	Output        string `json:"output,omitempty"`
	// LastRun is when the last run started, Duration how long it took.
	LastRun  time.Time     `json:"lastRun,omitzero"`
	Duration time.Duration `json:"-"`
	// Runs, AverageDuration and Failures describe the check's history
	// since it was registered.
	Runs            int64         `json:"runs"`
	Failures        int64         `json:"failures"`
	AverageDuration time.Duration `json:"-"`
	// Interval is the background interval (0: run on demand), Timeout each
	// run's bound. Enabled is false for a check turned off with SetEnabled,
	// which no probe runs.
	Interval time.Duration `json:"-"`
	Timeout  time.Duration `json:"-"`
	Enabled  bool          `json:"enabled"`
}

// MarshalJSON encodes the result with its kinds as a string and its
// durations in seconds.
func (r CheckResult) MarshalJSON() ([]byte, error) {
	type plain CheckResult
	return json.Marshal(struct {
		plain
		Kinds                  string  `json:"kinds"`
		DurationSeconds        float64 `json:"durationSeconds"`
		AverageDurationSeconds float64 `json:"averageDurationSeconds"`
		IntervalSeconds        float64 `json:"intervalSeconds,omitempty"`
		TimeoutSeconds         float64 `json:"timeoutSeconds"`
	}{plain(r), r.Kinds.String(), r.Duration.Seconds(), r.AverageDuration.Seconds(), r.Interval.Seconds(), r.Timeout.Seconds()})
}

// timeoutError is the output of a check that ran out of time.
func timeoutOutput(d time.Duration) string { return fmt.Sprintf("timeout after %v", d) }
