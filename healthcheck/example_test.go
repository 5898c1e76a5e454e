package healthcheck_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/vitalsgo/vitals/healthcheck"
)

func ExampleRegistry() {
	reg, err := healthcheck.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer reg.Shutdown(context.Background())

	_ = reg.Register("db", healthcheck.CheckFunc(func(context.Context) error {
		return errors.New("dial tcp 10.0.0.5:5432: connection refused")
	}), healthcheck.WithTimeout(2*time.Second))
	_ = reg.Register("cache", healthcheck.CheckFunc(func(context.Context) error { return nil }), healthcheck.WithoutCritical())

	rec := httptest.NewRecorder()
	healthcheck.Handler(reg, healthcheck.Readiness).ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	fmt.Println(rec.Code)
	fmt.Print(rec.Body.String()) // names and statuses only: no authorizer
	// Output:
	// 503
	// {"status":"fail","checks":{"cache":[{"status":"pass"}],"db":[{"status":"fail"}]}}
}
