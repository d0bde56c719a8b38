package modbus

// crcTable is CRC-16/MODBUS (reflected polynomial 0xA001) for one byte.
var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0xA001
			} else {
				c >>= 1
			}
		}
		t[i] = c
	}
	return t
}()

// CRC returns the CRC-16/MODBUS of b: init 0xFFFF, for each byte
// crc ^= b then eight times {lsb := crc&1; crc >>= 1; if lsb {crc ^= 0xA001}}.
// It is sent low byte first (see AppendCRC).
func CRC(b []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, x := range b {
		crc = crc>>8 ^ crcTable[byte(crc)^x]
	}
	return crc
}

// AppendCRC appends the CRC of b to b, low byte first.
func AppendCRC(b []byte) []byte {
	c := CRC(b)
	return append(b, byte(c), byte(c>>8))
}

// CheckCRC checks the last two bytes of adu against the CRC of the rest.
// It returns a *CRCError (matching ErrCRC) on a mismatch and an ErrFrame
// error when adu is too short to carry a CRC.
func CheckCRC(adu []byte) error {
	if len(adu) < 4 {
		return frameErr("%d bytes is shorter than the smallest frame (4)", len(adu))
	}
	n := len(adu) - 2
	want := CRC(adu[:n])
	got := uint16(adu[n]) | uint16(adu[n+1])<<8
	if got != want {
		return &CRCError{Got: got, Want: want}
	}
	return nil
}
