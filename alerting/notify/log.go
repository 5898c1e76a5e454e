package notify

import (
	"context"
	"log/slog"

	"github.com/vitalsgo/vitals/alerting"
)

// Log returns a notifier that writes one structured line per alert
// to logger (slog.Default() when nil): message "alert", level WARN while
// firing and INFO once resolved, with the attributes alertname, state,
// labels (a group of the other labels), summary (the annotation), starts_at
// and, once resolved, ends_at. vitals.Start routes every alert to it when
// no route is configured. It never fails.
func Log(logger *slog.Logger) alerting.NotifierFunc {
	if logger == nil {
		logger = slog.Default()
	}
	return func(ctx context.Context, alerts []alerting.Alert) error {
		for _, a := range alerts {
			level := slog.LevelInfo
			if a.State == alerting.StateFiring {
				level = slog.LevelWarn
			}
			if !logger.Enabled(ctx, level) {
				continue
			}
			labels := make([]any, 0, len(a.Labels))
			for _, k := range notifySortedKeys(a.Labels) {
				if k != "alertname" {
					labels = append(labels, slog.String(k, a.Labels[k]))
				}
			}
			attrs := []slog.Attr{
				slog.String("alertname", a.Name()),
				slog.String("state", a.State.String()),
				slog.Group("labels", labels...),
				slog.String("summary", a.Annotations["summary"]),
				slog.Time("starts_at", a.StartsAt),
			}
			if a.State != alerting.StateFiring && !a.EndsAt.IsZero() {
				attrs = append(attrs, slog.Time("ends_at", a.EndsAt))
			}
			logger.LogAttrs(ctx, level, "alert", attrs...)
		}
		return nil
	}
}
