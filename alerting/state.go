package alerting

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/vitalsgo/vitals/internal/lifecycle"
)

// StateVersion is the version of the format SaveState writes. LoadState
// reads this version and refuses a later one.
const StateVersion = 1

// Defaults of the restoring of alert instances by LoadState, as in
// Prometheus (rules.alert.for-outage-tolerance and
// rules.alert.for-grace-period).
const (
	// DefaultOutageTolerance is the longest downtime after which the
	// pending and firing alerts are restored (WithOutageTolerance).
	DefaultOutageTolerance = time.Hour
	// DefaultForGracePeriod is the least time a restored pending alert
	// waits before it fires (WithForGracePeriod).
	DefaultForGracePeriod = 10 * time.Minute
)

// maxStateSize bounds what LoadState reads, so that a corrupt input cannot
// make it allocate without bound.
const maxStateSize = 256 << 20

// WithOutageTolerance sets the longest downtime, from the last evaluation
// saved by SaveState to LoadState, after which LoadState still restores the
// pending and firing alerts, as Prometheus' rules.alert.for-outage-tolerance
// does. A d of zero or less keeps the default, DefaultOutageTolerance.
func WithOutageTolerance(d time.Duration) Option {
	return optionFunc(func(cfg config) config {
		if d > 0 {
			cfg.outageTolerance = d
		}
		return cfg
	})
}

// WithForGracePeriod sets the least time a pending alert restored by
// LoadState waits before it fires, as Prometheus'
// rules.alert.for-grace-period does; an alert whose For is shorter starts
// its For over instead. Zero means none; a negative d keeps the default,
// DefaultForGracePeriod.
func WithForGracePeriod(d time.Duration) Option {
	return optionFunc(func(cfg config) config {
		if d >= 0 {
			cfg.forGracePeriod = d
		}
		return cfg
	})
}

// Errors of LoadState.
var (
	// ErrStateTooLate is returned by LoadState after the engine's first
	// evaluation, or a second time. It is the same value in every package
	// with a LoadState.
	ErrStateTooLate = lifecycle.ErrStateTooLate
	// ErrStateVersion is returned (wrapped) by LoadState for a state
	// written by a later version of the format than StateVersion. It is
	// the same value in every package with a LoadState.
	ErrStateVersion = lifecycle.ErrStateVersion
)

// stateDoc is the JSON document of SaveState. Each section is decoded on
// its own, and each entry of a section too, so that a bad one is skipped
// and the rest loaded.
type stateDoc struct {
	Version int       `json:"version"`
	SavedAt time.Time `json:"savedAt"`
	// LastEvaluation is the time of the engine's last Eval.
	LastEvaluation time.Time       `json:"lastEvaluation,omitzero"`
	Silences       json.RawMessage `json:"silences,omitempty"`
	Alerts         json.RawMessage `json:"alerts,omitempty"`
	History        json.RawMessage `json:"history,omitempty"`
	Notifications  json.RawMessage `json:"notifications,omitempty"`
}

// savedAlert is one alert instance.
type savedAlert struct {
	Group string `json:"group"`
	Rule  string `json:"rule"`
	// RuleIndex tells apart rules of a group that share an alert name: the
	// rule's position among them, from 0.
	RuleIndex       int               `json:"ruleIndex,omitempty"`
	Labels          map[string]string `json:"labels"`
	Annotations     map[string]string `json:"annotations,omitempty"`
	State           State             `json:"state"`
	Value           jsonFloat         `json:"value"`
	ActiveAt        time.Time         `json:"activeAt,omitzero"`
	FiredAt         time.Time         `json:"firedAt,omitzero"`
	ResolvedAt      time.Time         `json:"resolvedAt,omitzero"`
	KeepFiringSince time.Time         `json:"keepFiringSince,omitzero"`
	// LastEvaluation is the last evaluation at which the instance was
	// active (Prometheus' last ALERTS_FOR_STATE sample).
	LastEvaluation time.Time `json:"lastEvaluation,omitzero"`
	ResolvedReason string    `json:"resolvedReason,omitempty"`
}

// savedHistory is the history section: each list decoded entry by entry.
type savedHistory struct {
	Resolved []json.RawMessage `json:"resolved"`
	Fired    []json.RawMessage `json:"fired"`
}

// savedNotifications is one aggregation group of a route: Alertmanager's
// notification log, plus the group's timers.
type savedNotifications struct {
	Route     string            `json:"route"`
	GroupKey  string            `json:"groupKey"`
	Labels    map[string]string `json:"labels"`
	CreatedAt time.Time         `json:"createdAt,omitzero"`
	// LastNotified is when the group was last notified; NextFlush when it
	// may be next (GroupWait or GroupInterval after).
	LastNotified time.Time `json:"lastNotified,omitzero"`
	NextFlush    time.Time `json:"nextFlush,omitzero"`
	// Firing is the set of alerts (by ID, the fingerprint of their labels)
	// notified as firing and not yet as resolved, with when each was last
	// sent.
	Firing map[string]time.Time `json:"firing"`
}

// jsonFloat is a float64 in JSON: a number, or for NaN and ±Inf, which
// JSON numbers cannot hold, the string "NaN", "+Inf" or "-Inf" as in
// Prometheus' API.
type jsonFloat float64

// MarshalJSON encodes f as a number, or a string if it is not finite.
func (f jsonFloat) MarshalJSON() ([]byte, error) {
	if v := float64(f); math.IsNaN(v) || math.IsInf(v, 0) {
		return json.Marshal(strconv.FormatFloat(v, 'f', -1, 64))
	}
	return json.Marshal(float64(f))
}

// UnmarshalJSON decodes a number, or a string ParseFloat reads.
func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var v float64
		if err2 := json.Unmarshal(b, &v); err2 != nil {
			return err
		}
		*f = jsonFloat(v)
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return err
	}
	*f = jsonFloat(v)
	return nil
}

// SaveState writes to w, as JSON of version StateVersion, what of the engine
// must survive a restart, for LoadState to restore: the silences (expired
// ones within SilenceRetention included), the pending, firing and recently
// resolved alert instances, the history and the notification log. It may
// run while the engine evaluates: the state is copied under the engine's
// lock, then encoded and written without it.
func (e *Engine) SaveState(w io.Writer) error {
	now := e.cfg.clock.Now()
	doc := stateDoc{Version: StateVersion, SavedAt: now}
	var (
		alerts  []savedAlert
		hist    AlertHistory
		notifs  []savedNotifications
		errs    []error
		encoded = func(name string, v any) json.RawMessage {
			b, err := json.Marshal(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
				return nil
			}
			return b
		}
	)
	sils := e.silences.snapshot()

	e.mu.Lock()
	doc.LastEvaluation = e.lastEval
	for _, g := range e.groups {
		for _, r := range g.rules {
			if r.Alert == "" {
				continue
			}
			idx := slices.Index(e.rulesByName[ruleName{g.Name, r.Alert}], r)
			for _, a := range r.instances {
				alerts = append(alerts, savedAlert{
					Group: g.Name, Rule: r.Alert, RuleIndex: idx,
					Labels: a.labels.Map(), Annotations: maps.Clone(a.annotations),
					State: a.state, Value: jsonFloat(a.value),
					ActiveAt: a.activeAt, FiredAt: a.firedAt, ResolvedAt: a.resolvedAt,
					KeepFiringSince: a.keepFiringSince, LastEvaluation: a.seenAt, ResolvedReason: a.manual,
				})
			}
		}
	}
	hist = e.history.snapshot(now)
	for _, rs := range e.routes {
		for _, ag := range rs.groups {
			sn := savedNotifications{Route: rs.Name, GroupKey: ag.key, Labels: maps.Clone(ag.labels),
				CreatedAt: ag.created, LastNotified: ag.lastFlush, NextFlush: ag.nextFlush, Firing: map[string]time.Time{}}
			for id, t := range ag.sentAt {
				if !t.IsZero() {
					sn.Firing[id] = t
				}
			}
			notifs = append(notifs, sn)
		}
	}
	e.mu.Unlock()

	slices.SortFunc(alerts, func(a, b savedAlert) int {
		if c := strings.Compare(a.Group+"\x00"+a.Rule, b.Group+"\x00"+b.Rule); c != 0 {
			return c
		}
		return labels.Compare(labels.FromMap(a.Labels), labels.FromMap(b.Labels))
	})
	slices.SortFunc(notifs, func(a, b savedNotifications) int {
		return strings.Compare(a.Route+"\x00"+a.GroupKey, b.Route+"\x00"+b.GroupKey)
	})
	slices.Reverse(hist.Resolved) // oldest first in the file
	doc.Silences = encoded("silences", sils)
	doc.Alerts = encoded("alerts", alerts)
	doc.History = encoded("history", hist)
	doc.Notifications = encoded("notifications", notifs)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("alerting: saving the state: %w", err)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("alerting: saving the state: %w", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("alerting: saving the state: %w", err)
	}
	return nil
}

// restoreStats counts what LoadState did, for its log line.
type restoreStats struct {
	silences, alerts, restarted, unknown, history, groups int
}

// LoadState restores what SaveState wrote. It must be called once, before
// Run or the first Eval (ErrStateTooLate otherwise; ErrShutdown after
// Shutdown). Pending and firing alerts get their 'for' state back as in
// Prometheus (WithOutageTolerance, WithForGracePeriod); those of rules, and
// notification groups of routes, that no longer exist are dropped. A bad
// section or entry is skipped and named in the returned error, the rest
// loaded; an input that is not a state, or of a later version
// (ErrStateVersion), loads nothing. Either way the engine stays usable.
func (e *Engine) LoadState(r io.Reader) error {
	if e.shutdown.Load() {
		return ErrShutdown
	}
	e.evalMu.Lock()
	defer e.evalMu.Unlock()
	if e.evaluated || e.loaded {
		return ErrStateTooLate
	}
	b, err := io.ReadAll(io.LimitReader(r, maxStateSize+1))
	if err != nil {
		return fmt.Errorf("alerting: loading the state: %w", err)
	}
	if len(b) > maxStateSize {
		return fmt.Errorf("alerting: loading the state: more than %d bytes", maxStateSize)
	}
	// Each field of the document is decoded on its own: a bad one is
	// skipped, not the whole.
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return fmt.Errorf("alerting: loading the state: not a state document: %w", err)
	}
	var doc stateDoc
	if err := json.Unmarshal(top["version"], &doc.Version); err != nil || doc.Version <= 0 {
		return errors.New("alerting: loading the state: not a state document (no version)")
	}
	if doc.Version > StateVersion {
		return fmt.Errorf("alerting: loading the state: %w %d (this version reads up to %d)", ErrStateVersion, doc.Version, StateVersion)
	}
	e.loaded = true
	now := e.cfg.clock.Now()
	var errs []error
	var st restoreStats
	section := func(name string, err error) {
		errs = append(errs, fmt.Errorf("%s: %w", name, err))
	}
	for _, f := range []struct {
		name string
		t    *time.Time
	}{{"savedAt", &doc.SavedAt}, {"lastEvaluation", &doc.LastEvaluation}} {
		if raw, ok := top[f.name]; ok {
			if err := json.Unmarshal(raw, f.t); err != nil {
				section(f.name, err)
			}
		}
	}
	doc.Silences, doc.Alerts, doc.History, doc.Notifications = top["silences"], top["alerts"], top["history"], top["notifications"]

	if sils, serrs := decodeEntries[savedSilence](doc.Silences); sils != nil || serrs != nil {
		for _, err := range serrs {
			section("silences", err)
		}
		n, rerrs := e.silences.restore(sils)
		st.silences = n
		for _, err := range rerrs {
			section("silences", err)
		}
	}

	alerts, aerrs := decodeEntries[savedAlert](doc.Alerts)
	for _, err := range aerrs {
		section("alerts", err)
	}
	var hist savedHistory
	var histEnded []HistoryEntry
	var histCounts []FiredCount
	if len(doc.History) > 0 {
		if err := json.Unmarshal(doc.History, &hist); err != nil {
			section("history", err)
		} else {
			var herrs []error
			histEnded, herrs = decodeList[HistoryEntry](hist.Resolved, "resolved")
			for _, err := range herrs {
				section("history", err)
			}
			histCounts, herrs = decodeList[FiredCount](hist.Fired, "fired")
			for _, err := range herrs {
				section("history", err)
			}
		}
	}
	notifs, nerrs := decodeEntries[savedNotifications](doc.Notifications)
	for _, err := range nerrs {
		section("notifications", err)
	}

	e.mu.Lock()
	for i, en := range histEnded {
		if err := e.restoreEnded(en); err != nil {
			section("history", fmt.Errorf("resolved entry %d: %w", i+1, err))
			continue
		}
		st.history++
	}
	for i, c := range histCounts {
		if err := e.restoreCount(c); err != nil {
			section("history", fmt.Errorf("fired entry %d: %w", i+1, err))
		}
	}
	// After the history: an instance not restored for the outage ends
	// there.
	for i, sa := range alerts {
		if err := e.restoreAlert(sa, doc, now, &st); err != nil {
			section("alerts", fmt.Errorf("entry %d (%s/%s): %w", i+1, sa.Group, sa.Rule, err))
		}
	}
	// A count says firing only while a restored instance fires.
	for k, c := range e.history.counts {
		c.Firing = e.firingInstance(k)
	}
	e.history.prune(now)
	for i, sn := range notifs {
		ok, err := e.restoreNotifications(sn)
		if err != nil {
			section("notifications", fmt.Errorf("entry %d (route %q): %w", i+1, sn.Route, err))
			continue
		}
		if ok {
			st.groups++
		} else {
			st.unknown++
		}
	}
	e.mu.Unlock()

	e.cfg.logger.Info("vitals: alerting state restored",
		slog.Int("silences", st.silences), slog.Int("alerts", st.alerts),
		slog.Int("alerts_started_over", st.restarted), slog.Int("dropped_unknown", st.unknown),
		slog.Int("history", st.history), slog.Int("notification_groups", st.groups),
		slog.Int("skipped", len(errs)), slog.Duration("since_last_evaluation", now.Sub(doc.LastEvaluation)))
	if len(errs) > 0 {
		return fmt.Errorf("alerting: loading the state: skipped what follows, loaded the rest: %w", errors.Join(errs...))
	}
	return nil
}

// maxReportedErrors bounds the errors a section reports one by one.
const maxReportedErrors = 20

// decodeEntries decodes a section that is a JSON array, entry by entry: a
// section that is not an array is one error; an entry that does not decode
// is skipped with an error naming its position.
func decodeEntries[T any](raw json.RawMessage) ([]T, []error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, []error{fmt.Errorf("not a list: %w", err)}
	}
	return decodeList[T](items, "entry")
}

func decodeList[T any](items []json.RawMessage, what string) ([]T, []error) {
	out := make([]T, 0, len(items))
	var errs []error
	bad := 0
	for i, it := range items {
		var v T
		if err := json.Unmarshal(it, &v); err != nil {
			if bad++; bad <= maxReportedErrors {
				errs = append(errs, fmt.Errorf("%s %d: %w", what, i+1, err))
			}
			continue
		}
		out = append(out, v)
	}
	if bad > maxReportedErrors {
		errs = append(errs, fmt.Errorf("%d more bad entries", bad-maxReportedErrors))
	}
	return out, errs
}

// checkLabels checks a saved label set: not empty, valid names and UTF-8
// values, within the limits of a silence matcher's name and a generous
// value length.
func checkLabels(m map[string]string) (labels.Labels, error) {
	if len(m) == 0 {
		return labels.EmptyLabels(), errors.New("no labels")
	}
	for k, v := range m {
		if !model.UTF8Validation.IsValidLabelName(k) {
			return labels.EmptyLabels(), fmt.Errorf("invalid label name %q", k)
		}
		if !utf8.ValidString(v) {
			return labels.EmptyLabels(), fmt.Errorf("label %q: value is not valid UTF-8", k)
		}
	}
	return labels.FromMap(m), nil
}

// alertID is the ID of an instance with labels ls (Alert.ID).
func alertID(ls labels.Labels) string { return fmt.Sprintf("%016x", ls.Hash()) }

// restoreAlert validates and restores one instance. The caller holds e.mu.
// An instance of a rule that no longer exists (or no longer gives it its
// labels) is dropped, counted, without error.
func (e *Engine) restoreAlert(sa savedAlert, doc stateDoc, now time.Time, st *restoreStats) error {
	rules := e.rulesByName[ruleName{sa.Group, sa.Rule}]
	if sa.RuleIndex < 0 || sa.RuleIndex >= len(rules) {
		st.unknown++
		e.cfg.logger.Debug("vitals: alert of an unknown rule not restored", slog.String("group", sa.Group), slog.String("rule", sa.Rule))
		return nil
	}
	r := rules[sa.RuleIndex]
	ls, err := checkLabels(sa.Labels)
	if err != nil {
		return err
	}
	if ls.Get(labels.AlertName) != r.Alert {
		return fmt.Errorf("alertname %q is not the rule's", ls.Get(labels.AlertName))
	}
	for k, v := range r.Labels {
		if !strings.Contains(v, "{{") && ls.Get(k) != v {
			st.unknown++ // the rule changed its labels: not its instance any more
			return nil
		}
	}
	for k, v := range sa.Annotations {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return errors.New("annotations are not valid UTF-8")
		}
	}
	h := ls.Hash()
	if _, dup := r.instances[h]; dup {
		return errors.New("duplicate instance")
	}
	a := &instance{
		labels: ls, id: alertID(ls), annotations: maps.Clone(sa.Annotations), value: float64(sa.Value),
		state: sa.State, activeAt: sa.ActiveAt, firedAt: sa.FiredAt, resolvedAt: sa.ResolvedAt,
		keepFiringSince: sa.KeepFiringSince, manual: sa.ResolvedReason, seenAt: sa.LastEvaluation,
	}
	if a.annotations == nil {
		a.annotations = map[string]string{}
	}
	switch {
	case a.state == StatePending && a.activeAt.IsZero(),
		a.state == StateFiring && (a.activeAt.IsZero() || a.firedAt.IsZero()),
		a.state == StateResolved && (a.firedAt.IsZero() || a.resolvedAt.IsZero()):
		return fmt.Errorf("a %s instance without its times", a.state)
	case a.state != StatePending && a.state != StateFiring && a.state != StateResolved:
		return fmt.Errorf("state %s", a.state)
	case len(a.manual) > MaxSilenceCommentLength || !utf8.ValidString(a.manual):
		return errors.New("bad resolvedReason")
	}
	if a.state == StateResolved {
		r.instances[h] = a
		st.alerts++
		return nil
	}
	// Prometheus' RestoreForState (rules/group.go): downAt is the last
	// ALERTS_FOR_STATE sample, here the last evaluation that saw the
	// instance.
	downAt := a.seenAt
	if downAt.IsZero() {
		downAt = doc.LastEvaluation
	}
	if downAt.IsZero() {
		downAt = doc.SavedAt
	}
	if downAt.IsZero() || now.Sub(downAt) > e.cfg.outageTolerance {
		// Outside the querier's window [now − tolerance, now]: no series,
		// nothing restored.
		st.restarted++
		if a.state == StateFiring {
			// Its firing ended with the engine, as far as anyone can tell:
			// resolved now, so that its resolution is notified.
			a.state, a.resolvedAt, a.keepFiringSince = StateResolved, now, time.Time{}
			e.history.resolved(r, a)
			r.instances[h] = a
		}
		return nil
	}
	hold := r.For
	timeSpentPending := downAt.Sub(a.activeAt)
	timeRemainingPending := hold - timeSpentPending
	switch {
	case timeRemainingPending <= 0:
		// Firing before the outage (or its For has shrunk): activeAt kept,
		// so the next evaluation fires it if it is pending.
	case hold < e.cfg.forGracePeriod:
		// A For shorter than the grace period starts over.
		st.restarted++
		return nil
	case timeRemainingPending < e.cfg.forGracePeriod:
		a.activeAt = now.Add(e.cfg.forGracePeriod).Add(-hold)
	default:
		a.activeAt = a.activeAt.Add(now.Sub(downAt))
	}
	if timeRemainingPending > 0 && a.state == StateFiring {
		// Firing, but For has grown past what it had been pending: pending
		// again, as Prometheus' Eval makes it.
		a.state, a.firedAt, a.keepFiringSince = StatePending, time.Time{}, time.Time{}
	}
	r.instances[h] = a
	st.alerts++
	return nil
}

// checkHistoryEntry checks the common fields of the history's entries and
// returns the labels' ID.
func checkHistoryEntry(lbls map[string]string, starts time.Time) (string, error) {
	ls, err := checkLabels(lbls)
	if err != nil {
		return "", err
	}
	if starts.IsZero() {
		return "", errors.New("no start time")
	}
	return alertID(ls), nil
}

// restoreEnded adds a resolved alert to the history. The caller holds e.mu.
func (e *Engine) restoreEnded(en HistoryEntry) error {
	id, err := checkHistoryEntry(en.Labels, en.StartsAt)
	if err != nil {
		return err
	}
	if en.EndsAt.Before(en.StartsAt) {
		return errors.New("endsAt is before startsAt")
	}
	en.ID = id
	e.history.add(en)
	return nil
}

// restoreCount adds a firing count to the history. The caller holds e.mu.
func (e *Engine) restoreCount(c FiredCount) error {
	id, err := checkHistoryEntry(c.Labels, c.LastStartsAt)
	if err != nil {
		return err
	}
	if c.Count < 1 || c.Since.IsZero() {
		return errors.New("no count")
	}
	c.ID = id
	k := historyKey{c.Group, c.Rule, id}
	if _, dup := e.history.counts[k]; dup {
		return errors.New("duplicate")
	}
	e.history.counts[k] = &c
	return nil
}

// firingInstance reports whether the alert of k has a firing instance.
// The caller holds e.mu.
func (e *Engine) firingInstance(k historyKey) bool {
	for _, r := range e.rulesByName[ruleName{k.group, k.rule}] {
		for _, a := range r.instances {
			if a.id == k.id && a.state == StateFiring {
				return true
			}
		}
	}
	return false
}

// restoreNotifications restores one aggregation group of a route. It
// returns false, without error, for a group of a route that no longer
// exists or no longer groups by the same labels. The caller holds e.mu.
func (e *Engine) restoreNotifications(sn savedNotifications) (bool, error) {
	var rs *routeState
	for _, r := range e.routes {
		if r.Name == sn.Route {
			rs = r
		}
	}
	if rs == nil {
		return false, nil
	}
	for k, v := range sn.Labels {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return false, errors.New("group labels are not valid UTF-8")
		}
	}
	if sn.Labels == nil {
		sn.Labels = map[string]string{}
	}
	if rs.groupKey(sn.Labels) != sn.GroupKey {
		return false, nil // grouped otherwise now
	}
	if _, dup := rs.groups[sn.GroupKey]; dup {
		return false, errors.New("duplicate group")
	}
	ag := &aggrGroup{key: sn.GroupKey, labels: sn.Labels, alerts: map[string]Alert{}, sentAt: map[string]time.Time{},
		created: sn.CreatedAt, lastFlush: sn.LastNotified, nextFlush: sn.NextFlush}
	for id, t := range sn.Firing {
		if len(id) != 16 || t.IsZero() {
			return false, fmt.Errorf("bad alert ID %q", id)
		}
		if _, err := strconv.ParseUint(id, 16, 64); err != nil {
			return false, fmt.Errorf("bad alert ID %q", id)
		}
		ag.sentAt[id] = t
	}
	rs.groups[sn.GroupKey] = ag
	return true, nil
}
