package memory

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// Appender writes samples computed outside the MeterProvider, such as the
// results of recording rules, into the reader, where queries see them
// beside the collected series. Each Append is one point in time for every
// sample it carries; series missing from an Append are marked stale, as
// for collections. An Appender has its own bounded store (the reader's
// retention and series limit, one value per Append). It is safe for
// concurrent use.
type Appender struct {
	r         *Reader
	st        *store
	retention time.Duration
	name      string // "" for an unnamed appender
}

// NewAppender returns an appender whose samples arrive every interval
// (this sizes its store to the reader's retention).
func (r *Reader) NewAppender(interval time.Duration) *Appender {
	return r.NewNamedAppender("", interval, 0)
}

// NewNamedAppender is NewAppender with a retention of its own (0 is the
// reader's), for series that need a longer history than the collected ones
// at a coarser resolution (an SLO's error ratio over 30 days, say), and a
// name that identifies the appender's series across a restart: SaveState
// saves the store of every named appender under its name, and LoadState gives
// it back to the appender of that name created before LoadState is called (a
// rule group's name, say). An appender named "" is not saved.
func (r *Reader) NewNamedAppender(name string, interval, retention time.Duration) *Appender {
	if interval <= 0 {
		interval = r.cfg.interval
	}
	if retention == 0 {
		retention = r.cfg.retention
	}
	if retention < interval {
		retention = interval
	}
	a := &Appender{r: r, st: newStore(retention.Milliseconds(), r.cfg.maxSeries), retention: retention, name: name}
	r.appMu.Lock()
	r.appenders = append(r.appenders, a.st)
	if name != "" {
		if r.named == nil {
			r.named = make(map[string]*Appender)
		}
		r.named[name] = a
	}
	r.appMu.Unlock()
	return a
}

// Append stores v, a set of samples with their full label sets (a metric
// name included), at t. Times must increase from one Append to the next.
// Samples beyond the series limit are dropped and counted.
func (a *Appender) Append(t time.Time, v Vector) error {
	now := t.UnixMilli()
	st := a.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if last, ok := st.lastTime(); ok && now <= last {
		return fmt.Errorf("%w: %d ms after %d ms", ErrCollectOrder, now, last)
	}
	st.begin(now)
	var dropped int64
	var errs []error
	for _, s := range v {
		if s.H != nil {
			errs = append(errs, fmt.Errorf("memory: %s: native histogram samples are not stored", s.Metric))
			continue
		}
		if s.Metric.Get(labels.MetricName) == "" {
			errs = append(errs, fmt.Errorf("memory: sample %s has no metric name", s.Metric))
			continue
		}
		ser := st.get(s.Metric, s.Metric.Hash())
		if ser == nil {
			dropped++
			continue
		}
		ser.appendFloat(now, s.F)
		st.touch(ser, now)
	}
	st.end(now)
	a.r.dropped.Add(dropped)
	return errors.Join(errs...)
}
