// Package aofsalvage reads buntdb's append-only file with our own RESP
// reader, so that a damaged file never keeps a kiosk or the command service
// from starting, and so that buntdb is only ever handed a file it reads
// correctly.
//
// # Why buntdb needs a gate
//
// buntdb v1.3.0 loads its file with one pass of a RESP reader (readLoad):
//
//   - An incomplete last command is a torn tail; buntdb truncates it.
//   - Anything else malformed makes Open fail with ErrInvalid, for good:
//     there is no salvage mode (buntdb #72, #82).
//   - A command name shorter than three bytes makes it panic, and a huge
//     "$N" length makes it allocate N bytes before reading them.
//   - NUL bytes and empty commands ("*0") are skipped but not counted in
//     the offset load() seeks to, so the next write lands that many bytes
//     early and overwrites the end of the last record: the following Open
//     fails with ErrInvalid and that record is gone. (Reproduced by
//     TestBuntdbMisalignment; tile38 #600 is where NUL padding came from.)
//   - A corrupted count or length in the last command looks like a torn
//     tail, and buntdb silently truncates a record that had been complete.
//
// [Prepare] runs before every buntdb.Open: it parses the file, and when the
// file is not plainly clean it fixes it on disk first (truncate a torn tail,
// rewrite a misaligned file, or move a damaged file aside and write a fresh
// one from everything salvaged), keeping whatever it removes beside the
// file. The caller raises an alarm with [Outcome.Message].
//
// # Salvage
//
// [Salvage] replays every command up to the first damage, exactly as
// buntdb would, then looks for the next byte offset at which a complete,
// well-formed command starts and carries on from there, so records written
// after a damaged region are recovered too. Our keys and values are JSON
// and ids, which never hold a raw CR or LF, so the reader refuses a key or
// value that does: that is what a corrupted length swallowing the next
// commands looks like, and it makes a command found by resynchronising a
// real one. The result is the
// final key/value state (set, del and flushdb applied in file order);
// expiry times are dropped, as nothing of ours has one.
package aofsalvage

import (
	"bytes"
	"fmt"
	"sort"
)

// Record is one key and its value.
type Record struct{ Key, Value string }

// Region is a byte range of the file.
type Region struct{ Offset, Len int }

// Report describes an AOF image.
type Report struct {
	// Size is the number of bytes read.
	Size int
	// Intact is where the intact prefix ends: every byte before it is a
	// command or a skipped NUL. It equals Size for a clean file.
	Intact int
	// Commands counts the commands in the intact prefix, PrefixKeys the
	// keys they leave.
	Commands, PrefixKeys int
	// NULs and Empty count NUL bytes and "*0" commands in the intact
	// prefix: buntdb reads past them but miscounts its offset.
	NULs, Empty int
	// TornTail is set when the data ends inside a command with nothing
	// valid after it: a write cut short.
	TornTail bool
	// Damage lists the regions that are neither commands nor NUL
	// padding, in order; Recovered counts the commands found after the
	// first damaged region.
	Damage    []Region
	Recovered int
	// Keys is the number of records Salvage returned.
	Keys int
}

// Damaged reports whether the data holds anything but commands, NULs and
// a torn tail.
func (r *Report) Damaged() bool { return len(r.Damage) > 0 }

// Misaligned reports whether buntdb would miscount its offset in this
// file (NULs or empty commands in it).
func (r *Report) Misaligned() bool { return r.NULs > 0 || r.Empty > 0 }

// Clean reports whether buntdb reads this file correctly as it is.
func (r *Report) Clean() bool { return !r.Damaged() && !r.TornTail && !r.Misaligned() }

// FirstDamage returns the offset of the first damaged byte, or -1.
func (r *Report) FirstDamage() int {
	if len(r.Damage) == 0 {
		return -1
	}
	return r.Damage[0].Offset
}

func (r *Report) String() string {
	switch {
	case r.Clean():
		return fmt.Sprintf("clean: %d bytes, %d commands, %d records", r.Size, r.Commands, r.Keys)
	case r.Damaged():
		n := 0
		for _, d := range r.Damage {
			n += d.Len
		}
		return fmt.Sprintf("damaged at byte %d (%d damaged bytes in %d regions): %d commands before the damage, %d after it; %d records salvaged",
			r.FirstDamage(), n, len(r.Damage), r.Commands, r.Recovered, r.Keys)
	case r.TornTail:
		return fmt.Sprintf("torn tail: %d of %d bytes intact, %d records", r.Intact, r.Size, r.Keys)
	}
	return fmt.Sprintf("misaligned (%d NUL bytes, %d empty commands): %d records", r.NULs, r.Empty, r.Keys)
}

// Scan parses data and calls fn for every command in file order, the
// intact prefix first, then the commands found past damage. It returns
// the report (Keys is left 0).
func Scan(data []byte, fn func(Command)) Report {
	rep := Report{Size: len(data)}
	damaged := false
	off := 0
	for off < len(data) {
		if data[off] == 0 {
			if !damaged {
				rep.NULs++
			}
			off++
			continue
		}
		c, next, st := parse(data, off)
		switch st {
		case ok:
			if damaged {
				rep.Recovered++
			} else {
				rep.Commands++
			}
			if fn != nil {
				fn(c)
			}
			off = next
			continue
		case empty:
			if !damaged {
				rep.Empty++
			}
			off = next
			continue
		}
		q := resync(data, off+1)
		if q < 0 {
			if st == incomplete {
				rep.TornTail = true
			} else {
				rep.Damage = append(rep.Damage, Region{off, len(data) - off})
			}
			if !damaged {
				rep.Intact = off
			}
			return rep
		}
		rep.Damage = append(rep.Damage, Region{off, q - off})
		if !damaged {
			rep.Intact = off
			damaged = true
		}
		off = q
	}
	if !damaged {
		rep.Intact = len(data)
	}
	return rep
}

// resync returns the first offset ≥ from at which a complete command
// starts, or -1.
func resync(data []byte, from int) int {
	for from < len(data) {
		i := bytes.IndexByte(data[from:], '*')
		if i < 0 {
			return -1
		}
		q := from + i
		if _, _, st := parse(data, q); st == ok {
			return q
		}
		from = q + 1
	}
	return -1
}

// Salvage replays data and returns the resulting records, sorted by key,
// with the report.
func Salvage(data []byte) ([]Record, Report) {
	state := map[string]string{}
	rep := Scan(data, func(c Command) { apply(state, c) })
	// PrefixKeys: replay the prefix alone (cheap: it is a prefix).
	if rep.Damaged() || rep.TornTail {
		pre := map[string]string{}
		Scan(data[:rep.Intact], func(c Command) { apply(pre, c) })
		rep.PrefixKeys = len(pre)
	} else {
		rep.PrefixKeys = len(state)
	}
	out := make([]Record, 0, len(state))
	for k, v := range state {
		out = append(out, Record{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	rep.Keys = len(out)
	return out, rep
}

func apply(state map[string]string, c Command) {
	switch c.Op {
	case OpSet:
		state[c.Key] = c.Value
	case OpDel:
		delete(state, c.Key)
	case OpFlush:
		clear(state)
	}
}

// Encode returns records as an AOF, one set command each.
func Encode(recs []Record) []byte {
	n := 0
	for _, r := range recs {
		n += len(r.Key) + len(r.Value) + 40
	}
	buf := make([]byte, 0, n)
	for _, r := range recs {
		buf = AppendSet(buf, r.Key, r.Value)
	}
	return buf
}
