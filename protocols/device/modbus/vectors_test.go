package modbus

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/shianfood/shian/internal/testutil"
	"github.com/shianfood/shian/protocols/device/modbus/modbustest"
)

// Vectors is modbustest.Vectors (shared with firmware/cardreader).
type Vectors struct {
	CRC []struct {
		Data  *string
		ASCII string
		CRC   string
		Wire  string
	}
	Requests []struct {
		Name   string
		Hex    string
		Slave  byte
		Func   Func
		Addr   uint16
		Qty    uint16
		Values []uint16
	}
	Responses []struct {
		Name      string
		Hex       string
		Slave     byte
		Func      Func
		Addr      uint16
		Qty       uint16
		Values    []uint16
		Exception ExceptionCode
	}
	BadRequests  []BadVector `json:"bad_requests"`
	BadResponses []BadVector `json:"bad_responses"`
	CardReader   struct {
		Exchanges []struct {
			Name     string
			Request  string
			Response string
		}
	} `json:"cardreader"`
}

// BadVector is a frame that must be refused with an error class.
type BadVector struct {
	Name  string
	Hex   string
	Error string // crc, frame, unsupported
}

func loadVectors(t testing.TB) Vectors {
	t.Helper()
	var v Vectors
	if err := json.Unmarshal(modbustest.Vectors(), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func errClass(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrCRC):
		return "crc"
	case errors.Is(err, ErrUnsupported):
		return "unsupported"
	case errors.Is(err, ErrFrame):
		return "frame"
	}
	return "untyped: " + err.Error()
}

func TestVectorsCRC(t *testing.T) {
	v := loadVectors(t)
	if len(v.CRC) < 5 {
		t.Fatalf("only %d CRC vectors", len(v.CRC))
	}
	for _, c := range v.CRC {
		var data []byte
		if c.ASCII != "" {
			data = []byte(c.ASCII)
		} else {
			data = testutil.Unhex(t, *c.Data)
		}
		got := strings.ToUpper(hex.EncodeToString([]byte{byte(CRC(data) >> 8), byte(CRC(data))}))
		if got != c.CRC {
			t.Errorf("CRC(% X) = %s, want %s", data, got, c.CRC)
		}
		if c.Wire != "" {
			w := AppendCRC(append([]byte(nil), data...))
			if !reflect.DeepEqual(w, testutil.Unhex(t, c.Wire)) {
				t.Errorf("AppendCRC(% X) = % X, want %s", data, w, c.Wire)
			}
			if err := CheckCRC(w); err != nil {
				t.Errorf("CheckCRC(% X): %v", w, err)
			}
		}
	}
}

func TestVectorsRequests(t *testing.T) {
	v := loadVectors(t)
	for _, rv := range v.Requests {
		b := testutil.Unhex(t, rv.Hex)
		want := Request{Slave: rv.Slave, Func: rv.Func, Addr: rv.Addr, Qty: rv.Qty, Values: rv.Values}
		got, err := ParseRequest(b)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: ParseRequest = %+v, %v; want %+v", rv.Name, got, err, want)
		}
		enc, err := want.Append(nil)
		if err != nil || !reflect.DeepEqual(enc, b) {
			t.Errorf("%s: Append = % X, %v; want % X", rv.Name, enc, err, b)
		}
		if n, err := RequestLen(b); n != len(b) || err != nil {
			t.Errorf("%s: RequestLen = %d, %v", rv.Name, n, err)
		}
	}
	for _, bv := range v.BadRequests {
		b := testutil.Unhex(t, bv.Hex)
		r, err := ParseRequest(b)
		if errClass(err) != bv.Error {
			t.Errorf("%s: ParseRequest(% X) = %+v, %v; want a %s error", bv.Name, b, r, err, bv.Error)
		}
	}
}

func TestVectorsResponses(t *testing.T) {
	v := loadVectors(t)
	for _, rv := range v.Responses {
		b := testutil.Unhex(t, rv.Hex)
		want := Response{Slave: rv.Slave, Func: rv.Func, Addr: rv.Addr, Qty: rv.Qty, Values: rv.Values, Exception: rv.Exception}
		got, err := ParseResponse(b)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: ParseResponse = %+v, %v; want %+v", rv.Name, got, err, want)
		}
		enc, err := want.Append(nil)
		if err != nil || !reflect.DeepEqual(enc, b) {
			t.Errorf("%s: Append = % X, %v; want % X", rv.Name, enc, err, b)
		}
	}
	for _, bv := range v.BadResponses {
		b := testutil.Unhex(t, bv.Hex)
		r, err := ParseResponse(b)
		if errClass(err) != bv.Error {
			t.Errorf("%s: ParseResponse(% X) = %+v, %v; want a %s error", bv.Name, b, r, err, bv.Error)
		}
	}
}

// TestVectorsCardReader decodes every exchange of the card reader's
// scenario: each request parses (or is refused as the slave refuses it),
// each answer parses and answers its request.
func TestVectorsCardReader(t *testing.T) {
	v := loadVectors(t)
	ex := v.CardReader.Exchanges
	if len(ex) < 15 {
		t.Fatalf("only %d exchanges", len(ex))
	}
	for _, x := range ex {
		req, err := ParseRequest(testutil.Unhex(t, x.Request))
		if x.Response == "" {
			continue // ignored by the slave: bad CRC, another slave, or broadcast
		}
		resp, rerr := ParseResponse(testutil.Unhex(t, x.Response))
		if rerr != nil {
			t.Errorf("%s: response: %v", x.Name, rerr)
			continue
		}
		var ue *UnsupportedError
		if errors.As(err, &ue) {
			if resp.Exception != IllegalFunction || resp.Func != ue.Func {
				t.Errorf("%s: an unsupported function answered %+v", x.Name, resp)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: request: %v", x.Name, err)
			continue
		}
		cerr := req.Check(resp)
		var ee *ExceptionError
		if resp.Exception != 0 {
			if !errors.As(cerr, &ee) || ee.Code != resp.Exception || !errors.Is(cerr, ErrException) {
				t.Errorf("%s: Check = %v", x.Name, cerr)
			}
		} else if cerr != nil {
			t.Errorf("%s: Check = %v", x.Name, cerr)
		}
	}
}
