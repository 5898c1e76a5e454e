package notify_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/alerting/notify"
)

// smtpMail is one mail the test server accepted.
type smtpMail struct {
	From     string
	To       []string
	Data     []byte
	TLS      bool
	AuthUser string
	AuthPass string
}

// smtpServer is a real SMTP server (go-smtp) on 127.0.0.1 that keeps what
// it receives.
type smtpServer struct {
	Addr  string
	users map[string]string // username → password; nil: no AUTH offered

	mu    sync.Mutex
	mails []smtpMail
}

func (s *smtpServer) received() []smtpMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]smtpMail(nil), s.mails...)
}

// smtpSession implements smtp.Session and smtp.AuthSession.
type smtpSession struct {
	srv  *smtpServer
	conn *smtp.Conn
	cur  smtpMail
}

func (s *smtpSession) AuthMechanisms() []string {
	if s.srv.users == nil {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *smtpSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if want, ok := s.srv.users[username]; !ok || want != password {
			return smtp.ErrAuthFailed
		}
		s.cur.AuthUser, s.cur.AuthPass = username, password
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.srv.users != nil && s.cur.AuthUser == "" {
		return smtp.ErrAuthRequired
	}
	s.cur.From = from
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.To = append(s.cur.To, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := s.cur
	m.Data = b
	_, m.TLS = s.conn.TLSConnectionState()
	s.srv.mu.Lock()
	s.srv.mails = append(s.srv.mails, m)
	s.srv.mu.Unlock()
	return nil
}

func (s *smtpSession) Reset()        { s.cur = smtpMail{AuthUser: s.cur.AuthUser, AuthPass: s.cur.AuthPass} }
func (s *smtpSession) Logout() error { return nil }

// smtpStart starts a server; with tlsConfig it offers STARTTLS and allows
// AUTH only over TLS, without it AUTH is allowed in clear.
func smtpStart(t *testing.T, tlsConfig *tls.Config, users map[string]string) *smtpServer {
	t.Helper()
	srv := &smtpServer{users: users}
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSession{srv: srv, conn: c}, nil
	}))
	s.Domain = "localhost"
	s.TLSConfig = tlsConfig
	s.AllowInsecureAuth = tlsConfig == nil
	s.ErrorLog = log.New(io.Discard, "", 0)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Addr = l.Addr().String()
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = s.Serve(l)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			_ = s.Close()
		}
		<-served
	})
	return srv
}

// smtpTLS returns a server config with a self-signed certificate for
// 127.0.0.1, and a client config trusting it.
func smtpTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "vitals test SMTP"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool}
}

// emailAlerts are two firing alerts and one resolved, of one rule.
func emailAlerts() []alerting.Alert {
	c := ntResolved(ntFiring("HighErrorRate", "critical", "instance", "c"))
	c.Annotations = map[string]string{"summary": "latency <1s & fine"}
	return []alerting.Alert{
		ntFiring("HighErrorRate", "critical", "instance", "a"),
		ntFiring("HighErrorRate", "critical", "instance", "b"),
		c,
	}
}

// emailParts parses a mail and returns its headers and its plain-text and
// HTML bodies.
func emailParts(t *testing.T, data []byte) (mail.Header, string, string) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("mail does not parse: %v\n%s", err, data)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type = %q (%v), want multipart/alternative", msg.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	bodies := map[string]string{}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(p) // quoted-printable is decoded by the reader
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		bodies[ct] = strings.ReplaceAll(string(b), "\r\n", "\n") // SMTP lines end in CRLF
	}
	if len(bodies) != 2 || bodies["text/plain"] == "" || bodies["text/html"] == "" {
		t.Fatalf("parts %v, want text/plain and text/html", bodies)
	}
	return msg.Header, bodies["text/plain"], bodies["text/html"]
}

func TestEmailSTARTTLSAndAuth(t *testing.T) {
	serverTLS, clientTLS := smtpTLS(t)
	srv := smtpStart(t, serverTLS, map[string]string{"vitals": "pa55 word"})
	e := &notify.Email{
		Addr:       srv.Addr,
		From:       "Vitals <alerts@example.com>",
		To:         []string{"ops@example.com", "On Call <oncall@example.com>"},
		Username:   "vitals",
		Password:   "pa55 word",
		RequireTLS: true,
		TLSConfig:  clientTLS,
		Hello:      "vitals.example.com",
	}
	if err := e.Notify(t.Context(), emailAlerts()); err != nil {
		t.Fatal(err)
	}
	mails := srv.received()
	if len(mails) != 1 {
		t.Fatalf("server got %d mails, want 1", len(mails))
	}
	m := mails[0]
	if !m.TLS || m.AuthUser != "vitals" || m.AuthPass != "pa55 word" {
		t.Errorf("TLS %v, auth %q/%q; want STARTTLS and AUTH PLAIN", m.TLS, m.AuthUser, m.AuthPass)
	}
	if m.From != "alerts@example.com" || strings.Join(m.To, ",") != "ops@example.com,oncall@example.com" {
		t.Errorf("envelope from %q to %v", m.From, m.To)
	}

	h, text, html := emailParts(t, m.Data)
	if from, err := mail.ParseAddress(h.Get("From")); err != nil || from.Address != "alerts@example.com" || from.Name != "Vitals" {
		t.Errorf("From = %q", h.Get("From"))
	}
	to, err := h.AddressList("To")
	if err != nil || len(to) != 2 || to[0].Address != "ops@example.com" || to[1].Address != "oncall@example.com" || to[1].Name != "On Call" {
		t.Errorf("To = %q", h.Get("To"))
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	if want := "[FIRING:2] HighErrorRate (api critical)"; err != nil || subject != want {
		t.Errorf("Subject = %q, want %q", subject, want)
	}
	if h.Get("Date") == "" || h.Get("Message-Id") == "" || h.Get("Mime-Version") != "1.0" {
		t.Errorf("missing Date, Message-ID or MIME-Version: %v", h)
	}

	for _, want := range []string{
		"[FIRING:2] HighErrorRate (api critical)",
		"Firing (2):",
		"- HighErrorRate: HighErrorRate on a\n  5xx ratio is 12%\n  Labels: alertname=HighErrorRate, instance=a, service=api, severity=critical\n  Started: 2025-03-04T05:06:07Z\n  Source: http://vitals.example/monitoring/api/query?expr=up",
		"Resolved (1):",
		"- HighErrorRate: latency <1s & fine",
		"Ended: 2025-03-04T05:16:07Z",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("plain text lacks %q:\n%s", want, text)
		}
	}
	for _, want := range []string{
		"<h2>[FIRING:2] HighErrorRate (api critical)</h2>",
		"<strong>HighErrorRate</strong>: HighErrorRate on b",
		`<a href="http://vitals.example/monitoring/api/query?expr=up">Source</a>`,
		"Resolved (1)",
		"latency &lt;1s &amp; fine",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML lacks %q:\n%s", want, html)
		}
	}
}

func TestEmailPlainWithAuth(t *testing.T) {
	// No STARTTLS offered; net/smtp sends the password in clear to
	// localhost only, which 127.0.0.1 is.
	srv := smtpStart(t, nil, map[string]string{"vitals": "secret"})
	e := &notify.Email{Addr: srv.Addr, From: "alerts@example.com", To: []string{"ops@example.com"}, Username: "vitals", Password: "secret"}
	if err := e.Notify(t.Context(), emailAlerts()[2:]); err != nil {
		t.Fatal(err)
	}
	mails := srv.received()
	if len(mails) != 1 || mails[0].TLS || mails[0].AuthUser != "vitals" {
		t.Fatalf("mails = %+v", mails)
	}
	h, text, _ := emailParts(t, mails[0].Data)
	if s := h.Get("Subject"); s != "[RESOLVED] HighErrorRate (c api critical)" {
		t.Errorf("Subject = %q", s)
	}
	if strings.Contains(text, "Firing") {
		t.Errorf("resolved-only mail has a firing section:\n%s", text)
	}
}

func TestEmailFailures(t *testing.T) {
	alerts := emailAlerts()

	t.Run("STARTTLS required but not offered", func(t *testing.T) {
		srv := smtpStart(t, nil, nil)
		e := &notify.Email{Addr: srv.Addr, From: "a@example.com", To: []string{"b@example.com"}, RequireTLS: true}
		err := e.Notify(t.Context(), alerts)
		if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
			t.Errorf("err = %v, want a STARTTLS error", err)
		}
		if n := len(srv.received()); n != 0 {
			t.Errorf("server got %d mails", n)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		serverTLS, clientTLS := smtpTLS(t)
		srv := smtpStart(t, serverTLS, map[string]string{"vitals": "right"})
		e := &notify.Email{Addr: srv.Addr, From: "a@example.com", To: []string{"b@example.com"}, Username: "vitals", Password: "wrong-pw", TLSConfig: clientTLS}
		err := e.Notify(t.Context(), alerts)
		var te *textproto.Error
		if !errors.As(err, &te) || te.Code != 535 {
			t.Fatalf("err = %v, want the server's 535", err)
		}
		if strings.Contains(err.Error(), "wrong-pw") {
			t.Errorf("error names the password: %v", err)
		}
	})

	t.Run("untrusted certificate", func(t *testing.T) {
		serverTLS, _ := smtpTLS(t)
		srv := smtpStart(t, serverTLS, nil)
		e := &notify.Email{Addr: srv.Addr, From: "a@example.com", To: []string{"b@example.com"}}
		if err := e.Notify(t.Context(), alerts); err == nil || !strings.Contains(err.Error(), "starttls") {
			t.Errorf("err = %v, want a certificate error", err)
		}
	})

	t.Run("server never answers", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		accepted := make(chan net.Conn, 1)
		go func() {
			c, err := l.Accept()
			if err == nil {
				accepted <- c
			}
			close(accepted)
		}()
		t.Cleanup(func() {
			_ = l.Close()
			for c := range accepted {
				_ = c.Close()
			}
		})
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		e := &notify.Email{Addr: l.Addr().String(), From: "a@example.com", To: []string{"b@example.com"}}
		if err := e.Notify(ctx, alerts); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want context.DeadlineExceeded", err)
		}
	})

	// A server that refuses the conversation in its greeting, for good (554)
	// or for now (421): the reply is the error, retried only when temporary.
	for _, tc := range []struct {
		greeting  string
		code      int
		retryable bool
	}{
		{"554 5.3.2 mx.example.com no service for you\r\n", 554, false},
		{"421 4.3.2 mx.example.com busy, try later\r\n", 421, true},
	} {
		t.Run(fmt.Sprint("greeting refused with ", tc.code), func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = l.Close() })
			served := make(chan string, 1)
			go func() {
				c, err := l.Accept()
				if err != nil {
					served <- err.Error()
					return
				}
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				_, _ = io.WriteString(c, tc.greeting)
				rest, _ := io.ReadAll(c) // until the client hangs up
				served <- string(rest)
			}()
			e := &notify.Email{Addr: l.Addr().String(), From: "a@example.com", To: []string{"b@example.com"}}
			err = e.Notify(t.Context(), alerts)
			var te *textproto.Error
			if !errors.As(err, &te) || te.Code != tc.code {
				t.Fatalf("err = %v, want the server's %d", err, tc.code)
			}
			if got := notify.Retryable(err); got != tc.retryable {
				t.Errorf("retryable = %v, want %v", got, tc.retryable)
			}
			if rest := <-served; strings.Contains(rest, "MAIL") || strings.Contains(rest, "DATA") {
				t.Errorf("the client went on after the refusal: %q", rest)
			}
		})
	}

	t.Run("bad settings", func(t *testing.T) {
		for _, e := range []notify.Email{
			{Addr: "no-port", From: "a@example.com", To: []string{"b@example.com"}},
			{Addr: "127.0.0.1:1", From: "not an address", To: []string{"b@example.com"}},
			{Addr: "127.0.0.1:1", From: "a@example.com"},
			{Addr: "127.0.0.1:1", From: "a@example.com", To: []string{"b@"}},
		} {
			if err := e.Notify(t.Context(), alerts); err == nil {
				t.Errorf("%+v: no error", e)
			}
		}
	})
}
