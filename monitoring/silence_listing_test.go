package monitoring

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/exporter/memory"
)

// startForSilences starts a Vitals whose mutations need the token "tok".
func startForSilences(t testing.TB) *env {
	t.Helper()
	return newEnv(t, withAuthorizer(BearerToken("tok")), withMemory(memory.WithInterval(time.Hour)))
}

// maximalSilence is silence i with every text field at its limit, all of
// it a control character that JSON writes as six bytes (\u0001): the
// largest listing entry the limits admit.
func maximalSilence(i int) alerting.Silence {
	fill := func(prefix string, n int) string { return prefix + strings.Repeat("\x01", n-len(prefix)) }
	s := alerting.Silence{
		EndsAt:    time.Now().Add(time.Hour),
		CreatedBy: fill(fmt.Sprint(i), alerting.MaxSilenceCreatedByLength),
		Comment:   fill("c", alerting.MaxSilenceCommentLength),
	}
	for j := range alerting.MaxMatchersPerSilence {
		s.Matchers = append(s.Matchers, alerting.Matcher{
			Name:    fill(fmt.Sprintf("%d-%d", i, j), alerting.MaxMatcherNameLength),
			Value:   fill("v", alerting.MaxMatcherValueLength),
			IsEqual: true,
		})
	}
	return s
}

// maxSilenceText is the text of a maximal silence, in bytes.
const maxSilenceText = alerting.MaxMatchersPerSilence*(alerting.MaxMatcherNameLength+alerting.MaxMatcherValueLength) +
	alerting.MaxSilenceCreatedByLength + alerting.MaxSilenceCommentLength

// discardWriter is a ResponseWriter that counts the body and keeps none
// of it, so that what a handler allocates can be measured alone.
type discardWriter struct {
	header http.Header
	code   int
	n      int64
}

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }
func (w *discardWriter) Write(b []byte) (int, error) { w.n += int64(len(b)); return len(b), nil }

// fillSilences adds MaxSilences maximal silences to v.
func fillSilences(t testing.TB, v *env) {
	t.Helper()
	for i := range alerting.MaxSilences {
		if _, err := v.Alerts().Silences().Add(maximalSilence(i)); err != nil {
			t.Fatalf("silence %d: %v", i, err)
		}
	}
}

// TestSilenceListingMemoryBounded lists MaxSilences maximal silences, some
// 250 MB of JSON, and measures what one listing allocates: it must not
// grow with the listing, only with one silence, since the handler writes
// the silences one at a time. Before, it built the whole answer in memory
// (58 MB for the outside attack's silences), and 16 concurrent anonymous
// readers took the process to 2 GB.
func TestSilenceListingMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 250 MB of JSON")
	}
	if raceDetector {
		t.Skip("under the race detector sync.Pool drops encoding/json's buffers")
	}
	const bound = 4 << 20
	v := startForSilences(t)
	fillSilences(t, v)
	h := v.Handler()
	for _, path := range []string{"/monitoring/api/silences", "/monitoring/api/export"} {
		t.Run(strings.TrimPrefix(path, "/monitoring/api/"), func(t *testing.T) { checkListingMemory(t, h, path, bound) })
	}
}

// checkListingMemory measures what one GET of path allocates.
func checkListingMemory(t *testing.T, h http.Handler, path string, bound uint64) {
	list := func() (*discardWriter, uint64) {
		w := &discardWriter{header: http.Header{}}
		req := httptest.NewRequest(http.MethodGet, path, nil)
		var before, after runtime.MemStats
		// Two collections empty sync.Pool, so that buffers encoding/json
		// grew in an earlier listing and keeps are counted too.
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&before)
		h.ServeHTTP(w, req)
		runtime.ReadMemStats(&after)
		return w, after.TotalAlloc - before.TotalAlloc
	}
	w, alloc := list()
	t.Logf("%s with %d maximal silences: %.1f MB written, %.2f MB allocated",
		path, alerting.MaxSilences, float64(w.n)/(1<<20), float64(alloc)/(1<<20))
	if w.code != http.StatusOK {
		t.Fatalf("status %d", w.code)
	}
	// Each text byte is written as \u0001: six bytes.
	if want := int64(alerting.MaxSilences * 6 * maxSilenceText); w.n < want {
		t.Fatalf("the listing wrote %d bytes, want at least %d: not every silence was listed", w.n, want)
	}
	if alloc > bound {
		t.Errorf("one listing allocated %d bytes, more than %d (%d written)", alloc, bound, w.n)
	}
}

// TestSilenceListing: the streamed listing is one JSON document in the
// shape it always had, newest first, with each silence's status.
func TestSilenceListing(t *testing.T) {
	v := startForSilences(t)
	h := v.Handler()
	if code, body := jsonRequest(t, h, "GET", "/monitoring/api/silences", "", ""); code != 200 || body != "{\"silences\":[]}\n" {
		t.Errorf("empty listing: %d %q", code, body)
	}
	now := time.Now()
	var ids []string
	for i, start := range []time.Time{now.Add(-time.Minute), now.Add(time.Hour), now.Add(-2 * time.Minute)} {
		id, err := v.Alerts().Silences().Add(alerting.Silence{
			Matchers: []alerting.Matcher{{Name: "alertname", Value: fmt.Sprintf("A%d <&>", i), IsEqual: true}},
			StartsAt: start, EndsAt: now.Add(2 * time.Hour), CreatedBy: "ops", Comment: "line\nbreak \x01",
		})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := v.Alerts().Silences().Expire(ids[2]); err != nil {
		t.Fatal(err)
	}
	code, body := jsonRequest(t, h, "GET", "/monitoring/api/silences", "", "")
	var got struct {
		Silences []struct {
			alerting.Silence
			State alerting.SilenceState `json:"state"`
		} `json:"silences"`
	}
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil || code != 200 || dec.More() {
		t.Fatalf("listing: %d %v %s", code, err, body)
	}
	var order []string
	for _, s := range got.Silences {
		order = append(order, s.Matchers[0].Value+":"+s.State.String())
		if s.Comment != "line\nbreak \x01" {
			t.Errorf("comment %q", s.Comment)
		}
	}
	if want := "A1 <&>:pending,A0 <&>:active,A2 <&>:expired"; strings.Join(order, ",") != want {
		t.Errorf("listed %s, want %s", strings.Join(order, ","), want)
	}
}

// BenchmarkSilenceListing lists MaxSilences maximal silences; B/op is what
// one listing allocates, MB/s the JSON written.
func BenchmarkSilenceListing(b *testing.B) {
	v := startForSilences(b)
	fillSilences(b, v)
	h := v.Handler()
	req := httptest.NewRequest(http.MethodGet, "/monitoring/api/silences", nil)
	w := &discardWriter{header: http.Header{}}
	h.ServeHTTP(w, req)
	b.SetBytes(w.n)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(&discardWriter{header: http.Header{}}, req)
	}
}
