package aofsalvage

import (
	"bytes"
	"strings"
)

// Op is the kind of an AOF command.
type Op int

// The commands buntdb writes.
const (
	OpSet Op = iota + 1
	OpDel
	OpFlush
)

func (o Op) String() string {
	switch o {
	case OpSet:
		return "set"
	case OpDel:
		return "del"
	case OpFlush:
		return "flushdb"
	}
	return "?"
}

// Command is one parsed AOF command.
type Command struct {
	Op    Op
	Key   string
	Value string // set only
	// Offset and Len locate the command in the file.
	Offset, Len int
}

// status of one parse attempt.
type status int

const (
	ok         status = iota
	incomplete        // data ended inside the command (a torn tail, if nothing valid follows)
	invalid           // bytes that are not a command buntdb wrote
	empty             // "*0\r\n": valid to buntdb, but it miscounts it (see Report.Misaligned)
)

// maxDigits bounds a count or length field: 10 digits is 10 GB, far beyond
// any record, and keeps the arithmetic from overflowing.
const maxDigits = 10

// number parses the digits of a "*N\r\n" or "$N\r\n" line (without the
// prefix byte and CRLF), as buntdb does, but refuses more than maxDigits.
func number(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > maxDigits {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// line returns the header line at data[off:] without its CRLF: the
// prefix byte must be want, the line must end in CRLF and hold only
// digits. It mirrors buntdb's readLoad checks (which take a 1-digit line
// and a longer line by different paths with the same outcome).
func header(data []byte, off int, want byte) (n, next int, st status) {
	i := bytes.IndexByte(data[off:], '\n')
	if i < 0 {
		// No newline: a torn header if what is there can still become
		// one ("$12", "$12\r"), else damage.
		rest := data[off:]
		if rest[0] != want {
			return 0, 0, invalid
		}
		body := rest[1:]
		if len(body) > 0 && body[len(body)-1] == '\r' {
			body = body[:len(body)-1]
			if len(body) == 0 {
				return 0, 0, invalid
			}
		}
		if len(body) > maxDigits {
			return 0, 0, invalid
		}
		for _, c := range body {
			if c < '0' || c > '9' {
				return 0, 0, invalid
			}
		}
		return 0, 0, incomplete
	}
	ln := data[off : off+i+1]
	if ln[0] != want || len(ln) < 4 || ln[len(ln)-2] != '\r' {
		return 0, 0, invalid
	}
	n, good := number(ln[1 : len(ln)-2])
	if !good {
		return 0, 0, invalid
	}
	return n, off + len(ln), ok
}

// parse reads one command at data[off:], which must not start with a NUL.
// It accepts exactly what buntdb writes: set (3 parts, or 5 with an "ex"
// or "ae" expiry), del (2 parts) and flushdb (1 part), names in any case.
// Keys and values may not hold a raw CR or LF (see below).
// buntdb's own reader is looser in ways that make it panic (a name shorter
// than three bytes) or allocate without bound (a huge length); those are
// invalid here.
func parse(data []byte, off int) (Command, int, status) {
	start := off
	n, off, st := header(data, off, '*')
	if st != ok {
		return Command{}, 0, st
	}
	if n == 0 {
		return Command{Offset: start, Len: off - start}, off, empty
	}
	if n > 5 {
		return Command{}, 0, invalid
	}
	parts := make([]string, 0, n)
	for i := 0; i < n; i++ {
		if off >= len(data) {
			return Command{}, 0, tornIfConsistent(parts, n)
		}
		size, next, st := header(data, off, '$')
		if st == incomplete {
			return Command{}, 0, tornIfConsistent(parts, n)
		}
		if st != ok {
			return Command{}, 0, invalid
		}
		if next+size+2 > len(data) {
			// The part runs past the end: torn, unless the bytes that are
			// there hold a CR or LF (the length is corrupted and reaches
			// over the following commands).
			if i > 0 && i < 3 && bytes.ContainsAny(data[next:min(next+size, len(data))], "\r\n") {
				return Command{}, 0, invalid
			}
			return Command{}, 0, tornIfConsistent(parts, n)
		}
		if data[next+size] != '\r' || data[next+size+1] != '\n' {
			return Command{}, 0, invalid
		}
		if i > 0 && i < 3 && bytes.ContainsAny(data[next:next+size], "\r\n") {
			// A key or value with a raw CR or LF: ours are JSON, which
			// escapes both, so these are bytes of the following commands
			// swallowed by a corrupted length.
			return Command{}, 0, invalid
		}
		parts = append(parts, string(data[next:next+size]))
		off = next + size + 2
		if i == 0 && !nameFits(parts[0], n) {
			return Command{}, 0, invalid
		}
	}
	c := Command{Offset: start, Len: off - start}
	switch strings.ToLower(parts[0]) {
	case "set":
		if n == 5 {
			if a := strings.ToLower(parts[3]); (a != "ex" && a != "ae") || !digits(parts[4]) {
				return Command{}, 0, invalid
			}
		}
		c.Op, c.Key, c.Value = OpSet, parts[1], parts[2]
	case "del":
		c.Op, c.Key = OpDel, parts[1]
	case "flushdb":
		c.Op = OpFlush
	}
	return c, off, ok
}

// nameFits reports whether a command name goes with a part count.
func nameFits(name string, n int) bool {
	switch strings.ToLower(name) {
	case "set":
		return n == 3 || n == 5
	case "del":
		return n == 2
	case "flushdb":
		return n == 1
	}
	return false
}

// tornIfConsistent decides what a command cut off by the end of the data
// is: a torn tail if everything read so far fits a command buntdb writes,
// else damage (a corrupted count or name that only looks unfinished).
func tornIfConsistent(parts []string, n int) status {
	if len(parts) > 0 && !nameFits(parts[0], n) {
		return invalid
	}
	return incomplete
}

func digits(s string) bool {
	if s == "" || len(s) > 19 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// AppendSet appends a set command for key and value, byte for byte as
// buntdb writes it.
func AppendSet(buf []byte, key, value string) []byte {
	buf = append(buf, "*3\r\n$3\r\nset\r\n"...)
	buf = appendBulk(buf, key)
	return appendBulk(buf, value)
}

func appendBulk(buf []byte, s string) []byte {
	buf = append(buf, '$')
	buf = appendInt(buf, len(s))
	buf = append(buf, '\r', '\n')
	buf = append(buf, s...)
	return append(buf, '\r', '\n')
}

func appendInt(buf []byte, n int) []byte {
	var tmp [20]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(buf, tmp[i:]...)
}
