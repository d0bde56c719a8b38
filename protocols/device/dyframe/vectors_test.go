package dyframe

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shianfood/shian/internal/testutil"
	"github.com/shianfood/shian/protocols/device/dyframe/dyframetest"
)

// Vectors is the layout of dyframetest.Vectors, shared with the firmware
// tests (firmware/enzyme).
type vectors struct {
	XOR []struct {
		Hex string `json:"hex"`
		XOR string `json:"xor"`
	} `json:"xor"`
	Dates []struct {
		Text   string `json:"text"`
		Packed uint32 `json:"packed"`
		LEHex  string `json:"le_hex"`
		Valid  bool   `json:"valid"`
	} `json:"dates"`
	Frames   []frameVector `json:"frames"`
	Bad      []badVector   `json:"bad_frames"`
	Firmware []struct {
		Name  string      `json:"name"`
		Frame frameVector `json:"frame"`
	} `json:"firmware"`
}

type frameVector struct {
	Name    string    `json:"name"`
	Hex     string    `json:"hex"`
	Hello   *struct{} `json:"hello"`
	Ident   *Ident    `json:"ident"`
	Report  *Report   `json:"report"`
	Started *Started  `json:"started"`
	Ack     *Ack      `json:"ack"`
}

func (v frameVector) message() Message {
	switch {
	case v.Hello != nil:
		return Hello{}
	case v.Ident != nil:
		return *v.Ident
	case v.Report != nil:
		return *v.Report
	case v.Started != nil:
		return *v.Started
	case v.Ack != nil:
		return *v.Ack
	}
	return nil
}

type badVector struct {
	Name  string `json:"name"`
	Hex   string `json:"hex"`
	Error string `json:"error"`
}

var errKinds = map[string]error{
	"checksum":        ErrChecksum,
	"length":          ErrLength,
	"field":           ErrField,
	"unknown_command": ErrUnknownCommand,
	"truncated":       ErrTruncated,
}

func loadVectors(t testing.TB) vectors {
	t.Helper()
	var v vectors
	if err := json.Unmarshal(dyframetest.Vectors(), &v); err != nil {
		t.Fatalf("dyframetest.Vectors: %v", err)
	}
	return v
}

// decodeStream feeds b to a Scanner and returns every decoded message and
// every error (frame and message level), including a truncated tail.
func decodeStream(b []byte, chunk int) (msgs []Message, errs []error) {
	var s Scanner
	drain := func() {
		for {
			f, err := s.Next()
			if errors.Is(err, ErrIncomplete) {
				return
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
			m, err := Decode(f)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			msgs = append(msgs, m)
		}
	}
	if chunk <= 0 {
		chunk = len(b) + 1
	}
	for len(b) > 0 {
		n := min(chunk, len(b))
		s.Feed(b[:n])
		b = b[n:]
		drain()
	}
	// The line goes quiet: give up on any partial frame.
	for s.Pending() > 0 {
		errs = append(errs, s.Expire())
		drain()
	}
	return msgs, errs
}

func TestVectorsXOR(t *testing.T) {
	for _, v := range loadVectors(t).XOR {
		if got := strings.ToUpper(hex.EncodeToString([]byte{XOR(testutil.Unhex(t, v.Hex))})); got != v.XOR {
			t.Errorf("XOR(%s) = %s, want %s", v.Hex, got, v.XOR)
		}
	}
}

func TestVectorsDates(t *testing.T) {
	cst := time.FixedZone("CST", 8*3600)
	for _, v := range loadVectors(t).Dates {
		p := PackedTime(v.Packed)
		if got := binary.LittleEndian.Uint32(testutil.Unhex(t, v.LEHex)); got != v.Packed {
			t.Errorf("%s: le_hex %s is %d, packed says %d", v.Text, v.LEHex, got, v.Packed)
		}
		if p.Valid() != v.Valid {
			t.Errorf("%08X: Valid = %v, want %v", v.Packed, p.Valid(), v.Valid)
		}
		tm, err := p.Time(cst)
		if !v.Valid {
			if err == nil || !errors.Is(err, ErrField) {
				t.Errorf("%08X: Time err = %v, want ErrField", v.Packed, err)
			}
			continue
		}
		if v.Packed == 0 {
			if err != nil || !tm.IsZero() {
				t.Errorf("unset time: %v, %v", tm, err)
			}
			continue
		}
		if err != nil || tm.Format("2006-01-02 15:04:05") != v.Text || p.String() != v.Text {
			t.Errorf("%08X: Time = %v, %v; String = %s; want %s", v.Packed, tm, err, p, v.Text)
		}
		back, err := PackTime(tm)
		if err != nil || back != p {
			t.Errorf("PackTime(%v) = %08X, %v; want %08X", tm, uint32(back), err, v.Packed)
		}
	}
}

func TestVectorsFrames(t *testing.T) {
	v := loadVectors(t)
	all := v.Frames
	for _, fw := range v.Firmware {
		all = append(all, fw.Frame)
	}
	for _, fv := range all {
		want := fv.message()
		if want == nil {
			t.Fatalf("%s: vector has no message", fv.Name)
		}
		enc, err := Encode(want)
		if err != nil {
			t.Errorf("%s: Encode: %v", fv.Name, err)
			continue
		}
		if got := strings.ToUpper(hex.EncodeToString(enc)); got != fv.Hex {
			t.Errorf("%s: Encode =\n %s\nwant\n %s", fv.Name, got, fv.Hex)
		}
		msgs, errs := decodeStream(testutil.Unhex(t, fv.Hex), 0)
		if len(errs) != 0 || len(msgs) != 1 || !reflect.DeepEqual(msgs[0], want) {
			t.Errorf("%s: decoded %#v, errors %v; want %#v", fv.Name, msgs, errs, want)
		}
	}
}

func TestVectorsBadFrames(t *testing.T) {
	for _, bv := range loadVectors(t).Bad {
		kind := errKinds[bv.Error]
		if kind == nil {
			t.Fatalf("%s: unknown error kind %q", bv.Name, bv.Error)
		}
		msgs, errs := decodeStream(testutil.Unhex(t, bv.Hex), 0)
		if len(msgs) != 0 {
			t.Errorf("%s: a bad frame produced messages %#v", bv.Name, msgs)
		}
		if len(errs) == 0 || !errors.Is(errs[0], kind) {
			t.Errorf("%s: errors %v, want first to be %v", bv.Name, errs, kind)
		}
		var fe *FrameError
		if len(errs) > 0 && !errors.As(errs[0], &fe) {
			t.Errorf("%s: error %T is not a *FrameError", bv.Name, errs[0])
		}
	}
}
