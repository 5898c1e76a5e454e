package notify

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/vitalsgo/vitals/alerting"
)

// Webhook posts each notification as the JSON payload of Alertmanager's
// webhook receiver (version "4"), so that any receiver written for
// Alertmanager works unchanged. The zero value is not usable: set URL.
// A Webhook is safe for concurrent use; do not change its fields after
// first use.
//
// An answer other than 2xx is a *StatusError. No error names the
// credentials: the URL in errors has no user info and no query.
type Webhook struct {
	// URL receives the POST. User info in it is sent as basic auth.
	URL string
	// BearerToken, when set, is sent as "Authorization: Bearer <token>".
	BearerToken string
	// Username and Password, when Username is set, are sent as basic
	// auth. Setting both a bearer token and basic auth is an error.
	Username, Password string
	// ExternalURL is the payload's externalURL: where people can see the
	// alerts (the monitoring API or dashboard). By default, the engine's
	// (alerting.WithExternalURL, vitals.WithExternalURL), from the
	// notification's group.
	ExternalURL string
	// MaxAlerts, when positive, bounds the alerts in one payload; the
	// number left out is the payload's truncatedAlerts. By default, all.
	MaxAlerts int
	// Client sends the request. By default, http.DefaultClient; the
	// context given to Notify bounds the request either way.
	Client *http.Client
}

var _ alerting.Notifier = (*Webhook)(nil)

// webhookMessage is Alertmanager's webhook payload, version 4.
type webhookMessage struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []webhookAlert    `json:"alerts"`
}

type webhookAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// Notify posts the alerts in one payload. The group comes from ctx
// (alerting.ContextWithNotificationGroup) or is derived from the alerts.
func (w *Webhook) Notify(ctx context.Context, alerts []alerting.Alert) error {
	if w.BearerToken != "" && w.Username != "" {
		return permanentError{errors.New("notify: webhook: both a bearer token and basic auth are set")}
	}
	return httpRequest{
		client:   w.Client,
		url:      w.URL,
		keepPath: true,
		body:     w.message(ctx, alerts),
		auth: func(r *http.Request) {
			switch {
			case w.BearerToken != "":
				r.Header.Set("Authorization", "Bearer "+w.BearerToken)
			case w.Username != "":
				r.SetBasicAuth(w.Username, w.Password)
			}
		},
	}.do(ctx)
}

func (w *Webhook) message(ctx context.Context, alerts []alerting.Alert) webhookMessage {
	g := groupOf(ctx, alerts)
	m := webhookMessage{
		Version:           "4",
		GroupKey:          g.Key,
		Status:            notifyGroupStatus(alerts),
		Receiver:          g.Receiver,
		GroupLabels:       g.Labels,
		CommonLabels:      notifyCommonLabels(alerts),
		CommonAnnotations: notifyCommonAnnotations(alerts),
		ExternalURL:       cmp.Or(w.ExternalURL, g.ExternalURL),
		Alerts:            make([]webhookAlert, 0, len(alerts)),
	}
	if w.MaxAlerts > 0 && len(alerts) > w.MaxAlerts {
		m.TruncatedAlerts = len(alerts) - w.MaxAlerts
		alerts = alerts[:w.MaxAlerts]
	}
	for _, a := range alerts {
		wa := webhookAlert{
			Status:       notifyStatus(a),
			Labels:       notifyNonNil(a.Labels),
			Annotations:  notifyNonNil(a.Annotations),
			StartsAt:     a.StartsAt.UTC(),
			GeneratorURL: a.GeneratorURL,
			Fingerprint:  notifyFingerprint(a),
		}
		if a.State != alerting.StateFiring {
			wa.EndsAt = a.EndsAt.UTC()
		}
		m.Alerts = append(m.Alerts, wa)
	}
	return m
}
