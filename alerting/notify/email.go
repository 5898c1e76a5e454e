package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strings"
	"text/template"
	"time"

	"github.com/vitalsgo/vitals/alerting"
)

// DefaultEmailTimeout bounds one SMTP conversation when Email.Timeout is
// zero and Notify's context has no earlier deadline (a Queue's attempts
// have one).
const DefaultEmailTimeout = 30 * time.Second

// Email sends each notification as one mail through an SMTP server, with a
// plain-text and an HTML body (multipart/alternative) and an
// Alertmanager-style subject: "[FIRING:2] HighErrorRate (api critical)".
// It uses STARTTLS when the server offers it (and requires it with
// RequireTLS), and PLAIN authentication when Username is set; net/smtp
// refuses to send a password over an unencrypted connection except to
// localhost. Implicit TLS (port 465) is not supported. The zero value is
// not usable: set Addr, From and To. An Email is safe for concurrent use.
type Email struct {
	// Addr is the SMTP server, "host:port" (usually port 587 or 25).
	Addr string
	// From is the sender, for example "Vitals <alerts@example.com>".
	From string
	// To are the recipients.
	To []string
	// Username and Password authenticate with AUTH PLAIN when Username is
	// set. By default, no authentication.
	Username, Password string
	// RequireTLS fails delivery when the server does not offer STARTTLS.
	// By default, STARTTLS is used when offered and the mail is sent in
	// clear otherwise.
	RequireTLS bool
	// TLSConfig configures STARTTLS. By default, the system's roots and
	// the host of Addr as server name.
	TLSConfig *tls.Config
	// Hello is the name given in EHLO. By default, "localhost".
	Hello string
	// Timeout bounds the whole SMTP conversation, together with the
	// context given to Notify: the earlier deadline wins, so behind a
	// Queue its per-attempt WithTimeout (DefaultTimeout, 10 s) does unless
	// Timeout is shorter. By default, DefaultEmailTimeout.
	Timeout time.Duration
}

var _ alerting.Notifier = (*Email)(nil)

// Notify sends the alerts as one mail to every recipient.
func (e *Email) Notify(ctx context.Context, alerts []alerting.Alert) error {
	host, _, err := net.SplitHostPort(e.Addr)
	if err != nil {
		return permanentError{fmt.Errorf("notify: email: address %q: %w", e.Addr, err)}
	}
	from, err := mail.ParseAddress(e.From)
	if err != nil {
		return permanentError{fmt.Errorf("notify: email: sender %q: %w", e.From, err)}
	}
	if len(e.To) == 0 {
		return permanentError{errors.New("notify: email: no recipients")}
	}
	to := make([]*mail.Address, 0, len(e.To))
	for _, s := range e.To {
		a, err := mail.ParseAddress(s)
		if err != nil {
			return permanentError{fmt.Errorf("notify: email: recipient %q: %w", s, err)}
		}
		to = append(to, a)
	}
	msg, err := emailMessage(groupOf(ctx, alerts), alerts, from, to, time.Now())
	if err != nil {
		return permanentError{fmt.Errorf("notify: email: %w", err)}
	}
	if err := e.send(ctx, host, from, to, msg); err != nil {
		cerr := ctx.Err()
		if d, ok := ctx.Deadline(); ok && cerr == nil && !time.Now().Before(d) {
			// The connection's deadline, which is ctx's, passed first.
			cerr = context.DeadlineExceeded
		}
		if cerr != nil {
			return fmt.Errorf("notify: email via %s: %w (%v)", e.Addr, cerr, err)
		}
		return fmt.Errorf("notify: email via %s: %w", e.Addr, err)
	}
	return nil
}

// send holds one SMTP conversation, bounded by ctx and Timeout.
func (e *Email) send(ctx context.Context, host string, from *mail.Address, to []*mail.Address, msg []byte) error {
	timeout := e.Timeout
	if timeout <= 0 {
		timeout = DefaultEmailTimeout
	}
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	dialer := net.Dialer{Deadline: deadline}
	conn, err := dialer.DialContext(ctx, "tcp", e.Addr)
	if err != nil {
		return err
	}
	if err := conn.SetDeadline(deadline); err != nil {
		_ = conn.Close()
		return err
	}
	// Cancelling ctx interrupts whatever read or write is in progress.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	c, err := smtp.NewClient(conn, host)
	if err != nil {
		_ = conn.Close()
		return err
	}
	defer func() { _ = c.Close() }()
	// Say EHLO here rather than inside Extension, which hides its error:
	// a refused EHLO (4xx when the server is busy, to be retried) is the
	// server's answer, not a missing STARTTLS or AUTH.
	hello := e.Hello
	if hello == "" {
		hello = "localhost" // net/smtp's default
	}
	if err := c.Hello(hello); err != nil {
		return fmt.Errorf("ehlo: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if e.TLSConfig != nil {
			cfg = e.TLSConfig.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = host
		}
		if err := c.StartTLS(cfg); err != nil {
			return fmt.Errorf("starttls: %w", err)
		}
	} else if e.RequireTLS {
		return permanentError{errors.New("server does not offer STARTTLS and RequireTLS is set")}
	}
	if e.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return permanentError{errors.New("server does not offer AUTH and a username is set")}
		}
		if err := c.Auth(smtp.PlainAuth("", e.Username, e.Password, host)); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	if err := c.Mail(from.Address); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	for _, a := range to {
		if err := c.Rcpt(a.Address); err != nil {
			return fmt.Errorf("rcpt to %s: %w", a.Address, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	return c.Quit()
}

// emailAlert is an alert as the mail templates show it.
type emailAlert struct {
	Name, Summary, Description string
	Labels                     []string // "name=value", sorted
	StartsAt, EndsAt           string
	GeneratorURL               string
}

type emailData struct {
	Title    string
	Firing   []emailAlert
	Resolved []emailAlert
}

var emailText = template.Must(template.New("text").Parse(`{{.Title}}
{{with .Firing}}
Firing ({{len .}}):
{{range .}}
- {{.Name}}{{with .Summary}}: {{.}}{{end}}
{{- with .Description}}
  {{.}}{{end}}
  Labels: {{range $i, $l := .Labels}}{{if $i}}, {{end}}{{$l}}{{end}}
  Started: {{.StartsAt}}
{{- with .GeneratorURL}}
  Source: {{.}}{{end}}
{{end}}{{end}}
{{- with .Resolved}}
Resolved ({{len .}}):
{{range .}}
- {{.Name}}{{with .Summary}}: {{.}}{{end}}
  Labels: {{range $i, $l := .Labels}}{{if $i}}, {{end}}{{$l}}{{end}}
  Started: {{.StartsAt}}
  Ended: {{.EndsAt}}
{{end}}{{end}}`))

var emailHTML = htmltemplate.Must(htmltemplate.New("html").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body style="font-family: sans-serif">
<h2>{{.Title}}</h2>
{{- with .Firing}}
<h3 style="color: #c0392b">Firing ({{len .}})</h3>
<ul>
{{- range .}}
<li><strong>{{.Name}}</strong>{{with .Summary}}: {{.}}{{end}}
{{- with .Description}}<br>{{.}}{{end}}
<br><small>{{range $i, $l := .Labels}}{{if $i}}, {{end}}{{$l}}{{end}}</small>
<br><small>Started {{.StartsAt}}</small>
{{- with .GeneratorURL}} <a href="{{.}}">Source</a>{{end}}</li>
{{- end}}
</ul>
{{- end}}
{{- with .Resolved}}
<h3 style="color: #27ae60">Resolved ({{len .}})</h3>
<ul>
{{- range .}}
<li><strong>{{.Name}}</strong>{{with .Summary}}: {{.}}{{end}}
<br><small>{{range $i, $l := .Labels}}{{if $i}}, {{end}}{{$l}}{{end}}</small>
<br><small>Started {{.StartsAt}}, ended {{.EndsAt}}</small></li>
{{- end}}
</ul>
{{- end}}
</body></html>
`))

// emailMessage renders the whole mail: headers and both bodies.
func emailMessage(g alerting.NotificationGroup, alerts []alerting.Alert, from *mail.Address, to []*mail.Address, now time.Time) ([]byte, error) {
	data := emailData{Title: notifyTitle(g, alerts)}
	for _, a := range alerts {
		ea := emailAlert{
			Name:         a.Name(),
			Summary:      a.Annotations["summary"],
			Description:  a.Annotations["description"],
			StartsAt:     a.StartsAt.UTC().Format(time.RFC3339),
			EndsAt:       a.EndsAt.UTC().Format(time.RFC3339),
			GeneratorURL: a.GeneratorURL,
		}
		for _, k := range notifySortedKeys(a.Labels) {
			ea.Labels = append(ea.Labels, k+"="+a.Labels[k])
		}
		if a.State == alerting.StateFiring {
			data.Firing = append(data.Firing, ea)
		} else {
			data.Resolved = append(data.Resolved, ea)
		}
	}

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, part := range []struct {
		contentType string
		render      func(*bytes.Buffer) error
	}{
		{"text/plain; charset=UTF-8", func(b *bytes.Buffer) error { return emailText.Execute(b, data) }},
		{"text/html; charset=UTF-8", func(b *bytes.Buffer) error { return emailHTML.Execute(b, data) }},
	} {
		var content bytes.Buffer
		if err := part.render(&content); err != nil {
			return nil, err
		}
		pw, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.contentType},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(pw)
		if _, err := qp.Write(content.Bytes()); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}

	recipients := make([]string, len(to))
	for i, a := range to {
		recipients[i] = a.String()
	}
	var id [12]byte
	_, _ = rand.Read(id[:])
	domain := "vitals"
	if at := strings.LastIndexByte(from.Address, '@'); at >= 0 {
		domain = from.Address[at+1:]
	}
	var msg bytes.Buffer
	for _, h := range [][2]string{
		{"From", from.String()},
		{"To", strings.Join(recipients, ", ")},
		{"Subject", mime.QEncoding.Encode("UTF-8", data.Title)},
		{"Date", now.Format(time.RFC1123Z)},
		{"Message-ID", "<" + hex.EncodeToString(id[:]) + "@" + domain + ">"},
		{"MIME-Version", "1.0"},
		{"Content-Type", `multipart/alternative; boundary="` + mw.Boundary() + `"`},
		{"Auto-Submitted", "auto-generated"},
	} {
		msg.WriteString(h[0] + ": " + h[1] + "\r\n")
	}
	msg.WriteString("\r\n")
	msg.Write(body.Bytes())
	return msg.Bytes(), nil
}
