package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vitalsgo/vitals/internal/logtest"
)

// TestRuleFilesLoadInPrometheus loads every committed rule file
// (docs/rules/*.yml: the default alerts and the shop's SLOs) into a real
// Prometheus scraping the shop, and waits until every rule has been
// evaluated without error.
func TestRuleFilesLoadInPrometheus(t *testing.T) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus binary not found (install Debian's prometheus package): " + err.Error())
	}
	files, err := filepath.Glob("../../docs/rules/*.yml")
	if err != nil || len(files) < 2 {
		t.Fatalf("rule files: %v %v", files, err)
	}
	if promtool, err := exec.LookPath("promtool"); err == nil {
		if out, err := exec.Command(promtool, append([]string{"check", "rules"}, files...)...).CombinedOutput(); err != nil {
			t.Fatalf("promtool check rules: %v\n%s", err, out)
		}
	}
	var abs []string
	for _, f := range files {
		a, err := filepath.Abs(f)
		if err != nil {
			t.Fatal(err)
		}
		abs = append(abs, fmt.Sprintf("%q", a))
	}
	target := startShop(t)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	yml := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%s]
scrape_configs:
  - job_name: shop
    static_configs:
      - targets: [%q]
`, strings.Join(abs, ", "), target)
	if err := os.WriteFile(config, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	out := &logtest.Buffer{}
	cmd := exec.Command(bin, "--config.file="+config, "--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+listen)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("prometheus output:\n%s", out.String())
		}
	})

	client := &http.Client{Timeout: 5 * time.Second}
	base := "http://" + listen
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(60 * time.Second)
	for {
		var r promRuleList
		err := getJSON(t.Context(), client, base+"/api/v1/rules", &r)
		total, evaluated := 0, 0
		if err == nil {
			for _, g := range r.Data.Groups {
				for _, rule := range g.Rules {
					total++
					if rule.LastEvaluation.Year() > 1 {
						evaluated++
					}
				}
			}
		}
		if err == nil && total >= 40 && evaluated == total {
			if err := promRuleErrors(t.Context(), client, base); err != nil {
				t.Fatal(err)
			}
			t.Logf("%d rules loaded and evaluated without error", total)
			return
		}
		select {
		case <-done:
			t.Fatalf("prometheus exited:\n%s", out.String())
		case <-deadline:
			t.Fatalf("after 60 s: %d of %d rules evaluated (%v)", evaluated, total, err)
		case <-tick.C:
		}
	}
}
