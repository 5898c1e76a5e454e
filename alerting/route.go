package alerting

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// Defaults of a Route, as in Alertmanager.
const (
	// DefaultGroupWait is how long a new group waits for more alerts before
	// its first notification.
	DefaultGroupWait = 30 * time.Second
	// DefaultGroupInterval is the least time between two notifications of a
	// group that changed.
	DefaultGroupInterval = 5 * time.Minute
	// DefaultRepeatInterval is how often a group whose alerts still fire is
	// notified again.
	DefaultRepeatInterval = 4 * time.Hour
)

// Route sends the alerts its matchers all match (every alert when there
// are none) to its notifiers (which must not block: see Notifier), grouped as Alertmanager groups them: alerts
// that share the GroupBy labels' values go out in one notification, first
// GroupWait after the group appears, then at most every GroupInterval when
// something changed, and again every RepeatInterval while alerts fire.
// Every matching route gets the alert.
type Route struct {
	// Name names the route in logs, notification groups (their Receiver) and
	// queues. By default, "route<index>".
	Name string
	// Matchers select the alerts the route sends; Notifiers receive them.
	Matchers  []Matcher
	Notifiers []Notifier
	// GroupBy defaults to ["alertname"]; ["..."] groups by every label.
	GroupBy []string
	// GroupWait, GroupInterval and RepeatInterval default to
	// DefaultGroupWait, DefaultGroupInterval and DefaultRepeatInterval; a
	// negative value means none (send at the evaluation that saw the
	// change). Notifications go out at evaluations, so these times are
	// rounded up to the rule groups' intervals.
	GroupWait      time.Duration
	GroupInterval  time.Duration
	RepeatInterval time.Duration
}

type routeState struct {
	Route
	matchers []*labels.Matcher
	groups   map[string]*aggrGroup
}

// aggrGroup is one notification group of a route.
type aggrGroup struct {
	key       string
	labels    map[string]string // the grouping labels' values
	alerts    map[string]Alert
	sentAt    map[string]time.Time // when an alert was last sent firing
	created   time.Time
	lastFlush time.Time
	nextFlush time.Time
}

func newRouteState(r Route, i int) (*routeState, error) {
	if r.Name == "" {
		r.Name = fmt.Sprintf("route%d", i)
	}
	ms, err := compileAll(r.Matchers)
	if err != nil {
		return nil, fmt.Errorf("alerting: route %q: %w", r.Name, err)
	}
	if len(r.GroupBy) == 0 {
		r.GroupBy = []string{"alertname"}
	}
	r.GroupWait = orDefault(r.GroupWait, DefaultGroupWait)
	r.GroupInterval = orDefault(r.GroupInterval, DefaultGroupInterval)
	r.RepeatInterval = orDefault(r.RepeatInterval, DefaultRepeatInterval)
	r.Notifiers = slices.Clone(r.Notifiers)
	return &routeState{Route: r, matchers: ms, groups: map[string]*aggrGroup{}}, nil
}

// orDefault maps zero to def and a negative duration to zero.
func orDefault(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

// groupLabels returns the grouping labels of an alert.
func (r *routeState) groupLabels(lbls map[string]string) map[string]string {
	if len(r.GroupBy) == 1 && r.GroupBy[0] == "..." {
		return maps.Clone(lbls)
	}
	out := make(map[string]string, len(r.GroupBy))
	for _, k := range r.GroupBy {
		if v, ok := lbls[k]; ok {
			out[k] = v
		}
	}
	return out
}

// groupKey returns the values of the GroupBy labels.
func (r *routeState) groupKey(lbls map[string]string) string {
	if len(r.GroupBy) == 1 && r.GroupBy[0] == "..." {
		keys := make([]string, 0, len(lbls))
		for k := range lbls {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var b strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&b, "%s=%q,", k, lbls[k])
		}
		return b.String()
	}
	var b strings.Builder
	for _, k := range r.GroupBy {
		fmt.Fprintf(&b, "%s=%q,", k, lbls[k])
	}
	return b.String()
}

// notification is one batch due for one route's notifiers.
type notification struct {
	route  *routeState
	group  NotificationGroup
	alerts []Alert
}

// dispatch hands what is due to the routes' notifiers: firing alerts that
// are not silenced or resolved by hand, and resolutions of alerts that
// were notified as firing. The notifiers are called after e.mu is
// released; their errors are logged.
func (e *Engine) dispatch(ctx context.Context, now time.Time) {
	for _, n := range e.due(now) {
		for j, nt := range n.route.Notifiers {
			if err := nt.Notify(ContextWithNotificationGroup(ctx, n.group), slices.Clone(n.alerts)); err != nil {
				e.notifyErrs.Handle(err, slog.String("route", n.route.Name), slog.Int("notifier", j))
			}
		}
	}
}

// due updates the routes' aggregation groups and returns the batches due
// at now.
func (e *Engine) due(now time.Time) []notification {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []notification
	current := map[string]Alert{}
	for _, g := range e.groups {
		for _, r := range g.rules {
			if r.Alert == "" {
				continue
			}
			for _, a := range r.instances {
				if a.state == StatePending {
					continue
				}
				al := e.toAlert(r, a, now)
				if al.State == StateFiring && len(al.SilencedBy) > 0 {
					continue
				}
				current[al.ID] = al
			}
		}
	}
	for _, rs := range e.routes {
		for id, al := range current {
			if !matches(rs.matchers, al.Labels) {
				continue
			}
			key := rs.groupKey(al.Labels)
			ag := rs.groups[key]
			if ag == nil {
				if al.State != StateFiring {
					continue // nothing was sent for it here
				}
				ag = &aggrGroup{key: key, labels: rs.groupLabels(al.Labels), alerts: map[string]Alert{}, sentAt: map[string]time.Time{}, created: now, nextFlush: now.Add(rs.GroupWait)}
				rs.groups[key] = ag
			}
			ag.alerts[id] = al
		}
		for key, ag := range rs.groups {
			for id := range ag.alerts {
				if _, ok := current[id]; !ok {
					delete(ag.alerts, id) // silenced, or gone after its retention
					delete(ag.sentAt, id)
				}
			}
			for id := range ag.sentAt {
				// Only after LoadState: the notification log restored an
				// alert that is not back (pending again, silenced, gone).
				// Like one that leaves a group, it is forgotten, and sent
				// again as new if it fires again.
				if _, ok := ag.alerts[id]; !ok {
					delete(ag.sentAt, id)
				}
			}
			if now.Before(ag.nextFlush) {
				continue
			}
			if n, ok := e.flush(rs, ag, now); ok {
				out = append(out, n)
			}
			if len(ag.alerts) == 0 {
				delete(rs.groups, key)
			}
		}
	}
	return out
}

// flush returns a group's notification if anything changed since the last
// one or the repeat interval has passed while alerts fire. The caller
// holds e.mu.
func (e *Engine) flush(rs *routeState, ag *aggrGroup, now time.Time) (notification, bool) {
	changed, firing := false, false
	var batch []Alert
	for id, al := range ag.alerts {
		switch al.State {
		case StateFiring:
			firing = true
			// Not sent, or sent for an earlier firing (after LoadState: one
			// resolved for the outage that fired again at once).
			if sent := ag.sentAt[id]; sent.IsZero() || al.StartsAt.After(sent) {
				changed = true
			}
			batch = append(batch, al)
		case StateResolved:
			if !ag.sentAt[id].IsZero() {
				changed = true
				batch = append(batch, al)
			} else {
				delete(ag.alerts, id) // resolved before it was ever sent
			}
		}
	}
	repeat := firing && now.Sub(ag.lastFlush) >= rs.RepeatInterval
	if !changed && !repeat {
		return notification{}, false
	}
	slices.SortFunc(batch, func(a, b Alert) int { return strings.Compare(a.ID, b.ID) })
	if e.cfg.onDispatch != nil {
		e.cfg.onDispatch(now, batch)
	}
	g := NotificationGroup{Key: rs.Name + ":" + ag.key, Labels: maps.Clone(ag.labels), Receiver: rs.Name, ExternalURL: e.cfg.externalURL}
	for _, al := range batch {
		if al.State == StateFiring {
			ag.sentAt[al.ID] = now
		} else {
			delete(ag.alerts, al.ID)
			delete(ag.sentAt, al.ID)
		}
	}
	ag.lastFlush = now
	ag.nextFlush = now.Add(rs.GroupInterval)
	return notification{route: rs, group: g, alerts: batch}, true
}
