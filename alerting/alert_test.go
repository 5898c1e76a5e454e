package alerting_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/vitalsgo/vitals/alerting"
)

// TestAlertJSONValues encodes alerts whose values JSON numbers cannot hold
// (a rule such as errors / requests > 1 is +Inf with no requests): they
// encode, as Prometheus' strings, and decode back.
func TestAlertJSONValues(t *testing.T) {
	for _, tt := range []struct {
		v    float64
		want string
	}{
		{1.5, `"value":1.5`},
		{0, `"value":0`},
		{math.Inf(1), `"value":"+Inf"`},
		{math.Inf(-1), `"value":"-Inf"`},
		{math.NaN(), `"value":"NaN"`},
	} {
		in := alerting.Alert{ID: "a1", Labels: map[string]string{"alertname": "X"}, State: alerting.StateFiring, Value: tt.v, StartsAt: time.Unix(1_700_000_000, 0).UTC(), ResolvedReason: "r"}
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatalf("value %v: %v", tt.v, err)
		}
		if !strings.Contains(string(b), tt.want) || !strings.Contains(string(b), `"state":"firing"`) || !strings.Contains(string(b), `"resolvedReason":"r"`) {
			t.Errorf("value %v encodes as %s, want %s among the other fields", tt.v, b, tt.want)
		}
		var out alerting.Alert
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("decoding %s: %v", b, err)
		}
		if !(out.Value == tt.v || math.IsNaN(out.Value) && math.IsNaN(tt.v)) || out.ID != in.ID || out.State != in.State || !out.StartsAt.Equal(in.StartsAt) || out.Labels["alertname"] != "X" {
			t.Errorf("%s decodes as %+v, want %+v", b, out, in)
		}
	}
}
