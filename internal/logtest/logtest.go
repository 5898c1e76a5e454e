// Package logtest captures log output in tests.
package logtest

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
)

// Buffer is an io.Writer safe for concurrent writes, such as a logger's from
// background goroutines.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
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
	return b.b.Write(p)
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
