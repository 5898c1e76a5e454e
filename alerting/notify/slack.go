package notify

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/vitalsgo/vitals/alerting"
)

// slackMaxAttachments is the largest group sent as one attachment per
// alert; bigger groups get one summary attachment per status.
const slackMaxAttachments = 10

// Slack posts each notification to a Slack incoming webhook: one
// attachment per alert, coloured by state and severity (see the package
// doc's Receivers). The zero value is not usable: set WebhookURL. A Slack
// is safe for concurrent use. The webhook URL is a secret: errors name
// only its scheme and host.
type Slack struct {
	// WebhookURL is the incoming webhook's URL.
	WebhookURL string
	// Channel and Username override the webhook's defaults where Slack
	// allows it (legacy webhooks). By default, the webhook's own.
	Channel, Username string
	// Link is the attachments' title link. By default, each alert's
	// GeneratorURL.
	Link string
	// Client sends the request. By default, http.DefaultClient; the
	// context given to Notify bounds the request either way.
	Client *http.Client
}

var _ alerting.Notifier = (*Slack)(nil)

type slackMessage struct {
	Channel     string            `json:"channel,omitempty"`
	Username    string            `json:"username,omitempty"`
	Text        string            `json:"text"`
	Attachments []slackAttachment `json:"attachments"`
}

type slackAttachment struct {
	Fallback  string       `json:"fallback"`
	Color     string       `json:"color"`
	Title     string       `json:"title"`
	TitleLink string       `json:"title_link,omitempty"`
	Text      string       `json:"text,omitempty"`
	Fields    []slackField `json:"fields,omitempty"`
	Ts        int64        `json:"ts,omitempty"`
}

type slackField struct {
	Title string `json:"title"`
	Value string `json:"value"`
	Short bool   `json:"short"`
}

// The attachment colours.
const (
	slackGood    = "good"
	slackWarning = "warning"
	slackDanger  = "danger"
	slackInfo    = "#439FE0"
)

// Notify posts the alerts as one message.
func (s *Slack) Notify(ctx context.Context, alerts []alerting.Alert) error {
	return httpRequest{
		client: s.Client,
		url:    s.WebhookURL,
		body:   s.message(ctx, alerts),
	}.do(ctx)
}

func (s *Slack) message(ctx context.Context, alerts []alerting.Alert) slackMessage {
	g := groupOf(ctx, alerts)
	m := slackMessage{
		Channel:     s.Channel,
		Username:    s.Username,
		Text:        slackEscape(notifyTitle(g, alerts)),
		Attachments: []slackAttachment{},
	}
	if len(alerts) <= slackMaxAttachments {
		for _, a := range alerts {
			m.Attachments = append(m.Attachments, s.attachment(a))
		}
		return m
	}
	var firing, resolved []alerting.Alert
	for _, a := range alerts {
		if a.State == alerting.StateFiring {
			firing = append(firing, a)
		} else {
			resolved = append(resolved, a)
		}
	}
	for _, part := range [][]alerting.Alert{firing, resolved} {
		if len(part) > 0 {
			m.Attachments = append(m.Attachments, s.summary(g, part))
		}
	}
	return m
}

func (s *Slack) attachment(a alerting.Alert) slackAttachment {
	title := fmt.Sprintf("[%s] %s", strings.ToUpper(notifyStatus(a)), a.Name())
	var text []string
	for _, k := range []string{"summary", "description"} {
		if v := a.Annotations[k]; v != "" {
			text = append(text, slackEscape(v))
		}
	}
	var fields []slackField
	for _, k := range notifySortedKeys(a.Labels) {
		if k != "alertname" {
			fields = append(fields, slackField{Title: slackEscape(k), Value: slackEscape(a.Labels[k]), Short: true})
		}
	}
	at := slackAttachment{
		Fallback:  slackEscape(title),
		Color:     slackColor(a),
		Title:     slackEscape(title),
		TitleLink: s.link(a),
		Text:      strings.Join(text, "\n"),
		Fields:    fields,
	}
	if !a.StartsAt.IsZero() {
		at.Ts = a.StartsAt.Unix()
	}
	return at
}

// summary is one attachment for many alerts of one status: their count,
// then one line each for the first few.
func (s *Slack) summary(g alerting.NotificationGroup, alerts []alerting.Alert) slackAttachment {
	title := notifyTitle(g, alerts)
	color := slackGood
	if alerts[0].State == alerting.StateFiring {
		color = slackInfo
		for _, a := range alerts {
			if c := slackColor(a); slackRank(c) > slackRank(color) {
				color = c
			}
		}
	}
	lines := make([]string, 0, slackMaxAttachments+1)
	for _, a := range alerts[:min(len(alerts), slackMaxAttachments)] {
		line := "• " + a.Name()
		if v := a.Annotations["summary"]; v != "" {
			line += ": " + v
		}
		lines = append(lines, slackEscape(line))
	}
	if n := len(alerts) - slackMaxAttachments; n > 0 {
		lines = append(lines, fmt.Sprintf("… and %d more", n))
	}
	return slackAttachment{
		Fallback:  slackEscape(title),
		Color:     color,
		Title:     slackEscape(title),
		TitleLink: s.link(alerts[0]),
		Text:      strings.Join(lines, "\n"),
	}
}

func (s *Slack) link(a alerting.Alert) string {
	if s.Link != "" {
		return s.Link
	}
	return a.GeneratorURL
}

func slackColor(a alerting.Alert) string {
	if a.State != alerting.StateFiring {
		return slackGood
	}
	switch strings.ToLower(a.Labels["severity"]) {
	case "warning", "warn":
		return slackWarning
	case "info", "informational", "none":
		return slackInfo
	default:
		return slackDanger
	}
}

func slackRank(color string) int {
	switch color {
	case slackInfo:
		return 1
	case slackWarning:
		return 2
	case slackDanger:
		return 3
	}
	return 0
}

var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// slackEscape escapes the three characters Slack's markup reserves.
func slackEscape(s string) string { return slackEscaper.Replace(s) }
