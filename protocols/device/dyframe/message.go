package dyframe

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/shianfood/shian/protocols/domain/measure"
)

// Message is a decoded frame payload.
type Message interface {
	// Command returns the frame's command byte.
	Command() byte
	// MarshalFrame builds the frame; it fails if a field cannot be encoded
	// (text too long or not GB2312, a value out of range).
	MarshalFrame() (Frame, error)
}

// Encode returns the bytes of m's frame.
func Encode(m Message) ([]byte, error) {
	f, err := m.MarshalFrame()
	if err != nil {
		return nil, err
	}
	return f.Bytes()
}

// Decode turns a valid frame into its message. A frame this codec does not
// know gives ErrUnknownCommand; a known command with the wrong data length
// ErrLength; fields that make no sense ErrField. All are *FrameError.
func Decode(f Frame) (Message, error) {
	var (
		m   Message
		err error
	)
	switch f.Cmd {
	case CmdCommTest:
		if len(f.Data) == len(helloProbe) {
			var h Hello
			m, err = h, h.unmarshal(f)
		} else {
			var id Ident
			err = id.unmarshal(f)
			m = id
		}
	case CmdReport:
		var r Report
		err = r.unmarshal(f)
		m = r
	case CmdStarted:
		var s Started
		err = s.unmarshal(f)
		m = s
	case CmdAck:
		var a Ack
		err = a.unmarshal(f)
		m = a
	default:
		err = frameErr(ErrUnknownCommand, f.Cmd, "%d data bytes", len(f.Data))
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

func wantLen(f Frame, n int, what string) error {
	if len(f.Data) != n {
		return frameErr(ErrLength, f.Cmd, "%s has %d data bytes, want %d", what, len(f.Data), n)
	}
	return nil
}

func fieldErr(cmd byte, err error) error {
	if err == nil {
		return nil
	}
	return &FrameError{Err: ErrField, Cmd: cmd, Detail: err.Error()}
}

// ---- Hello -------------------------------------------------------------

// helloProbe is the vendor's communication-test payload.
const helloProbe = "DEVICE??"

// Hello is the host's communication test (vendor command 0x20, data
// "DEVICE??"). The instrument answers with an Ident.
type Hello struct{}

// Command returns CmdCommTest.
func (Hello) Command() byte { return CmdCommTest }

// MarshalFrame builds the frame.
func (Hello) MarshalFrame() (Frame, error) {
	return Frame{Cmd: CmdCommTest, Data: []byte(helloProbe)}, nil
}

func (*Hello) unmarshal(f Frame) error {
	if string(f.Data) != helloProbe {
		return frameErr(ErrField, f.Cmd, "communication test data is %q, want %q", f.Data, helloProbe)
	}
	return nil
}

// ---- Ident -------------------------------------------------------------

// IdentLen is the data length of an Ident.
const IdentLen = 42

// Ident is the instrument's answer to Hello (command 0x20, 42 data bytes;
// the layout is Shian's, see README.md).
type Ident struct {
	Model   string `json:"model"`   // up to 16 bytes GB2312, e.g. "DY-3000E"
	Serial  string `json:"serial"`  // up to 16 bytes, may be empty
	Version string `json:"version"` // firmware version, up to 8 bytes
	// Measuring is true while a test is running.
	Measuring bool `json:"measuring"`
	// Channels is the number of sample channels.
	Channels uint8 `json:"channels"`
}

// Command returns CmdCommTest.
func (Ident) Command() byte { return CmdCommTest }

// MarshalFrame builds the frame.
func (m Ident) MarshalFrame() (Frame, error) {
	f := Frame{Cmd: CmdCommTest, Data: make([]byte, IdentLen)}
	d := f.Data
	for _, e := range []error{
		putText(d[0:16], m.Model, "model"),
		putText(d[16:32], m.Serial, "serial"),
		putText(d[32:40], m.Version, "version"),
	} {
		if e != nil {
			return Frame{}, fieldErr(f.Cmd, e)
		}
	}
	if m.Measuring {
		d[40] = 1
	}
	d[41] = m.Channels
	return f, nil
}

func (m *Ident) unmarshal(f Frame) error {
	if err := wantLen(f, IdentLen, "communication test answer"); err != nil {
		return err
	}
	d := f.Data
	var err error
	if m.Model, err = getText(d[0:16], "model"); err != nil {
		return fieldErr(f.Cmd, err)
	}
	if m.Serial, err = getText(d[16:32], "serial"); err != nil {
		return fieldErr(f.Cmd, err)
	}
	if m.Version, err = getText(d[32:40], "version"); err != nil {
		return fieldErr(f.Cmd, err)
	}
	switch d[40] {
	case 0, 1:
		m.Measuring = d[40] == 1
	default:
		return frameErr(ErrField, f.Cmd, "state byte %02X, want 00 (idle) or 01 (measuring)", d[40])
	}
	m.Channels = d[41]
	return nil
}

// ---- Absorbance and kinetics -------------------------------------------

// Reserved absorbance values (as the vendor reserves 0x7FFFFFFF-style values
// in its 4-byte result fields).
const (
	// AbsInvalid: the photometer read nothing usable (no full-scale
	// reference, or both readings invalid).
	AbsInvalid measure.Absorbance = 0x7FFFFFFF
	// AbsOverflow: transmittance over range (T ≥ 1.2, more light than the
	// blank: a bubble, a missing cuvette).
	AbsOverflow measure.Absorbance = 0x7FFFFFFE
)

// AbsValid reports whether a is a measured absorbance rather than one of the
// reserved values.
func AbsValid(a measure.Absorbance) bool {
	return a != AbsInvalid && a != AbsOverflow && a >= math.MinInt32 && a < AbsOverflow
}

// Kinetics is one channel's absorbance at the two reading times of the
// enzyme method (GB/T 5009.199: at 0.5 min and 3.5 min after the substrate
// is added), each in µAU or a reserved value.
type Kinetics struct {
	First measure.Absorbance `json:"first"`
	Last  measure.Absorbance `json:"last"`
}

// Delta returns ΔA = Last − First. ok is false if either reading is a
// reserved value (the DY-3500 software then marks ΔA invalid too).
func (k Kinetics) Delta() (d measure.Absorbance, ok bool) {
	if !AbsValid(k.First) || !AbsValid(k.Last) {
		return 0, false
	}
	return k.Last - k.First, true
}

func putAbs(dst []byte, a measure.Absorbance, name string) error {
	if a < math.MinInt32 || a > math.MaxInt32 {
		return fmt.Errorf("%w: %s %d µAU does not fit in 32 bits", ErrField, name, int64(a))
	}
	binary.LittleEndian.PutUint32(dst, uint32(int32(a)))
	return nil
}

func getAbs(b []byte) measure.Absorbance {
	return measure.Absorbance(int32(binary.LittleEndian.Uint32(b)))
}

// ---- Report ------------------------------------------------------------

// ReportLen is the data length of a Report.
const ReportLen = 108

// Reserved values of Report.Inhibition (the vendor's 2-byte result field).
const (
	InhibitionInvalid uint16 = 0x7FFF // the device could not compute a rate
	InhibitionNA      uint16 = 0x7FFE // not applicable
)

// Report is one enzyme-inhibition result (command 0xA1, Shian's layout,
// 108 data bytes, record number in parameter bytes 1–4). The tester pushes
// it when a test ends and repeats it until the host sends an Ack with the
// same Record.
type Report struct {
	// Record is the tester's record number, unique on that tester.
	Record uint32 `json:"record"`
	// Time is the tester's clock when the test ended.
	Time PackedTime `json:"time"`
	// Channel is the sample channel (1…), ControlChannel the channel that
	// held the control (0 by convention, as in the vendor records).
	Channel        uint8 `json:"channel"`
	ControlChannel uint8 `json:"control_channel"`
	// Interval is the time between the two readings in seconds (180 for
	// the standard's 3 minutes).
	Interval uint16 `json:"interval_s"`
	// Control and Sample are the absorbances of the two channels.
	Control Kinetics `json:"control"`
	Sample  Kinetics `json:"sample"`
	// Inhibition is the tester's own inhibition rate in 0.1 % units
	// (0…1000), or InhibitionInvalid / InhibitionNA; the vendor's format.
	// The kiosk recomputes the rate from the absorbances and does not use
	// this except to show a mismatch.
	Inhibition uint16 `json:"inhibition_permille"`
	// SampleCode (≤ 16 bytes), SampleName and Item (≤ 32 bytes each) are
	// GB2312 text: what the operator keyed in and the test item name.
	SampleCode string `json:"sample_code"`
	SampleName string `json:"sample_name"`
	Item       string `json:"item"`
}

// Command returns CmdReport.
func (Report) Command() byte { return CmdReport }

// ControlDeltaA returns the control's ΔA0 (ok false if a reading is invalid).
func (m Report) ControlDeltaA() (measure.Absorbance, bool) { return m.Control.Delta() }

// SampleDeltaA returns the sample's ΔAt (ok false if a reading is invalid).
func (m Report) SampleDeltaA() (measure.Absorbance, bool) { return m.Sample.Delta() }

// InhibitionRate returns the tester's own rate as a Percent, ok false for
// the reserved values.
func (m Report) InhibitionRate() (measure.Percent, bool) {
	if m.Inhibition > 1000 {
		return 0, false
	}
	return measure.Percent(m.Inhibition) * measure.PercentUnit / 10, true
}

// MarshalFrame builds the frame.
func (m Report) MarshalFrame() (Frame, error) {
	f := Frame{Cmd: CmdReport, Data: make([]byte, ReportLen)}
	f.SetParam32(m.Record)
	if err := m.check(); err != nil {
		return Frame{}, fieldErr(f.Cmd, err)
	}
	d := f.Data
	binary.LittleEndian.PutUint32(d[0:4], uint32(m.Time))
	d[4], d[5] = m.Channel, m.ControlChannel
	binary.LittleEndian.PutUint16(d[6:8], m.Interval)
	for _, e := range []error{
		putAbs(d[8:12], m.Control.First, "control first"),
		putAbs(d[12:16], m.Control.Last, "control last"),
		putAbs(d[16:20], m.Sample.First, "sample first"),
		putAbs(d[20:24], m.Sample.Last, "sample last"),
		putText(d[28:44], m.SampleCode, "sample code"),
		putText(d[44:76], m.SampleName, "sample name"),
		putText(d[76:108], m.Item, "item"),
	} {
		if e != nil {
			return Frame{}, fieldErr(f.Cmd, e)
		}
	}
	binary.LittleEndian.PutUint16(d[24:26], m.Inhibition)
	return f, nil
}

func (m Report) check() error {
	switch {
	case !m.Time.Valid():
		return fmt.Errorf("%w: time %08X is not a calendar date", ErrField, uint32(m.Time))
	case m.Channel == 0:
		return fmt.Errorf("%w: sample channel 0 (channels count from 1; 0 is the control)", ErrField)
	case m.Inhibition > 1000 && m.Inhibition != InhibitionInvalid && m.Inhibition != InhibitionNA:
		return fmt.Errorf("%w: inhibition %d (0.1 %%) over 100 %%", ErrField, m.Inhibition)
	}
	return nil
}

func (m *Report) unmarshal(f Frame) error {
	if err := wantLen(f, ReportLen, "report"); err != nil {
		return err
	}
	d := f.Data
	m.Record = f.Param32()
	m.Time = PackedTime(binary.LittleEndian.Uint32(d[0:4]))
	m.Channel, m.ControlChannel = d[4], d[5]
	m.Interval = binary.LittleEndian.Uint16(d[6:8])
	m.Control = Kinetics{getAbs(d[8:12]), getAbs(d[12:16])}
	m.Sample = Kinetics{getAbs(d[16:20]), getAbs(d[20:24])}
	m.Inhibition = binary.LittleEndian.Uint16(d[24:26])
	var err error
	if m.SampleCode, err = getText(d[28:44], "sample code"); err != nil {
		return fieldErr(f.Cmd, err)
	}
	if m.SampleName, err = getText(d[44:76], "sample name"); err != nil {
		return fieldErr(f.Cmd, err)
	}
	if m.Item, err = getText(d[76:108], "item"); err != nil {
		return fieldErr(f.Cmd, err)
	}
	return fieldErr(f.Cmd, m.check())
}

// ---- Started -----------------------------------------------------------

// StartedLen is the data length of a Started.
const StartedLen = 56

// Started says the operator pressed START (command 0xA3, Shian's layout,
// record number in parameter bytes 1–4). The host shows "measuring" until
// the Report with the same Record arrives.
type Started struct {
	Record  uint32     `json:"record"`
	Time    PackedTime `json:"time"`
	Channel uint8      `json:"channel"`
	// Duration is how long the test will take, in seconds.
	Duration   uint16 `json:"duration_s"`
	SampleCode string `json:"sample_code"`
	SampleName string `json:"sample_name"`
}

// Command returns CmdStarted.
func (Started) Command() byte { return CmdStarted }

// MarshalFrame builds the frame.
func (m Started) MarshalFrame() (Frame, error) {
	f := Frame{Cmd: CmdStarted, Data: make([]byte, StartedLen)}
	f.SetParam32(m.Record)
	if !m.Time.Valid() {
		return Frame{}, frameErr(ErrField, f.Cmd, "time %08X is not a calendar date", uint32(m.Time))
	}
	d := f.Data
	binary.LittleEndian.PutUint32(d[0:4], uint32(m.Time))
	d[4] = m.Channel
	binary.LittleEndian.PutUint16(d[6:8], m.Duration)
	if err := putText(d[8:24], m.SampleCode, "sample code"); err != nil {
		return Frame{}, fieldErr(f.Cmd, err)
	}
	if err := putText(d[24:56], m.SampleName, "sample name"); err != nil {
		return Frame{}, fieldErr(f.Cmd, err)
	}
	return f, nil
}

func (m *Started) unmarshal(f Frame) error {
	if err := wantLen(f, StartedLen, "started"); err != nil {
		return err
	}
	d := f.Data
	m.Record = f.Param32()
	m.Time = PackedTime(binary.LittleEndian.Uint32(d[0:4]))
	if !m.Time.Valid() {
		return frameErr(ErrField, f.Cmd, "time %08X is not a calendar date", uint32(m.Time))
	}
	m.Channel = d[4]
	m.Duration = binary.LittleEndian.Uint16(d[6:8])
	var err error
	if m.SampleCode, err = getText(d[8:24], "sample code"); err != nil {
		return fieldErr(f.Cmd, err)
	}
	if m.SampleName, err = getText(d[24:56], "sample name"); err != nil {
		return fieldErr(f.Cmd, err)
	}
	return nil
}

// ---- Ack ---------------------------------------------------------------

// Ack is the host's acknowledgement of a Report (command 0xA2, no data,
// record number in parameter bytes 1–4). The host sends it once it has
// taken the result; the tester stops repeating that report.
type Ack struct {
	Record uint32 `json:"record"`
}

// Command returns CmdAck.
func (Ack) Command() byte { return CmdAck }

// MarshalFrame builds the frame.
func (m Ack) MarshalFrame() (Frame, error) {
	f := Frame{Cmd: CmdAck, Data: []byte{}}
	f.SetParam32(m.Record)
	return f, nil
}

func (m *Ack) unmarshal(f Frame) error {
	if err := wantLen(f, 0, "ack"); err != nil {
		return err
	}
	m.Record = f.Param32()
	return nil
}
