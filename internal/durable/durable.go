// Package durable opens a buntdb file the way the kiosk's outbox and the
// command's store both need it: checked by internal/aofsalvage before buntdb
// reads it, with SyncPolicy Always and auto-shrink off, and with a second
// descriptor of the file through which the caller fsyncs after a commit.
//
// # Opening
//
// [Open] first runs [aofsalvage.PrepareWith] on the file: a torn tail is cut
// off, a file buntdb would misread is rewritten, a damaged one is moved
// aside and replaced by every record salvaged from it, and a clean file that
// has grown past Options.CompactOver and twice its records is compacted
// (buntdb's own Shrink renames a temporary file it never fsyncs, so
// auto-shrink stays off). If buntdb still refuses the file, or panics
// reading it, the file is salvaged by force and opened again: the program
// never crash-loops on its own file. Every repair is logged and handed to
// Options.Repaired with an alarm code (storage_torn_tail,
// storage_rewritten, storage_salvaged); a compaction is only logged.
//
// # Syncing
//
// buntdb (SyncPolicy Always) calls fsync but discards its error (buntdb
// #122). [File.Sync] fsyncs the file through a descriptor opened at Open:
// Linux reports a writeback error to every descriptor open when it
// happened, so ours sees what buntdb threw away. What a failed fsync means
// is the caller's to decide.
package durable

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/shianfood/shian/internal/aofsalvage"
	"github.com/tidwall/buntdb"
)

// EventRepaired is the "event" attribute of the log line written when a
// file was repaired before opening; supervisors (simulator/chaos) count it
// from the binaries' JSON logs.
const EventRepaired = "storage_repaired"

// EventCompacted is the "event" attribute of the log line written when a
// file was compacted at open.
const EventCompacted = "storage_compacted"

// Options configures Open.
type Options struct {
	// Name is the store's name in errors and log lines ("outbox").
	Name string
	// Now is the clock that names what a repair keeps beside the file
	// (default time.Now).
	Now func() time.Time
	// Log receives what the salvage check did (default slog.Default()).
	Log *slog.Logger
	// CompactOver is aofsalvage's threshold for compacting at open.
	CompactOver int64
	// Sync is buntdb's sync policy (default Always). With any other
	// policy File.Sync does nothing.
	Sync *buntdb.SyncPolicy
	// Repaired, if set, is called for each repair the salvage check made
	// before buntdb opened the file, with the alarm code and a
	// description of what was done.
	Repaired func(code, msg string)
}

// File is an open buntdb database with its own descriptor for fsync.
type File struct {
	// DB is the database.
	DB *buntdb.DB

	syncf  *os.File
	noSync bool
}

// Open checks, repairs if need be, and opens the buntdb file at path.
func Open(path string, opts Options) (*File, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	prep, err := aofsalvage.PrepareWith(path, opts.Now(), aofsalvage.Options{CompactOver: opts.CompactOver})
	if err != nil {
		return nil, fmt.Errorf("%s: checking %s before opening it: %w", opts.Name, path, err)
	}
	opts.prepared(path, prep)
	db, err := openDB(path)
	if errors.Is(err, buntdb.ErrInvalid) {
		// Prepare let through a file buntdb refuses: salvage it anyway
		// rather than refuse to start.
		opts.Log.Error("buntdb refused a file the salvage check passed; salvaging it", "path", path, "err", err)
		prep, ferr := aofsalvage.Force(path, opts.Now())
		if ferr != nil {
			return nil, fmt.Errorf("%s: %s is damaged (%v) and could not be salvaged: %w", opts.Name, path, err, ferr)
		}
		opts.prepared(path, prep)
		db, err = openDB(path)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: open %s: %w", opts.Name, path, err)
	}
	var cfg buntdb.Config
	if err := db.ReadConfig(&cfg); err != nil {
		db.Close()
		return nil, err
	}
	cfg.SyncPolicy = buntdb.Always
	cfg.AutoShrinkDisabled = true
	if opts.Sync != nil {
		cfg.SyncPolicy = *opts.Sync
	}
	if err := db.SetConfig(cfg); err != nil {
		db.Close()
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: open %s for fsync: %w", opts.Name, path, err)
	}
	return &File{DB: db, syncf: f, noSync: cfg.SyncPolicy != buntdb.Always}, nil
}

// Sync fsyncs the file through the descriptor opened at Open, unless the
// sync policy is not Always.
func (f *File) Sync() error {
	if f.noSync {
		return nil
	}
	return f.syncf.Sync()
}

// Close closes the database and the fsync descriptor; the error is the
// database's.
func (f *File) Close() error {
	err := f.DB.Close()
	f.syncf.Close()
	return err
}

// openDB is buntdb.Open, with a panic while reading the file (buntdb
// panics on some malformed commands) turned into ErrInvalid.
func openDB(path string) (db *buntdb.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("%w: buntdb panicked reading it: %v", buntdb.ErrInvalid, r)
		}
	}()
	return buntdb.Open(path)
}

// prepared logs what the salvage check did and hands a repair to Repaired.
func (opts *Options) prepared(path string, p aofsalvage.Outcome) {
	if p.Action == aofsalvage.None {
		return
	}
	msg := p.Message(path)
	if p.Action == aofsalvage.Compacted {
		opts.Log.Info(opts.Name+" compacted", "event", EventCompacted, "detail", msg)
		return
	}
	code := map[aofsalvage.Action]string{aofsalvage.Truncated: "storage_torn_tail",
		aofsalvage.Rewritten: "storage_rewritten", aofsalvage.Salvaged: "storage_salvaged"}[p.Action]
	opts.Log.Warn(opts.Name+" file repaired before opening", "event", EventRepaired, "action", p.Action.String(), "detail", msg)
	if opts.Repaired != nil {
		opts.Repaired(code, msg)
	}
}
