package device

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestStateMarshalsItself: a Status carries its state by name in JSON
// (the screen and the doctor read "state": "down"), and reads it back.
func TestStateMarshalsItself(t *testing.T) {
	for _, s := range []State{StateUnknown, StateReady, StateMeasuring, StateDown} {
		b, err := json.Marshal(Status{ID: "d1", State: s})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"state":"`+s.String()+`"`) {
			t.Errorf("%v marshals as %s", s, b)
		}
		var back Status
		if err := json.Unmarshal(b, &back); err != nil || back.State != s {
			t.Errorf("%s: read back %v, %v", b, back.State, err)
		}
	}
	var st Status
	if err := json.Unmarshal([]byte(`{"state":"broken"}`), &st); err == nil {
		t.Error("an unknown state name was accepted")
	}
}
