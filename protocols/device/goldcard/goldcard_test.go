package goldcard

import (
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/shianfood/shian/protocols/domain/measure"
)

func sample() Result {
	return Result{Status: StatusIdle | StatusCard | StatusResultReady | 1<<8, Seq: 1, Ready: true, Item: 1, Mode: ModeRatio,
		Verdict: VerdictPositive, C: 42125, T: 9000, Time: time.Date(2026, 11, 28, 2, 15, 3, 0, time.UTC)}
}

func TestResultRoundTrip(t *testing.T) {
	for _, r := range []Result{
		sample(),
		{Status: StatusIdle, Seq: 0},
		{Status: StatusIdle | StatusCard, Seq: 65535},
		{Status: StatusResultReady | StatusFault | 16<<8, Seq: 65535, Ready: true, Item: 6, Mode: ModeLine, Verdict: VerdictInvalid, C: 0, T: FullScale},
		{Status: StatusResultReady, Seq: 3, Ready: true, Item: 5, Verdict: VerdictNegative, C: FullScale, T: FullScale},
	} {
		regs, err := r.Registers()
		if err != nil {
			t.Fatalf("%+v: %v", r, err)
		}
		got, err := DecodeResult(regs)
		if err != nil || !reflect.DeepEqual(got, r) {
			t.Errorf("round trip %+v -> %v -> %+v, %v", r, regs, got, err)
		}
	}
	regs, _ := sample().Registers()
	if regs[10] != 214 || sample().Waiting() != 1 {
		t.Errorf("T/C register %d", regs[10])
	}
}

func TestResultRefused(t *testing.T) {
	good, _ := sample().Registers()
	mut := func(i int, v uint16) []uint16 {
		r := append([]uint16(nil), good...)
		r[i] = v
		return r
	}
	for name, regs := range map[string][]uint16{
		"ready flag 2":         mut(2, 2),
		"ready without status": mut(0, StatusIdle),
		"status without ready": append([]uint16{StatusResultReady, 1}, make([]uint16, 11)...),
		"unknown item":         mut(3, 99),
		"unknown mode":         mut(4, 2),
		"verdict none":         mut(5, 0),
		"verdict 5":            mut(5, 5),
		"C above 100":          mut(6, 2),
		"T/C disagrees":        mut(10, 215),
		"sequence 0":           mut(1, 0),
		"fields while idle":    {StatusIdle, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		"short":                good[:12],
	} {
		if r, err := DecodeResult(regs); !errors.Is(err, ErrValue) {
			t.Errorf("%s: %+v, %v", name, r, err)
		}
	}
}

func TestIdentity(t *testing.T) {
	id := Identity{Firmware: 0x0100, Serial: "GC1-0001", Model: "SHIAN-GC1", Hardware: 1, QueueCapacity: 16}
	regs, err := id.Registers()
	if err != nil {
		t.Fatal(err)
	}
	if regs[0] != 0x4743 || regs[2] != 'G'<<8|'C' {
		t.Errorf("%04X", regs)
	}
	got, err := DecodeIdentity(regs)
	if err != nil || got != id || got.FirmwareString() != "1.0" {
		t.Errorf("%+v %v", got, err)
	}
	regs[0] = 0x1234
	if _, err := DecodeIdentity(regs); !errors.Is(err, ErrValue) {
		t.Error("wrong device id accepted")
	}
	regs[0] = DeviceID
	regs[7] = 0x0041 // NUL then 'A'
	if _, err := DecodeIdentity(regs); !errors.Is(err, ErrValue) {
		t.Error("text after NUL accepted")
	}
	if _, err := (Identity{Serial: "GC1-00001"}).Registers(); err == nil {
		t.Error("9-byte serial accepted")
	}
	if _, err := (Identity{Model: "读卡仪"}).Registers(); err == nil {
		t.Error("non-ASCII model accepted")
	}
}

func TestItems(t *testing.T) {
	for _, s := range []string{"克伦特罗", "clenbuterol", " Clenbuterol "} {
		if it, ok := ItemByName(s); !ok || it.Code != 1 {
			t.Errorf("%q: %+v", s, it)
		}
	}
	if _, ok := Lookup(0); ok {
		t.Error("item 0")
	}
	if RatioRegister(0, 5) != NoRatio || RatioRegister(1, measure.Intensity(1<<40)) != 0xFFFE {
		t.Error("ratio register bounds")
	}
}

func regsOf(b []byte) []uint16 {
	r := make([]uint16, len(b)/2)
	for i := range r {
		r[i] = binary.BigEndian.Uint16(b[2*i:])
	}
	return r
}

func bytesOf(regs []uint16) []byte {
	var b []byte
	for _, r := range regs {
		b = binary.BigEndian.AppendUint16(b, r)
	}
	return b
}

// FuzzDecodeResult: any register block either decodes to a result that
// re-encodes to the same registers, or is refused with ErrValue.
func FuzzDecodeResult(f *testing.F) {
	good, _ := sample().Registers()
	f.Add(bytesOf(good))
	idle, _ := Result{Status: StatusIdle}.Registers()
	f.Add(bytesOf(idle))
	f.Fuzz(func(t *testing.T, b []byte) {
		regs := regsOf(b)
		r, err := DecodeResult(regs)
		if err != nil {
			if !errors.Is(err, ErrValue) {
				t.Fatalf("untyped %v", err)
			}
			return
		}
		enc, err := r.Registers()
		if err != nil || !reflect.DeepEqual(enc, regs) {
			t.Fatalf("%v -> %+v -> %v, %v", regs, r, enc, err)
		}
	})
}

// FuzzDecodeIdentity: as FuzzDecodeResult for the identity block.
func FuzzDecodeIdentity(f *testing.F) {
	id, _ := Identity{Firmware: 0x0100, Serial: "GC1-0001", Model: "SHIAN-GC1", Hardware: 1, QueueCapacity: 16}.Registers()
	f.Add(bytesOf(id))
	f.Fuzz(func(t *testing.T, b []byte) {
		regs := regsOf(b)
		id, err := DecodeIdentity(regs)
		if err != nil {
			if !errors.Is(err, ErrValue) {
				t.Fatalf("untyped %v", err)
			}
			return
		}
		enc, err := id.Registers()
		if err != nil || !reflect.DeepEqual(enc, regs) {
			t.Fatalf("%v -> %+v -> %v, %v", regs, id, enc, err)
		}
	})
}
