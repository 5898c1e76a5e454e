package monitoring

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql"

	"github.com/vitalsgo/vitals/exporter/memory"
)

// The error types of Prometheus' HTTP API, which the query endpoints answer
// with so that tools that speak that API understand them.
const (
	errorBadData     = "bad_data"
	errorExecution   = "execution"
	errorTimeout     = "timeout"
	errorCanceled    = "canceled"
	errorInternal    = "internal"
	errorUnavailable = "unavailable"
)

// Limits of the monitoring API's requests, documented in docs/security.md.
const (
	// MaxRequestBody is the largest request body the monitoring API reads:
	// a silence, a resolve reason, a query sent as a POSTed form. A larger
	// body is refused with 413 Request Entity Too Large.
	MaxRequestBody = 64 << 10
	// MaxQueryLength is the longest PromQL expression (query, and match of
	// /monitoring/api/metrics) the monitoring API parses. A longer one is
	// refused with 400 and errorType bad_data.
	MaxQueryLength = 16 << 10
	// MaxConcurrentQueries is how many monitoring API requests may run
	// PromQL of the caller's choosing at once (query, query_range, metrics,
	// export, and the Prometheus API's series, labels, label values and
	// query_exemplars). Others wait for a slot for as long as their request
	// lasts, and get 503 with errorType unavailable if it ends first. With each
	// query's sample limit, it bounds the memory callers can make queries
	// hold. A request's body is read before it takes a slot, so a client
	// that is slow to send one holds none.
	MaxConcurrentQueries = 4
	// MaxConcurrentSummaries is how many requests for the fixed summaries
	// the dashboard polls (performance, slos) may run at once. They have
	// slots of their own, so that callers filling the query slots with
	// heavy queries do not starve the dashboard.
	MaxConcurrentSummaries = 2
	// QueryBodyTimeout is how long the monitoring API waits for the body
	// of a query request (a POSTed form) before answering 408 Request
	// Timeout.
	QueryBodyTimeout = 10 * time.Second
)

// limitQueries reads the request's form (URL and body) and then lets at
// most cap(slots) calls of h run at once. Reading first means a client
// that sends its body slowly never holds a slot.
func (m *Handler) limitQueries(slots chan struct{}, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !m.readForm(w, r) {
			return
		}
		select {
		case slots <- struct{}{}:
		case <-r.Context().Done():
			writeJSON(w, http.StatusServiceUnavailable, apiResponse{Status: "error", ErrorType: errorUnavailable,
				Error: fmt.Sprintf("the request ended while waiting for one of the %d query slots (other queries are running)", cap(slots))})
			return
		}
		defer func() { <-slots }()
		h(w, r)
	}
}

// readForm parses the parameters of a request, from the URL and a form
// body of at most MaxRequestBody bytes that must arrive within
// m.bodyTimeout. On error it has answered: 413 for a body too large, 408
// for one that did not arrive in time, else 400.
func (m *Handler) readForm(w http.ResponseWriter, r *http.Request) bool {
	if r.Form != nil {
		return true
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxRequestBody)
	rc := http.NewResponseController(w)
	// Where the writer cannot set a deadline (a wrapper without Unwrap),
	// the server's own ReadTimeout is all there is; the body is still read
	// before a slot is taken.
	deadlineSet := rc.SetReadDeadline(time.Now().Add(m.bodyTimeout)) == nil
	err := r.ParseForm()
	if deadlineSet {
		_ = rc.SetReadDeadline(time.Time{})
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		w.Header().Set("Connection", "close")
		writeJSON(w, http.StatusRequestTimeout, apiResponse{Status: "error", ErrorType: errorBadData,
			Error: fmt.Sprintf("the request body did not arrive within %v", m.bodyTimeout)})
		return false
	}
	if err != nil {
		writeBodyError(w, err, nil)
		return false
	}
	return true
}

// queryAPI serves PromQL over the in-memory reader, shaped like Prometheus'
// /api/v1/query and /api/v1/query_range.
type queryAPI struct {
	mem History
}

type apiResponse struct {
	Status    string   `json:"status"`
	Data      any      `json:"data,omitempty"`
	ErrorType string   `json:"errorType,omitempty"`
	Error     string   `json:"error,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
	Infos     []string `json:"infos,omitempty"`
}

type queryData struct {
	ResultType string `json:"resultType"`
	Result     any    `json:"result"`
}

// query serves GET and POST /monitoring/api/query?query=&time=&timeout=.
func (a *queryAPI) query(w http.ResponseWriter, r *http.Request) {
	expr, ok := parseQueryForm(w, r)
	if !ok {
		return
	}
	ts, err := parseTimeParam(r.Form.Get("time"), "time", a.mem.Now())
	if err != nil {
		writeAPIError(w, errorBadData, err)
		return
	}
	ctx, cancel, err := withTimeoutParam(r)
	if err != nil {
		writeAPIError(w, errorBadData, err)
		return
	}
	defer cancel()
	res, err := a.mem.Query(ctx, expr, ts)
	writeQueryResult(w, expr, res, err)
}

// queryRange serves GET and POST
// /monitoring/api/query_range?query=&start=&end=&step=&timeout=.
func (a *queryAPI) queryRange(w http.ResponseWriter, r *http.Request) {
	expr, ok := parseQueryForm(w, r)
	if !ok {
		return
	}
	start, err := parseTimeParam(r.Form.Get("start"), "start", time.Time{})
	if err == nil && r.Form.Get("start") == "" {
		err = errors.New("missing parameter 'start'")
	}
	if err != nil {
		writeAPIError(w, errorBadData, err)
		return
	}
	end, err := parseTimeParam(r.Form.Get("end"), "end", time.Time{})
	if err == nil && r.Form.Get("end") == "" {
		err = errors.New("missing parameter 'end'")
	}
	if err != nil {
		writeAPIError(w, errorBadData, err)
		return
	}
	step, err := parseDuration(r.Form.Get("step"))
	if err != nil {
		writeAPIError(w, errorBadData, fmt.Errorf("invalid parameter 'step': %w", err))
		return
	}
	ctx, cancel, err := withTimeoutParam(r)
	if err != nil {
		writeAPIError(w, errorBadData, err)
		return
	}
	defer cancel()
	res, err := a.mem.QueryRange(ctx, expr, start, end, step)
	writeQueryResult(w, expr, res, err)
}

// parseQueryForm returns the query parameter of a request whose form
// limitQueries has read, at most MaxQueryLength bytes long. On error it has
// answered.
func parseQueryForm(w http.ResponseWriter, r *http.Request) (string, bool) {
	expr := r.Form.Get("query")
	if err := checkQueryLength("query", expr); err != nil {
		writeAPIError(w, errorBadData, err)
		return "", false
	}
	return expr, true
}

// checkQueryLength refuses a PromQL parameter longer than MaxQueryLength.
func checkQueryLength(param, expr string) error {
	if len(expr) > MaxQueryLength {
		return fmt.Errorf("invalid parameter '%s': %d bytes is longer than the %d bytes allowed", param, len(expr), MaxQueryLength)
	}
	return nil
}

// writeBodyError answers a request whose body could not be read: 413
// naming the limit when it was too large, else 400 with badBody, or with
// err when badBody is nil.
func writeBodyError(w http.ResponseWriter, err, badBody error) {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeJSON(w, http.StatusRequestEntityTooLarge, apiResponse{Status: "error", ErrorType: errorBadData,
			Error: fmt.Sprintf("request body larger than the %d bytes allowed", tooLarge.Limit)})
	case badBody != nil:
		writeAPIError(w, errorBadData, badBody)
	default:
		writeAPIError(w, errorBadData, err)
	}
}

func writeQueryResult(w http.ResponseWriter, expr string, res memory.Result, err error) {
	if err != nil {
		var bad *memory.BadQueryError
		var timeout promql.ErrQueryTimeout
		var canceled promql.ErrQueryCanceled
		switch {
		case errors.As(err, &bad):
			writeAPIError(w, errorBadData, err)
		case errors.As(err, &timeout), errors.Is(err, context.DeadlineExceeded):
			writeAPIError(w, errorTimeout, err)
		case errors.As(err, &canceled), errors.Is(err, context.Canceled):
			writeAPIError(w, errorCanceled, err)
		default: // including promql.ErrTooManySamples, as Prometheus answers it
			writeAPIError(w, errorExecution, err)
		}
		return
	}
	warnings, infos := res.Warnings.AsStrings(expr, 10, 10)
	writeJSON(w, http.StatusOK, apiResponse{
		Status:   "success",
		Data:     queryData{ResultType: string(res.Value.Type()), Result: res.Value},
		Warnings: warnings,
		Infos:    infos,
	})
}

func writeAPIError(w http.ResponseWriter, typ string, err error) {
	status := http.StatusInternalServerError
	switch typ {
	case errorBadData:
		status = http.StatusBadRequest
	case errorExecution:
		status = http.StatusUnprocessableEntity
	case errorTimeout, errorCanceled:
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, apiResponse{Status: "error", ErrorType: typ, Error: err.Error()})
}

// writeJSON answers with status and v in JSON, or with an internal error
// if v cannot be encoded: it is encoded whole before the status is sent, as
// Prometheus' API does, so a failure never leaves a 200 with half a body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeAPIError(w, errorInternal, fmt.Errorf("encoding the answer: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// withTimeoutParam bounds the request's context by its timeout parameter,
// when given; the reader's own query timeout applies in any case.
func withTimeoutParam(r *http.Request) (context.Context, context.CancelFunc, error) {
	v := r.Form.Get("timeout")
	if v == "" {
		ctx, cancel := context.WithCancel(r.Context())
		return ctx, cancel, nil
	}
	d, err := parseDuration(v)
	if err == nil && d <= 0 {
		err = fmt.Errorf("%q is not a positive duration", v)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("invalid parameter 'timeout': %w", err)
	}
	ctx, cancel := context.WithTimeout(r.Context(), d)
	return ctx, cancel, nil
}

// The times the query engine can represent: it counts nanoseconds since
// 1970 in an int64 (time.Time.UnixNano).
var (
	minQueryTime = time.Unix(0, math.MinInt64).Add(time.Second).Truncate(time.Second).UTC()
	maxQueryTime = time.Unix(0, math.MaxInt64).Truncate(time.Second).UTC()
)

// parseTimeParam parses a time as Prometheus' API does: Unix seconds with
// an optional fraction, or RFC 3339. A time the engine cannot represent
// (before 1677 or after 2262) is an error that says so.
func parseTimeParam(s, name string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	var t time.Time
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || f < float64(minQueryTime.Unix()) || f > float64(maxQueryTime.Unix()) {
			return time.Time{}, timeRangeError(s, name)
		}
		sec, frac := math.Modf(f)
		frac = math.Round(frac*1000) / 1000
		t = time.Unix(int64(sec), int64(frac*float64(time.Second))).UTC()
	} else if t, err = time.Parse(time.RFC3339Nano, s); err != nil {
		return time.Time{}, fmt.Errorf("invalid time value for '%s': cannot parse %q to a valid timestamp", name, s)
	}
	if t.Before(minQueryTime) || t.After(maxQueryTime) {
		return time.Time{}, timeRangeError(s, name)
	}
	return t, nil
}

func timeRangeError(s, name string) error {
	return fmt.Errorf("invalid time value for '%s': %q is outside the times the query engine can represent, %s (%d) to %s (%d)",
		name, s, minQueryTime.Format(time.RFC3339), minQueryTime.Unix(), maxQueryTime.Format(time.RFC3339), maxQueryTime.Unix())
}

// parseDuration parses seconds with an optional fraction, or a Prometheus
// duration such as 15s or 1m30s.
func parseDuration(s string) (time.Duration, error) {
	if d, err := strconv.ParseFloat(s, 64); err == nil {
		ns := d * float64(time.Second)
		if math.IsNaN(ns) || ns >= math.MaxInt64 || ns < math.MinInt64 {
			return 0, fmt.Errorf("cannot parse %q to a valid duration. It overflows int64", s)
		}
		return time.Duration(ns), nil
	}
	if d, err := model.ParseDuration(s); err == nil {
		return time.Duration(d), nil
	}
	return 0, fmt.Errorf("cannot parse %q to a valid duration", s)
}
