package monitoring

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/vitalsgo/vitals/alerting"
)

// TestSilenceExpireStatus: DELETE of an unknown silence is 404, of one
// already expired 400; before, every error of Expire was 404.
func TestSilenceExpireStatus(t *testing.T) {
	v := startForSilences(t)
	id, err := v.Alerts().Silences().Add(alerting.Silence{
		Matchers:  []alerting.Matcher{{Name: "alertname", Value: "X", IsEqual: true}},
		EndsAt:    time.Now().Add(time.Hour),
		CreatedBy: "ops",
		Comment:   "deploy",
	})
	if err != nil {
		t.Fatal(err)
	}
	del := func(id string) int {
		req := httptest.NewRequest(http.MethodDelete, "/monitoring/api/silences/"+id, nil)
		req.Header.Set("Authorization", "Bearer tok")
		rec := httptest.NewRecorder()
		v.Handler().ServeHTTP(rec, req)
		return rec.Code
	}
	for _, tc := range []struct {
		id   string
		want int
	}{{id, http.StatusOK}, {id, http.StatusBadRequest}, {"no-such-silence", http.StatusNotFound}} {
		if got := del(tc.id); got != tc.want {
			t.Errorf("DELETE %s: %d, want %d", tc.id, got, tc.want)
		}
	}
}
