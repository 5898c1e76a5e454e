package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"
)

// generateLoad sends realistic traffic to base at rate requests per second
// until ctx is done or duration has passed (0: no limit): product reads
// (some for missing products), registrations (some invalid or repeated) and
// orders in several currencies (some invalid), printing a progress line
// every five seconds.
func generateLoad(ctx context.Context, base string, rate float64, duration time.Duration, out io.Writer) {
	if rate <= 0 {
		rate = 20
	}
	if duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, duration)
		defer cancel()
	}
	client := &http.Client{Timeout: 10 * time.Second}
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	progress := time.NewTicker(5 * time.Second)
	defer progress.Stop()
	var sent, failed atomic.Int64
	start := time.Now()
	currencies := []string{"EUR", "EUR", "EUR", "USD", "GBP", "JPY"}
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			fmt.Fprintf(out, "load: done, %d requests in %v (%d client errors)\n", sent.Load(), time.Since(start).Round(time.Second), failed.Load())
			return
		case <-progress.C:
			fmt.Fprintf(out, "load: %d requests, %.1f/s\n", sent.Load(), float64(sent.Load())/time.Since(start).Seconds())
		case <-tick.C:
			var method, path, body string
			switch n := rand.IntN(100); {
			case n < 45:
				method, path = http.MethodGet, fmt.Sprintf("/products/%d", 1+rand.IntN(6)) // 6 is missing: 404s
			case n < 55:
				method, path = http.MethodGet, "/products"
			case n < 65:
				method, path = http.MethodPost, "/users"
				body = fmt.Sprintf(`{"email":"user%d@example.com","source":"%s"}`, rand.IntN(5000), []string{"web", "mobile", "api", "partner", "fax"}[rand.IntN(5)])
			case n < 95:
				method, path = http.MethodPost, "/orders"
				body = fmt.Sprintf(`{"product_id":%d,"quantity":%d,"currency":"%s"}`, 1+rand.IntN(5), 1+rand.IntN(4), currencies[rand.IntN(len(currencies))])
				if rand.IntN(20) == 0 {
					body = `{"product_id":1,"quantity":0,"currency":"EUR"}` // invalid: 400
				}
			default:
				method, path = http.MethodGet, fmt.Sprintf("/orders/%d", 1+rand.IntN(i+1))
			}
			go func() {
				req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewBufferString(body))
				if err != nil {
					return
				}
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				sent.Add(1)
				if err != nil {
					failed.Add(1)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}()
		}
	}
}
