package alerting

import (
	"maps"
	"slices"
	"strings"
	"time"
)

// Defaults of the alert history (WithHistoryRetention).
const (
	// DefaultHistoryRetention is how long a resolved alert stays in the
	// history, and how long the firing count of an alert that has not
	// fired again is kept.
	DefaultHistoryRetention = 24 * time.Hour
	// DefaultHistoryMax is the most resolved alerts the history holds, and
	// the most alerts it counts the firings of.
	DefaultHistoryMax = 1000
)

// WithHistoryRetention sets how long the alert history (Engine.History)
// keeps a resolved alert, and the firing count of an alert that has neither
// fired nor been firing since, and the most of each it keeps: past max the
// oldest go first. A d or max of zero or less keeps the default
// (DefaultHistoryRetention, DefaultHistoryMax). The history is saved and
// restored with the engine's state (SaveState, LoadState).
func WithHistoryRetention(d time.Duration, max int) Option {
	return optionFunc(func(cfg config) config {
		if d > 0 {
			cfg.historyRetention = d
		}
		if max > 0 {
			cfg.historyMax = max
		}
		return cfg
	})
}

// AlertHistory is what the engine remembers of past alerts, beyond the
// ResolvedRetention for which Alerts lists a resolved instance: the firings
// that have ended, and how many times each alert fired. Engine.History
// returns it.
type AlertHistory struct {
	// Resolved lists the firings that have ended within the retention,
	// newest first.
	Resolved []HistoryEntry `json:"resolved"`
	// Fired counts, for each alert (rule and label set) that has fired or
	// been firing within the retention, the times it started firing, most
	// recently started first.
	Fired []FiredCount `json:"fired"`
}

// HistoryEntry is one firing of an alert that has ended.
type HistoryEntry struct {
	// ID is the alert's ID (Alert.ID): a hash of its labels.
	ID string `json:"id"`
	// Group and Rule name the rule group and the alerting rule.
	Group string `json:"group"`
	Rule  string `json:"rule"`
	// Labels and Annotations are the alert's as it resolved.
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// ActiveAt is when its condition started to hold, StartsAt when it
	// started firing, EndsAt when it resolved.
	ActiveAt time.Time `json:"activeAt,omitzero"`
	StartsAt time.Time `json:"startsAt"`
	EndsAt   time.Time `json:"endsAt"`
	// ResolvedReason is the reason of a resolution by hand (Engine.Resolve).
	ResolvedReason string `json:"resolvedReason,omitempty"`
}

// FiredCount is how many times one alert has started firing.
type FiredCount struct {
	// ID, Group, Rule and Labels are the alert's, as in HistoryEntry.
	ID     string            `json:"id"`
	Group  string            `json:"group"`
	Rule   string            `json:"rule"`
	Labels map[string]string `json:"labels"`
	// Count is the number of times the alert started firing since Since,
	// the first of them. An alert that has neither fired nor been firing
	// for the history retention is forgotten: its count starts over.
	Count int       `json:"count"`
	Since time.Time `json:"since"`
	// LastStartsAt is when it last started firing; LastEndsAt when it last
	// resolved (zero if it never has).
	LastStartsAt time.Time `json:"lastStartsAt"`
	LastEndsAt   time.Time `json:"lastEndsAt,omitzero"`
	// Firing says whether it fires now.
	Firing bool `json:"firing"`
}

// lastActive is the last time the alert started or stopped firing.
func (c *FiredCount) lastActive() time.Time {
	if c.LastEndsAt.After(c.LastStartsAt) {
		return c.LastEndsAt
	}
	return c.LastStartsAt
}

// historyKey identifies an alert in the history.
type historyKey struct{ group, rule, id string }

// history is the engine's alert history. The engine's mu guards it.
type history struct {
	retention time.Duration
	max       int
	ended     []HistoryEntry // oldest first
	counts    map[historyKey]*FiredCount
}

func newHistory(retention time.Duration, max int) *history {
	return &history{retention: retention, max: max, counts: map[historyKey]*FiredCount{}}
}

// fired counts a's start of firing, of rule r.
func (h *history) fired(r *ruleState, a *instance) {
	k := historyKey{r.group, r.Alert, a.id}
	c := h.counts[k]
	if c == nil {
		c = &FiredCount{ID: a.id, Group: r.group, Rule: r.Alert, Labels: a.labels.Map(), Since: a.firedAt}
		h.counts[k] = c
	}
	c.Count++
	c.LastStartsAt, c.Firing = a.firedAt, true
	h.prune(a.firedAt)
}

// resolved records the end of a's firing, of rule r.
func (h *history) resolved(r *ruleState, a *instance) {
	h.add(HistoryEntry{
		ID: a.id, Group: r.group, Rule: r.Alert, Labels: a.labels.Map(), Annotations: maps.Clone(a.annotations),
		ActiveAt: a.activeAt, StartsAt: a.firedAt, EndsAt: a.resolvedAt, ResolvedReason: a.manual,
	})
	if c := h.counts[historyKey{r.group, r.Alert, a.id}]; c != nil {
		c.LastEndsAt, c.Firing = a.resolvedAt, false
	}
	h.prune(a.resolvedAt)
}

// add appends an ended firing, keeping h.ended in order of EndsAt.
func (h *history) add(en HistoryEntry) {
	i := len(h.ended)
	for i > 0 && h.ended[i-1].EndsAt.After(en.EndsAt) {
		i--
	}
	h.ended = slices.Insert(h.ended, i, en)
}

// prune drops what is past the retention at now, then the oldest past max.
func (h *history) prune(now time.Time) {
	cut := now.Add(-h.retention)
	i := 0
	for i < len(h.ended) && h.ended[i].EndsAt.Before(cut) {
		i++
	}
	i = max(i, len(h.ended)-h.max)
	if i > 0 {
		h.ended = slices.Delete(h.ended, 0, i)
	}
	for k, c := range h.counts {
		if !c.Firing && c.lastActive().Before(cut) {
			delete(h.counts, k)
		}
	}
	if over := len(h.counts) - h.max; over > 0 {
		keys := slices.Collect(maps.Keys(h.counts))
		// Those not firing first, then the least recently active.
		slices.SortFunc(keys, func(a, b historyKey) int {
			ca, cb := h.counts[a], h.counts[b]
			if ca.Firing != cb.Firing {
				if ca.Firing {
					return 1
				}
				return -1
			}
			return ca.lastActive().Compare(cb.lastActive())
		})
		for _, k := range keys[:over] {
			delete(h.counts, k)
		}
	}
}

// snapshot returns copies of the history at now, newest first.
func (h *history) snapshot(now time.Time) AlertHistory {
	h.prune(now)
	out := AlertHistory{Resolved: make([]HistoryEntry, 0, len(h.ended)), Fired: make([]FiredCount, 0, len(h.counts))}
	for i := len(h.ended) - 1; i >= 0; i-- {
		en := h.ended[i]
		en.Labels, en.Annotations = maps.Clone(en.Labels), maps.Clone(en.Annotations)
		out.Resolved = append(out.Resolved, en)
	}
	for _, c := range h.counts {
		cp := *c
		cp.Labels = maps.Clone(c.Labels)
		out.Fired = append(out.Fired, cp)
	}
	slices.SortFunc(out.Fired, func(a, b FiredCount) int {
		if c := b.LastStartsAt.Compare(a.LastStartsAt); c != 0 {
			return c
		}
		if c := strings.Compare(a.Group+"\x00"+a.Rule, b.Group+"\x00"+b.Rule); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// History returns the alert history: the firings that have ended within
// the history retention (WithHistoryRetention), newest first, and how many
// times each alert has fired. It survives a restart with SaveState and
// LoadState.
func (e *Engine) History() AlertHistory {
	now := e.cfg.clock.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.history.snapshot(now)
}
