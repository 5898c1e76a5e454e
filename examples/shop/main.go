// Command shop is a small shop service instrumented with Vitals: it serves a
// product catalogue, takes orders, and exposes its metrics on /metrics.
//
//	go run ./examples/shop              # serves on 127.0.0.1:8080
//	go run ./examples/shop -addr :9090 -collect 1s
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
	"regexp"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/vitalsgo/vitals"
	"github.com/vitalsgo/vitals/exporter/memory"
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
func run(ctx context.Context, args []string, stdout io.Writer, ready func(addr string)) error {
	fs := flag.NewFlagSet("shop", flag.ContinueOnError)
	fs.SetOutput(stdout)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	collect := fs.Duration("collect", 2*time.Second, "how often the in-memory reader collects (the library default is 10s)")
	rules := fs.String("rules", "docs/rules/vitals-alerts.yml", "Prometheus rule file to evaluate in-process (empty: none)")
	adminToken := fs.String("admin-token", os.Getenv("SHOP_ADMIN_TOKEN"), "bearer token for the state-changing monitoring endpoints and /admin/fault (default $SHOP_ADMIN_TOKEN; empty disables them)")
	if err := fs.Parse(args); err != nil {
		return err
	}

	opts := []vitals.Option{vitals.WithServiceName("shop"), vitals.WithMemory(memory.WithInterval(*collect))}
	if *rules != "" {
		if _, err := os.Stat(*rules); err == nil {
			opts = append(opts, vitals.WithAlertRuleFiles(*rules))
		} else {
			slog.Warn("alert rules not loaded", "file", *rules, "error", err)
		}
	}
	if *adminToken != "" {
		opts = append(opts, vitals.WithAuthorizer(vitals.BearerToken(*adminToken)))
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

	s, err := newShop(v.Meter("github.com/vitalsgo/vitals/examples/shop"))
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	s.routes(mux)
	if *adminToken != "" {
		auth := vitals.BearerToken(*adminToken)
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
	mux.Handle("GET /metrics", v.Handler())
	mux.Handle("/monitoring/", v.Handler())
	for _, p := range []string{"/livez", "/readyz", "/healthz"} {
		mux.Handle(p, v.Handler())
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "shop listening on %s\n", base)
	fmt.Fprintf(stdout, "  GET  %s/products\n", base)
	fmt.Fprintf(stdout, "  GET  %s/products/{id}\n", base)
	fmt.Fprintf(stdout, "  POST %s/orders   {\"product_id\":1,\"quantity\":2,\"currency\":\"EUR\"}\n", base)
	fmt.Fprintf(stdout, "  GET  %s/metrics\n", base)
	fmt.Fprintf(stdout, "  GET  %s/monitoring/api/query?query=sum(rate(shop_orders_total[1m]))\n", base)
	fmt.Fprintf(stdout, "  GET  %s/monitoring/api/alerts\n", base)
	fmt.Fprintf(stdout, "  GET  %s/livez  %s/readyz  %s/healthz\n", base, base, base)

	srv := &http.Server{Handler: v.Middleware(mux), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if ready != nil {
		ready(ln.Addr().String())
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

type product struct {
	ID    int     `json:"id"`
	Name  string  `json:"name"`
	Price float64 `json:"price"`
}

type shop struct {
	// failUntil, a Unix time in nanoseconds, makes orders fail with 503
	// until then: a scripted fault (POST /admin/fault).
	failUntil atomic.Int64
	products  map[int]product
	orders    metric.Int64Counter
	amount    metric.Float64Histogram
}

func newShop(m metric.Meter) (*shop, error) {
	orders, err := m.Int64Counter("shop.orders",
		metric.WithUnit("{order}"), metric.WithDescription("Orders placed, by currency."))
	if err != nil {
		return nil, err
	}
	amount, err := m.Float64Histogram("shop.order.amount",
		metric.WithUnit("{currency_unit}"), metric.WithDescription("Order amounts."),
		metric.WithExplicitBucketBoundaries(5, 10, 25, 50, 100, 250, 500, 1000))
	if err != nil {
		return nil, err
	}
	return &shop{
		products: map[int]product{
			1: {1, "Espresso beans 1 kg", 24.90},
			2: {2, "Hand grinder", 89.00},
			3: {3, "Milk jug", 12.50},
		},
		orders: orders,
		amount: amount,
	}, nil
}

func (s *shop) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /products", s.listProducts)
	mux.HandleFunc("GET /products/{id}", s.getProduct)
	mux.HandleFunc("POST /orders", s.placeOrder)
}

func (s *shop) listProducts(w http.ResponseWriter, _ *http.Request) {
	list := make([]product, 0, len(s.products))
	for id := 1; id <= len(s.products); id++ {
		list = append(list, s.products[id])
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *shop) getProduct(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "product id must be a number")
		return
	}
	p, ok := s.products[id]
	if !ok {
		writeError(w, http.StatusNotFound, "no such product")
		return
	}
	writeJSON(w, http.StatusOK, p)
}

var currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)

func (s *shop) placeOrder(w http.ResponseWriter, r *http.Request) {
	if time.Now().UnixNano() < s.failUntil.Load() {
		writeError(w, http.StatusServiceUnavailable, "orders are unavailable (injected fault)")
		return
	}
	var req struct {
		ProductID int    `json:"product_id"`
		Quantity  int    `json:"quantity"`
		Currency  string `json:"currency"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return
	}
	p, ok := s.products[req.ProductID]
	switch {
	case !ok:
		writeError(w, http.StatusBadRequest, "unknown product_id")
		return
	case req.Quantity < 1 || req.Quantity > 100:
		writeError(w, http.StatusBadRequest, "quantity must be between 1 and 100")
		return
	case !currencyCode.MatchString(req.Currency):
		writeError(w, http.StatusBadRequest, "currency must be a three-letter ISO 4217 code")
		return
	}
	total := p.Price * float64(req.Quantity)
	attrs := metric.WithAttributeSet(attribute.NewSet(attribute.String("currency", req.Currency)))
	s.orders.Add(r.Context(), 1, attrs)
	s.amount.Record(r.Context(), total, attrs)
	writeJSON(w, http.StatusCreated, map[string]any{"product_id": p.ID, "quantity": req.Quantity, "total": total, "currency": req.Currency})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
