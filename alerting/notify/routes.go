package notify

import (
	"fmt"
	"slices"

	"github.com/vitalsgo/vitals/alerting"
)

// QueueRoutes returns copies of routes in which every notifier sits behind
// its own Queue, named "<route>/<index>" (a route without a name is named
// as the engine names it, "route<index>"), and the queues, which the
// caller shuts down after the engine. opts configure every queue.
func QueueRoutes(routes []alerting.Route, opts ...Option) ([]alerting.Route, []*Queue) {
	out := make([]alerting.Route, 0, len(routes))
	var queues []*Queue
	for i, r := range routes {
		if r.Name == "" {
			r.Name = fmt.Sprintf("route%d", i)
		}
		ns := slices.Clone(r.Notifiers)
		for j, n := range ns {
			q := NewQueue(n, fmt.Sprintf("%s/%d", r.Name, j), opts...)
			queues = append(queues, q)
			ns[j] = q
		}
		r.Notifiers = ns
		out = append(out, r)
	}
	return out, queues
}
