package alerting

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// SilenceRetention is how long an expired silence stays listed.
const SilenceRetention = 24 * time.Hour

// MaxSilences bounds the silences held: Add refuses a silence with
// ErrTooManySilences while MaxSilences are active or pending, and drops the
// oldest expired silences, before SilenceRetention, rather than hold more
// than MaxSilences in all. So an authorized caller looping on create and
// expire cannot grow the process without bound.
const MaxSilences = 1000

// ErrTooManySilences is returned (wrapped) by Silences.Add when MaxSilences
// silences are active or pending.
var ErrTooManySilences = errors.New("alerting: too many silences")

// Matcher matches one label, in the shape of Alertmanager's API v2:
// IsEqual false negates, IsRegex makes Value an anchored regular expression.
// So {IsEqual: true} is "=", {IsEqual: false} "!=", {IsRegex: true,
// IsEqual: true} "=~" and {IsRegex: true, IsEqual: false} "!~".
type Matcher struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	IsRegex bool   `json:"isRegex"`
	IsEqual bool   `json:"isEqual"`
}

func (m Matcher) compile() (*labels.Matcher, error) {
	t := labels.MatchEqual
	switch {
	case m.IsRegex && m.IsEqual:
		t = labels.MatchRegexp
	case m.IsRegex:
		t = labels.MatchNotRegexp
	case !m.IsEqual:
		t = labels.MatchNotEqual
	}
	if m.Name == "" {
		return nil, errors.New("no label name")
	}
	return labels.NewMatcher(t, m.Name, m.Value)
}

// compileAll compiles ms; an error names the first bad matcher by its
// position (from 1) and label name.
func compileAll(ms []Matcher) ([]*labels.Matcher, error) {
	out := make([]*labels.Matcher, 0, len(ms))
	for i, m := range ms {
		lm, err := m.compile()
		if err != nil {
			return nil, fmt.Errorf("matcher %d (%q): %w", i+1, m.Name, err)
		}
		out = append(out, lm)
	}
	return out, nil
}

func matches(ms []*labels.Matcher, lbls map[string]string) bool {
	for _, m := range ms {
		if !m.Matches(lbls[m.Name]) {
			return false
		}
	}
	return true
}

// Silence mutes the alerts its matchers all match, between StartsAt and
// EndsAt, as in Alertmanager. A silenced alert keeps its state; it is only
// not sent.
type Silence struct {
	ID        string    `json:"id"`
	Matchers  []Matcher `json:"matchers"`
	StartsAt  time.Time `json:"startsAt"`
	EndsAt    time.Time `json:"endsAt"`
	CreatedBy string    `json:"createdBy"`
	Comment   string    `json:"comment"`
}

// State returns "pending", "active" or "expired" at now: it is derived from
// the times, never stored.
func (s Silence) State(now time.Time) string {
	switch {
	case now.Before(s.StartsAt):
		return "pending"
	case now.Before(s.EndsAt):
		return "active"
	default:
		return "expired"
	}
}

type silenceEntry struct {
	Silence
	matchers []*labels.Matcher
}

// Silences holds silences. It is safe for concurrent use.
type Silences struct {
	clock Clock
	mu    sync.Mutex
	m     map[string]*silenceEntry
}

// NewSilences returns an empty set of silences on clock.
func NewSilences(clock Clock) *Silences {
	if clock == nil {
		clock = systemClock{}
	}
	return &Silences{clock: clock, m: map[string]*silenceEntry{}}
}

// Add validates and stores a silence and returns its ID. StartsAt defaults
// to now. At least one matcher is required, and at least one must not match
// the empty string (a silence must not mute everything); EndsAt must be
// after StartsAt and in the future; CreatedBy and Comment are required.
func (s *Silences) Add(sil Silence) (string, error) {
	now := s.clock.Now()
	if sil.StartsAt.IsZero() {
		sil.StartsAt = now
	}
	var errs []string
	if len(sil.Matchers) == 0 {
		errs = append(errs, "at least one matcher is required")
	}
	ms, err := compileAll(sil.Matchers)
	if err != nil {
		errs = append(errs, err.Error())
	} else if len(ms) > 0 && !slices.ContainsFunc(ms, func(m *labels.Matcher) bool { return !m.Matches("") }) {
		errs = append(errs, "at least one matcher must not match the empty string")
	}
	if !sil.EndsAt.After(sil.StartsAt) {
		errs = append(errs, "endsAt must be after startsAt")
	}
	if !sil.EndsAt.After(now) {
		errs = append(errs, "endsAt must be in the future")
	}
	if strings.TrimSpace(sil.CreatedBy) == "" {
		errs = append(errs, "createdBy is required")
	}
	if strings.TrimSpace(sil.Comment) == "" {
		errs = append(errs, "comment is required")
	}
	if len(errs) > 0 {
		return "", fmt.Errorf("alerting: invalid silence: %s", strings.Join(errs, "; "))
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	sil.ID = hex.EncodeToString(b[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gc(now)
	var expired []*silenceEntry
	for _, e := range s.m {
		if e.State(now) == "expired" {
			expired = append(expired, e)
		}
	}
	if live := len(s.m) - len(expired); live >= MaxSilences {
		return "", fmt.Errorf("%w: %d are active or pending, the most allowed (MaxSilences); expire one first", ErrTooManySilences, live)
	}
	if over := len(s.m) + 1 - MaxSilences; over > 0 {
		slices.SortFunc(expired, func(a, b *silenceEntry) int { return a.EndsAt.Compare(b.EndsAt) })
		for _, e := range expired[:over] {
			delete(s.m, e.ID)
		}
	}
	s.m[sil.ID] = &silenceEntry{Silence: sil, matchers: ms}
	return sil.ID, nil
}

// Expire ends a silence now (a pending one never starts).
func (s *Silences) Expire(id string) error {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[id]
	if !ok {
		return fmt.Errorf("alerting: no silence %q", id)
	}
	if e.State(now) == "expired" {
		return fmt.Errorf("alerting: silence %q has already expired", id)
	}
	if now.Before(e.StartsAt) {
		e.StartsAt = now
	}
	e.EndsAt = now
	return nil
}

// List returns every silence, newest first.
func (s *Silences) List() []Silence {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gc(now)
	out := make([]Silence, 0, len(s.m))
	for _, e := range s.m {
		out = append(out, e.Silence)
	}
	slices.SortFunc(out, func(a, b Silence) int { return b.StartsAt.Compare(a.StartsAt) })
	return out
}

// Matching returns the IDs of the silences active at now that match lbls.
func (s *Silences) Matching(lbls map[string]string, now time.Time) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id, e := range s.m {
		if e.State(now) == "active" && matches(e.matchers, lbls) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// gc drops silences expired for longer than SilenceRetention. The caller
// holds s.mu.
func (s *Silences) gc(now time.Time) {
	for id, e := range s.m {
		if now.Sub(e.EndsAt) > SilenceRetention {
			delete(s.m, id)
		}
	}
}
