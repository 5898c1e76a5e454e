package instrument

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"unsafe"

	"go.opentelemetry.io/otel/trace"
)

// maxRequestIDLen bounds an incoming request ID that is kept.
const maxRequestIDLen = 64

// RequestID returns the ID of the request ctx belongs to: the incoming
// X-Request-Id when it is sane, else one made by the middleware. It is ""
// outside the middleware.
func RequestID(ctx context.Context) string {
	if st, ok := ctx.Value(stateKey{}).(*state); ok {
		return st.id
	}
	return ""
}

// validRequestID reports whether an incoming ID may be kept: 1 to 64 bytes
// of letters, digits and - _ . : (enough for UUIDs, ULIDs and trace IDs),
// so that it is safe in logs and headers.
func validRequestID(id string) bool {
	if len(id) == 0 || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-' || c == '_' || c == '.' || c == ':':
		default:
			return false
		}
	}
	return true
}

const hexDigits = "0123456789abcdef"

// newRequestID writes 16 random hex digits into buf and returns them as a
// string that shares buf's memory, so that making an ID allocates nothing:
// buf must not change afterwards. The ID needs to be unique enough to find
// a request in logs, not unguessable.
func newRequestID(buf *[16]byte) string {
	v := rand.Uint64()
	for i := len(buf) - 1; i >= 0; i-- {
		buf[i] = hexDigits[v&0xf]
		v >>= 4
	}
	return unsafe.String(&buf[0], len(buf))
}

// LogHandler wraps h so that records logged with a request's context
// (slog.InfoContext(r.Context(), ...)) carry its request_id, and trace_id and
// span_id when a span is recording.
func LogHandler(h slog.Handler) slog.Handler {
	return logHandler{h}
}

type logHandler struct{ slog.Handler }

func (l logHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return l.Handler.Handle(ctx, r)
}

func (l logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logHandler{l.Handler.WithAttrs(attrs)}
}

func (l logHandler) WithGroup(name string) slog.Handler {
	return logHandler{l.Handler.WithGroup(name)}
}
