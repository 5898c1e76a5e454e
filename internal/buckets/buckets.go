// Package buckets holds the one list of histogram bucket boundaries that
// several packages share: the semantic conventions' advice for durations in
// seconds (http.server.request.duration and friends).
package buckets

// seconds is the semantic conventions' duration advice, in seconds.
var seconds = [...]float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// Seconds returns a copy of the semantic conventions' duration bucket
// boundaries, in seconds: 5 ms to 10 s.
func Seconds() []float64 {
	b := seconds
	return b[:]
}
