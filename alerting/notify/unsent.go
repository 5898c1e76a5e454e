package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/vitalsgo/vitals/alerting"
)

// StateVersion is the version of the format SaveState writes, the only
// one LoadState reads.
const StateVersion = 1

// ErrStateVersion is returned (wrapped) by LoadState for a document of
// another version than StateVersion: alerting.ErrStateVersion, the same
// value in every package with a LoadState.
var ErrStateVersion = alerting.ErrStateVersion

// maxUnsentSize bounds what RequeueUnsent reads, so that a corrupt input
// cannot make it allocate without bound.
const maxUnsentSize = 64 << 20

// unsentDoc is the JSON document of SaveState.
type unsentDoc struct {
	Version int `json:"version"`
	// Queues maps a queue's name to what it left unsent, oldest first.
	Queues map[string][]unsentNotification `json:"queues"`
}

type unsentNotification struct {
	Group  *unsentGroup     `json:"group,omitempty"`
	Alerts []alerting.Alert `json:"alerts"` // NaN and ±Inf values as strings
}

type unsentGroup struct {
	Key         string            `json:"key,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Receiver    string            `json:"receiver,omitempty"`
	ExternalURL string            `json:"externalURL,omitempty"`
}

// SaveState writes what the queues left unsent at Shutdown (Queue.Unsent)
// to w as JSON, by queue name, for RequeueUnsent after a restart. Queues
// with nothing unsent are left out; with none at all, the document is
// empty but valid, so that a save replaces what an earlier one kept.
func SaveState(w io.Writer, queues []*Queue) error {
	doc := unsentDoc{Version: StateVersion, Queues: map[string][]unsentNotification{}}
	for _, q := range queues {
		for _, n := range q.Unsent() {
			un := unsentNotification{Alerts: n.Alerts}
			if n.HasGroup {
				un.Group = &unsentGroup{Key: n.Group.Key, Labels: n.Group.Labels, Receiver: n.Group.Receiver, ExternalURL: n.Group.ExternalURL}
			}
			doc.Queues[q.Name()] = append(doc.Queues[q.Name()], un)
		}
	}
	return json.NewEncoder(w).Encode(doc)
}

// LoadState decodes what SaveState wrote: the unsent notifications by
// queue name, oldest first, for RequeueUnsent. A document that cannot be
// read or decoded, or of another version than StateVersion, is an error.
func LoadState(r io.Reader) (map[string][]Notification, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxUnsentSize+1))
	if err != nil {
		return nil, fmt.Errorf("notify: reading unsent notifications: %w", err)
	}
	if len(b) > maxUnsentSize {
		return nil, fmt.Errorf("notify: unsent notifications larger than %d bytes", maxUnsentSize)
	}
	var doc unsentDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("notify: decoding unsent notifications: %w", err)
	}
	if doc.Version != StateVersion {
		return nil, fmt.Errorf("notify: unsent notifications: %w %d, this version reads %d", ErrStateVersion, doc.Version, StateVersion)
	}
	out := make(map[string][]Notification, len(doc.Queues))
	for name, ns := range doc.Queues {
		for _, un := range ns {
			n := Notification{Alerts: un.Alerts}
			if un.Group != nil {
				n.HasGroup = true
				n.Group = alerting.NotificationGroup{Key: un.Group.Key, Labels: un.Group.Labels, Receiver: un.Group.Receiver, ExternalURL: un.Group.ExternalURL}
			}
			out[name] = append(out[name], n)
		}
	}
	return out, nil
}

// RequeueUnsent hands each notification of unsent (from LoadState) to the
// queue of the same name (Queue.Requeue), which delivers it as any other,
// and returns how many it requeued. Notifications whose queue no longer
// exists (the routes changed) or that their queue refuses (full) are not
// requeued: the error says how many and for which queue, and the others
// are requeued all the same.
func RequeueUnsent(unsent map[string][]Notification, queues []*Queue) (int, error) {
	byName := make(map[string]*Queue, len(queues))
	for _, q := range queues {
		byName[q.Name()] = q
	}
	var errs []error
	requeued := 0
	for _, name := range slices.Sorted(maps.Keys(unsent)) {
		ns := unsent[name]
		q := byName[name]
		if q == nil {
			errs = append(errs, fmt.Errorf("notify: %d unsent notifications for queue %q, which no longer exists", len(ns), name))
			continue
		}
		for _, n := range ns {
			if err := q.Requeue(n); err != nil {
				errs = append(errs, err)
				continue
			}
			requeued++
		}
	}
	return requeued, errors.Join(errs...)
}
