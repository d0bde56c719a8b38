package dyframe

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// Text fields are GB2312 (EUC-CN) in fixed-width fields padded with NUL, as
// the vendor's item and unit fields are. golang.org/x/text has no plain
// GB2312 codec, so this uses its GBK codec (a superset) and accepts only
// bytes in the GB2312 ranges: printable ASCII 0x20–0x7E, and double bytes
// with a lead byte in A1–A9 or B0–F7 and a trail byte in A1–FE. Characters
// outside GB2312 (e.g. GBK-only or emoji) are refused when encoding and
// bytes outside it are refused when decoding, so a decoded string always
// re-encodes to the same field.

// GB2312Len returns the encoded length of s in bytes, or an error saying
// which character cannot be encoded.
func GB2312Len(s string) (int, error) {
	b, err := encodeGB2312(s)
	return len(b), err
}

// FitGB2312 returns the longest prefix of s that encodes to at most n bytes
// without splitting a character (for firmware that must truncate what an
// operator typed). Characters that cannot be encoded are replaced by '?'.
func FitGB2312(s string, n int) string {
	var out strings.Builder
	used := 0
	for _, r := range s {
		b, err := encodeGB2312(string(r))
		if err != nil {
			r, b = '?', []byte{'?'}
		}
		if used+len(b) > n {
			break
		}
		used += len(b)
		out.WriteRune(r)
	}
	return out.String()
}

func encodeGB2312(s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("%w: text %q is not valid UTF-8", ErrField, s)
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7F }); i >= 0 {
		return nil, fmt.Errorf("%w: text %q has a control character at byte %d", ErrField, s, i)
	}
	b, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("%w: text %q has a character outside GB2312", ErrField, s)
	}
	if i := checkGB2312(b); i >= 0 {
		return nil, fmt.Errorf("%w: text %q has a character outside GB2312 (byte %d)", ErrField, s, i)
	}
	return b, nil
}

// checkGB2312 returns the offset of the first byte outside the accepted
// GB2312 ranges, or -1.
func checkGB2312(b []byte) int {
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= 0x20 && c <= 0x7E:
		case (c >= 0xA1 && c <= 0xA9 || c >= 0xB0 && c <= 0xF7) && i+1 < len(b) && b[i+1] >= 0xA1 && b[i+1] <= 0xFE:
			i++
		default:
			return i
		}
	}
	return -1
}

// putText writes s into the fixed field dst, NUL-padded.
func putText(dst []byte, s, name string) error {
	b, err := encodeGB2312(s)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if len(b) > len(dst) {
		return fmt.Errorf("%w: %s %q is %d bytes in GB2312, the field holds %d", ErrField, name, s, len(b), len(dst))
	}
	n := copy(dst, b)
	clear(dst[n:])
	return nil
}

// getText reads a fixed field: the text ends at the first NUL (the rest of
// the field is ignored, as the vendor software does).
func getText(b []byte, name string) (string, error) {
	for i, c := range b {
		if c == 0 {
			b = b[:i]
			break
		}
	}
	if i := checkGB2312(b); i >= 0 {
		return "", fmt.Errorf("%w: %s has byte %02X at %d, outside GB2312", ErrField, name, b[i], i)
	}
	s, err := simplifiedchinese.GBK.NewDecoder().Bytes(b)
	if err != nil || !utf8.Valid(s) || strings.ContainsRune(string(s), utf8.RuneError) {
		return "", fmt.Errorf("%w: %s is not GB2312 text", ErrField, name)
	}
	return string(s), nil
}
