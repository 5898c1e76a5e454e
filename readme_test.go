package vitals_test

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// quickstart returns the README's first Go block that is a main package:
// the program a newcomer pastes.
func quickstart(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile("(?s)```go\n(.*?)```").FindAllStringSubmatch(string(readme), -1) {
		if strings.HasPrefix(m[1], "package main\n") {
			return m[1]
		}
	}
	t.Fatal("README.md has no ```go block starting with package main")
	return ""
}

// TestReadmeQuickstart builds the README's quickstart, as written, in a
// fresh module that requires this one (a replace directive stands in for
// go get), runs it and checks what the README promises: /metrics, /livez
// and /monitoring/ answer, the default alert rules run with no file beside
// the binary, the application's requests are counted and the handler's own
// are not, and SIGTERM stops it cleanly.
func TestReadmeQuickstart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program: not in -short")
	}
	src := quickstart(t)
	// The one change: the README's port may be taken on a test machine.
	const readmeAddr = `"127.0.0.1:8080"`
	if strings.Count(src, readmeAddr) != 1 {
		t.Fatalf("the quickstart no longer listens on %s once; update this test with it", readmeAddr)
	}
	addr := freeAddr(t)
	src = strings.Replace(src, readmeAddr, `"`+addr+`"`, 1)

	repo, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir() // outside the module: a module of its own
	sum, err := os.ReadFile("go.sum")
	if err != nil {
		t.Fatal(err)
	}
	gomod := "module quickstart\n\ngo 1.26\n\nrequire github.com/vitalsgo/vitals v0.0.0\n\nreplace github.com/vitalsgo/vitals => " + repo + "\n"
	for name, content := range map[string][]byte{"go.mod": []byte(gomod), "go.sum": sum, "main.go": []byte(src)} {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "quickstart")
	build := exec.Command("go", "build", "-mod=mod", "-o", bin, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("the README quickstart does not build: %v\n%s", err, out)
	}

	// Run it where a newcomer would: an empty directory, no rule file.
	run := exec.Command(bin)
	run.Dir = t.TempDir()
	run.Env = cleanOTELEnv()
	var out bytes.Buffer
	run.Stdout, run.Stderr = &out, &out
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- run.Wait() }()
	t.Cleanup(func() {
		_ = run.Process.Kill()
		<-exited
	})

	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/livez")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("the quickstart exited at once (%v):\n%s", err, out.String())
		case <-time.After(50 * time.Millisecond): // polling a process's start-up, not timing
		}
		if time.Now().After(deadline) {
			t.Fatalf("the quickstart did not serve /livez within 30 s:\n%s", out.String())
		}
	}

	get := func(path string, want int) string {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("GET %s: %d, want %d\n%s", path, resp.StatusCode, want, body)
		}
		return string(body)
	}
	for range 3 {
		resp, err := http.Post(base+"/orders", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /orders: %d", resp.StatusCode)
		}
	}
	get("/livez", http.StatusOK)
	get("/readyz", http.StatusOK)
	if page := get("/monitoring/", http.StatusOK); !strings.Contains(page, "<html") {
		t.Errorf("/monitoring/ is not the dashboard page:\n%.300s", page)
	}
	rules := get("/monitoring/api/rules", http.StatusOK)
	for _, name := range []string{"HighErrorRate", "CriticalHealthCheckFailing", "MemoryNearLimit"} {
		if !strings.Contains(rules, `"`+name+`"`) {
			t.Errorf("default rule %s is not running; /monitoring/api/rules:\n%.500s", name, rules)
		}
	}
	metrics := get("/metrics", http.StatusOK)
	if want := `http_server_request_duration_seconds_count{http_request_method="POST",http_response_status_code="200",http_route="/orders"`; !strings.Contains(metrics, want) {
		t.Errorf("/metrics lacks the application's requests (%s...)", want)
	}
	if !regexp.MustCompile(`app_orders_placed_total\{[^}]*\} 3\b`).MatchString(metrics) {
		t.Errorf("/metrics does not count the 3 orders placed")
	}
	for _, own := range []string{`http_route="/metrics"`, `http_route="/livez"`, `http_route="/readyz"`, `http_route="/monitoring/`, `http_route="/"`} {
		if strings.Contains(metrics, own) {
			t.Errorf("/metrics counts the handler's own requests as application traffic: %s", own)
		}
	}

	if err := run.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Errorf("the quickstart did not exit cleanly on SIGTERM: %v\n%s", err, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Errorf("the quickstart did not stop within 20 s of SIGTERM:\n%s", out.String())
	}
}

// freeAddr returns a loopback address no one listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// cleanOTELEnv is the test's environment without OTEL_* variables, so the
// program sees what a newcomer's shell has.
func cleanOTELEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OTEL_") {
			env = append(env, kv)
		}
	}
	return env
}
