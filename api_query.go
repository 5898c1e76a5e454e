package vitals

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql"

	"github.com/vitalsgo/vitals/exporter/memory"
)

// The error types of Prometheus' HTTP API, which the query endpoints answer
// with so that tools that speak that API understand them.
const (
	errorBadData   = "bad_data"
	errorExecution = "execution"
	errorTimeout   = "timeout"
	errorCanceled  = "canceled"
	errorInternal  = "internal"
)

// queryAPI serves PromQL over the in-memory reader, shaped like Prometheus'
// /api/v1/query and /api/v1/query_range.
type queryAPI struct {
	mem *memory.Reader
	now func() time.Time
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
	if err := r.ParseForm(); err != nil {
		writeAPIError(w, errorBadData, err)
		return
	}
	expr := r.Form.Get("query")
	ts, err := parseTimeParam(r.Form.Get("time"), "time", a.now())
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
	if err := r.ParseForm(); err != nil {
		writeAPIError(w, errorBadData, err)
		return
	}
	expr := r.Form.Get("query")
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

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
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
	if err != nil {
		return nil, nil, fmt.Errorf("invalid parameter 'timeout': %w", err)
	}
	ctx, cancel := context.WithTimeout(r.Context(), d)
	return ctx, cancel, nil
}

// parseTimeParam parses a time as Prometheus' API does: Unix seconds with
// an optional fraction, or RFC 3339.
func parseTimeParam(s, name string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e12 {
			return time.Time{}, fmt.Errorf("invalid time value for '%s': %q is out of range", name, s)
		}
		sec, frac := math.Modf(f)
		frac = math.Round(frac*1000) / 1000
		return time.Unix(int64(sec), int64(frac*float64(time.Second))).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("invalid time value for '%s': cannot parse %q to a valid timestamp", name, s)
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
