package cluster

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestPayloadsSplitUnderTheLimit(t *testing.T) {
	var ids []string
	for i := range 3000 {
		ids = append(ids, strings.Repeat("x", i%300+1)+"<&\"é")
	}
	ps, err := encodePayloads("a/1234", ids, MaxPayload)
	if err != nil {
		t.Fatal(err)
	}
	var back []string
	for _, p := range ps {
		if len(p) > MaxPayload {
			t.Fatalf("payload of %d bytes", len(p))
		}
		n, err := DecodePayload([]byte(p))
		if err != nil {
			t.Fatal(err)
		}
		back = append(back, n.IDs...)
	}
	if !slices.Equal(back, ids) || len(ps) < 2 {
		t.Fatalf("%d payloads gave back %d of %d ids", len(ps), len(back), len(ids))
	}
	if _, err := encodePayloads("a", []string{"bad\nid"}, MaxPayload); !errors.Is(err, ErrPayload) {
		t.Fatalf("an id with a newline: %v", err)
	}
	if _, err := encodePayloads("a", []string{strings.Repeat("y", 100)}, 50); err == nil {
		t.Fatal("an id longer than a notice was accepted")
	}
}

func TestDecodePayloadRefuses(t *testing.T) {
	for _, p := range []string{``, `{}`, `[]`, `{"o":"a"}`, `{"o":"a","ids":[]}`, `{"o":"","ids":["x"]}`,
		`{"o":"a","ids":[""]}`, `{"o":"a","ids":[1]}`, `{"o":"a","ids":["\u0000"]}`,
		`{"o":"a","ids":["` + strings.Repeat("z", maxID+1) + `"]}`} {
		if _, err := DecodePayload([]byte(p)); !errors.Is(err, ErrPayload) {
			t.Errorf("%.60q: %v, want ErrPayload", p, err)
		}
	}
}

// FuzzDecodePayload: any input either decodes to a notice whose every
// field passes the checks and re-encodes to one payload that decodes the
// same, or is refused with ErrPayload; it never panics.
func FuzzDecodePayload(f *testing.F) {
	f.Add([]byte(`{"o":"a/1","ids":["r-1","r-2"]}`))
	f.Add([]byte(`{"o":"a","ids":[""]}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := DecodePayload(b)
		if err != nil {
			if !errors.Is(err, ErrPayload) {
				t.Fatalf("error without ErrPayload: %v", err)
			}
			return
		}
		ps, err := encodePayloads(n.Origin, n.IDs, MaxPayload)
		if err != nil {
			t.Fatalf("a decoded notice does not encode: %v", err)
		}
		var back []string
		for _, p := range ps {
			m, err := DecodePayload([]byte(p))
			if err != nil || m.Origin != n.Origin {
				t.Fatalf("re-encoded payload: %v", err)
			}
			back = append(back, m.IDs...)
		}
		if !slices.Equal(back, n.IDs) {
			t.Fatalf("ids changed in the round trip")
		}
	})
}
