// Package statefile writes and reads the files of Vitals' state directory
// (vitals.WithStateDir): what must survive a restart of the service, such as
// silences, alert state and the in-memory metric history.
//
// Every write is crash-safe: the content goes to a temporary file in the
// same directory, which is synced and renamed over the old file, and the
// directory is synced, so that after a crash at any point the file is
// either the old one or the new one, whole. Every file is versioned and
// checksummed: a reader tells a missing file (ErrNotExist) from a truncated
// or corrupt one (*CorruptError) and from one written by a newer Vitals
// (*VersionError), so that a service starts with what is valid and reports
// the rest rather than loading garbage or crashing.
//
// One process at a time owns a directory: Open takes an exclusive lock on
// it.
package statefile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// magic starts every state file.
const magic = "VITALS-STATE\n"

// MaxSize bounds the payload of a state file that Read accepts, so that a
// corrupt length cannot make it allocate without bound.
const MaxSize = 1 << 30

// ErrNotExist is returned by Read for a file that does not exist: nothing
// was saved yet.
var ErrNotExist = fs.ErrNotExist

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// CorruptError reports a state file that is truncated, has a bad checksum
// or is not a state file of the expected kind.
type CorruptError struct {
	Path   string
	Reason string
}

// Error names the file and what is wrong with it.
func (e *CorruptError) Error() string {
	return fmt.Sprintf("state file %s is corrupt: %s", e.Path, e.Reason)
}

// VersionError reports a state file written in a format version newer than
// this code reads.
type VersionError struct {
	Path     string
	Version  uint32
	Readable uint32
}

// Error names the file and both versions.
func (e *VersionError) Error() string {
	return fmt.Sprintf("state file %s has format version %d; this version of Vitals reads up to %d", e.Path, e.Version, e.Readable)
}

// Encode returns the bytes of a state file: the magic line, the kind (a
// short name such as "silences") and its format version, the payload's
// length and CRC-32C, and the payload.
func Encode(kind string, version uint32, payload []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(magic) + len(kind) + 1 + 16 + len(payload))
	b.WriteString(magic)
	b.WriteString(kind)
	b.WriteByte('\n')
	var hdr [16]byte
	binary.BigEndian.PutUint32(hdr[0:], version)
	binary.BigEndian.PutUint64(hdr[4:], uint64(len(payload)))
	binary.BigEndian.PutUint32(hdr[12:], crc32.Checksum(payload, crcTable))
	b.Write(hdr[:])
	b.Write(payload)
	return b.Bytes()
}

// Decode checks data, the bytes of a state file at path, and returns its
// payload and version. It fails with *CorruptError or *VersionError.
func Decode(path, kind string, readable uint32, data []byte) ([]byte, uint32, error) {
	corrupt := func(reason string) ([]byte, uint32, error) {
		return nil, 0, &CorruptError{Path: path, Reason: reason}
	}
	rest, ok := bytes.CutPrefix(data, []byte(magic))
	if !ok {
		return corrupt("not a Vitals state file")
	}
	name, rest, ok := bytes.Cut(rest, []byte{'\n'})
	if !ok || string(name) != kind {
		return corrupt(fmt.Sprintf("holds %q, want %q", truncate(string(name), 40), kind))
	}
	if len(rest) < 16 {
		return corrupt("truncated header")
	}
	version := binary.BigEndian.Uint32(rest[0:])
	n := binary.BigEndian.Uint64(rest[4:])
	sum := binary.BigEndian.Uint32(rest[12:])
	if version > readable {
		return nil, version, &VersionError{Path: path, Version: version, Readable: readable}
	}
	payload := rest[16:]
	switch {
	case n > MaxSize:
		return corrupt(fmt.Sprintf("payload length %d is over the %d limit", n, MaxSize))
	case uint64(len(payload)) < n:
		return corrupt(fmt.Sprintf("truncated: %d of %d bytes", len(payload), n))
	case uint64(len(payload)) > n:
		return corrupt(fmt.Sprintf("%d bytes after the payload", uint64(len(payload))-n))
	case crc32.Checksum(payload, crcTable) != sum:
		return corrupt("checksum mismatch")
	}
	return payload, version, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Write replaces the file at path with a state file of kind, version and
// payload, crash-safely: a temporary file beside it, synced, renamed over
// it, and the directory synced.
func Write(path, kind string, version uint32, payload []byte) error {
	return WriteFunc(path, kind, version, func(w io.Writer) error {
		_, err := w.Write(payload)
		return err
	})
}

// WriteFunc is Write with the payload written by fill, for payloads too
// large to build in memory first (a metric history snapshot). fill's
// bytes are buffered to compute the checksum before the header is written.
func WriteFunc(path, kind string, version uint32, fill func(io.Writer) error) (err error) {
	var payload bytes.Buffer
	if err := fill(&payload); err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(Encode(kind, version, payload.Bytes())); err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	return syncDir(dir)
}

// Read reads the state file at path, which must hold kind in a format
// version up to readable. A missing file is ErrNotExist (check with
// errors.Is); a bad one is *CorruptError or *VersionError.
func Read(path, kind string, readable uint32) ([]byte, uint32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+int64(len(magic))+int64(len(kind))+1+16+1))
	if err != nil {
		return nil, 0, fmt.Errorf("state file %s: %w", path, err)
	}
	return Decode(path, kind, readable, data)
}

// Quarantine renames a file that could not be read to path + ".bad-N", so
// that the next write does not overwrite the evidence, and returns the new
// name.
func Quarantine(path string) (string, error) {
	for i := 1; i < 1000; i++ {
		bad := fmt.Sprintf("%s.bad-%d", path, i)
		if _, err := os.Lstat(bad); errors.Is(err, fs.ErrNotExist) {
			return bad, os.Rename(path, bad)
		}
	}
	return "", fmt.Errorf("state file %s: too many quarantined copies", path)
}

// Dir is a state directory owned by this process.
type Dir struct {
	path string
	lock *os.File
}

// lockName is the lock file in a state directory.
const lockName = "LOCK"

// Open creates the directory at path if needed (mode 0700) and takes its
// lock. It fails if the directory cannot be created or written, or if
// another process holds it: one process per state directory.
func Open(path string) (*Dir, error) {
	if strings.TrimSpace(path) == "" {
		return nil, errors.New("state directory: empty path")
	}
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, fmt.Errorf("state directory %s: %w", path, err)
	}
	probe, err := os.CreateTemp(path, ".write-test-*")
	if err != nil {
		return nil, fmt.Errorf("state directory %s is not writable: %w", path, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	f, err := os.OpenFile(filepath.Join(path, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state directory %s: %w", path, err)
	}
	if err := lockFile(f); err != nil {
		owner, _ := io.ReadAll(io.LimitReader(f, 64))
		f.Close()
		msg := fmt.Sprintf("state directory %s is in use by another process", path)
		if pid := strings.TrimSpace(string(owner)); pid != "" {
			msg += " (pid " + pid + ")"
		}
		return nil, fmt.Errorf("%s: each process needs a state directory of its own: %w", msg, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(fmt.Sprintf("%d\n", os.Getpid())), 0)
	}
	// Temporary files of writes that a crash interrupted: the lock says
	// nobody is writing them any more.
	if tmps, err := filepath.Glob(filepath.Join(path, ".*.tmp-*")); err == nil {
		for _, t := range tmps {
			_ = os.Remove(t)
		}
	}
	return &Dir{path: path, lock: f}, nil
}

// Path returns the path of the file name in the directory.
func (d *Dir) Path(name string) string { return filepath.Join(d.path, name) }

// String returns the directory's path.
func (d *Dir) String() string { return d.path }

// Close releases the directory's lock.
func (d *Dir) Close() error {
	if d == nil || d.lock == nil {
		return nil
	}
	err := unlockFile(d.lock)
	return errors.Join(err, d.lock.Close())
}
