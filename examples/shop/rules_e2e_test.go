package main

import (
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestRuleFilesLoadInPrometheus loads every committed rule file
// (docs/rules/*.yml: the default alerts and the shop's SLOs) into a real
// Prometheus scraping the shop, and waits until every rule has been
// evaluated without error.
func TestRuleFilesLoadInPrometheus(t *testing.T) {
	bin := lookBinary(t, "prometheus")
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
		abs = append(abs, a)
	}
	prom := startPrometheus(t, bin, startShop(t), abs...)
	client := &http.Client{Timeout: 5 * time.Second}
	pollUntil(t, 60*time.Second, "every rule to be evaluated", []*sideProcess{prom}, func() (bool, string) {
		var r promRuleList
		if err := getJSON(t.Context(), client, prom.url+"/api/v1/rules", &r); err != nil {
			return false, err.Error()
		}
		total, evaluated := 0, 0
		for _, g := range r.Data.Groups {
			for _, rule := range g.Rules {
				total++
				if rule.LastEvaluation.Year() > 1 {
					evaluated++
				}
			}
		}
		return total >= 40 && evaluated == total, fmt.Sprintf("%d of %d rules evaluated", evaluated, total)
	})
	if err := promRuleErrors(t.Context(), client, prom.url); err != nil {
		t.Fatal(err)
	}
}
