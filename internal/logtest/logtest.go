// Package logtest captures log output in tests.
package logtest

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
)

// Buffer is an io.Writer safe for concurrent writes, such as a logger's from
// background goroutines.
type Buffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	written chan struct{} // closed and replaced at every write
}

// New returns a text logger writing to a new Buffer, and the Buffer.
func New() (*slog.Logger, *Buffer) {
	b := &Buffer{}
	return slog.New(slog.NewTextHandler(b, nil)), b
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.written != nil {
		close(b.written)
		b.written = nil
	}
	return b.b.Write(p)
}

// WaitFor waits until what was written contains s, and reports whether it
// does: false when ctx ended first.
func (b *Buffer) WaitFor(ctx context.Context, s string) bool {
	for {
		b.mu.Lock()
		if strings.Contains(b.b.String(), s) {
			b.mu.Unlock()
			return true
		}
		if b.written == nil {
			b.written = make(chan struct{})
		}
		w := b.written
		b.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			return false
		}
	}
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Lines returns the number of complete lines written so far.
func (b *Buffer) Lines() int {
	return strings.Count(b.String(), "\n")
}
