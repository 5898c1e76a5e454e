package statefile_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vitalsgo/vitals/internal/statefile"
)

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.state")
	if err := statefile.Write(path, "kind", 3, []byte("payload")); err != nil {
		t.Fatal(err)
	}
	got, v, err := statefile.Read(path, "kind", 3)
	if err != nil || v != 3 || string(got) != "payload" {
		t.Fatalf("Read = %q, %d, %v", got, v, err)
	}
	// Replacing leaves no temporary file.
	if err := statefile.Write(path, "kind", 3, []byte("second")); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d files after two writes, want 1", len(entries))
	}
}

func TestReadReportsWhatIsWrong(t *testing.T) {
	dir := t.TempDir()
	good := statefile.Encode("kind", 1, []byte("0123456789"))
	for _, tc := range []struct {
		name string
		data []byte
		want string // in the error; "" for ErrNotExist
		ver  bool
	}{
		{"missing", nil, "", false},
		{"empty", []byte{}, "not a Vitals state file", false},
		{"other kind", statefile.Encode("other", 1, []byte("x")), `holds "other", want "kind"`, false},
		{"truncated header", good[:len(good)-12], "truncated", false},
		{"truncated payload", good[:len(good)-1], "truncated: 9 of 10 bytes", false},
		{"trailing bytes", append(append([]byte{}, good...), 'x'), "1 bytes after the payload", false},
		{"bit flip", flip(good, len(good)-3), "checksum mismatch", false},
		{"newer version", statefile.Encode("kind", 2, []byte("x")), "format version 2; this version of Vitals reads up to 1", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			if tc.data != nil {
				if err := os.WriteFile(path, tc.data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, _, err := statefile.Read(path, "kind", 1)
			switch {
			case tc.want == "":
				if !errors.Is(err, statefile.ErrNotExist) {
					t.Errorf("err = %v, want ErrNotExist", err)
				}
			case err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path):
				t.Errorf("err = %v, want one naming %s and saying %q", err, path, tc.want)
			}
			var ce *statefile.CorruptError
			var ve *statefile.VersionError
			if tc.want != "" && !errors.As(err, &ce) && !errors.As(err, &ve) {
				t.Errorf("err = %T, want *CorruptError or *VersionError", err)
			}
			if tc.ver != errors.As(err, &ve) {
				t.Errorf("version error %v, want %v", errors.As(err, &ve), tc.ver)
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte{}, b...)
	c[i] ^= 0x10
	return c
}

func TestQuarantineKeepsEvidence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.state")
	for i := 1; i <= 2; i++ {
		if err := os.WriteFile(path, []byte("bad"), 0o600); err != nil {
			t.Fatal(err)
		}
		bad, err := statefile.Quarantine(path)
		if err != nil || !strings.HasSuffix(bad, ".bad-"+string(rune('0'+i))) {
			t.Fatalf("Quarantine = %q, %v", bad, err)
		}
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the bad file is still at its path")
	}
}

func TestOneProcessPerDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	d, err := statefile.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	// flock locks are per open file description: a second Open in the
	// same process conflicts as another process would.
	if _, err := statefile.Open(dir); err == nil || !strings.Contains(err.Error(), "is in use by another process (pid") {
		t.Errorf("second Open: %v, want an error naming the holder", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d2, err := statefile.Open(dir)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	d2.Close()
}

func TestOpenCleansInterruptedWrites(t *testing.T) {
	dir := t.TempDir()
	tmp := filepath.Join(dir, ".x.state.tmp-123")
	if err := os.WriteFile(tmp, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := statefile.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the interrupted write's temporary file is still there")
	}
}

func TestOpenUnwritable(t *testing.T) {
	if os.Geteuid() == 0 {
		// root writes anywhere; a file in the way fails for everyone.
		file := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(file, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := statefile.Open(filepath.Join(file, "state")); err == nil || !strings.Contains(err.Error(), file) {
			t.Errorf("Open under a file: %v, want an error naming it", err)
		}
		return
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	if _, err := statefile.Open(dir); err == nil || !strings.Contains(err.Error(), "is not writable") {
		t.Errorf("Open of a read-only directory: %v", err)
	}
}
