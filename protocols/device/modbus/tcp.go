package modbus

import "encoding/binary"

// Modbus TCP carries the same PDU as RTU behind a 7-byte MBAP header
// instead of a CRC (the TCP checksum guards the bytes):
//
//	[transaction id: 2][protocol id 0: 2][length: 2][unit id: 1][PDU …]
//
// length counts the unit id and the PDU. A client numbers its requests
// with the transaction id and takes only the answer with the same id.

// MBAPHeaderLen is the length of the MBAP header, unit id included.
const MBAPHeaderLen = 7

// AppendTCP appends the request as a Modbus TCP frame with transaction id
// tid to dst.
func (r Request) AppendTCP(dst []byte, tid uint16) ([]byte, error) {
	rtu, err := r.Append(nil)
	if err != nil {
		return dst, err
	}
	return appendMBAP(dst, tid, rtu[:len(rtu)-2]), nil
}

// AppendTCP appends the response as a Modbus TCP frame with transaction id
// tid to dst.
func (r Response) AppendTCP(dst []byte, tid uint16) ([]byte, error) {
	rtu, err := r.Append(nil)
	if err != nil {
		return dst, err
	}
	return appendMBAP(dst, tid, rtu[:len(rtu)-2]), nil
}

func appendMBAP(dst []byte, tid uint16, unitPDU []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, tid)
	dst = binary.BigEndian.AppendUint16(dst, 0)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(unitPDU)))
	return append(dst, unitPDU...)
}

// TCPFrameLen returns the length of the TCP frame at the start of b, or
// ErrIncomplete when b does not hold its header yet. A header that cannot
// start a frame (a protocol id other than 0, a length outside 2…254) is
// ErrFrame: the stream cannot be resynchronised, close the connection.
func TCPFrameLen(b []byte) (int, error) {
	if len(b) < 6 {
		return 0, ErrIncomplete
	}
	if proto := binary.BigEndian.Uint16(b[2:]); proto != 0 {
		return 0, frameErr("MBAP protocol id %d, want 0 (is this a Modbus TCP server?)", proto)
	}
	n := int(binary.BigEndian.Uint16(b[4:]))
	if n < 2 || n > MaxADU-2 {
		return 0, frameErr("MBAP length %d outside 2…%d", n, MaxADU-2)
	}
	return 6 + n, nil
}

// ParseTCPResponse decodes exactly one Modbus TCP response frame, as
// ParseResponse decodes an RTU one.
func ParseTCPResponse(frame []byte) (tid uint16, r Response, err error) {
	unitPDU, tid, err := tcpBody(frame)
	if err != nil {
		return 0, Response{}, err
	}
	r, err = ParseResponse(AppendCRC(unitPDU))
	return tid, r, err
}

// ParseTCPRequest decodes exactly one Modbus TCP request frame, as
// ParseRequest decodes an RTU one.
func ParseTCPRequest(frame []byte) (tid uint16, r Request, err error) {
	unitPDU, tid, err := tcpBody(frame)
	if err != nil {
		return 0, Request{}, err
	}
	r, err = ParseRequest(AppendCRC(unitPDU))
	return tid, r, err
}

func tcpBody(frame []byte) (unitPDU []byte, tid uint16, err error) {
	n, err := TCPFrameLen(frame)
	if err != nil {
		if err == ErrIncomplete {
			return nil, 0, frameErr("%d bytes is not a whole TCP frame", len(frame))
		}
		return nil, 0, err
	}
	if len(frame) != n {
		return nil, 0, frameErr("TCP frame of %d bytes, its header says %d", len(frame), n)
	}
	return append([]byte(nil), frame[6:]...), binary.BigEndian.Uint16(frame), nil
}
