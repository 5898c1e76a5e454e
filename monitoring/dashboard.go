package monitoring

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// dashboardFS holds the dashboard page: static files with no build step
// and no external resources, reading the monitoring API with relative URLs.
//
//go:embed dashboard
var dashboardFS embed.FS

// dashboardHandler serves the dashboard page. It serves the file named by
// the request path's last element (index.html for a path ending in "/"),
// so it works wherever the monitoring routes are mounted, under any prefix
// and with or without http.StripPrefix. Responses carry an exact
// Content-Type, Cache-Control: no-cache with an ETag (a reload revalidates
// and gets 304 when nothing changed), and a Content-Security-Policy that
// allows nothing but the page's own origin.
func dashboardHandler() http.Handler {
	type file struct {
		body  []byte
		ctype string
		etag  string
	}
	ctypes := map[string]string{
		".html": "text/html; charset=utf-8",
		".js":   "text/javascript; charset=utf-8",
		".css":  "text/css; charset=utf-8",
		".svg":  "image/svg+xml",
		".png":  "image/png",
	}
	files := map[string]file{}
	_ = fs.WalkDir(dashboardFS, "dashboard", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ctype, ok := ctypes[path.Ext(p)]
		if !ok {
			return nil // not served: only known types leave the binary
		}
		body, err := dashboardFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		files[path.Base(p)] = file{body: body, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	const csp = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
		"img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeJSON(w, http.StatusMethodNotAllowed, apiResponse{Status: "error", ErrorType: "method_not_allowed",
				Error: "the dashboard answers GET and HEAD only"})
			return
		}
		name, p := "index.html", r.URL.Path
		if p != "" && !strings.HasSuffix(p, "/") {
			name = path.Base(p)
		}
		f, ok := files[name]
		if !ok || strings.Contains(p, "/api/") {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", f.ctype)
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", f.etag)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if f.ctype == ctypes[".html"] {
			h.Set("Content-Security-Policy", csp)
			h.Set("X-Frame-Options", "DENY")
		}
		// ServeContent answers If-None-Match with 304 and Range requests.
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.body))
	})
}
