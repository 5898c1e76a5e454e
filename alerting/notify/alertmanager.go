package notify

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vitalsgo/vitals/alerting"
)

// Alertmanager hands alerts to one or several Alertmanagers through their
// API v2 (POST <url>/api/v2/alerts), as Prometheus does, so Alertmanager's
// routing, silences, inhibition and deduplication apply. Route it with a
// repeat interval under Alertmanager's resolve_timeout, which ends alerts
// not posted again (see the package doc's Receivers). The zero value is not
// usable: set URLs. An Alertmanager is safe for concurrent use.
type Alertmanager struct {
	// URLs are the Alertmanagers' base URLs, for example
	// "http://alertmanager:9093". User info in a URL is sent as basic auth.
	URLs []string
	// BearerToken, when set, is sent as "Authorization: Bearer <token>".
	BearerToken string
	// Client sends the requests. By default, http.DefaultClient; the
	// context given to Notify bounds the requests either way.
	Client *http.Client
}

var _ alerting.Notifier = (*Alertmanager)(nil)

// amAlert is Alertmanager's API v2 postableAlert.
type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt,omitzero"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Notify posts the alerts to every URL.
func (am *Alertmanager) Notify(ctx context.Context, alerts []alerting.Alert) error {
	if len(am.URLs) == 0 {
		return permanentError{errors.New("notify: alertmanager: no URLs configured")}
	}
	body := make([]amAlert, 0, len(alerts))
	for _, a := range alerts {
		pa := amAlert{
			Labels:       notifyNonNil(a.Labels),
			Annotations:  a.Annotations,
			StartsAt:     a.StartsAt.UTC(),
			GeneratorURL: a.GeneratorURL,
		}
		if a.State != alerting.StateFiring {
			pa.EndsAt = a.EndsAt.UTC()
			if pa.EndsAt.IsZero() {
				pa.EndsAt = time.Now().UTC() // resolved needs an end
			}
		}
		body = append(body, pa)
	}
	errs := make([]error, len(am.URLs))
	var wg sync.WaitGroup
	for i, u := range am.URLs {
		wg.Go(func() {
			errs[i] = httpRequest{
				client:   am.Client,
				url:      strings.TrimRight(u, "/") + "/api/v2/alerts",
				keepPath: true,
				body:     body,
				auth: func(r *http.Request) {
					if am.BearerToken != "" {
						r.Header.Set("Authorization", "Bearer "+am.BearerToken)
					}
				},
			}.do(ctx)
		})
	}
	wg.Wait()
	err := errors.Join(errs...)
	if err != nil && len(am.URLs) > 1 && slices.Contains(errs, nil) {
		return &PartialError{Err: err}
	}
	return err
}
