//go:build race

package monitoring

// raceDetector reports whether the tests run with the race detector, under
// which sync.Pool drops what is put in it, so encoding/json allocates a new
// buffer for every value and allocation measurements do not hold.
const raceDetector = true
