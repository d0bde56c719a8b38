package aofsalvage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Action is what Prepare did to a file.
type Action int

// Actions, from none to the most drastic.
const (
	// None: the file is clean (or absent); buntdb may open it as it is.
	None Action = iota
	// Truncated: a torn tail was cut off (kept in Aside), as buntdb
	// would have done, but without its unbounded allocation.
	Truncated
	// Rewritten: the file held NUL bytes or empty commands, which make
	// buntdb overwrite good bytes; it was rewritten from its records and
	// the original moved to Aside. Nothing was lost.
	Rewritten
	// Salvaged: the file was damaged; it was moved to Aside and a fresh
	// file was written from every record salvaged.
	Salvaged
	// Compacted: a clean file much larger than its records was rewritten
	// with one command per record (see Options.CompactOver).
	Compacted
)

func (a Action) String() string {
	return [...]string{"none", "truncated", "rewritten", "salvaged", "compacted"}[a]
}

// Options tune PrepareWith.
type Options struct {
	// CompactOver, when positive, rewrites a clean file larger than this
	// many bytes and more than twice the size of its records: buntdb's
	// own Shrink renames a temporary file it never fsyncs (docs/reliability.md
	// B1), so we shrink here, before buntdb opens the file, with the
	// temporary file and the directory fsynced.
	CompactOver int64
}

// Outcome is what Prepare found and did.
type Outcome struct {
	Action Action
	Report Report
	// Aside is the file the removed bytes were kept in ("" for None).
	Aside string
}

// Message describes the outcome for an alarm or a log line.
func (o Outcome) Message(path string) string {
	name := filepath.Base(path)
	r := &o.Report
	switch o.Action {
	case Truncated:
		return fmt.Sprintf("%s ended inside a write (power cut?): %d bytes cut off after byte %d, %d records kept; the cut bytes are in %s",
			name, r.Size-r.Intact, r.Intact, r.Keys, filepath.Base(o.Aside))
	case Rewritten:
		return fmt.Sprintf("%s held %d NUL bytes and %d empty commands, which make buntdb overwrite records; rewritten with all %d records, original kept as %s",
			name, r.NULs, r.Empty, r.Keys, filepath.Base(o.Aside))
	case Compacted:
		return fmt.Sprintf("%s compacted from %d bytes to its %d records", name, r.Size, r.Keys)
	case Salvaged:
		return fmt.Sprintf("%s damaged at byte %d; %d records salvaged (%d commands before the damage, %d after it); damaged file kept as %s",
			name, r.FirstDamage(), r.Keys, r.Commands, r.Recovered, filepath.Base(o.Aside))
	}
	return name + ": clean"
}

// Prepare makes the buntdb file at path safe to open, before buntdb.Open
// reads it. A missing file is fine (None). Whatever it removes is kept
// beside the file, named after now (UTC). Only an I/O error is returned; a
// damaged file is never an error.
func Prepare(path string, now time.Time) (Outcome, error) {
	return PrepareWith(path, now, Options{})
}

// PrepareWith is Prepare with options.
func PrepareWith(path string, now time.Time, opt Options) (Outcome, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Outcome{}, nil
	}
	if err != nil {
		return Outcome{}, fmt.Errorf("read %s: %w", path, err)
	}
	recs, rep := Salvage(data)
	out := Outcome{Report: rep}
	if rep.Clean() {
		if opt.CompactOver > 0 && int64(len(data)) > opt.CompactOver {
			if live := Encode(recs); len(live)*2 < len(data) {
				out.Action = Compacted
				return out, WriteFile(path, recs)
			}
		}
		return out, nil
	}
	stamp := now.UTC().Format("20060102T150405Z")
	switch {
	case rep.Damaged() || rep.Misaligned():
		out.Action = Salvaged
		if !rep.Damaged() {
			out.Action = Rewritten
		}
		aside, err := freeName(path + "." + map[bool]string{true: "damaged", false: "misaligned"}[rep.Damaged()] + "-" + stamp)
		if err != nil {
			return out, err
		}
		if err := os.Rename(path, aside); err != nil {
			return out, fmt.Errorf("move %s aside: %w", path, err)
		}
		out.Aside = aside
		if err := WriteFile(path, recs); err != nil {
			return out, err
		}
	default: // a torn tail and nothing else
		out.Action = Truncated
		aside, err := freeName(path + ".torn-" + stamp)
		if err != nil {
			return out, err
		}
		if err := writeSynced(aside, data[rep.Intact:]); err != nil {
			return out, err
		}
		out.Aside = aside
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return out, err
		}
		err = f.Truncate(int64(rep.Intact))
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return out, fmt.Errorf("truncate the torn tail of %s: %w", path, err)
		}
	}
	return out, syncDir(filepath.Dir(path))
}

// Force moves the file at path aside and writes a fresh one from every
// record salvaged from it, whatever its state: the fallback for a file that
// Prepare passed and buntdb still refuses.
func Force(path string, now time.Time) (Outcome, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Outcome{}, fmt.Errorf("read %s: %w", path, err)
	}
	recs, rep := Salvage(data)
	if !rep.Damaged() {
		rep.Damage = []Region{{Offset: rep.Intact, Len: 0}}
	}
	out := Outcome{Action: Salvaged, Report: rep}
	aside, err := freeName(path + ".damaged-" + now.UTC().Format("20060102T150405Z"))
	if err != nil {
		return out, err
	}
	if err := os.Rename(path, aside); err != nil {
		return out, fmt.Errorf("move %s aside: %w", path, err)
	}
	out.Aside = aside
	return out, WriteFile(path, recs)
}

// freeName returns p, or p-1, p-2, … if p exists.
func freeName(p string) (string, error) {
	for i := 0; i < 1000; i++ {
		q := p
		if i > 0 {
			q = fmt.Sprintf("%s-%d", p, i)
		}
		if _, err := os.Lstat(q); errors.Is(err, fs.ErrNotExist) {
			return q, nil
		}
	}
	return "", fmt.Errorf("no free name for %s", p)
}

// WriteFile writes records as a fresh AOF at path: to a temporary file,
// fsynced, renamed over path, and the directory fsynced.
func WriteFile(path string, recs []Record) error {
	tmp := path + ".salvage-tmp"
	if err := writeSynced(tmp, Encode(recs)); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("install salvaged %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
