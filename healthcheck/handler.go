package healthcheck

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// ContentType is the media type of the health responses.
const ContentType = "application/health+json"

// HandlerOption configures Handler.
type HandlerOption interface {
	applyHandler(handlerConfig) handlerConfig
}

type handlerConfig struct {
	authorize func(*http.Request) bool
	service   ServiceInfo
}

type handlerOptionFunc func(handlerConfig) handlerConfig

func (f handlerOptionFunc) applyHandler(c handlerConfig) handlerConfig { return f(c) }

// WithAuthorizer decides which requests see the details: each check's
// output, observed value and unit, component type and time, and the
// service's version and IDs. Unauthorized requests get names and statuses
// only, so a public probe leaks no connection strings or hostnames. By
// default, no request is authorized.
func WithAuthorizer(fn func(*http.Request) bool) HandlerOption {
	return handlerOptionFunc(func(c handlerConfig) handlerConfig {
		c.authorize = fn
		return c
	})
}

// ServiceInfo describes the service in a health response, in the draft's
// terms. Empty fields are left out.
type ServiceInfo struct {
	// Version is the public version of the service's API ("version"), which
	// changes only on incompatible changes, such as "1".
	Version string
	// ReleaseID is the release of the service ("releaseId"), such as
	// "1.4.0": OpenTelemetry's service.version.
	ReleaseID string
	// ServiceID identifies the service instance ("serviceId"), such as
	// OpenTelemetry's service.instance.id.
	ServiceID string
	// Description is a human-friendly description of the service
	// ("description"), such as its name.
	Description string
}

// WithServiceInfo sets the service's version, release, ID and description,
// shown to authorized requests only. By default, they are empty and left
// out.
func WithServiceInfo(info ServiceInfo) HandlerOption {
	return handlerOptionFunc(func(c handlerConfig) handlerConfig {
		c.service = info
		return c
	})
}

// Response is the body of a health response, as in the IETF draft "Health
// Check Response Format for HTTP APIs".
type Response struct {
	// Status is the aggregate: pass, warn or fail.
	Status Status `json:"status"`
	// Version, ReleaseID, ServiceID and Description describe the service
	// (WithServiceInfo), for authorized requests only.
	Version     string `json:"version,omitempty"`
	ReleaseID   string `json:"releaseId,omitempty"`
	ServiceID   string `json:"serviceId,omitempty"`
	Description string `json:"description,omitempty"`
	// Checks maps "name", or "name:measurement" (WithMeasurement), to the
	// entries of the checks under that key.
	Checks map[string][]CheckObject `json:"checks,omitempty"`
}

// CheckObject is one entry of Response.Checks.
type CheckObject struct {
	// ComponentType, ObservedValue and ObservedUnit are the check's
	// (CheckResult), for authorized requests only.
	ComponentType string `json:"componentType,omitempty"`
	ObservedValue any    `json:"observedValue,omitempty"`
	ObservedUnit  string `json:"observedUnit,omitempty"`
	// Status is pass, warn or fail; a check not run yet is fail.
	Status Status `json:"status"`
	// Time (the last run's start) and Output are for authorized requests
	// only as well; Output is "not run yet" before the first run.
	Time   time.Time `json:"time,omitzero"`
	Output string    `json:"output,omitempty"`
}

// draftStatus maps a status to the draft's three values: a check that has
// not run yet is reported as failing.
func draftStatus(s Status) Status {
	if s == StatusUnknown {
		return StatusFail
	}
	return s
}

// Prober runs the checks of a kind, as a probe asks; *Registry is one.
type Prober interface {
	// Check runs the checks of kind, except those named in exclude.
	Check(ctx context.Context, kind Kind, exclude ...string) Report
}

var _ Prober = (*Registry)(nil)

// Handler serves the probe of kind (Liveness for /livez, Readiness for
// /readyz, both for /healthz) from r: 200 for pass and warn, 503 for fail,
// with an application/health+json body. ?exclude=name (repeatable, or
// comma-separated) skips checks; ?verbose answers in the Kubernetes text
// style, one line per check. It answers GET and HEAD.
func Handler(r Prober, kind Kind, opts ...HandlerOption) http.Handler {
	var cfg handlerConfig
	for _, o := range opts {
		cfg = o.applyHandler(cfg)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		var exclude []string
		for _, v := range req.URL.Query()["exclude"] {
			for name := range strings.SplitSeq(v, ",") {
				if name = strings.TrimSpace(name); name != "" {
					exclude = append(exclude, name)
				}
			}
		}
		report := r.Check(req.Context(), kind, exclude...)
		authorized := cfg.authorize != nil && cfg.authorize(req)

		code := http.StatusOK
		if report.Status == StatusFail {
			code = http.StatusServiceUnavailable
		}
		w.Header().Set("Cache-Control", "no-store")
		if req.URL.Query().Has("verbose") {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(code)
			writeVerbose(w, kind, report, authorized)
			return
		}
		w.Header().Set("Content-Type", ContentType)
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(newResponse(report, authorized, cfg))
	})
}

// newResponse renders a report in the draft's format, with details only
// when authorized.
func newResponse(report Report, authorized bool, cfg handlerConfig) Response {
	resp := Response{Status: report.Status}
	if authorized {
		resp.Version, resp.ReleaseID, resp.ServiceID, resp.Description = cfg.service.Version, cfg.service.ReleaseID, cfg.service.ServiceID, cfg.service.Description
	}
	if len(report.Checks) == 0 {
		return resp
	}
	resp.Checks = make(map[string][]CheckObject, len(report.Checks))
	for _, c := range report.Checks {
		key := c.Name
		if c.Measurement != "" {
			key += ":" + c.Measurement
		}
		obj := CheckObject{Status: draftStatus(c.Status)}
		if authorized {
			obj.ComponentType = c.ComponentType
			obj.ObservedValue = c.ObservedValue
			obj.ObservedUnit = c.ObservedUnit
			obj.Output = c.Output
			if c.Status == StatusUnknown && obj.Output == "" {
				obj.Output = "not run yet"
			}
			if !c.LastRun.IsZero() {
				obj.Time = c.LastRun.UTC()
			}
		}
		resp.Checks[key] = append(resp.Checks[key], obj)
	}
	return resp
}

// writeVerbose writes the Kubernetes-style text report.
func writeVerbose(w http.ResponseWriter, kind Kind, report Report, authorized bool) {
	for _, c := range report.Checks {
		switch c.Status {
		case StatusPass:
			fmt.Fprintf(w, "[+]%s ok\n", c.Name)
		case StatusWarn:
			fmt.Fprintf(w, "[+]%s warn%s\n", c.Name, reason(c, authorized))
		default:
			fmt.Fprintf(w, "[-]%s failed%s\n", c.Name, reason(c, authorized))
		}
	}
	probe := map[Kind]string{Liveness: "livez", Readiness: "readyz"}[kind]
	if probe == "" {
		probe = "healthz"
	}
	if report.Status == StatusFail {
		fmt.Fprintf(w, "%s check failed\n", probe)
	} else {
		fmt.Fprintf(w, "%s check passed\n", probe)
	}
}

func reason(c CheckResult, authorized bool) string {
	if !authorized {
		return ": reason withheld"
	}
	if c.Output == "" {
		return ""
	}
	return ": " + strings.ReplaceAll(c.Output, "\n", " ")
}
