package alerting_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/exporter/memory"
)

var quiet = alerting.WithLogger(slog.New(slog.DiscardHandler))

// save writes the scenario's engine state.
func (s *scenario) save() []byte {
	s.t.Helper()
	var buf bytes.Buffer
	if err := s.eng.SaveState(&buf); err != nil {
		s.t.Fatal(err)
	}
	return buf.Bytes()
}

// restart saves the engine's state at its last evaluation, stops it, sets
// the clock to start+offset (the restart), builds a new engine over rules
// and the same memory reader, with route (recorded afresh) and opts, and
// loads the state into it. It returns LoadState's error.
func (s *scenario) restart(offset time.Duration, rules string, route alerting.Route, opts ...alerting.Option) error {
	s.t.Helper()
	return s.restartFrom(s.save(), offset, rules, route, opts...)
}

func (s *scenario) restartFrom(state []byte, offset time.Duration, rules string, route alerting.Route, opts ...alerting.Option) error {
	s.t.Helper()
	_ = s.eng.Shutdown(context.Background())
	s.clk.set(s.start.Add(offset))
	groups, err := alerting.ParseRules([]byte(rules), "test.yml")
	if err != nil {
		s.t.Fatal(err)
	}
	route.Notifiers = append(route.Notifiers, alerting.NotifierFunc(func(_ context.Context, as []alerting.Alert) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.sent = append(s.sent, as)
		return nil
	}))
	eng, err := alerting.New(s.mem, groups, append([]alerting.Option{alerting.WithClock(s.clk), alerting.WithRoutes(route), quiet}, opts...)...)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { _ = eng.Shutdown(context.Background()) })
	s.mu.Lock()
	s.sent = nil
	s.mu.Unlock()
	s.eng = eng
	return eng.LoadState(bytes.NewReader(state))
}

// sentSoFar returns what was sent since the last restart, without stopping
// the engine.
func (s *scenario) sentSoFar() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, batch := range s.sent {
		var parts []string
		for _, a := range batch {
			parts = append(parts, a.State.String()+":"+a.Labels["instance"])
		}
		out = append(out, strings.Join(parts, ","))
	}
	return strings.Join(out, " ")
}

// TestRestartKeepsSilences: a silence created before a restart mutes after
// it, with its ID; an expired one within SilenceRetention stays listed.
func TestRestartKeepsSilences(t *testing.T) {
	rules := strings.Replace(highErrors, "for: 1m", "for: 0s", 1)
	route := alerting.Route{GroupBy: []string{"instance"}, GroupWait: -1, GroupInterval: -1}
	s := newScenario(t, rules, route)
	active, err := s.eng.Silences().Add(alerting.Silence{
		Matchers: []alerting.Matcher{{Name: "instance", Value: "a", IsEqual: true}},
		EndsAt:   s.start.Add(2 * time.Hour), CreatedBy: "ops", Comment: "maintenance",
	})
	if err != nil {
		t.Fatal(err)
	}
	expired, err := s.eng.Silences().Add(alerting.Silence{
		Matchers: []alerting.Matcher{{Name: "instance", Value: "b", IsEqual: true}},
		EndsAt:   s.start.Add(2 * time.Hour), CreatedBy: "ops", Comment: "done",
	})
	if err != nil {
		t.Fatal(err)
	}
	s.at(0, map[string]float64{})
	s.clk.set(s.start.Add(time.Minute))
	if err := s.eng.Silences().Expire(expired); err != nil {
		t.Fatal(err)
	}
	before := s.eng.Silences().List()

	if err := s.restart(10*time.Minute, rules, route); err != nil {
		t.Fatal(err)
	}
	after := s.eng.Silences().List()
	if len(after) != 2 {
		t.Fatalf("silences after the restart: %+v, want 2", after)
	}
	byID := map[string]alerting.Silence{}
	for _, a := range after {
		byID[a.ID] = a
	}
	for _, b := range before {
		a, ok := byID[b.ID]
		if !ok || !b.StartsAt.Equal(a.StartsAt) || !b.EndsAt.Equal(a.EndsAt) || b.Comment != a.Comment || len(a.Matchers) != 1 {
			t.Errorf("silence %s: before %+v, after %+v", b.ID, b, a)
		}
	}
	now := s.clk.Now()
	for _, sil := range after {
		want := alerting.SilenceStateActive
		if sil.ID == expired {
			want = alerting.SilenceStateExpired
		}
		if got := sil.State(now); got != want {
			t.Errorf("silence %s: %v, want %v", sil.ID, got, want)
		}
	}
	s.at(10*time.Minute, map[string]float64{"a": 10, "b": 10})
	for _, a := range s.eng.Alerts() {
		if got := strings.Join(a.SilencedBy, ","); (a.Labels["instance"] == "a") != (got == active) {
			t.Errorf("%s silenced by %q", a.Labels["instance"], got)
		}
	}
	if got := strings.Join(s.notifications(), " "); got != "firing:b" {
		t.Errorf("notifications after the restart: %q, want b only (a is silenced)", got)
	}

	// Past its retention, an expired silence is not restored.
	s = newScenario(t, rules, route)
	id, err := s.eng.Silences().Add(alerting.Silence{
		Matchers: []alerting.Matcher{{Name: "instance", Value: "a", IsEqual: true}},
		EndsAt:   s.start.Add(time.Hour), CreatedBy: "ops", Comment: "x",
	})
	if err != nil {
		t.Fatal(err)
	}
	state := s.save()
	if err := s.restartFrom(state, time.Hour+alerting.SilenceRetention+time.Minute, rules, route); err != nil {
		t.Fatal(err)
	}
	if got := s.eng.Silences().List(); len(got) != 0 {
		t.Errorf("silence %s restored past its retention: %+v", id, got)
	}
}

// TestRestartKeepsFiringAlerts: a firing alert stays firing with the same
// activeAt and firedAt, and is not notified again before repeat_interval.
func TestRestartKeepsFiringAlerts(t *testing.T) {
	route := alerting.Route{GroupWait: -1, GroupInterval: -1, RepeatInterval: time.Hour}
	s := newScenario(t, highErrors, route)
	hot := map[string]float64{"a": 10}
	s.at(0, hot)
	s.at(time.Minute, hot) // fires, notified
	s.at(2*time.Minute, hot)
	if got := s.sentSoFar(); got != "firing:a" {
		t.Fatalf("before the restart: %q", got)
	}
	before := s.eng.Alerts()

	if err := s.restart(5*time.Minute, highErrors, route); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		after := s.eng.Alerts()
		if len(after) != 1 || after[0].State != alerting.StateFiring || after[0].ID != before[0].ID ||
			!after[0].ActiveAt.Equal(before[0].ActiveAt) || !after[0].StartsAt.Equal(before[0].StartsAt) ||
			after[0].Annotations["summary"] != "a has 10 errors" {
			t.Errorf("%s: %+v, want as before the restart: %+v", when, after, before)
		}
	}
	check("after LoadState")
	s.at(5*time.Minute, hot)
	check("after the first evaluation")
	for m := 6; m < 60; m += 5 {
		s.at(time.Duration(m)*time.Minute, hot)
	}
	if got := s.sentSoFar(); got != "" {
		t.Errorf("notified again before repeat_interval: %q", got)
	}
	s.at(61*time.Minute, hot) // repeat_interval after the notification at 1m
	if got := s.sentSoFar(); got != "firing:a" {
		t.Errorf("at repeat_interval: %q, want the repeat", got)
	}
	if h := s.eng.History(); len(h.Fired) != 1 || h.Fired[0].Count != 1 || !h.Fired[0].Firing {
		t.Errorf("history: %+v, want one firing counted once", h.Fired)
	}
}

// TestRestartPendingForState: a pending alert keeps its progress toward
// For within the outage tolerance, as Prometheus' RestoreForState: the
// downtime does not count, and it fires no earlier than the grace period
// after the restart; past the tolerance, or with a For shorter than the
// grace period, it starts over.
func TestRestartPendingForState(t *testing.T) {
	rules := func(forDur string) string { return strings.Replace(highErrors, "for: 1m", "for: "+forDur, 1) }
	route := alerting.Route{GroupWait: -1, GroupInterval: -1}
	hot := map[string]float64{"a": 10}
	activeAt := func(s *scenario) time.Duration {
		t.Helper()
		as := s.eng.Alerts()
		if len(as) != 1 {
			t.Fatalf("alerts %+v, want one", as)
		}
		return as[0].ActiveAt.Sub(s.start)
	}
	tests := []struct {
		name                string
		forDur              string
		seen                []time.Duration // evaluations before the restart
		restart             time.Duration
		opts                []alerting.Option
		wantActive          time.Duration // after the first evaluation
		pendingAt, firingAt time.Duration
		restoredBeforeFirst bool
	}{
		// 5m of 30m spent when it went down at 5m; down 5m: activeAt moves
		// by 5m; fires at 35m.
		{name: "shifted by the downtime", forDur: "30m", seen: []time.Duration{0, 5 * time.Minute}, restart: 10 * time.Minute,
			wantActive: 5 * time.Minute, pendingAt: 34 * time.Minute, firingAt: 35 * time.Minute, restoredBeforeFirst: true},
		// 25m of 30m spent: 5m left, under the 10m grace period: it fires
		// 10m after the restart (activeAt = 30m + 10m − 30m).
		{name: "grace period", forDur: "30m", seen: []time.Duration{0, 15 * time.Minute, 25 * time.Minute}, restart: 30 * time.Minute,
			wantActive: 10 * time.Minute, pendingAt: 39 * time.Minute, firingAt: 40 * time.Minute, restoredBeforeFirst: true},
		{name: "grace period of the option", forDur: "30m", seen: []time.Duration{0, 15 * time.Minute, 25 * time.Minute}, restart: 30 * time.Minute,
			opts:       []alerting.Option{alerting.WithForGracePeriod(2 * time.Minute)},
			wantActive: 5 * time.Minute, pendingAt: 34 * time.Minute, firingAt: 35 * time.Minute, restoredBeforeFirst: true},
		// For shorter than the grace period: starts over at the restart.
		{name: "short for starts over", forDur: "5m", seen: []time.Duration{0, 3 * time.Minute}, restart: 4 * time.Minute,
			wantActive: 4 * time.Minute, pendingAt: 8 * time.Minute, firingAt: 9 * time.Minute},
		// Down 61m, past the 1h tolerance: starts over.
		{name: "past the tolerance", forDur: "30m", seen: []time.Duration{0, 5 * time.Minute}, restart: 66 * time.Minute,
			wantActive: 66 * time.Minute, pendingAt: 95 * time.Minute, firingAt: 96 * time.Minute},
		{name: "within a longer tolerance", forDur: "30m", seen: []time.Duration{0, 5 * time.Minute}, restart: 66 * time.Minute,
			opts:       []alerting.Option{alerting.WithOutageTolerance(2 * time.Hour)},
			wantActive: 61 * time.Minute, pendingAt: 90 * time.Minute, firingAt: 91 * time.Minute, restoredBeforeFirst: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScenario(t, rules(tt.forDur), route)
			for _, at := range tt.seen {
				s.at(at, hot)
			}
			if err := s.restart(tt.restart, rules(tt.forDur), route, tt.opts...); err != nil {
				t.Fatal(err)
			}
			if got := len(s.eng.Alerts()) == 1; got != tt.restoredBeforeFirst {
				t.Errorf("restored: %v, want %v", got, tt.restoredBeforeFirst)
			}
			s.at(tt.restart, hot)
			if got := activeAt(s); got != tt.wantActive {
				t.Errorf("activeAt = start+%v, want start+%v", got, tt.wantActive)
			}
			s.at(tt.pendingAt, hot)
			if got := s.states(); got != "a=pending" {
				t.Errorf("at %v: %q, want pending", tt.pendingAt, got)
			}
			s.at(tt.firingAt, hot)
			if got := s.states(); got != "a=firing" {
				t.Errorf("at %v: %q, want firing", tt.firingAt, got)
			}
		})
	}
}

// TestRestartKeepsHistory: resolved alerts and firing counts survive a
// restart, bounded in number and in time.
func TestRestartKeepsHistory(t *testing.T) {
	rules := strings.Replace(highErrors, "for: 1m", "for: 0s", 1)
	route := alerting.Route{GroupWait: -1, GroupInterval: -1}
	opt := alerting.WithHistoryRetention(24*time.Hour, 3)
	s := newScenario(t, rules, route, opt)
	for k := range 5 {
		s.at(time.Duration(2*k)*time.Minute, map[string]float64{"a": 10})
		s.at(time.Duration(2*k+1)*time.Minute, map[string]float64{"a": 0})
	}
	s.at(30*time.Minute, map[string]float64{"a": 0})
	if got := s.states(); got != "" {
		t.Fatalf("alerts %q: resolved ones should be gone after ResolvedRetention", got)
	}
	check := func(when string) {
		t.Helper()
		h := s.eng.History()
		if len(h.Resolved) != 3 {
			t.Fatalf("%s: %d resolved in the history, want 3 (the bound)", when, len(h.Resolved))
		}
		for i, en := range h.Resolved { // newest first: the 5th, 4th, 3rd firings
			k := 4 - i
			if !en.StartsAt.Equal(s.start.Add(time.Duration(2*k)*time.Minute)) || !en.EndsAt.Equal(s.start.Add(time.Duration(2*k+1)*time.Minute)) ||
				en.Labels["instance"] != "a" || en.Rule != "HighErrors" || en.Group != "g" || en.ID == "" {
				t.Errorf("%s: resolved[%d] = %+v", when, i, en)
			}
		}
		if len(h.Fired) != 1 || h.Fired[0].Count != 5 || h.Fired[0].Firing || !h.Fired[0].Since.Equal(s.start) {
			t.Errorf("%s: fired %+v, want a counted 5 times since the start", when, h.Fired)
		}
	}
	check("before the restart")
	if err := s.restart(40*time.Minute, rules, route, opt); err != nil {
		t.Fatal(err)
	}
	check("after the restart")
	s.at(40*time.Minute, map[string]float64{"a": 10}) // fires a 6th time
	if h := s.eng.History(); len(h.Fired) != 1 || h.Fired[0].Count != 6 || !h.Fired[0].Firing {
		t.Errorf("after a 6th firing: %+v", h.Fired)
	}
	s.at(41*time.Minute, map[string]float64{"a": 0})
	s.at(26*time.Hour, map[string]float64{"a": 0})
	if h := s.eng.History(); len(h.Resolved) != 0 || len(h.Fired) != 0 {
		t.Errorf("past the retention: %+v, want nothing", h)
	}
}

// TestRestartNotificationLog: an alert notified as firing before the
// restart is notified as resolved after it; one never notified is not.
func TestRestartNotificationLog(t *testing.T) {
	rules := strings.Replace(highErrors, "for: 1m", "for: 0s", 1)
	route := alerting.Route{GroupBy: []string{"instance"}, GroupWait: -1, GroupInterval: -1}
	s := newScenario(t, rules, route)
	if _, err := s.eng.Silences().Add(alerting.Silence{
		Matchers: []alerting.Matcher{{Name: "instance", Value: "b", IsEqual: true}},
		EndsAt:   s.start.Add(2 * time.Minute), CreatedBy: "ops", Comment: "x",
	}); err != nil {
		t.Fatal(err)
	}
	s.at(0, map[string]float64{"a": 10, "b": 10})
	s.at(time.Minute, map[string]float64{"a": 10, "b": 10})
	if got := s.sentSoFar(); got != "firing:a" {
		t.Fatalf("before the restart: %q", got)
	}
	if err := s.restart(3*time.Minute, rules, route); err != nil {
		t.Fatal(err)
	}
	s.at(3*time.Minute, map[string]float64{})
	if got := s.sentSoFar(); got != "resolved:a" {
		t.Errorf("after the restart: %q, want a resolved (b was never notified)", got)
	}

	// Past the outage tolerance a firing alert is resolved at the restart:
	// notified as resolved if its condition has cleared, as firing anew if
	// it holds.
	for _, tt := range []struct {
		name   string
		values map[string]float64
		want   string
	}{
		{"cleared", map[string]float64{}, "resolved:a"},
		{"holds", map[string]float64{"a": 10}, "firing:a"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newScenario(t, rules, route)
			s.at(0, map[string]float64{"a": 10})
			if err := s.restart(2*time.Hour, rules, route); err != nil {
				t.Fatal(err)
			}
			if got := s.states(); got != "a=resolved" {
				t.Errorf("after LoadState: %q", got)
			}
			s.at(2*time.Hour, tt.values)
			if got := s.sentSoFar(); got != tt.want {
				t.Errorf("notifications %q, want %q", got, tt.want)
			}
			if h := s.eng.History(); len(h.Resolved) != 1 || !h.Resolved[0].EndsAt.Equal(s.start.Add(2*time.Hour)) {
				t.Errorf("history %+v: the firing ended at the restart", h.Resolved)
			}
		})
	}
}

// TestRestartManualResolution: a resolution by hand in effect survives.
func TestRestartManualResolution(t *testing.T) {
	rules := strings.Replace(highErrors, "for: 1m", "for: 0s", 1)
	s := newScenario(t, rules, now0)
	s.at(0, map[string]float64{"a": 10})
	if err := s.eng.Resolve(s.eng.Alerts()[0].ID, "known"); err != nil {
		t.Fatal(err)
	}
	s.at(15*time.Second, map[string]float64{"a": 10}) // resolved notification
	if err := s.restart(time.Minute, rules, now0); err != nil {
		t.Fatal(err)
	}
	s.at(time.Minute, map[string]float64{"a": 10})
	if a := s.eng.Alerts(); len(a) != 1 || a[0].State != alerting.StateResolved || a[0].ResolvedReason != "known" {
		t.Errorf("after the restart: %+v", a)
	}
	if got := s.sentSoFar(); got != "" {
		t.Errorf("notified after the restart: %q", got)
	}
}

// TestLoadStateBadInput: corrupt or partial input gives an error, loads
// what is valid and nothing else, and leaves the engine usable; LoadState
// never panics.
func TestLoadStateBadInput(t *testing.T) {
	rules := strings.Replace(highErrors, "for: 1m", "for: 0s", 1)
	s := newScenario(t, rules, now0)
	if _, err := s.eng.Silences().Add(alerting.Silence{
		Matchers: []alerting.Matcher{{Name: "instance", Value: "z", IsEqual: true}},
		EndsAt:   s.start.Add(time.Hour), CreatedBy: "ops", Comment: "x",
	}); err != nil {
		t.Fatal(err)
	}
	s.at(0, map[string]float64{"a": 10})
	s.at(time.Minute, map[string]float64{"a": 0})
	s.at(2*time.Minute, map[string]float64{"b": 10})
	good := s.save()

	usable := func(s *scenario, offset time.Duration) {
		t.Helper()
		s.at(offset, map[string]float64{"c": 10})
		if !strings.Contains(s.states(), "c=firing") {
			t.Errorf("the engine does not evaluate after a failed load: %q", s.states())
		}
	}

	for _, tt := range []struct{ name, input, want string }{
		{"empty", "", "not a state"},
		{"not JSON", "hello", "not a state"},
		{"truncated", string(good[:len(good)/2]), "not a state"},
		{"no version", `{"alerts": []}`, "no version"},
		{"later version", `{"version": 99}`, "unsupported state version"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newScenario(t, rules, now0)
			err := s.restartFrom([]byte(tt.input), 3*time.Minute, rules, now0)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if len(s.eng.Alerts()) != 0 || len(s.eng.Silences().List()) != 0 {
				t.Errorf("something was loaded: %v %v", s.eng.Alerts(), s.eng.Silences().List())
			}
			// Nothing was loaded: the good state still can be.
			if err := s.eng.LoadState(bytes.NewReader(good)); err != nil {
				t.Errorf("loading the good state after a bad one: %v", err)
			}
			usable(s, 3*time.Minute)
		})
	}
	if errors.Is(alerting.ErrStateVersion, alerting.ErrStateTooLate) {
		t.Fatal("distinct errors")
	}

	// Bad sections and entries are skipped; the rest is loaded.
	var doc map[string]any
	if err := json.Unmarshal(good, &doc); err != nil {
		t.Fatal(err)
	}
	doc["alerts"] = "not a list"
	doc["unknownField"] = 1
	sils := doc["silences"].([]any)
	doc["silences"] = append(sils, map[string]any{"id": "bad", "matchers": []any{}}, 7)
	hist := doc["history"].(map[string]any)
	hist["resolved"] = append(hist["resolved"].([]any), map[string]any{"labels": map[string]any{"": "x"}})
	partial, _ := json.Marshal(doc)
	s = newScenario(t, rules, now0)
	err := s.restartFrom(partial, 3*time.Minute, rules, now0)
	for _, want := range []string{"alerts: not a list", `silences: silence 2 ("bad")`, "silences: entry 3", "history: resolved entry 2"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to say %q", err, want)
		}
	}
	if got := s.states(); got != "" {
		t.Errorf("alerts loaded from a bad section: %q", got)
	}
	if got := s.eng.Silences().List(); len(got) != 1 || got[0].Matchers[0].Value != "z" {
		t.Errorf("silences: %+v, want the good one", got)
	}
	if h := s.eng.History(); len(h.Resolved) != 1 || h.Resolved[0].Labels["instance"] != "a" {
		t.Errorf("history: %+v, want a's firing", h.Resolved)
	}
	if err := s.eng.LoadState(bytes.NewReader(good)); !errors.Is(err, alerting.ErrStateTooLate) {
		t.Errorf("a second LoadState: %v, want ErrStateTooLate", err)
	}
	usable(s, 3*time.Minute)
	if err := s.eng.LoadState(bytes.NewReader(good)); !errors.Is(err, alerting.ErrStateTooLate) {
		t.Errorf("LoadState after Eval: %v, want ErrStateTooLate", err)
	}

	// Rules removed since: their alerts are dropped without error.
	s = newScenario(t, rules, now0)
	renamed := strings.Replace(rules, "HighErrors", "OtherAlert", 1)
	if err := s.restartFrom(good, 3*time.Minute, renamed, now0); err != nil {
		t.Errorf("unknown rules: %v, want no error", err)
	}
	if got := s.eng.Alerts(); len(got) != 0 {
		t.Errorf("alerts of an unknown rule restored: %v", got)
	}

	// Random corruption never panics, and the engine stays usable.
	rng := rand.New(rand.NewPCG(1, 2))
	groups, _ := alerting.ParseRules([]byte(rules), "t.yml")
	for i := range 300 {
		b := bytes.Clone(good)
		for range 1 + rng.IntN(4) {
			switch j := rng.IntN(len(b)); rng.IntN(3) {
			case 0:
				b[j] = byte(rng.IntN(256))
			case 1:
				b = b[:j]
			default:
				b = append(b[:j], b[min(len(b), j+1+rng.IntN(20)):]...)
			}
		}
		eng, err := alerting.New(s.mem, groups, alerting.WithClock(s.clk), alerting.WithRoutes(now0), quiet)
		if err != nil {
			t.Fatal(err)
		}
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("corruption %d: LoadState panicked: %v\n%s", i, p, b)
				}
			}()
			_ = eng.LoadState(bytes.NewReader(b))
			_ = eng.Eval(t.Context(), s.clk.Now())
			_ = eng.Alerts()
			_ = eng.History()
			_ = eng.SaveState(&bytes.Buffer{})
		}()
		_ = eng.Shutdown(context.Background())
	}
}

// TestSaveStateSpecialValues: NaN and infinite values survive.
func TestSaveStateSpecialValues(t *testing.T) {
	mk := func(v float64) []alerting.Group {
		return []alerting.Group{{Name: "g", Rules: []alerting.Rule{{Alert: "V", Condition: func(context.Context, memory.Evaluator, time.Time) (memory.Vector, error) {
			return memory.Vector{{F: v}}, nil
		}}}}}
	}
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), 1.5} {
		clk := newEngClock(time.Unix(1_700_000_000, 0))
		eng, err := alerting.New(memory.New(), mk(v), alerting.WithClock(clk), quiet)
		if err != nil {
			t.Fatal(err)
		}
		if err := eng.Eval(t.Context(), clk.Now()); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := eng.SaveState(&buf); err != nil {
			t.Fatalf("%v: %v", v, err)
		}
		_ = eng.Shutdown(context.Background())
		eng2, _ := alerting.New(memory.New(), mk(v), alerting.WithClock(clk), quiet)
		if err := eng2.LoadState(&buf); err != nil {
			t.Fatalf("%v: %v", v, err)
		}
		got := eng2.Alerts()
		if len(got) != 1 || !(got[0].Value == v || math.IsNaN(v) && math.IsNaN(got[0].Value)) {
			t.Errorf("%v: %+v", v, got)
		}
		_ = eng2.Shutdown(context.Background())
	}
}

// TestSaveStateWhileEvaluating: SaveState may run beside Eval (-race).
func TestSaveStateWhileEvaluating(t *testing.T) {
	rules := strings.Replace(highErrors, "for: 1m", "for: 0s", 1)
	s := newScenario(t, rules, now0)
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if err := s.eng.SaveState(&bytes.Buffer{}); err != nil {
				t.Error(err)
				return
			}
			_ = s.eng.History()
		}
	})
	for i := range 20 {
		s.at(time.Duration(i)*15*time.Second, map[string]float64{"a": float64(10 * (i % 2))})
	}
	close(done)
	wg.Wait()
}

// FuzzLoadState: LoadState never panics, whatever it reads, and leaves an
// engine that evaluates and saves.
func FuzzLoadState(f *testing.F) {
	groups, err := alerting.ParseRules([]byte(strings.Replace(highErrors, "for: 1m", "for: 0s", 1)), "t.yml")
	if err != nil {
		f.Fatal(err)
	}
	clk := newEngClock(time.Unix(1_700_000_000, 0))
	seed, err := alerting.New(memory.New(), append(groups, alerting.Group{Name: "v", Rules: []alerting.Rule{{Alert: "V",
		Condition: func(context.Context, memory.Evaluator, time.Time) (memory.Vector, error) {
			return memory.Vector{{F: 1}}, nil
		}}}}),
		alerting.WithClock(clk), alerting.WithRoutes(now0), quiet)
	if err != nil {
		f.Fatal(err)
	}
	if _, err := seed.Silences().Add(alerting.Silence{Matchers: []alerting.Matcher{{Name: "a", Value: "b", IsEqual: true}},
		EndsAt: clk.Now().Add(time.Hour), CreatedBy: "x", Comment: "y"}); err != nil {
		f.Fatal(err)
	}
	_ = seed.Eval(f.Context(), clk.Now())
	var buf bytes.Buffer
	if err := seed.SaveState(&buf); err != nil {
		f.Fatal(err)
	}
	_ = seed.Shutdown(context.Background())
	f.Add(buf.Bytes())
	f.Add([]byte(`{"version":1,"alerts":[{"group":"g","rule":"HighErrors","labels":{"alertname":"HighErrors"},"state":"firing"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		eng, err := alerting.New(memory.New(), groups, alerting.WithClock(clk), alerting.WithRoutes(now0), quiet)
		if err != nil {
			t.Fatal(err)
		}
		defer eng.Shutdown(context.Background())
		_ = eng.LoadState(bytes.NewReader(b))
		_ = eng.Alerts()
		_ = eng.History()
		_ = eng.Silences().List()
		if err := eng.Eval(t.Context(), clk.Now()); err != nil {
			t.Fatalf("Eval after LoadState: %v", err)
		}
		if err := eng.SaveState(&bytes.Buffer{}); err != nil {
			t.Fatalf("SaveState after LoadState: %v", err)
		}
	})
}
