package instrument_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/vitalsgo/vitals/instrument"
)

func ExampleMiddleware() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "order", r.PathValue("id"), "request", instrument.RequestID(r.Context()))
	})
	// With vitals, v.Middleware(mux) passes the provider; here the OTel
	// global one is used.
	h := instrument.Middleware(mux)

	req := httptest.NewRequest("GET", "/orders/42", nil)
	req.Header.Set(instrument.RequestIDHeader, "abc-123")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Print(rec.Body.String())
	fmt.Println(rec.Header().Get(instrument.RequestIDHeader))
	// Output:
	// order 42 request abc-123
	// abc-123
}

func ExampleNormalizePath() {
	fmt.Println(instrument.NormalizePath("/users/123/orders/9f1c2b6e-1d2a-4c3b-8f00-0123456789ab"))
	// Output: /users/{id}/orders/{uuid}
}
