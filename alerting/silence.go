package alerting

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/vitalsgo/vitals/internal/regex"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/vitalsgo/vitals/clock"
)

// SilenceRetention is how long an expired silence stays listed.
const SilenceRetention = 24 * time.Hour

// MaxSilences bounds the silences held: Add refuses a silence with
// ErrTooManySilences while MaxSilences are active or pending, and drops the
// oldest expired silences, before SilenceRetention, rather than hold more
// than MaxSilences in all. So an authorized caller looping on create and
// expire cannot grow the process without bound.
const MaxSilences = 1000

// Limits of one silence. With MaxSilences they bound the memory the
// silences take and what a listing of them writes: the text of a silence
// (names, values, createdBy, comment) is at most
// MaxMatchersPerSilence×(MaxMatcherNameLength+MaxMatcherValueLength) +
// MaxSilenceCreatedByLength + MaxSilenceCommentLength = 41 216 bytes, and
// its compiled regular expressions are bounded by MaxSilenceRegexpSize.
// Silences.Add refuses a silence past any of them with an error that names
// the limit and the field. Lengths are in bytes of UTF-8.
const (
	// MaxMatchersPerSilence is the most matchers a silence may have. A
	// silence names an alert by a handful of labels (alertname, a job, an
	// instance, a severity); 32 leaves room for every label an alert has.
	MaxMatchersPerSilence = 32
	// MaxMatcherNameLength is the longest label name a matcher may have.
	// Label names are identifiers: the longest OpenTelemetry
	// semantic-convention attribute names are well under 64 bytes.
	MaxMatcherNameLength = 128
	// MaxMatcherValueLength is the longest value, or regular expression, a
	// matcher may have: 1 KiB holds the label values of practice, and an
	// alternation of some fifty host names (see MaxSilenceRegexpSize).
	MaxMatcherValueLength = 1024
	// MaxSilenceRegexpSize bounds the compiled size of a silence's regular
	// expressions together, as their memory grows with it and not with
	// their length: 1 024 admits the expressions silences use (`api|web`,
	// `5..`, `host-.*`) and keeps a silence's compiled matchers under some
	// 200 KB. The package doc's Silences section says how it is counted.
	MaxSilenceRegexpSize = 1024
	// MaxSilenceCreatedByLength is the longest createdBy: 256 bytes hold a
	// user name or an e-mail address (at most 254 bytes).
	MaxSilenceCreatedByLength = 256
	// MaxSilenceCommentLength is the longest comment: 4 KiB hold a
	// paragraph and links to a ticket and a runbook.
	MaxSilenceCommentLength = 4096
)

// Errors of Silences.
var (
	// ErrTooManySilences is returned (wrapped) by Silences.Add when
	// MaxSilences silences are active or pending.
	ErrTooManySilences = errors.New("alerting: too many silences")
	// ErrSilenceNotFound is returned (wrapped) by Silences.Add and Expire
	// for an ID they do not hold: never given, or dropped after
	// SilenceRetention.
	ErrSilenceNotFound = errors.New("alerting: silence not found")
	// ErrSilenceExpired is returned (wrapped) by Expire for a silence that
	// has already expired.
	ErrSilenceExpired = errors.New("alerting: silence already expired")
)

// Matcher matches one label, in the shape of Alertmanager's API v2:
// IsEqual false negates, IsRegex makes Value an anchored regular expression.
// So {IsEqual: true} is "=", {IsEqual: false} "!=", {IsRegex: true,
// IsEqual: true} "=~" and {IsRegex: true, IsEqual: false} "!~". In JSON,
// isEqual defaults to true, as in Alertmanager (see UnmarshalJSON).
type Matcher struct {
	// Name is the label the matcher reads; Value the value or regular
	// expression it compares it with.
	Name    string `json:"name"`
	Value   string `json:"value"`
	IsRegex bool   `json:"isRegex"`
	IsEqual bool   `json:"isEqual"`
}

// UnmarshalJSON decodes a matcher as Alertmanager's API v2 does: an
// isEqual left out, or null, is true, so such a matcher is "=" (or "=~"),
// not its negation. Matchers encoded by this package always hold isEqual
// (saved states among them), so they decode as before.
func (m *Matcher) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil // as encoding/json leaves a struct for null
	}
	type plain Matcher // without this method
	p := plain{IsEqual: true}
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*m = Matcher(p)
	return nil
}

// compile checks m against the limits and compiles it. budget is what is
// left of MaxSilenceRegexpSize; size is what m's regular expression takes
// of it (0 for equality): the size of its program, and of the set of
// strings Prometheus' matcher expands it to, if it does.
func (m Matcher) compile(budget int) (lm *labels.Matcher, size int, err error) {
	switch {
	case m.Name == "":
		return nil, 0, errors.New("no label name")
	case len(m.Name) > MaxMatcherNameLength:
		return nil, 0, fmt.Errorf("label name is %d bytes, more than MaxMatcherNameLength (%d)", len(m.Name), MaxMatcherNameLength)
	case !model.UTF8Validation.IsValidLabelName(m.Name):
		return nil, 0, errors.New("label name is not valid UTF-8")
	case len(m.Value) > MaxMatcherValueLength:
		return nil, 0, fmt.Errorf("value is %d bytes, more than MaxMatcherValueLength (%d)", len(m.Value), MaxMatcherValueLength)
	case !model.LabelValue(m.Value).IsValid():
		return nil, 0, errors.New("value is not valid UTF-8")
	}
	t := labels.MatchEqual
	switch {
	case m.IsRegex && m.IsEqual:
		t = labels.MatchRegexp
	case m.IsRegex:
		t = labels.MatchNotRegexp
	case !m.IsEqual:
		t = labels.MatchNotEqual
	}
	if m.IsRegex {
		if size, err = regex.Size(m.Value); err != nil {
			return nil, 0, err
		}
		if size > budget { // refused before labels.NewMatcher builds it
			return nil, 0, regexpTooLarge(size, budget)
		}
	}
	if lm, err = labels.NewMatcher(t, m.Name, m.Value); err != nil {
		return nil, 0, err
	}
	if m.IsRegex {
		set := lm.SetMatches()
		n := 0
		for _, s := range set {
			n += len(s)
		}
		if size += len(set) + n/64; size > budget {
			return nil, 0, regexpTooLarge(size, budget)
		}
	}
	return lm, size, nil
}

func regexpTooLarge(size, budget int) error {
	return fmt.Errorf("regular expression of size %d brings the silence's to %d, more than MaxSilenceRegexpSize (%d); use fewer or simpler regular expressions",
		size, MaxSilenceRegexpSize-budget+size, MaxSilenceRegexpSize)
}

// compileAll checks ms against the limits and compiles them; an error
// names the first bad matcher by its position (from 1) and label name.
func compileAll(ms []Matcher) ([]*labels.Matcher, error) {
	if len(ms) > MaxMatchersPerSilence {
		return nil, fmt.Errorf("%d matchers, more than MaxMatchersPerSilence (%d)", len(ms), MaxMatchersPerSilence)
	}
	out := make([]*labels.Matcher, 0, len(ms))
	budget := MaxSilenceRegexpSize
	for i, m := range ms {
		lm, size, err := m.compile(budget)
		if err != nil {
			return nil, fmt.Errorf("matcher %d (%q): %w", i+1, m.Name, err)
		}
		budget -= size
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
	// ID is set by Silences.Add; given to it, it names the silence to
	// update.
	ID string `json:"id"`
	// Matchers select the alerts muted: at least one, at most
	// MaxMatchersPerSilence.
	Matchers []Matcher `json:"matchers"`
	StartsAt time.Time `json:"startsAt"`
	EndsAt   time.Time `json:"endsAt"`
	// CreatedBy names who made the silence and Comment says why, as in
	// Alertmanager (at most MaxSilenceCreatedByLength and
	// MaxSilenceCommentLength bytes).
	CreatedBy string `json:"createdBy"`
	Comment   string `json:"comment"`
}

// SilenceState is the state of a silence at a time, as in Alertmanager.
type SilenceState int

// The silence states.
const (
	// SilenceStateUnknown is the zero value.
	SilenceStateUnknown SilenceState = iota
	// SilenceStatePending: the silence starts in the future.
	SilenceStatePending
	// SilenceStateActive: the silence mutes the alerts it matches.
	SilenceStateActive
	// SilenceStateExpired: the silence has ended.
	SilenceStateExpired
)

// String returns the state's name as Alertmanager spells it.
func (s SilenceState) String() string {
	switch s {
	case SilenceStatePending:
		return "pending"
	case SilenceStateActive:
		return "active"
	case SilenceStateExpired:
		return "expired"
	default:
		return "unknown"
	}
}

// MarshalText encodes the state as its String.
func (s SilenceState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText decodes a state's String.
func (s *SilenceState) UnmarshalText(b []byte) error {
	for _, st := range []SilenceState{SilenceStateUnknown, SilenceStatePending, SilenceStateActive, SilenceStateExpired} {
		if st.String() == string(b) {
			*s = st
			return nil
		}
	}
	return fmt.Errorf("alerting: unknown silence state %q", b)
}

// State returns the silence's state at now: it is derived from the times,
// never stored.
func (s Silence) State(now time.Time) SilenceState {
	switch {
	case now.Before(s.StartsAt):
		return SilenceStatePending
	case now.Before(s.EndsAt):
		return SilenceStateActive
	default:
		return SilenceStateExpired
	}
}

type silenceEntry struct {
	Silence
	matchers []*labels.Matcher
	// createdAt is when Add created the silence (under its ID); updatedAt
	// when Add or Expire last changed it. Both are saved and restored with
	// the engine's state (Engine.SaveState).
	createdAt, updatedAt time.Time
}

// Silences holds silences. It is safe for concurrent use.
type Silences struct {
	clock clock.Clock
	mu    sync.Mutex
	m     map[string]*silenceEntry
}

// newSilences returns an empty set of silences on clk; nil means the
// system clock. An Engine has the one set (Engine.Silences).
func newSilences(clk clock.Clock) *Silences {
	return &Silences{clock: clock.Or(clk), m: map[string]*silenceEntry{}}
}

// Add validates and stores a silence and returns its ID; StartsAt defaults
// to now. A silence needs CreatedBy, Comment, an EndsAt after StartsAt and
// in the future, and at least one matcher, one of which must not match the
// empty string, within MaxMatchersPerSilence and the other limits of one
// silence. A silence with an ID updates that silence (ErrSilenceNotFound if
// there is none), in place or by replacing it with a new ID: see Silences
// in the package documentation. While MaxSilences are active or pending, a
// new silence is refused with ErrTooManySilences.
func (s *Silences) Add(sil Silence) (string, error) {
	sil.Matchers = slices.Clone(sil.Matchers) // the caller's to change
	ms, errs := checkSilence(sil)
	if len(errs) > 0 {
		return "", invalidSilence(errs)
	}
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gc(now)
	var prev *silenceEntry
	if sil.ID != "" {
		if prev = s.m[sil.ID]; prev == nil {
			return "", fmt.Errorf("%w: %q", ErrSilenceNotFound, sil.ID)
		}
	}
	prevLive := prev != nil && prev.State(now) != SilenceStateExpired
	if sil.StartsAt.IsZero() {
		sil.StartsAt = now
		if prevLive {
			sil.StartsAt = prev.StartsAt
		}
	}
	if !sil.EndsAt.After(sil.StartsAt) {
		errs = append(errs, "endsAt must be after startsAt")
	}
	if !sil.EndsAt.After(now) {
		errs = append(errs, "endsAt must be in the future")
	}
	if len(errs) > 0 {
		return "", invalidSilence(errs)
	}
	if prev != nil && canUpdate(prev, sil, now) {
		prev.Silence = sil
		prev.updatedAt = now
		return sil.ID, nil
	}
	if prev != nil && sil.StartsAt.Before(now) {
		sil.StartsAt = now // the replaced silence muted until now
	}
	var expired []*silenceEntry
	for _, e := range s.m {
		if e.State(now) == SilenceStateExpired {
			expired = append(expired, e)
		}
	}
	live := len(s.m) - len(expired)
	if prevLive {
		live-- // expires below, so the new silence takes its place
	}
	if live >= MaxSilences {
		return "", fmt.Errorf("%w: %d are active or pending, the most allowed (MaxSilences); expire one first", ErrTooManySilences, live)
	}
	if prevLive {
		expire(prev, now)
		prev.updatedAt = now
		expired = append(expired, prev)
	}
	if over := len(s.m) + 1 - MaxSilences; over > 0 {
		slices.SortFunc(expired, func(a, b *silenceEntry) int { return a.EndsAt.Compare(b.EndsAt) })
		for _, e := range expired[:over] {
			delete(s.m, e.ID)
		}
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	sil.ID = hex.EncodeToString(b[:])
	s.m[sil.ID] = &silenceEntry{Silence: sil, matchers: ms, createdAt: now, updatedAt: now}
	return sil.ID, nil
}

// checkSilence checks what Add checks of a silence whatever the time: its
// matchers, compiled, and its text. It returns the compiled matchers and
// what is wrong.
func checkSilence(sil Silence) ([]*labels.Matcher, []string) {
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
	errs = append(errs, checkText("createdBy", sil.CreatedBy, "MaxSilenceCreatedByLength", MaxSilenceCreatedByLength)...)
	errs = append(errs, checkText("comment", sil.Comment, "MaxSilenceCommentLength", MaxSilenceCommentLength)...)
	return ms, errs
}

func invalidSilence(errs []string) error {
	return fmt.Errorf("alerting: invalid silence: %s", strings.Join(errs, "; "))
}

// checkText checks a required free-text field of a silence; limit is the
// name of its maximum length, maxLen.
func checkText(field, v, limit string, maxLen int) []string {
	switch {
	case strings.TrimSpace(v) == "":
		return []string{field + " is required"}
	case len(v) > maxLen:
		return []string{fmt.Sprintf("%s is %d bytes, more than %s (%d)", field, len(v), limit, maxLen)}
	case !utf8.ValidString(v):
		return []string{field + " is not valid UTF-8"}
	}
	return nil
}

// canUpdate reports whether prev can become sil in place at now without
// changing what prev has muted until now: as Alertmanager's canUpdate,
// same matchers, and an active silence keeps its start, a pending one
// starts no earlier than now. EndsAt is in the future, checked by Add.
func canUpdate(prev *silenceEntry, sil Silence, now time.Time) bool {
	if !slices.Equal(prev.Matchers, sil.Matchers) {
		return false
	}
	switch prev.State(now) {
	case SilenceStateActive:
		return sil.StartsAt.Equal(prev.StartsAt)
	case SilenceStatePending:
		return !sil.StartsAt.Before(now)
	default:
		return false
	}
}

// Expire ends a silence now (a pending one never starts).
func (s *Silences) Expire(id string) error {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[id]
	if !ok {
		return fmt.Errorf("%w: %q", ErrSilenceNotFound, id)
	}
	if e.State(now) == SilenceStateExpired {
		return fmt.Errorf("%w: %q", ErrSilenceExpired, id)
	}
	expire(e, now)
	e.updatedAt = now
	return nil
}

// expire ends e at now. The caller holds the lock.
func expire(e *silenceEntry, now time.Time) {
	if now.Before(e.StartsAt) {
		e.StartsAt = now
	}
	e.EndsAt = now
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

// UpdatedAt returns when the silence id was last created, updated or
// expired (Alertmanager's updatedAt), and false if there is no such
// silence.
func (s *Silences) UpdatedAt(id string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[id]
	if !ok {
		return time.Time{}, false
	}
	return e.updatedAt, true
}

// Matching returns the IDs of the silences active at now that match lbls.
func (s *Silences) Matching(lbls map[string]string, now time.Time) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id, e := range s.m {
		if e.State(now) == SilenceStateActive && matches(e.matchers, lbls) {
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

// savedSilence is a silence as the engine's state saves it (SaveState).
type savedSilence struct {
	Silence
	CreatedAt time.Time `json:"createdAt,omitzero"`
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
}

// maxSilenceIDLength bounds the ID of a restored silence (Add makes IDs of
// 32 hexadecimal digits).
const maxSilenceIDLength = 128

// snapshot returns every silence still held at now (expired ones within
// SilenceRetention included), oldest first.
func (s *Silences) snapshot() []savedSilence {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gc(now)
	out := make([]savedSilence, 0, len(s.m))
	for _, e := range s.m {
		sil := e.Silence
		sil.Matchers = slices.Clone(sil.Matchers)
		out = append(out, savedSilence{Silence: sil, CreatedAt: e.createdAt, UpdatedAt: e.updatedAt})
	}
	slices.SortFunc(out, func(a, b savedSilence) int {
		if c := a.StartsAt.Compare(b.StartsAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// restore adds saved silences, with their IDs and times, to those held:
// each is checked as Add checks one, except that it may have ended (an
// expired silence is kept until SilenceRetention after its end, then
// dropped without error, as gc would). A silence that fails a check, has an
// ID already held, or would bring the active and pending ones past
// MaxSilences is skipped and reported in errs; expired ones give way,
// oldest first, as in Add. It returns how many were restored.
func (s *Silences) restore(list []savedSilence) (n int, errs []error) {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gc(now)
	live := 0
	for _, e := range s.m {
		if e.State(now) != SilenceStateExpired {
			live++
		}
	}
	for i, sv := range list {
		bad := func(msg string) {
			errs = append(errs, fmt.Errorf("silence %d (%q): %s", i+1, sv.ID, msg))
		}
		sil := sv.Silence
		ms, problems := checkSilence(sil)
		switch {
		case sil.ID == "" || len(sil.ID) > maxSilenceIDLength || !utf8.ValidString(sil.ID):
			problems = append(problems, "bad or missing id")
		case sil.StartsAt.IsZero() || sil.EndsAt.IsZero():
			problems = append(problems, "startsAt and endsAt are required")
		case sil.EndsAt.Before(sil.StartsAt):
			problems = append(problems, "endsAt is before startsAt")
		}
		if len(problems) > 0 {
			bad(strings.Join(problems, "; "))
			continue
		}
		if now.Sub(sil.EndsAt) > SilenceRetention {
			continue // past its retention: gc would drop it
		}
		if _, dup := s.m[sil.ID]; dup {
			bad("a silence with this ID is already held")
			continue
		}
		isLive := sil.State(now) != SilenceStateExpired
		if isLive && live >= MaxSilences {
			bad(fmt.Sprintf("%d silences are active or pending, the most allowed (MaxSilences)", live))
			continue
		}
		if isLive {
			live++
		}
		s.m[sil.ID] = &silenceEntry{Silence: sil, matchers: ms, createdAt: sv.CreatedAt, updatedAt: sv.UpdatedAt}
		n++
	}
	if over := len(s.m) - MaxSilences; over > 0 {
		var expired []*silenceEntry
		for _, e := range s.m {
			if e.State(now) == SilenceStateExpired {
				expired = append(expired, e)
			}
		}
		slices.SortFunc(expired, func(a, b *silenceEntry) int { return a.EndsAt.Compare(b.EndsAt) })
		for _, e := range expired[:min(over, len(expired))] {
			delete(s.m, e.ID)
		}
	}
	return n, errs
}
