package instrument

import (
	"bufio"
	"io"
	"net"
	"net/http"
)

// responseWriter records the status and size of a response. It keeps the
// optional interfaces handlers rely on: Flush, Hijack, ReadFrom, and Unwrap
// for http.ResponseController.
type responseWriter struct {
	w           http.ResponseWriter
	status      int
	wroteHeader bool
	hijacked    bool
	skip        bool // SkipRecording: kept here, where it fits the struct's padding
	written     int64
}

var (
	_ http.Flusher  = (*responseWriter)(nil)
	_ http.Hijacker = (*responseWriter)(nil)
	_ io.ReaderFrom = (*responseWriter)(nil)
)

func (rw *responseWriter) Header() http.Header { return rw.w.Header() }

func (rw *responseWriter) WriteHeader(code int) {
	if !rw.wroteHeader && (code < 100 || code > 199 || code == http.StatusSwitchingProtocols) {
		rw.status, rw.wroteHeader = code, true
	}
	rw.w.WriteHeader(code)
}

func (rw *responseWriter) Write(b []byte) (int, error) {
	if !rw.wroteHeader {
		rw.status, rw.wroteHeader = http.StatusOK, true
	}
	n, err := rw.w.Write(b)
	rw.written += int64(n)
	return n, err
}

// ReadFrom keeps the underlying writer's sendfile path (http.ServeFile).
func (rw *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	if !rw.wroteHeader {
		rw.status, rw.wroteHeader = http.StatusOK, true
	}
	var n int64
	var err error
	if rf, ok := rw.w.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(writerOnly{rw.w}, src)
	}
	rw.written += n
	return n, err
}

// writerOnly hides a writer's ReadFrom, so io.Copy does not loop.
type writerOnly struct{ io.Writer }

func (rw *responseWriter) Flush() {
	if !rw.wroteHeader {
		rw.status, rw.wroteHeader = http.StatusOK, true
	}
	_ = http.NewResponseController(rw.w).Flush()
}

func (rw *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(rw.w).Hijack()
	if err == nil {
		rw.hijacked = true
		if !rw.wroteHeader {
			rw.status, rw.wroteHeader = http.StatusSwitchingProtocols, true
		}
	}
	return conn, brw, err
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (rw *responseWriter) Unwrap() http.ResponseWriter { return rw.w }
