package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/vitalsgo/vitals/alerting"
)

// groupOf returns the group from ctx completed with defaults, or the
// one derived from alerts.
func groupOf(ctx context.Context, alerts []alerting.Alert) alerting.NotificationGroup {
	g, ok := alerting.NotificationGroupFromContext(ctx)
	if !ok {
		g.Labels = map[string]string{}
		if name, ok := notifyCommonLabels(alerts)["alertname"]; ok {
			g.Labels["alertname"] = name
		}
	}
	if g.Labels == nil {
		g.Labels = map[string]string{}
	}
	if g.Receiver == "" {
		g.Receiver = "vitals"
	}
	if g.Key == "" {
		g.Key = "{}:" + notifyLabelSet(g.Labels).String()
	}
	return g
}

// StatusError is returned by the HTTP notifiers when the receiver answers
// with a status other than 2xx. Its text names the receiver without
// credentials.
type StatusError struct {
	// URL is the receiver's address without user info and query; for
	// Slack, whose webhook path is the secret, only scheme and host.
	URL string
	// StatusCode is the HTTP status the receiver answered.
	StatusCode int
	// Body is the start of the response body, for diagnostics.
	Body string
	// RetryAfter is how long the receiver asked to be left alone (its
	// Retry-After header, in seconds or as an HTTP date), 0 when it did not
	// say. A Queue waits at least this long before the next attempt, up to
	// its maximum backoff.
	RetryAfter time.Duration
}

// Error returns the status, the receiver and the start of the body.
func (e *StatusError) Error() string {
	msg := fmt.Sprintf("notify: POST %s: %d %s", e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// Temporary reports whether trying again may succeed: for 5xx, 408 Request
// Timeout and 429 Too Many Requests. A Queue retries only those.
func (e *StatusError) Temporary() bool {
	return e.StatusCode >= 500 || e.StatusCode == http.StatusRequestTimeout || e.StatusCode == http.StatusTooManyRequests
}

// PartialError is returned by a notifier that delivered to some of its
// destinations and failed on others (Alertmanager with several URLs). A
// Queue counts the notification as sent, does not retry it, and logs Err.
type PartialError struct {
	// Err joins the errors of the destinations that failed.
	Err error
}

// Error returns the errors of the failed destinations.
func (e *PartialError) Error() string {
	return "notify: delivered to some destinations only: " + e.Err.Error()
}

// Unwrap returns Err.
func (e *PartialError) Unwrap() error { return e.Err }

// permanentError marks an error retrying cannot fix (a configuration
// mistake).
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// retryable reports whether a Queue should try a failed notification
// again: not for configuration mistakes, 4xx answers (except 408 and 429)
// or permanent SMTP replies (5xx). Joined errors are retryable if any of
// them is.
func retryable(err error) bool {
	if err == nil {
		return false
	}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		return slices.ContainsFunc(joined.Unwrap(), retryable)
	}
	var perm permanentError
	if errors.As(err, &perm) {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Temporary()
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code < 500
	}
	return true
}

// httpRequest is one JSON POST of an HTTP notifier.
type httpRequest struct {
	client *http.Client
	url    string
	// keepPath keeps the URL's path in errors (false for Slack, where the
	// path is the secret).
	keepPath bool
	body     any
	// auth sets credentials on the request.
	auth func(*http.Request)
}

// maxErrorBody bounds the part of an error response kept in StatusError.
const maxErrorBody = 512

// do posts the body and turns non-2xx answers into a StatusError. No error
// it returns contains the URL's credentials.
func (r httpRequest) do(ctx context.Context) error {
	if r.url == "" {
		return permanentError{errors.New("notify: no URL configured")}
	}
	u, err := url.Parse(r.url)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, which may hold credentials
		}
		return permanentError{fmt.Errorf("notify: invalid URL: %w", err)}
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return permanentError{fmt.Errorf("notify: URL scheme %q: want http or https", u.Scheme)}
	}
	safe := notifyRedactURL(u, r.keepPath)
	body, err := json.Marshal(r.body)
	if err != nil {
		return permanentError{fmt.Errorf("notify: encoding the payload for %s: %w", safe, err)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return permanentError{fmt.Errorf("notify: request to %s: %w", safe, err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "vitals-alerting")
	if r.auth != nil {
		r.auth(req)
	}
	client := r.client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = safe
		}
		return fmt.Errorf("notify: %w", err)
	}
	defer func() {
		// Read a little of what is left so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
	}()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return &StatusError{URL: safe, StatusCode: resp.StatusCode, Body: notifyOneLine(string(snippet)),
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
}

// parseRetryAfter reads a Retry-After header value (RFC 9110 10.2.3):
// delay seconds, or an HTTP date taken relative to now. Anything else, and
// a date in the past, is 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// notifyRedactURL returns u without user info, query and fragment, and
// without its path unless keepPath.
func notifyRedactURL(u *url.URL, keepPath bool) string {
	s := url.URL{Scheme: u.Scheme, Host: u.Host}
	if keepPath {
		s.Path = u.Path
	}
	return s.String()
}

// notifyOneLine collapses whitespace so a response body fits in a log line.
func notifyOneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// notifyStatus returns "firing" for a firing alert and "resolved" for the
// others, as Alertmanager spells them.
func notifyStatus(a alerting.Alert) string {
	if a.State == alerting.StateFiring {
		return "firing"
	}
	return "resolved"
}

// notifyGroupStatus is "firing" when any alert fires, else "resolved".
func notifyGroupStatus(alerts []alerting.Alert) string {
	if slices.ContainsFunc(alerts, func(a alerting.Alert) bool { return a.State == alerting.StateFiring }) {
		return "firing"
	}
	return "resolved"
}

// notifyCommonLabels returns the labels every alert has with the same value.
func notifyCommonLabels(alerts []alerting.Alert) map[string]string {
	return notifyCommon(alerts, func(a alerting.Alert) map[string]string { return a.Labels })
}

// notifyCommonAnnotations returns the annotations every alert has with the
// same value.
func notifyCommonAnnotations(alerts []alerting.Alert) map[string]string {
	return notifyCommon(alerts, func(a alerting.Alert) map[string]string { return a.Annotations })
}

func notifyCommon(alerts []alerting.Alert, of func(alerting.Alert) map[string]string) map[string]string {
	out := map[string]string{}
	if len(alerts) == 0 {
		return out
	}
	maps.Copy(out, of(alerts[0]))
	for _, a := range alerts[1:] {
		m := of(a)
		for k, v := range out {
			if w, ok := m[k]; !ok || w != v {
				delete(out, k)
			}
		}
	}
	return out
}

// notifyLabelSet converts labels for Prometheus' formatting and hashing.
func notifyLabelSet(m map[string]string) model.LabelSet {
	ls := make(model.LabelSet, len(m))
	for k, v := range m {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls
}

// notifyFingerprint returns the alert's ID, or Alertmanager's fingerprint
// of its labels when it has none.
func notifyFingerprint(a alerting.Alert) string {
	if a.ID != "" {
		return a.ID
	}
	return notifyLabelSet(a.Labels).Fingerprint().String()
}

// notifyNonNil returns m, or an empty map for nil, so JSON has {} not null.
func notifyNonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// notifySortedKeys returns m's keys in order.
func notifySortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}

// notifyCount returns the number of firing and resolved alerts.
func notifyCount(alerts []alerting.Alert) (firing, resolved int) {
	for _, a := range alerts {
		if a.State == alerting.StateFiring {
			firing++
		} else {
			resolved++
		}
	}
	return firing, resolved
}

// notifyTitle returns the Alertmanager-style summary of a group:
// "[FIRING:2] HighErrorRate (api critical)" — the status with the number of
// firing alerts, the group labels' values, then the values of the other
// common labels.
func notifyTitle(g alerting.NotificationGroup, alerts []alerting.Alert) string {
	var b strings.Builder
	status := notifyGroupStatus(alerts)
	b.WriteString("[" + strings.ToUpper(status))
	if status == "firing" {
		firing, _ := notifyCount(alerts)
		fmt.Fprintf(&b, ":%d", firing)
	}
	b.WriteString("]")
	for _, k := range notifySortedKeys(g.Labels) {
		b.WriteString(" " + g.Labels[k])
	}
	common := notifyCommonLabels(alerts)
	var rest []string
	for _, k := range notifySortedKeys(common) {
		if _, ok := g.Labels[k]; !ok {
			rest = append(rest, common[k])
		}
	}
	if len(rest) > 0 {
		b.WriteString(" (" + strings.Join(rest, " ") + ")")
	}
	return b.String()
}
