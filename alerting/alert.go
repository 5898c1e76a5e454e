package alerting

import (
	"encoding/json"
	"fmt"
	"time"
)

// State is the state of an alert instance, as in Prometheus.
type State int

// The alert states.
const (
	// StateUnknown is the zero value.
	StateUnknown State = iota
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
	for _, st := range []State{StateUnknown, StatePending, StateFiring, StateResolved} {
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
	Labels map[string]string `json:"labels"`
	// Annotations are the rule's, templated for this instance.
	Annotations map[string]string `json:"annotations"`
	// State is pending, firing or resolved.
	State State `json:"state"`
	// Value is the expression's value at the last evaluation. In JSON it is
	// a number, or the string "NaN", "+Inf" or "-Inf".
	Value float64 `json:"value"`
	// ActiveAt is when the condition started to hold; StartsAt when the
	// instance started firing; EndsAt when it resolved (zero while firing).
	// Zero times are left out of the JSON.
	ActiveAt time.Time `json:"activeAt,omitzero"`
	StartsAt time.Time `json:"startsAt,omitzero"`
	EndsAt   time.Time `json:"endsAt,omitzero"`
	// GeneratorURL links back to the expression (the monitoring query API).
	GeneratorURL string `json:"generatorURL,omitempty"`
	// SilencedBy lists the IDs of the silences that match the instance.
	SilencedBy []string `json:"silencedBy,omitempty"`
	// ResolvedReason is the reason an operator gave when resolving the
	// instance by hand; empty otherwise.
	ResolvedReason string `json:"resolvedReason,omitempty"`
}

// alertJSON is Alert without its JSON methods.
type alertJSON Alert

// MarshalJSON encodes a as its fields' tags say, with Value a string when
// it is NaN or ±Inf, which JSON numbers cannot hold.
func (a Alert) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		alertJSON
		Value jsonFloat `json:"value"`
	}{alertJSON(a), jsonFloat(a.Value)})
}

// UnmarshalJSON decodes what MarshalJSON encodes.
func (a *Alert) UnmarshalJSON(b []byte) error {
	var v struct {
		*alertJSON
		Value jsonFloat `json:"value"`
	}
	v.alertJSON = (*alertJSON)(a)
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	a.Value = float64(v.Value)
	return nil
}

// Name returns the alert's alertname label.
func (a Alert) Name() string { return a.Labels["alertname"] }

// String renders an alert's name and labels for logs and errors.
func (a Alert) String() string {
	return fmt.Sprintf("%s%v (%v)", a.Name(), a.Labels, a.State)
}
