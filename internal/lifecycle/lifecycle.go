package lifecycle

import "errors"

// ErrShutdown is returned by Shutdown after the first call, and by
// operations refused because their component was shut down.
var ErrShutdown = errors.New("vitals: already shut down")
