package history

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// kioskSeqs tracks which sequence numbers of one kiosk are stored: every
// seq ≤ hw, plus the sparse set above it (results that arrived out of
// order, or a restored kiosk's). It is stored as one kiosk_marks row.
type kioskSeqs struct {
	hw    uint64
	above map[uint64]bool
}

func (k *kioskSeqs) add(seq uint64) {
	if seq <= k.hw {
		return
	}
	if k.above == nil {
		k.above = map[uint64]bool{}
	}
	k.above[seq] = true
	for k.above[k.hw+1] {
		delete(k.above, k.hw+1)
		k.hw++
	}
}

func (k *kioskSeqs) has(seq uint64) bool { return seq <= k.hw || k.above[seq] }

func (k *kioskSeqs) max() uint64 {
	m := k.hw
	for s := range k.above {
		if s > m {
			m = s
		}
	}
	return m
}

func (k *kioskSeqs) clone() *kioskSeqs {
	c := &kioskSeqs{hw: k.hw}
	if len(k.above) > 0 {
		c.above = make(map[uint64]bool, len(k.above))
		for s := range k.above {
			c.above[s] = true
		}
	}
	return c
}

// encodeAbove is the stored form of the set above hw: ascending decimal
// seqs separated by commas ("" when empty).
func (k *kioskSeqs) encodeAbove() string {
	if len(k.above) == 0 {
		return ""
	}
	s := make([]uint64, 0, len(k.above))
	for x := range k.above {
		s = append(s, x)
	}
	slices.Sort(s)
	var b strings.Builder
	for i, x := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(x, 10))
	}
	return b.String()
}

// decodeMarks reads a kiosk_marks row.
func decodeMarks(hw int64, above string) (*kioskSeqs, error) {
	if hw < 0 {
		return nil, fmt.Errorf("negative high-water mark %d", hw)
	}
	k := &kioskSeqs{hw: uint64(hw)}
	if above == "" {
		return k, nil
	}
	for _, f := range strings.Split(above, ",") {
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil || n <= k.hw {
			return nil, fmt.Errorf("seq %q above the high-water mark %d is not a number above it", f, hw)
		}
		if k.above == nil {
			k.above = map[uint64]bool{}
		}
		k.above[n] = true
	}
	return k, nil
}
