// Command shop is a small shop service instrumented with Vitals: products,
// users and orders in SQLite behind an LRU cache, every request timed, every
// order, registration, query and cache lookup counted, health checks,
// alert rules, the monitoring API and the dashboard.
//
//	go run ./examples/shop              # serves on 127.0.0.1:8080
//	go run ./examples/shop -load        # the demo: with generated traffic
//	go run ./examples/shop -addr :9090 -collect 1s -data ./data
//	go run ./examples/shop -collect 1s -retention 10m  # less history, less memory
//
// Set OTEL_EXPORTER_OTLP_ENDPOINT to push the same metrics to a collector.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/vitalsgo/vitals"
	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/alerting/notify"
	"github.com/vitalsgo/vitals/alerting/slo"
	"github.com/vitalsgo/vitals/bizmetrics"
	"github.com/vitalsgo/vitals/exporter/memory"
	"github.com/vitalsgo/vitals/instrument"
	"github.com/vitalsgo/vitals/monitoring"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, "shop:", err)
		os.Exit(1)
	}
}

// run serves the shop until ctx is done. ready, when not nil, is called with
// the address once the server listens.
// testHooks are set by tests only, before run: options for the HTTP
// middleware (a scripted clock) and routes of their own. The binary leaves
// them empty.
var testHooks struct {
	middleware []instrument.Option
	routes     func(*http.ServeMux)
}

func run(ctx context.Context, args []string, stdout io.Writer, ready func(addr string)) error {
	fs := flag.NewFlagSet("shop", flag.ContinueOnError)
	fs.SetOutput(stdout)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	collect := fs.Duration("collect", 2*time.Second, "how often the in-memory reader collects (the library default is 10s)")
	retention := fs.Duration("retention", 0, "how long the in-memory reader keeps samples (0: the library default, 6h)")
	rules := fs.String("rules", "", "a Prometheus rule file to evaluate in-process beside the built-in default rules (empty: the defaults only)")
	defaultRules := fs.Bool("default-rules", true, "evaluate the default alert rules built into Vitals")
	traceURL := fs.String("trace-url", os.Getenv("SHOP_TRACE_URL"), "address of a trace in the tracing backend, with {trace_id} where the ID goes, for the dashboard's links (default $SHOP_TRACE_URL)")
	adminToken := fs.String("admin-token", os.Getenv("SHOP_ADMIN_TOKEN"), "bearer token for the state-changing monitoring endpoints and /admin/fault (default $SHOP_ADMIN_TOKEN; empty disables them)")
	dataDir := fs.String("data", "", "directory of the SQLite database and of Vitals' state (silences, alerts, metric history: kept across restarts); default: a temporary directory, removed at exit")
	stateEvery := fs.Duration("state-every", 0, "how often Vitals saves its state in -data besides at exit (0: the library default, 1m)")
	outageTolerance := fs.Duration("for-outage-tolerance", alerting.DefaultOutageTolerance, "longest downtime after which pending and firing alerts are restored from -data (as Prometheus' --rules.alert.for-outage-tolerance)")
	forGrace := fs.Duration("for-grace-period", alerting.DefaultForGracePeriod, "least time a restored pending alert waits before firing (as Prometheus' --rules.alert.for-grace-period)")
	webhook := fs.String("alert-webhook", "", "also send alert notifications to this URL, in Alertmanager's webhook format (empty: alerts are only logged)")
	load := fs.Bool("load", false, "also generate traffic against the shop (realistic, with some 4xx, 5xx and slow requests)")
	rate := fs.Float64("rate", 20, "requests per second of -load")
	duration := fs.Duration("duration", 0, "how long -load runs (0: until interrupted)")
	if err := fs.Parse(args); err != nil {
		return err
	}

	memOpts := []memory.Option{memory.WithInterval(*collect)}
	if *retention > 0 {
		memOpts = append(memOpts, memory.WithRetention(*retention))
	}
	opts := []vitals.Option{
		vitals.WithServiceName("shop"),
		vitals.WithMemory(memOpts...),
		vitals.WithBizMetrics(bizmetrics.WithNamespace("shop"),
			bizmetrics.WithAmountBoundaries(5, 10, 25, 50, 100, 250, 500, 1000)),
		vitals.WithSLOs(shopSLOs()...),
		vitals.WithAlerting(alerting.WithOutageTolerance(*outageTolerance), alerting.WithForGracePeriod(*forGrace)),
	}
	if *rules != "" {
		opts = append(opts, vitals.WithAlertRuleFiles(*rules))
	}
	if !*defaultRules {
		opts = append(opts, vitals.WithoutDefaultAlertRules())
	}
	if *traceURL != "" {
		opts = append(opts, vitals.WithTraceURL(*traceURL))
	}
	if *adminToken != "" {
		opts = append(opts, vitals.WithAdminToken(*adminToken))
	}
	if *webhook != "" {
		opts = append(opts, vitals.WithAlertRoutes(
			alerting.Route{Name: "log", Notifiers: []alerting.Notifier{notify.Log(slog.Default())}},
			alerting.Route{Name: "webhook", Notifiers: []alerting.Notifier{&notify.Webhook{URL: *webhook}}},
		))
	}
	if *dataDir != "" {
		// What must survive a restart lives beside the database.
		opts = append(opts, vitals.WithStateDir(filepath.Join(*dataDir, "state")))
		if *stateEvery != 0 {
			opts = append(opts, vitals.WithStateInterval(*stateEvery))
		}
	}
	v, err := vitals.Start(ctx, opts...)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := v.Shutdown(sctx); err != nil {
			slog.Warn("shutting down vitals", "error", err)
		}
	}()

	dir := *dataDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "shop-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	st, err := openStore(ctx, dir, v.BizMetrics())
	if err != nil {
		return err
	}
	defer st.close()
	s := &shop{st: st, biz: v.BizMetrics(), chaos: *load}
	if err := registerChecks(v, st); err != nil {
		return err
	}
	mux := http.NewServeMux()
	s.routes(mux)
	if testHooks.routes != nil {
		testHooks.routes(mux)
	}
	if *adminToken != "" {
		auth := monitoring.BearerToken(*adminToken)
		mux.HandleFunc("POST /admin/fault", func(w http.ResponseWriter, r *http.Request) {
			if !auth(r) {
				writeError(w, http.StatusUnauthorized, "admin token required")
				return
			}
			d, err := time.ParseDuration(r.URL.Query().Get("duration"))
			if err != nil || d <= 0 || d > time.Hour {
				writeError(w, http.StatusBadRequest, "duration must be a Go duration up to 1h, e.g. ?duration=30s")
				return
			}
			s.failUntil.Store(time.Now().Add(d).UnixNano())
			writeJSON(w, http.StatusOK, map[string]string{"failing_until": time.Now().Add(d).UTC().Format(time.RFC3339)})
		})
	}
	mux.Handle("/", v.Handler()) // /metrics, /livez, /readyz, /healthz, /monitoring/

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "shop listening on %s\n", base)
	fmt.Fprintf(stdout, "  GET  %s/monitoring/                 the dashboard\n", base)
	fmt.Fprintf(stdout, "  GET  %s/products\n", base)
	fmt.Fprintf(stdout, "  GET  %s/products/{id}\n", base)
	fmt.Fprintf(stdout, "  POST %s/users    {\"email\":\"ada@example.com\",\"source\":\"web\"}\n", base)
	fmt.Fprintf(stdout, "  POST %s/orders   {\"product_id\":1,\"quantity\":2,\"currency\":\"EUR\"}\n", base)
	fmt.Fprintf(stdout, "  GET  %s/orders/{id}\n", base)
	fmt.Fprintf(stdout, "  GET  %s/metrics\n", base)
	fmt.Fprintf(stdout, "  GET  %s/monitoring/api/query?query=sum(rate(shop_orders_placed_total[1m]))\n", base)
	fmt.Fprintf(stdout, "  GET  %s/monitoring/api/performance\n", base)
	fmt.Fprintf(stdout, "  GET  %s/monitoring/api/alerts\n", base)
	fmt.Fprintf(stdout, "  GET  %s/livez  %s/readyz  %s/healthz\n", base, base, base)

	srv := &http.Server{Handler: v.Middleware(mux, testHooks.middleware...), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if ready != nil {
		ready(ln.Addr().String())
	}
	if *load {
		go generateLoad(ctx, base, *rate, *duration, stdout)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// shopSLOs are the shop's service level objectives; their Prometheus rules
// are committed as docs/rules/shop-slos.yml (see docs/slos.md).
func shopSLOs() []slo.SLO {
	availability := slo.HTTPAvailability("availability", 99.9, "")
	latency := slo.HTTPLatency("latency", 99, 250*time.Millisecond, "")
	availability.Service, latency.Service = "shop", "shop"
	return []slo.SLO{availability, latency}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
