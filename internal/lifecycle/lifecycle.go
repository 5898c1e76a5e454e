package lifecycle

import "errors"

// ErrShutdown is returned by Shutdown after the first call, and by
// operations refused because their component was shut down.
var ErrShutdown = errors.New("vitals: already shut down")

// ErrStateTooLate is returned by a LoadState that comes after its
// component has started (collected, evaluated) or after another LoadState.
var ErrStateTooLate = errors.New("vitals: LoadState must come once, before the first collection or evaluation")

// ErrStateVersion is returned, wrapped with the version found, by a
// LoadState given a state of a format version it does not read.
var ErrStateVersion = errors.New("vitals: unsupported state version")
