package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/alerting/notify"
)

// A Webhook behind a Queue: Notify returns at once, the queue delivers
// the Alertmanager webhook payload from its own goroutine, and Shutdown
// waits for what is queued.
func ExampleNewQueue() {
	received := make(chan string, 1)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var msg struct {
			Version string `json:"version"`
			Status  string `json:"status"`
			Alerts  []struct {
				Labels map[string]string `json:"labels"`
			} `json:"alerts"`
		}
		_ = json.NewDecoder(r.Body).Decode(&msg)
		received <- fmt.Sprint("received version ", msg.Version, " ", msg.Status, " ", msg.Alerts[0].Labels["alertname"])
	}))
	defer receiver.Close()

	q := notify.NewQueue(&notify.Webhook{URL: receiver.URL, BearerToken: "token"}, "ops-webhook")
	err := q.Notify(context.Background(), []alerting.Alert{{
		Labels:   map[string]string{"alertname": "HighErrorRate", "severity": "critical"},
		State:    alerting.StateFiring,
		StartsAt: time.Now(),
	}})
	fmt.Println("enqueued:", err == nil)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.Shutdown(ctx); err != nil {
		fmt.Println(err)
	}
	// Printed here, not in the handler, which may run before "enqueued".
	fmt.Println(<-received)
	// Output:
	// enqueued: true
	// received version 4 firing HighErrorRate
}
