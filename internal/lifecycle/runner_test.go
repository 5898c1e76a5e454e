package lifecycle

import (
	"context"
	"errors"
	"testing"
)

// TestLoopsStopWaits: Stop ends a running loop's context and returns once
// the loop has returned; a loop entered afterwards does not run.
func TestLoopsStopWaits(t *testing.T) {
	var l Loops
	loop, exit, ok := l.Enter(context.Background())
	if !ok {
		t.Fatal("Enter before Stop: not ok")
	}
	returned := make(chan struct{})
	go func() {
		<-loop.Done()
		close(returned)
		exit()
	}()
	if err := l.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-returned:
	default:
		t.Fatal("Stop returned before the loop did")
	}
	if _, _, ok := l.Enter(context.Background()); ok {
		t.Error("Enter after Stop: ok")
	}
}

// TestLoopsStopHonoursContext: a loop that does not return leaves Stop
// waiting only until its context ends.
func TestLoopsStopHonoursContext(t *testing.T) {
	var l Loops
	_, exit, _ := l.Enter(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Stop(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Stop = %v, want context.Canceled", err)
	}
	exit()
}

// TestLoopsParentContext: a loop's context ends with its parent's too.
func TestLoopsParentContext(t *testing.T) {
	var l Loops
	parent, cancel := context.WithCancel(context.Background())
	loop, exit, _ := l.Enter(parent)
	defer exit()
	cancel()
	<-loop.Done()
}
