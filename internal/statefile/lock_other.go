//go:build !unix

package statefile

import "os"

// lockFile does not lock on systems without flock: one process per state
// directory is then up to the deployment.
func lockFile(*os.File) error { return nil }

func unlockFile(*os.File) error { return nil }

// syncDir does nothing where directories cannot be synced.
func syncDir(string) error { return nil }
