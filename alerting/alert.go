package alerting

import (
	"fmt"
	"time"
)

// State is the state of an alert instance, as in Prometheus.
type State int

// The alert states.
const (
	// StateUnknown is the zero value.
	StateUnknown State = iota
	// StateInactive: the condition does not hold.
	StateInactive
	// StatePending: the condition holds, for less than the rule's For.
	StatePending
	// StateFiring: the condition has held for For (or is kept firing by
	// KeepFiringFor).
	StateFiring
	// StateResolved: the instance fired and its condition no longer holds
	// (or an operator resolved it).
	StateResolved
)

// String returns the state's name as Prometheus and Alertmanager spell it.
func (s State) String() string {
	switch s {
	case StateInactive:
		return "inactive"
	case StatePending:
		return "pending"
	case StateFiring:
		return "firing"
	case StateResolved:
		return "resolved"
	default:
		return "unknown"
	}
}

// MarshalText encodes the state as its String.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText decodes a state's String.
func (s *State) UnmarshalText(b []byte) error {
	for _, st := range []State{StateUnknown, StateInactive, StatePending, StateFiring, StateResolved} {
		if st.String() == string(b) {
			*s = st
			return nil
		}
	}
	return fmt.Errorf("alerting: unknown alert state %q", b)
}

// Alert is one alert instance as notifiers and the API see it: a copy,
// safe to keep.
type Alert struct {
	// ID identifies the instance: a hash of its labels, in hex.
	ID string `json:"id"`
	// Labels include alertname and the rule's labels.
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       State             `json:"state"`
	// Value is the expression's value at the last evaluation.
	Value float64 `json:"value"`
	// ActiveAt is when the condition started to hold; StartsAt when the
	// instance started firing; EndsAt when it resolved (zero while firing).
	ActiveAt time.Time `json:"active_at"`
	StartsAt time.Time `json:"starts_at"`
	EndsAt   time.Time `json:"ends_at"`
	// GeneratorURL links back to the expression (the monitoring query API).
	GeneratorURL string `json:"generator_url,omitempty"`
	// Silenced lists the IDs of the silences that match the instance.
	Silenced []string `json:"silenced_by,omitempty"`
	// Resolved is set when an operator resolved the instance by hand, with
	// the reason given.
	ResolvedBy string `json:"resolved_reason,omitempty"`
}

// Name returns the alert's alertname label.
func (a Alert) Name() string { return a.Labels["alertname"] }

// Sprint renders an alert's name and labels for logs and errors.
func (a Alert) String() string {
	return fmt.Sprintf("%s%v (%v)", a.Name(), a.Labels, a.State)
}
