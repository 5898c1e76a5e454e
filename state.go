package vitals

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/alerting/notify"
	"github.com/vitalsgo/vitals/exporter/memory"
	"github.com/vitalsgo/vitals/internal/lifecycle"
	"github.com/vitalsgo/vitals/internal/ratelog"
	"github.com/vitalsgo/vitals/internal/statefile"
)

// ScopeName is the instrumentation scope of the root package's own metrics.
const ScopeName = "github.com/vitalsgo/vitals"

// The metrics of the state directory (WithStateDir).
const (
	MetricStateSaves    = "vitals.state.saves"    // counter: state files saved
	MetricStateFailures = "vitals.state.failures" // counter: state files not saved, or corrupt or unreadable at start
)

// EnvStateDir is the environment variable that sets the state directory
// when WithStateDir is not given.
const EnvStateDir = "VITALS_STATE_DIR"

// DefaultStateInterval is how often the state is saved while the service
// runs, besides at Shutdown: what a crash (SIGKILL, OOM kill) can lose.
const DefaultStateInterval = time.Minute

// The files of a state directory.
const (
	stateAlertsFile = "alerts.state"
	stateMemoryFile = "memory.state"
	stateUnsentFile = "notifications.state"
)

// WithStateDir keeps what must survive a restart (alerts, silences,
// undelivered notifications, the in-memory metric history) in dir, a
// directory of this process's own: Start loads it, and it is saved every
// DefaultStateInterval and at Shutdown (see the package doc's State). By
// default, or with an empty dir, the directory is $VITALS_STATE_DIR, and
// without it nothing is written to disk.
func WithStateDir(dir string) Option {
	return optionFunc(func(c config) config {
		c.stateDir = dir
		return c
	})
}

// WithStateInterval sets how often the state is saved besides at
// Shutdown: at most what a crash loses. Start refuses an interval of zero or
// less. By default, DefaultStateInterval (1 min).
func WithStateInterval(d time.Duration) Option {
	return optionFunc(func(c config) config {
		c.stateInterval, c.stateIntervalSet = d, true
		return c
	})
}

// stateKeeper saves and loads the state files of a state directory.
type stateKeeper struct {
	dir    *statefile.Dir
	mem    *memory.Reader
	alerts *alerting.Engine
	queues []*notify.Queue
	logger *slog.Logger
	errs   *ratelog.Limiter
	fails  metric.Int64Counter
	saves  metric.Int64Counter

	loops lifecycle.Loops // run's
}

// openState opens the state directory cfg names, or returns nil when there
// is none.
func openState(cfg config) (*statefile.Dir, error) {
	dir := cfg.stateDir
	if dir == "" {
		dir = os.Getenv(EnvStateDir)
	}
	if dir == "" {
		return nil, nil
	}
	return statefile.Open(dir)
}

// newStateKeeper opens the state directory cfg names and returns the keeper
// of mem's, alerts' and queues' state in it, or nil when cfg names none.
func newStateKeeper(cfg config, mem *memory.Reader, alerts *alerting.Engine, queues []*notify.Queue, logger *slog.Logger, mp metric.MeterProvider) (*stateKeeper, error) {
	m := mp.Meter(ScopeName)
	fails, err := m.Int64Counter(MetricStateFailures,
		metric.WithUnit("{failure}"),
		metric.WithDescription("State files that could not be saved, or were found corrupt or unreadable at start, by file and operation."))
	if err != nil {
		return nil, err
	}
	saves, err := m.Int64Counter(MetricStateSaves,
		metric.WithUnit("{save}"),
		metric.WithDescription("State files saved."))
	if err != nil {
		return nil, err
	}
	// Last: nothing above holds the directory's lock if this fails.
	d, err := openState(cfg)
	if d == nil || err != nil {
		return nil, err
	}
	return &stateKeeper{
		dir: d, mem: mem, alerts: alerts, queues: queues, logger: logger, fails: fails, saves: saves,
		errs: ratelog.New(logger, "vitals: saving state failed", 0, nil),
	}, nil
}

// load restores what the directory holds. A missing file is a first
// start; a corrupt, truncated or newer one is logged, counted, moved aside
// (so that the next save does not overwrite the evidence) and skipped.
func (k *stateKeeper) load(ctx context.Context) {
	if k.mem != nil {
		k.loadFile(ctx, stateMemoryFile, "memory", memory.StateVersion, func(b []byte) error {
			return k.mem.LoadState(bytes.NewReader(b))
		})
	}
	if k.alerts != nil {
		k.loadFile(ctx, stateAlertsFile, "alerts", alerting.StateVersion, func(b []byte) error {
			return k.alerts.LoadState(bytes.NewReader(b))
		})
		// What the last run could not deliver goes out now. A notification
		// for a route that no longer exists, or that a full queue refuses,
		// is logged and counted; the file stays valid.
		k.loadFile(ctx, stateUnsentFile, "notifications", notify.StateVersion, func(b []byte) error {
			unsent, err := notify.LoadState(bytes.NewReader(b))
			if err != nil {
				return err
			}
			n, err := notify.RequeueUnsent(unsent, k.queues)
			if n > 0 {
				k.logger.Info("vitals: notifications left undelivered by the last run requeued", "notifications", n)
			}
			if err != nil {
				k.fails.Add(ctx, 1, metric.WithAttributes(fileAttr(stateUnsentFile), opAttr("requeue")))
				k.logger.Error("vitals: notifications left by the last run not requeued", "error", err)
			}
			return nil
		})
	}
}

func (k *stateKeeper) loadFile(ctx context.Context, name, kind string, version uint32, restore func([]byte) error) {
	path := k.dir.Path(name)
	payload, _, err := statefile.Read(path, kind, version)
	if errors.Is(err, statefile.ErrNotExist) {
		return
	}
	if err == nil {
		err = restore(payload)
		if err == nil {
			k.logger.Info("vitals: state loaded", "file", path)
			return
		}
	}
	k.fails.Add(ctx, 1, metric.WithAttributes(fileAttr(name), opAttr("load")))
	bad, qerr := statefile.Quarantine(path)
	k.logger.Error("vitals: state file skipped", "file", path, "error", err, "moved_to", bad, "move_error", qerr)
}

// save writes every state file once.
func (k *stateKeeper) save(ctx context.Context) error {
	var errs []error
	if k.mem != nil {
		errs = append(errs, k.saveFile(ctx, stateMemoryFile, "memory", memory.StateVersion, k.mem.SaveState))
	}
	if k.alerts != nil {
		errs = append(errs, k.saveFile(ctx, stateAlertsFile, "alerts", alerting.StateVersion, k.alerts.SaveState))
		errs = append(errs, k.saveFile(ctx, stateUnsentFile, "notifications", notify.StateVersion, func(w io.Writer) error {
			return notify.SaveState(w, k.queues)
		}))
	}
	return errors.Join(errs...)
}

func (k *stateKeeper) saveFile(ctx context.Context, name, kind string, version uint32, fill func(io.Writer) error) error {
	err := statefile.WriteFunc(k.dir.Path(name), kind, version, fill)
	if err != nil {
		k.fails.Add(ctx, 1, metric.WithAttributes(fileAttr(name), opAttr("save")))
		k.errs.Handle(err)
		return err
	}
	k.saves.Add(ctx, 1, metric.WithAttributes(fileAttr(name)))
	return nil
}

// run saves every interval until ctx is done or shutdown is called.
func (k *stateKeeper) run(ctx context.Context, every time.Duration) {
	ctx, exit, ok := k.loops.Enter(ctx)
	if !ok {
		return
	}
	defer exit()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = k.save(ctx)
		}
	}
}

// shutdown stops the periodic saves (waiting for one in progress within
// ctx), saves a last time and releases the directory. The last save is
// made even once ctx has ended: it writes local files only and takes
// milliseconds, and skipping it would lose what the process knows.
func (k *stateKeeper) shutdown(ctx context.Context) error {
	err := k.loops.Stop(ctx)
	err = errors.Join(err, k.save(context.WithoutCancel(ctx)))
	return errors.Join(err, k.dir.Close())
}

func fileAttr(name string) attribute.KeyValue { return attribute.String("file", name) }
func opAttr(op string) attribute.KeyValue     { return attribute.String("operation", op) }
