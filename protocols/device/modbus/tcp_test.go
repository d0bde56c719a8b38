package modbus

import (
	"bytes"
	"errors"
	"testing"
)

func TestTCPFrames(t *testing.T) {
	req := ReadHolding(1, 0x0010, 3)
	b, err := req.AppendTCP(nil, 0x1234)
	if err != nil {
		t.Fatal(err)
	}
	// 12 34 | 00 00 | 00 06 | 01 | 03 00 10 00 03
	want := []byte{0x12, 0x34, 0, 0, 0, 6, 1, 3, 0, 0x10, 0, 3}
	if !bytes.Equal(b, want) {
		t.Fatalf("request % X, want % X", b, want)
	}
	if n, err := TCPFrameLen(b); err != nil || n != len(b) {
		t.Fatalf("len %d %v", n, err)
	}
	tid, back, err := ParseTCPRequest(b)
	if err != nil || tid != 0x1234 || back.Addr != 0x10 || back.Qty != 3 {
		t.Fatalf("parse request: %d %+v %v", tid, back, err)
	}
	resp := req.Reply([]uint16{1, 2, 0xFFFF})
	rb, _ := resp.AppendTCP(nil, 0x1234)
	tid, got, err := ParseTCPResponse(rb)
	if err != nil || tid != 0x1234 || req.Check(got) != nil || got.Values[2] != 0xFFFF {
		t.Fatalf("parse response: %d %+v %v", tid, got, err)
	}
	ex, _ := req.Fail(IllegalDataAddress).AppendTCP(nil, 7)
	if _, got, err := ParseTCPResponse(ex); err != nil || !errors.Is(req.Check(got), ErrException) {
		t.Fatalf("exception: %+v %v", got, err)
	}
	for _, bad := range [][]byte{{0, 1, 0, 1, 0, 6}, {0, 1, 0, 0, 0, 1}, {0, 1, 0, 0, 1, 0}} {
		if _, err := TCPFrameLen(bad); !errors.Is(err, ErrFrame) {
			t.Errorf("% X: %v", bad, err)
		}
	}
	if _, err := TCPFrameLen([]byte{0, 1, 0}); err != ErrIncomplete {
		t.Errorf("short header: %v", err)
	}
	if _, _, err := ParseTCPResponse(rb[:len(rb)-1]); !errors.Is(err, ErrFrame) {
		t.Errorf("cut frame: %v", err)
	}
}
