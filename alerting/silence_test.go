package alerting_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vitalsgo/vitals/alerting"
	"github.com/vitalsgo/vitals/exporter/memory"
)

// validSilence is a silence Add accepts at clk's time.
func validSilence(clk *engClock) alerting.Silence {
	return alerting.Silence{
		Matchers:  []alerting.Matcher{{Name: "alertname", Value: "HighErrors", IsEqual: true}},
		EndsAt:    clk.Now().Add(time.Hour),
		CreatedBy: "ops",
		Comment:   "deploy",
	}
}

// TestSilenceLimits: each limit admits a silence at it and refuses one
// past it, with an error that names the limit and the field.
func TestSilenceLimits(t *testing.T) {
	clk := newEngClock(time.Unix(1_700_000_000, 0))
	eq := func(name, value string) alerting.Matcher {
		return alerting.Matcher{Name: name, Value: value, IsEqual: true}
	}
	re := func(name, value string) alerting.Matcher {
		return alerting.Matcher{Name: name, Value: value, IsEqual: true, IsRegex: true}
	}
	matchers := func(n int) []alerting.Matcher {
		ms := make([]alerting.Matcher, n)
		for i := range ms {
			ms[i] = eq(fmt.Sprintf("l%d", i), "v")
		}
		return ms
	}
	tests := []struct {
		name string
		at   func(*alerting.Silence) // at the limit: accepted
		past func(*alerting.Silence) // past it: refused
		want []string                // in the refusal
	}{{
		name: "matchers",
		at:   func(s *alerting.Silence) { s.Matchers = matchers(alerting.MaxMatchersPerSilence) },
		past: func(s *alerting.Silence) { s.Matchers = matchers(alerting.MaxMatchersPerSilence + 1) },
		want: []string{"33 matchers", "MaxMatchersPerSilence (32)"},
	}, {
		name: "name",
		at:   func(s *alerting.Silence) { s.Matchers = []alerting.Matcher{eq(strings.Repeat("n", 128), "v")} },
		past: func(s *alerting.Silence) {
			s.Matchers = []alerting.Matcher{eq("a", "b"), eq(strings.Repeat("n", 129), "v")}
		},
		want: []string{"matcher 2 (\"nnn", "label name is 129 bytes", "MaxMatcherNameLength (128)"},
	}, {
		name: "value",
		at:   func(s *alerting.Silence) { s.Matchers = []alerting.Matcher{eq("a", strings.Repeat("v", 1024))} },
		past: func(s *alerting.Silence) { s.Matchers = []alerting.Matcher{eq("a", strings.Repeat("v", 1025))} },
		want: []string{`matcher 1 ("a")`, "value is 1025 bytes", "MaxMatcherValueLength (1024)"},
	}, {
		name: "regexp value",
		at: func(s *alerting.Silence) {
			s.Matchers = []alerting.Matcher{re("a", strings.Repeat("(?:)", 255)+"vvvv")}
		},
		past: func(s *alerting.Silence) {
			s.Matchers = []alerting.Matcher{re("a", strings.Repeat("(?:)", 255)+"vvvvv")}
		},
		want: []string{`matcher 1 ("a")`, "value is 1025 bytes", "MaxMatcherValueLength (1024)"},
	}, {
		// "x{500}" compiles to 500 instructions of one rune each, and
		// the anchors: of size 1 005; "y{10}" adds some 25.
		name: "regexp size",
		at:   func(s *alerting.Silence) { s.Matchers = []alerting.Matcher{re("a", "x{500}")} },
		past: func(s *alerting.Silence) { s.Matchers = []alerting.Matcher{re("a", "x{500}"), re("b", "y{10}")} },
		want: []string{`matcher 2 ("b")`, "MaxSilenceRegexpSize (1024)"},
	}, {
		name: "unicode class",
		at:   func(s *alerting.Silence) { s.Matchers = []alerting.Matcher{re("a", `[[:alpha:]]+`)} },
		past: func(s *alerting.Silence) { s.Matchers = []alerting.Matcher{re("a", `\p{L}+`)} },
		want: []string{`matcher 1 ("a")`, "MaxSilenceRegexpSize (1024)"},
	}, {
		name: "createdBy",
		at:   func(s *alerting.Silence) { s.CreatedBy = strings.Repeat("c", 256) },
		past: func(s *alerting.Silence) { s.CreatedBy = strings.Repeat("c", 257) },
		want: []string{"createdBy is 257 bytes", "MaxSilenceCreatedByLength (256)"},
	}, {
		name: "comment",
		at:   func(s *alerting.Silence) { s.Comment = strings.Repeat("c", 4096) },
		past: func(s *alerting.Silence) { s.Comment = strings.Repeat("c", 4097) },
		want: []string{"comment is 4097 bytes", "MaxSilenceCommentLength (4096)"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sil := alerting.NewSilences(clk)
			at := validSilence(clk)
			tt.at(&at)
			if _, err := sil.Add(at); err != nil {
				t.Errorf("at the limit: %v", err)
			}
			past := validSilence(clk)
			tt.past(&past)
			_, err := sil.Add(past)
			if err == nil {
				t.Fatal("past the limit: accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestSilenceUTF8: a label name, value, createdBy or comment that is not
// valid UTF-8 is refused, naming the field; a UTF-8 label name that is not
// a legacy Prometheus name is accepted, as in Prometheus 3.
func TestSilenceUTF8(t *testing.T) {
	clk := newEngClock(time.Unix(1_700_000_000, 0))
	for name, tt := range map[string]struct {
		mutate func(*alerting.Silence)
		want   string
	}{
		"name":        {func(s *alerting.Silence) { s.Matchers[0].Name = "alert\xffname" }, `matcher 1 ("alert\xffname"): label name is not valid UTF-8`},
		"value":       {func(s *alerting.Silence) { s.Matchers[0].Value = "High\xc3" }, `matcher 1 ("alertname"): value is not valid UTF-8`},
		"regexp":      {func(s *alerting.Silence) { s.Matchers[0].Value, s.Matchers[0].IsRegex = "a|\xff", true }, `matcher 1 ("alertname"): value is not valid UTF-8`},
		"createdBy":   {func(s *alerting.Silence) { s.CreatedBy = "op\xe2\x82" }, "createdBy is not valid UTF-8"},
		"comment":     {func(s *alerting.Silence) { s.Comment = "\xed\xa0\x80" }, "comment is not valid UTF-8"}, // a surrogate
		"valid UTF-8": {func(s *alerting.Silence) { s.Matchers[0].Name = "служба.имя" }, ""},
	} {
		t.Run(name, func(t *testing.T) {
			s := validSilence(clk)
			tt.mutate(&s)
			_, err := alerting.NewSilences(clk).Add(s)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("err = %v, want one that says %q", err, tt.want)
			}
		})
	}
}

// TestSilenceUpdate: a silence with an ID updates that silence as
// Alertmanager does: in place while its matchers and history stay,
// otherwise by expiring it and creating a new one.
func TestSilenceUpdate(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	other := []alerting.Matcher{{Name: "alertname", Value: "Other", IsEqual: true}}
	tests := []struct {
		name    string
		startIn time.Duration // the first silence starts at start+startIn
		elapse  time.Duration // then time moves on by elapse
		update  func(old alerting.Silence, now time.Time) alerting.Silence
		inPlace bool
	}{{
		name: "active, new end and comment",
		update: func(old alerting.Silence, now time.Time) alerting.Silence {
			old.EndsAt, old.Comment = now.Add(3*time.Hour), "longer"
			return old
		},
		inPlace: true,
	}, {
		name: "active, no startsAt given",
		update: func(old alerting.Silence, now time.Time) alerting.Silence {
			old.StartsAt, old.Comment = time.Time{}, "kept start"
			return old
		},
		inPlace: true,
	}, {
		name: "active, new matchers",
		update: func(old alerting.Silence, now time.Time) alerting.Silence {
			old.Matchers = other
			return old
		},
	}, {
		name: "active, start moved",
		update: func(old alerting.Silence, now time.Time) alerting.Silence {
			old.StartsAt = old.StartsAt.Add(time.Second)
			return old
		},
	}, {
		name:    "pending, start moved later",
		startIn: time.Hour,
		update: func(old alerting.Silence, now time.Time) alerting.Silence {
			old.StartsAt = old.StartsAt.Add(time.Minute)
			return old
		},
		inPlace: true,
	}, {
		name:    "pending, start moved to the past",
		startIn: time.Hour,
		update: func(old alerting.Silence, now time.Time) alerting.Silence {
			old.StartsAt = now.Add(-time.Minute)
			return old
		},
	}, {
		name:   "expired",
		elapse: 2 * time.Hour,
		update: func(old alerting.Silence, now time.Time) alerting.Silence {
			old.EndsAt = now.Add(time.Hour)
			return old
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newEngClock(start)
			sil := alerting.NewSilences(clk)
			first := validSilence(clk)
			first.StartsAt, first.EndsAt = start.Add(tt.startIn), start.Add(tt.startIn+time.Hour)
			id, err := sil.Add(first)
			if err != nil {
				t.Fatal(err)
			}
			first.ID = id
			clk.set(start.Add(tt.elapse + time.Minute))
			now := clk.Now()
			want := tt.update(first, now)
			newID, err := sil.Add(want)
			if err != nil {
				t.Fatal(err)
			}
			list := sil.List()
			byID := map[string]alerting.Silence{}
			for _, s := range list {
				byID[s.ID] = s
			}
			got := byID[newID]
			if want.StartsAt.IsZero() {
				want.StartsAt = first.StartsAt
			}
			if tt.inPlace {
				want.ID = id
				if newID != id || len(list) != 1 {
					t.Fatalf("updated as %s, %d silences; want %s in place", newID, len(list), id)
				}
				if !got.StartsAt.Equal(want.StartsAt) || !got.EndsAt.Equal(want.EndsAt) || got.Comment != want.Comment || !slices.Equal(got.Matchers, want.Matchers) {
					t.Errorf("updated to %+v, want %+v", got, want)
				}
				return
			}
			if newID == id || len(list) != 2 {
				t.Fatalf("replaced by %s, %d silences; want a new ID and the old one kept", newID, len(list))
			}
			oldEnd := first.EndsAt
			if now.Before(oldEnd) {
				oldEnd = now
			}
			if old := byID[id]; old.State(now) != alerting.SilenceStateExpired || !old.EndsAt.Equal(oldEnd) || !slices.Equal(old.Matchers, first.Matchers) {
				t.Errorf("the replaced silence is %+v (%s), want it expired at %v, unchanged otherwise", old, old.State(now), now)
			}
			wantStart := want.StartsAt
			if wantStart.Before(now) {
				wantStart = now
			}
			if !got.StartsAt.Equal(wantStart) || !got.EndsAt.Equal(want.EndsAt) || !slices.Equal(got.Matchers, want.Matchers) {
				t.Errorf("new silence %+v, want %+v starting at %v", got, want, wantStart)
			}
		})
	}
}

// TestSilenceUpdateErrors: an unknown ID is ErrSilenceNotFound and adds
// nothing; an invalid update leaves the silence as it was; replacing an
// active silence succeeds with MaxSilences active.
func TestSilenceUpdateErrors(t *testing.T) {
	clk := newEngClock(time.Unix(1_700_000_000, 0))
	sil := alerting.NewSilences(clk)
	s := validSilence(clk)
	s.ID = "0123456789abcdef0123456789abcdef"
	if _, err := sil.Add(s); !errors.Is(err, alerting.ErrSilenceNotFound) || !strings.Contains(err.Error(), s.ID) {
		t.Errorf("unknown ID: err = %v, want ErrSilenceNotFound naming it", err)
	}
	if err := sil.Expire(s.ID); !errors.Is(err, alerting.ErrSilenceNotFound) {
		t.Errorf("Expire of an unknown ID: err = %v, want ErrSilenceNotFound", err)
	}
	if n := len(sil.List()); n != 0 {
		t.Fatalf("%d silences after refusals", n)
	}

	var ids []string
	for i := range alerting.MaxSilences {
		s := validSilence(clk)
		s.Matchers[0].Value = fmt.Sprint(i)
		id, err := sil.Add(s)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	bad := validSilence(clk)
	bad.ID, bad.EndsAt = ids[0], clk.Now().Add(-time.Second)
	if _, err := sil.Add(bad); err == nil || !strings.Contains(err.Error(), "endsAt must be in the future") {
		t.Errorf("invalid update: err = %v", err)
	}
	repl := validSilence(clk)
	repl.ID, repl.Matchers[0].Value = ids[0], "replacement"
	newID, err := sil.Add(repl)
	if err != nil {
		t.Fatalf("replacing an active silence with MaxSilences active: %v", err)
	}
	if got := sil.Matching(map[string]string{"alertname": "0"}, clk.Now()); len(got) != 0 {
		t.Errorf("the replaced silence still mutes: %v", got)
	}
	if got := sil.Matching(map[string]string{"alertname": "replacement"}, clk.Now()); !slices.Equal(got, []string{newID}) {
		t.Errorf("the replacement mutes as %v, want [%s]", got, newID)
	}
	if _, err := sil.Add(validSilence(clk)); !errors.Is(err, alerting.ErrTooManySilences) {
		t.Errorf("a new silence with MaxSilences active: err = %v, want ErrTooManySilences", err)
	}
}

// TestSilencesMemoryBounded adds silences as an attacker with the admin
// token would: each tries 32 matchers whose regular expressions compile to
// hundreds of kilobytes each, then, refused, the costliest silences the
// limits admit: every text field at its limit, and regular expressions of
// the shapes that cost the most memory for their MaxSilenceRegexpSize,
// found by measuring many. The live heap per silence must stay under
// maxSilenceHeap, so MaxSilences silences under MaxSilences×maxSilenceHeap;
// it is checked as the heap grows, so that code without the limits fails
// rather than exhausts memory.
func TestSilencesMemoryBounded(t *testing.T) {
	const (
		maxSilenceHeap = 256 << 10
		perShape       = 100
	)
	clk := newEngClock(time.Unix(1_700_000_000, 0))
	heavy := validSilence(clk)
	heavy.Matchers = nil
	for j := range alerting.MaxMatchersPerSilence {
		// 20 Unicode letter classes: 26 000 rune bounds.
		heavy.Matchers = append(heavy.Matchers, alerting.Matcher{Name: fmt.Sprintf("l%d", j), Value: fmt.Sprintf("%d", j) + strings.Repeat(`.*\pL`, 20), IsRegex: true, IsEqual: true})
	}
	// silence is silence i at every text limit, with k matchers whose
	// regular expressions repeat unit r times.
	silence := func(i int, unit string, k, r int) alerting.Silence {
		s := validSilence(clk)
		s.CreatedBy = fmt.Sprintf("%04d", i) + strings.Repeat("c", alerting.MaxSilenceCreatedByLength-4)
		s.Comment = strings.Repeat("c", alerting.MaxSilenceCommentLength)
		s.Matchers = nil
		for j := range alerting.MaxMatchersPerSilence {
			m := alerting.Matcher{Name: fmt.Sprintf("%04d-%02d", i, j), Value: fmt.Sprintf("%04d", i), IsEqual: true}
			m.Name += strings.Repeat("n", alerting.MaxMatcherNameLength-len(m.Name))
			if j < k {
				m.Value, m.IsRegex = m.Value+strings.Repeat(unit, r), true
			} else {
				m.Value += strings.Repeat("v", alerting.MaxMatcherValueLength-len(m.Value))
			}
			s.Matchers = append(s.Matchers, m)
		}
		return s
	}
	for _, tt := range []struct {
		unit string
		k    int // regular expressions
		r    int // repetitions of unit; 0: the most the limits admit
	}{
		{unit: "(?:)", k: 24},            // empty groups: the most memory per unit of size
		{unit: `\b`, k: 24},              // empty-width assertions, likewise
		{unit: "[a-p][a-p]", k: 3, r: 1}, // sets of 256 strings
		{unit: "(?:ab|cd)", k: 8, r: 4},  // sets of 256 longer strings
		{unit: "x+", k: 32},              // small regular expressions: a fixed cost each
		{unit: `\p{Greek}`, k: 8},        // large classes
	} {
		t.Run(tt.unit, func(t *testing.T) {
			r := tt.r
			for lo, hi := 0, alerting.MaxMatcherValueLength/len(tt.unit); tt.r == 0 && lo <= hi; {
				mid := (lo + hi) / 2
				if _, err := alerting.NewSilences(clk).Add(silence(0, tt.unit, tt.k, mid)); err == nil {
					r, lo = mid, mid+1
				} else {
					hi = mid - 1
				}
			}
			sil := alerting.NewSilences(clk)
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			base := ms.HeapAlloc
			for i := range perShape {
				if _, err := sil.Add(heavy); err == nil {
					t.Logf("silence %d: heavy regular expressions accepted", i)
				} else if _, err := sil.Add(silence(i, tt.unit, tt.k, r)); err != nil {
					t.Fatalf("silence %d: the costliest silence the limits admit is refused: %v", i, err)
				}
				runtime.ReadMemStats(&ms) // garbage included
				if ms.HeapAlloc > base+2*maxSilenceHeap*perShape {
					t.Fatalf("after %d silences the heap grew by %d MB", i+1, (ms.HeapAlloc-base)>>20)
				}
			}
			runtime.GC()
			runtime.ReadMemStats(&ms)
			each := (int64(ms.HeapAlloc) - int64(base)) / perShape
			t.Logf("%d matchers of %d × %q: %.0f KB a silence, %.0f MB for MaxSilences", tt.k, r, tt.unit, float64(each)/1024, float64(each*alerting.MaxSilences)/(1<<20))
			if each > maxSilenceHeap {
				t.Errorf("a maximal silence holds %d KB, more than %d KB", each>>10, maxSilenceHeap>>10)
			}
			runtime.KeepAlive(sil)
		})
	}
}

// TestSilencesConcurrentSafe adds, updates, expires, lists and matches
// silences from several goroutines; run with -race.
func TestSilencesConcurrentSafe(t *testing.T) {
	clk := newEngClock(time.Unix(1_700_000_000, 0))
	sil := alerting.NewSilences(clk)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				s := validSilence(clk)
				s.Matchers[0].Value = fmt.Sprintf("%d-%d", g, i)
				id, err := sil.Add(s)
				if err != nil {
					t.Error(err)
					return
				}
				s.ID, s.Comment = id, "updated"
				if _, err := sil.Add(s); err != nil {
					t.Error(err)
				}
				s.Matchers = append(s.Matchers, alerting.Matcher{Name: "job", Value: "api", IsEqual: true})
				if _, err := sil.Add(s); err != nil {
					t.Error(err)
				}
				_ = sil.List()
				_ = sil.Matching(map[string]string{"alertname": s.Matchers[0].Value, "job": "api"}, clk.Now())
				if i%2 == 0 {
					_ = sil.Expire(id)
				}
			}
		})
	}
	wg.Wait()
	live := 0
	for _, s := range sil.List() {
		if s.State(clk.Now()) == alerting.SilenceStateActive {
			live++
		}
	}
	if n := len(sil.List()); n != 4*50*2 || live != 4*50 {
		t.Errorf("%d silences, %d active; want %d and %d", n, live, 4*50*2, 4*50)
	}
}

func TestSilenceStateText(t *testing.T) {
	for _, st := range []alerting.SilenceState{alerting.SilenceStateUnknown, alerting.SilenceStatePending, alerting.SilenceStateActive, alerting.SilenceStateExpired} {
		b, err := st.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back alerting.SilenceState
		if err := back.UnmarshalText(b); err != nil || back != st {
			t.Errorf("%v: round trip gave %v, %v", st, back, err)
		}
	}
	var st alerting.SilenceState
	if err := st.UnmarshalText([]byte("muted")); err == nil {
		t.Error("UnmarshalText accepted an unknown state")
	}
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	s := alerting.Silence{StartsAt: start, EndsAt: start.Add(time.Hour)}
	for _, tt := range []struct {
		at   time.Time
		want alerting.SilenceState
	}{
		{start.Add(-time.Second), alerting.SilenceStatePending},
		{start, alerting.SilenceStateActive},
		{start.Add(time.Hour), alerting.SilenceStateExpired},
	} {
		if got := s.State(tt.at); got != tt.want {
			t.Errorf("State(%v) = %v, want %v", tt.at, got, tt.want)
		}
	}
}

// TestMatcherIsEqualDefault: a matcher whose JSON leaves isEqual out (or
// gives null) is an equality, as in Alertmanager's API v2, where isEqual
// defaults to true; before, it decoded as false and so as "!=". An explicit
// false still negates, and a saved state, which always holds isEqual, loads
// as it was saved.
func TestMatcherIsEqualDefault(t *testing.T) {
	for _, tt := range []struct {
		json string
		want alerting.Matcher
	}{
		{`{"name":"a","value":"b"}`, alerting.Matcher{Name: "a", Value: "b", IsEqual: true}},
		{`{"name":"a","value":"b","isRegex":false}`, alerting.Matcher{Name: "a", Value: "b", IsEqual: true}},
		{`{"name":"a","value":"b.*","isRegex":true}`, alerting.Matcher{Name: "a", Value: "b.*", IsRegex: true, IsEqual: true}},
		{`{"name":"a","value":"b","isEqual":null}`, alerting.Matcher{Name: "a", Value: "b", IsEqual: true}},
		{`{"name":"a","value":"b","isEqual":true}`, alerting.Matcher{Name: "a", Value: "b", IsEqual: true}},
		{`{"name":"a","value":"b","isEqual":false}`, alerting.Matcher{Name: "a", Value: "b"}},
		{`{"name":"a","value":"b","isRegex":true,"isEqual":false}`, alerting.Matcher{Name: "a", Value: "b", IsRegex: true}},
	} {
		var got alerting.Matcher
		if err := json.Unmarshal([]byte(tt.json), &got); err != nil || got != tt.want {
			t.Errorf("%s decoded as %+v, %v; want %+v", tt.json, got, err, tt.want)
		}
	}
	var m alerting.Matcher
	if err := json.Unmarshal([]byte(`{"name":1}`), &m); err == nil {
		t.Error("a matcher with a numeric name decoded")
	}
	// Decoded in a silence, the matcher without isEqual mutes the alert
	// it names, and only that one.
	clk := newEngClock(time.Unix(1_700_000_000, 0))
	var sil alerting.Silence
	body := `{"matchers":[{"name":"alertname","value":"HighErrors","isRegex":false}],"endsAt":"` +
		clk.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `","createdBy":"ops","comment":"deploy"}`
	if err := json.Unmarshal([]byte(body), &sil); err != nil {
		t.Fatal(err)
	}
	s := alerting.NewSilences(clk)
	id, err := s.Add(sil)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Matching(map[string]string{"alertname": "HighErrors"}, clk.Now()); !slices.Equal(got, []string{id}) {
		t.Errorf("the silence mutes %v of HighErrors, want [%s]", got, id)
	}
	if got := s.Matching(map[string]string{"alertname": "Other"}, clk.Now()); len(got) != 0 {
		t.Errorf("the silence mutes Other: %v", got)
	}

	// A saved state keeps "!=" and "=" as they were; one whose matcher
	// lacks isEqual (not written by SaveState) loads it as "=".
	eng, err := alerting.New(memory.New(memory.WithLogger(slog.New(slog.DiscardHandler))), nil, alerting.WithClock(clk), quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Shutdown(context.Background()) })
	if _, err := eng.Silences().Add(alerting.Silence{
		Matchers:  []alerting.Matcher{{Name: "alertname", Value: "A", IsEqual: true}, {Name: "env", Value: "dev"}},
		EndsAt:    clk.Now().Add(time.Hour),
		CreatedBy: "ops", Comment: "not dev",
	}); err != nil {
		t.Fatal(err)
	}
	var saved bytes.Buffer
	if err := eng.SaveState(&saved); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(saved.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	sils := doc["silences"].([]any)
	omitted := map[string]any{}
	for k, v := range sils[0].(map[string]any) {
		omitted[k] = v
	}
	omitted["id"] = "omitted"
	omitted["matchers"] = []any{map[string]any{"name": "alertname", "value": "B", "isRegex": false}}
	doc["silences"] = append(sils, omitted)
	state, _ := json.Marshal(doc)
	restored, err := alerting.New(memory.New(memory.WithLogger(slog.New(slog.DiscardHandler))), nil, alerting.WithClock(clk), quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = restored.Shutdown(context.Background()) })
	if err := restored.LoadState(bytes.NewReader(state)); err != nil {
		t.Fatal(err)
	}
	now := clk.Now()
	for _, tt := range []struct {
		labels map[string]string
		muted  bool
	}{
		{map[string]string{"alertname": "A", "env": "prod"}, true},
		{map[string]string{"alertname": "A", "env": "dev"}, false},
		{map[string]string{"alertname": "B"}, true},
		{map[string]string{"alertname": "C"}, false},
	} {
		if got := len(restored.Silences().Matching(tt.labels, now)) > 0; got != tt.muted {
			t.Errorf("after the restore, %v muted: %v, want %v", tt.labels, got, tt.muted)
		}
	}
}

// TestSilenceUpdatedAt: UpdatedAt is when the silence was created, then
// when it was last updated or expired, as Alertmanager's updatedAt.
func TestSilenceUpdatedAt(t *testing.T) {
	clk := newEngClock(time.Unix(1_700_000_000, 0))
	sil := alerting.NewSilences(clk)
	created := clk.Now()
	id, err := sil.Add(validSilence(clk))
	if err != nil {
		t.Fatal(err)
	}
	if at, ok := sil.UpdatedAt(id); !ok || !at.Equal(created) {
		t.Errorf("UpdatedAt after Add = %v, %v; want %v", at, ok, created)
	}
	clk.Advance(time.Minute)
	s := validSilence(clk)
	s.ID, s.Comment = id, "changed"
	if _, err := sil.Add(s); err != nil {
		t.Fatal(err)
	}
	if at, _ := sil.UpdatedAt(id); !at.Equal(clk.Now()) {
		t.Errorf("UpdatedAt after an update = %v, want %v", at, clk.Now())
	}
	clk.Advance(time.Minute)
	if err := sil.Expire(id); err != nil {
		t.Fatal(err)
	}
	if at, _ := sil.UpdatedAt(id); !at.Equal(clk.Now()) {
		t.Errorf("UpdatedAt after Expire = %v, want %v", at, clk.Now())
	}
	if _, ok := sil.UpdatedAt("nope"); ok {
		t.Error("UpdatedAt of an unknown silence reports one")
	}
}
