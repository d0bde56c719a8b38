// Package backup takes and restores consistent copies of the command
// service's data directory while the service runs.
//
// A backup is a .tar.gz of:
//
//	manifest.json   what it is: version, when, how many results
//	command.db      a consistent snapshot of the store (store.Backup)
//	history.db      a consistent snapshot of the result history (history.Snapshot;
//	                not when the history is in PostgreSQL: back that up with pg_dump)
//	evidence/…      the incidents' and banquets' evidence files
//
// While the service runs it holds the data directory's lock, so the copy
// is taken by the service itself: [Take] asks it through DATA/control.sock
// ([ServeControl]), a Unix socket only the service's user (and root) may
// open. When no service runs, Take opens the data directory itself.
// [Restore] writes a backup into a data directory no service holds and
// opens the store in it as the service would, to be sure it serves.
package backup

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/shianfood/shian/command/history"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/internal/aofsalvage"
	"github.com/shianfood/shian/internal/dirlock"
	"github.com/shianfood/shian/internal/version"
)

// Manifest describes a backup.
type Manifest struct {
	Kind      string    `json:"kind"` // "shian-command backup"
	Version   string    `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	Results   int       `json:"results"`
	Evidence  int       `json:"evidence_files"`
	// Live is true when the service was running (the copy is of one
	// instant of the running store).
	Live bool `json:"live"`
}

const manifestKind = "shian-command backup"

func controlPath(data string) string { return filepath.Join(data, "control.sock") }

// control is the service's end of control.sock.
type control struct {
	srv *http.Server
	ln  net.Listener
}

func (c *control) Close() error {
	if c == nil {
		return nil
	}
	c.srv.Close()
	return nil
}

// ServeControl listens on DATA/control.sock for Take, until Close.
func ServeControl(data string, st *store.Store, hist history.History, log *slog.Logger) (io.Closer, error) {
	path := controlPath(data)
	os.Remove(path) // a socket left by a killed service; we hold the lock
	old := syscallUmask(0o177)
	ln, err := net.Listen("unix", path)
	syscallUmask(old)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /backup", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/gzip")
		if err := Write(w, st, hist, data, true); err != nil {
			log.Error("backup failed", "err", err)
			// The client sees a truncated gzip stream and reports it.
			return
		}
		log.Info("backup taken through the control socket")
	})
	c := &control{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, ln: ln}
	go c.srv.Serve(ln)
	return c, nil
}

// Write writes the backup of st, hist and data's evidence to w. The
// store and the history are snapshotted to temporary files first, so the
// store's lock is held only for a local disk write, not for the whole
// transfer, and the history's writer never waits.
func Write(w io.Writer, st *store.Store, hist history.History, data string, live bool) error {
	tmp, err := os.CreateTemp(data, ".backup-*.db")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := st.Backup(tmp); err != nil {
		return err
	}
	hdir, err := os.MkdirTemp(data, ".backup-history-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(hdir)
	hpath := filepath.Join(hdir, "history.db")
	inHistory := 0
	haveHistory := false
	if hist != nil {
		n, err := hist.Snapshot(hpath)
		switch {
		case err == nil:
			inHistory, haveHistory = n, true
		case !errors.Is(err, history.ErrNoSnapshot):
			return err
		}
	}
	var evidence []string
	evDir := filepath.Join(data, "evidence")
	filepath.WalkDir(evDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			evidence = append(evidence, p)
		}
		return nil
	})
	// Count the results in the snapshot itself: the store has moved on.
	snap, err := os.ReadFile(tmp.Name())
	if err != nil {
		return err
	}
	recs, _ := aofsalvage.Salvage(snap)
	results := 0
	for _, r := range recs {
		if strings.HasPrefix(r.Key, "result:") {
			results++
		}
	}
	man := Manifest{Kind: manifestKind, Version: version.String(), CreatedAt: time.Now().UTC(), Results: results + inHistory,
		Evidence: len(evidence), Live: live}
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	mb, _ := json.MarshalIndent(man, "", "  ")
	if err := addBytes(tw, "manifest.json", append(mb, '\n')); err != nil {
		return err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := addFile(tw, "command.db", tmp); err != nil {
		return err
	}
	if haveHistory {
		hf, err := os.Open(hpath)
		if err != nil {
			return err
		}
		err = addFile(tw, "history.db", hf)
		hf.Close()
		if err != nil {
			return err
		}
	}
	for _, p := range evidence {
		rel, _ := filepath.Rel(data, p)
		f, err := os.Open(p)
		if err != nil {
			continue // removed meanwhile
		}
		err = addFile(tw, filepath.ToSlash(rel), f)
		f.Close()
		if err != nil {
			return err
		}
	}
	return errors.Join(tw.Close(), gz.Close())
}

func addBytes(tw *tar.Writer, name string, b []byte) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(b)), ModTime: time.Now()}); err != nil {
		return err
	}
	_, err := tw.Write(b)
	return err
}

func addFile(tw *tar.Writer, name string, f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
		return err
	}
	_, err = io.CopyN(tw, f, fi.Size())
	return err
}

// ToFile writes a backup of the data directory to path (through a
// temporary file, fsynced, read back before it is renamed into place) and
// returns its manifest and how it was taken.
func ToFile(ctx context.Context, data, path string, log *slog.Logger) (Manifest, string, error) {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return Manifest{}, "", fmt.Errorf("backup: %w", err)
	}
	defer os.Remove(tmp)
	how, err := Take(ctx, data, f, log)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Manifest{}, "", fmt.Errorf("backup: %w", err)
	}
	man, err := Check(tmp)
	if err != nil {
		return Manifest{}, "", fmt.Errorf("backup: the copy does not read back: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return Manifest{}, "", err
	}
	return man, how, nil
}

// Take writes a backup of the data directory to w: through the running
// service's control socket, or, when no service holds the directory, by
// opening it. It says which.
func Take(ctx context.Context, data string, w io.Writer, log *slog.Logger) (string, error) {
	lk, err := dirlock.Acquire(data, "shian-command")
	if err == nil {
		// No service runs: open the store ourselves, under its lock.
		lk.Release()
		st, err := store.Open(data, store.Options{Log: log})
		if err != nil {
			return "", err
		}
		defer st.Close()
		var hist history.History
		if _, err := os.Stat(filepath.Join(data, "history.db")); err == nil {
			if hist, err = history.Open("sqlite:"+filepath.Join(data, "history.db"), history.Options{Log: log}); err != nil {
				return "", err
			}
			defer hist.Close()
		}
		return "taken from the data directory; no service was running", Write(w, st, hist, data, false)
	}
	if !errors.Is(err, dirlock.ErrLocked) {
		return "", err
	}
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", controlPath(data))
	}}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://shian-command/backup", nil)
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("the service holds %s but its control socket does not answer (%w); run backup as the service's user or root", data, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("the service answered HTTP %d", resp.StatusCode)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return "", err
	}
	return "taken by the running service", nil
}

// readBackup calls fn for every file of a backup.
func readBackup(path string, fn func(name string, r io.Reader) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s is not a Shian backup (gzip: %w)", path, err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s is damaged or cut short: %w", path, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		clean := filepath.Clean(filepath.FromSlash(h.Name))
		if filepath.IsAbs(clean) || strings.HasPrefix(clean, "..") {
			return fmt.Errorf("%s holds a file outside the data directory (%q): refused", path, h.Name)
		}
		if err := fn(clean, tr); err != nil {
			return err
		}
	}
}

// Check reads a backup through and returns its manifest.
func Check(path string) (Manifest, error) {
	var man Manifest
	var haveDB bool
	err := readBackup(path, func(name string, r io.Reader) error {
		switch name {
		case "manifest.json":
			return json.NewDecoder(r).Decode(&man)
		case "command.db":
			haveDB = true
		}
		_, err := io.Copy(io.Discard, r)
		return err
	})
	if err != nil {
		return man, err
	}
	if man.Kind != manifestKind || !haveDB {
		return man, fmt.Errorf("%s is not a shian-command backup (no manifest or no command.db)", path)
	}
	return man, nil
}

// Restore writes the backup at from into the data directory dir, which
// no service may hold. A store already in dir is refused, or with force
// moved aside (command.db.before-restore-<time>). The restored store is
// opened as the service would open it; Restore returns the manifest and
// the number of results it holds.
func Restore(from, dir string, force bool, out io.Writer) (Manifest, int, error) {
	man, err := Check(from)
	if err != nil {
		return man, 0, fmt.Errorf("restore: %w", err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return man, 0, err
	}
	lk, err := dirlock.Acquire(dir, "shian-command")
	if err != nil {
		return man, 0, fmt.Errorf("restore: %w (stop the service first: sudo systemctl stop shian-command)", err)
	}
	defer lk.Release()
	db := filepath.Join(dir, "command.db")
	if _, err := os.Stat(db); err == nil {
		if !force {
			return man, 0, fmt.Errorf("restore: %s already holds a store (%s); restore into an empty directory, or add --force to move it aside", dir, db)
		}
		stamp := time.Now().UTC().Format("20060102T150405Z")
		aside := fmt.Sprintf("%s.before-restore-%s", db, stamp)
		if err := os.Rename(db, aside); err != nil {
			return man, 0, err
		}
		fmt.Fprintf(out, "moved the existing store aside to %s\n", aside)
		// The history with its WAL: an old WAL beside a restored file
		// would be replayed into it.
		for _, f := range []string{"history.db", "history.db-wal", "history.db-shm"} {
			p := filepath.Join(dir, f)
			if _, err := os.Stat(p); err == nil {
				if err := os.Rename(p, p+".before-restore-"+stamp); err != nil {
					return man, 0, err
				}
			}
		}
	}
	err = readBackup(from, func(name string, r io.Reader) error {
		if name == "manifest.json" {
			return nil
		}
		dst := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
			return err
		}
		return writeFileSynced(dst, r)
	})
	if err != nil {
		return man, 0, fmt.Errorf("restore: %w", err)
	}
	lk.Release()
	st, err := store.Open(dir, store.Options{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return man, 0, fmt.Errorf("restore: the restored store does not open: %w", err)
	}
	n := st.LegacyCount()
	if err := st.Close(); err != nil {
		return man, 0, err
	}
	if _, err := os.Stat(filepath.Join(dir, "history.db")); err == nil {
		h, err := history.Open("sqlite:"+filepath.Join(dir, "history.db"), history.Options{Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			return man, 0, fmt.Errorf("restore: the restored result history does not open: %w", err)
		}
		n += h.Count()
		if err := h.Close(); err != nil {
			return man, 0, err
		}
	}
	return man, n, nil
}

func writeFileSynced(path string, r io.Reader) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}
