// Package pinyin gives a name's search keys in pinyin, so that a stall
// picker finds 麻辣烫 from "malatang" (full pinyin) or "mlt" (the
// syllables' initials), as people type on a kiosk's or a phone's Latin
// keyboard. The keys are computed on the server (the kiosk's and the
// command's) and sent with the names; the pages only compare strings
// (docs/decisions/0034).
//
//	k := pinyin.KeysOf("21号 蜜语奶茶")
//	k.Full     // "21haomiyunaicha"
//	k.Initials // "21hmync"
//	pinyin.Match(k, "miyu") // true
//
// Each Han character takes its most common reading (github.com/mozillazg/
// go-pinyin's dictionary, no tones); a character with several readings
// (重 zhong/chong, 长 chang/zhang) therefore matches by that one only.
// Latin letters and digits are kept, lower-cased; spaces and punctuation
// are dropped.
package pinyin

import (
	"strings"
	"unicode"

	gopinyin "github.com/mozillazg/go-pinyin"
)

// Keys are a name's search keys: Full is the pinyin of every character
// run together, Initials the first letter of each syllable. Both are empty
// for a name with no Han character (the name itself is then the key).
type Keys struct {
	Full     string `json:"pinyin,omitempty"`
	Initials string `json:"initials,omitempty"`
}

var args = gopinyin.NewArgs() // Style Normal: no tones

// KeysOf returns the search keys of name.
func KeysOf(name string) Keys {
	var full, ini strings.Builder
	han := false
	for _, r := range name {
		switch {
		case unicode.Is(unicode.Han, r):
			if p := gopinyin.SinglePinyin(r, args); len(p) > 0 && p[0] != "" {
				han = true
				full.WriteString(p[0])
				ini.WriteByte(p[0][0])
			}
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			c := byte(unicode.ToLower(r))
			full.WriteByte(c)
			ini.WriteByte(c)
		}
	}
	if !han {
		return Keys{}
	}
	return Keys{Full: full.String(), Initials: ini.String()}
}

// Match reports whether a query (as typed: any case, spaces allowed)
// is part of the full pinyin or of the initials.
func Match(k Keys, query string) bool {
	q := strings.ToLower(strings.Join(strings.Fields(query), ""))
	if q == "" || k.Full == "" {
		return false
	}
	return strings.Contains(k.Full, q) || strings.Contains(k.Initials, q)
}
