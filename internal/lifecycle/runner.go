package lifecycle

import (
	"context"
	"sync"
)

// Loops lets a component's Shutdown stop the loops its Run methods run and
// wait for them to return. The zero value is ready to use.
type Loops struct {
	init   sync.Once
	stop   context.Context // done once Stop is called
	cancel context.CancelFunc
	// Each running loop holds a read lock; Stop takes the write lock once
	// they have all returned.
	running sync.RWMutex
}

func (l *Loops) lazyInit() {
	l.init.Do(func() { l.stop, l.cancel = context.WithCancel(context.Background()) })
}

// Enter starts a loop: it returns a context derived from ctx that ends when
// Stop is called, and the function to call when the loop returns. ok is
// false, and the loop must not run, once Stop was called.
func (l *Loops) Enter(ctx context.Context) (loop context.Context, exit func(), ok bool) {
	l.lazyInit()
	l.running.RLock()
	if l.stop.Err() != nil {
		l.running.RUnlock()
		return nil, nil, false
	}
	loop, cancel := context.WithCancel(ctx)
	unwatch := context.AfterFunc(l.stop, cancel)
	return loop, func() {
		unwatch()
		cancel()
		l.running.RUnlock()
	}, true
}

// Stop ends the context of every loop and waits for them to return, or
// for ctx to end (then it returns ctx's error; the loops still stop).
func (l *Loops) Stop(ctx context.Context) error {
	l.lazyInit()
	l.cancel()
	done := make(chan struct{})
	go func() {
		l.running.Lock()
		l.running.Unlock() // empty on purpose: it waits for the loops' read locks
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
