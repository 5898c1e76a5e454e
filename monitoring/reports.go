package monitoring

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/exporter/memory"
	"github.com/vitalsgo/vitals/performance"
)

// DefaultWindow is the window of /monitoring/api/performance when none is
// given.
const DefaultWindow = 15 * time.Minute

// parseWindow reads the window parameter: a Prometheus duration ("15m") up
// to the memory reader's retention.
func (m *Handler) parseWindow(r *http.Request) (time.Duration, error) {
	s := r.URL.Query().Get("window")
	if s == "" {
		return DefaultWindow, nil
	}
	d, err := model.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("invalid parameter 'window': %q is not a positive duration such as 15m", s)
	}
	if ret := m.query.Retention(); time.Duration(d) > ret {
		return 0, fmt.Errorf("invalid parameter 'window': %s is longer than the %v kept in memory", s, ret)
	}
	return time.Duration(d), nil
}

func (m *Handler) performance(w http.ResponseWriter, r *http.Request) {
	window, err := m.parseWindow(r)
	if err != nil {
		writeAPIError(w, errorBadData, err)
		return
	}
	sum, err := performance.Summarize(r.Context(), m.query, window, m.summaryOptions()...)
	if err != nil {
		writeAPIError(w, errorExecution, err)
		return
	}
	writeJSON(w, http.StatusOK, performanceReport{Summary: sum, SLOs: m.sloReports(r)})
}

// performanceReport is the body of /monitoring/api/performance: the
// summary, and each SLO when there are any.
type performanceReport struct {
	performance.Summary
	SLOs []sloReport `json:"slos,omitempty"`
}

// summaryOptions points the summary at the service's cache counter.
func (m *Handler) summaryOptions() []performance.Option {
	return []performance.Option{performance.WithCacheSeries(m.cacheSeries)}
}

// selectorParser parses the match parameter of /monitoring/api/metrics.
var selectorParser = parser.NewParser(parser.Options{})

// seriesValue is one series of /monitoring/api/metrics.
type seriesValue struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels"`
	Value  float64           `json:"value"`
	Time   time.Time         `json:"time"`

	sortKey labels.Labels // the series' labels, name included, for sorting
}

// metricsList serves GET /monitoring/api/metrics?match=<selector>: every
// series with its latest value.
func (m *Handler) metricsList(w http.ResponseWriter, r *http.Request) {
	list, err := m.seriesList(r, r.URL.Query().Get("match"))
	if err != nil {
		writeAPIError(w, errorBadData, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"series": list})
}

func (m *Handler) seriesList(r *http.Request, match string) ([]seriesValue, error) {
	if err := checkQueryLength("match", match); err != nil {
		return nil, err
	}
	if match == "" {
		match = `{__name__=~".+"}`
	}
	// A series selector, as Prometheus' /api/v1/series takes it; anything
	// else (an operator, a function, a range) is refused before it runs.
	if _, err := selectorParser.ParseMetricSelector(match); err != nil {
		return nil, fmt.Errorf("invalid parameter 'match': %q is not a series selector: %w", match, err)
	}
	res, err := m.query.Query(r.Context(), match, m.query.Now())
	var bad *memory.BadQueryError
	if errors.As(err, &bad) {
		return nil, fmt.Errorf("invalid parameter 'match': %w", err)
	}
	if err != nil {
		return nil, err
	}
	vec, ok := res.Value.(memory.Vector)
	if !ok {
		return nil, fmt.Errorf("invalid parameter 'match': %q is not a series selector", match)
	}
	out := make([]seriesValue, 0, len(vec))
	for _, s := range vec {
		lbls := s.Metric.Map()
		name := lbls["__name__"]
		delete(lbls, "__name__")
		out = append(out, seriesValue{Name: name, Labels: lbls, Value: s.F, Time: time.UnixMilli(s.T).UTC(), sortKey: s.Metric})
	}
	slices.SortFunc(out, func(a, b seriesValue) int {
		return labels.Compare(a.sortKey, b.sortKey)
	})
	return out, nil
}

// systemInfo is the body of /monitoring/api/system.
type systemInfo struct {
	GoVersion     string            `json:"goVersion"`
	GOOS          string            `json:"goos"`
	GOARCH        string            `json:"goarch"`
	GOMAXPROCS    int               `json:"gomaxprocs"`
	NumCPU        int               `json:"numCPU"`
	Goroutines    int               `json:"goroutines"`
	MemoryBytes   uint64            `json:"memoryBytes"`
	HeapBytes     uint64            `json:"heapBytes"`
	MemoryLimit   int64             `json:"memoryLimitBytes"`
	PID           int               `json:"pid"`
	StartedAt     time.Time         `json:"startedAt"`
	UptimeSeconds float64           `json:"uptimeSeconds"`
	Module        string            `json:"module,omitempty"`
	Version       string            `json:"version,omitempty"`
	VCS           map[string]string `json:"vcs,omitempty"`
	Dependencies  map[string]string `json:"dependencies,omitempty"`
	// TraceURL is Config.TraceURL, for the dashboard's trace links.
	TraceURL string `json:"traceURL,omitempty"`
}

// memoryLimit returns the Go runtime's soft memory limit, 0 when there is
// none (math.MaxInt64), as performance.RuntimeHealth.MemoryLimitBytes
// reports it.
func memoryLimit() int64 {
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		return l
	}
	return 0
}

func (m *Handler) systemInfo() systemInfo {
	samples := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(samples)
	info := systemInfo{
		GoVersion:     runtime.Version(),
		GOOS:          runtime.GOOS,
		GOARCH:        runtime.GOARCH,
		GOMAXPROCS:    runtime.GOMAXPROCS(0),
		NumCPU:        runtime.NumCPU(),
		Goroutines:    runtime.NumGoroutine(),
		MemoryBytes:   samples[0].Value.Uint64(),
		HeapBytes:     samples[1].Value.Uint64(),
		MemoryLimit:   memoryLimit(),
		PID:           os.Getpid(),
		StartedAt:     m.started.UTC(),
		UptimeSeconds: time.Since(m.started).Seconds(),
		TraceURL:      m.traceURL,
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		info.Module, info.Version = bi.Main.Path, bi.Main.Version
		info.Dependencies = map[string]string{}
		for _, d := range bi.Deps {
			info.Dependencies[d.Path] = d.Version
		}
		for _, s := range bi.Settings {
			if strings.HasPrefix(s.Key, "vcs") {
				if info.VCS == nil {
					info.VCS = map[string]string{}
				}
				info.VCS[s.Key] = s.Value
			}
		}
	}
	return info
}

func (m *Handler) system(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, m.systemInfo())
}

// exportDocument is the body of /monitoring/api/export: everything the
// monitoring API knows, in one document for a support ticket.
type exportDocument struct {
	GeneratedAt time.Time             `json:"generatedAt"`
	System      systemInfo            `json:"system"`
	Health      healthReport          `json:"health"`
	Alerts      *alertsReport         `json:"alerts,omitempty"`
	Rules       []alerting.RuleStatus `json:"rules,omitempty"`
	// Silences are written after the rest, one at a time (export).
	Performance *performance.Summary `json:"performance,omitempty"`
	Series      []seriesValue        `json:"series,omitempty"`
	Errors      []string             `json:"errors,omitempty"`
}

func (m *Handler) export(w http.ResponseWriter, r *http.Request) {
	doc := exportDocument{GeneratedAt: time.Now().UTC(), System: m.systemInfo()}
	doc.Health = m.healthReport(r)
	if m.alerts != nil {
		rep := m.alertsReport()
		doc.Alerts = &rep
		doc.Rules = m.alerts.Rules()
	}
	if m.query != nil {
		window, err := m.parseWindow(r)
		if err != nil {
			writeAPIError(w, errorBadData, err)
			return
		}
		if sum, err := performance.Summarize(r.Context(), m.query, window, m.summaryOptions()...); err == nil {
			doc.Performance = &sum
		} else {
			doc.Errors = append(doc.Errors, "performance: "+err.Error())
		}
		if series, err := m.seriesList(r, ""); err == nil {
			doc.Series = series
		} else {
			doc.Errors = append(doc.Errors, "series: "+err.Error())
		}
	}
	w.Header().Set("Content-Disposition", `attachment; filename="vitals-export.json"`)
	if m.alerts == nil {
		writeJSON(w, http.StatusOK, doc)
		return
	}
	// The silences are written one at a time after the rest, as the
	// listing does: all of them at once could be hundreds of megabytes.
	b, err := json.Marshal(doc)
	if err != nil {
		writeAPIError(w, errorInternal, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(append(b[:len(b)-1], `,"silences":`...)); err != nil {
		return
	}
	if err := m.writeSilences(w); err != nil {
		return
	}
	_, _ = io.WriteString(w, "}\n")
}
