package main

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

	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/store"
	"github.com/shianfood/shian/internal/dirlock"
	"github.com/shianfood/shian/internal/version"
)

// A backup is a .tar.gz of:
//
//	manifest.json   what it is: version, when, how many results
//	command.db      a consistent snapshot of the store (store.Backup)
//	evidence/…      the incidents' and banquets' evidence files
//
// While the service runs it holds the data directory's lock, so the
// backup is taken by the service itself: `shian-command backup` asks it
// through DATA/control.sock, a Unix socket only the service's user (and
// root) may open. When no service runs, backup opens the data directory
// itself.

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

// serveControl listens on DATA/control.sock for the backup command.
func serveControl(ctx context.Context, data string, svc *command.Service, log *slog.Logger) (*control, error) {
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
		if err := writeBackup(w, svc.Store(), data, true); err != nil {
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

// writeBackup writes the backup of st and data's evidence to w. The
// store is snapshotted to a temporary file first, so the store's lock is
// held only for a local disk write, not for the whole transfer.
func writeBackup(w io.Writer, st *store.Store, data string, live bool) error {
	tmp, err := os.CreateTemp(data, ".backup-*.db")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := st.Backup(tmp); err != nil {
		return err
	}
	var evidence []string
	evDir := filepath.Join(data, "evidence")
	filepath.WalkDir(evDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			evidence = append(evidence, p)
		}
		return nil
	})
	man := Manifest{Kind: manifestKind, Version: version.String(), CreatedAt: time.Now().UTC(), Results: st.ResultCount(),
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

// backup is `shian-command backup --to FILE`.
func (m *Main) backup(ctx context.Context, cfg *Config, log *slog.Logger) error {
	if m.To == "" {
		return errors.New("backup: --to FILE.tar.gz is required")
	}
	tmp := m.To + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer os.Remove(tmp)
	how, err := m.takeBackup(ctx, cfg, f, log)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	man, err := checkBackup(tmp)
	if err != nil {
		return fmt.Errorf("backup: the copy does not read back: %w", err)
	}
	if err := os.Rename(tmp, m.To); err != nil {
		return err
	}
	fi, _ := os.Stat(m.To)
	fmt.Fprintf(m.Stdout, "%s: %d results, %d evidence files, %s (%s)\n", m.To, man.Results, man.Evidence, sizeText(fi.Size()), how)
	return nil
}

func (m *Main) takeBackup(ctx context.Context, cfg *Config, w io.Writer, log *slog.Logger) (string, error) {
	lk, err := dirlock.Acquire(cfg.Data, "shian-command")
	if err == nil {
		// No service runs: open the store ourselves, under its lock.
		lk.Release()
		st, err := store.Open(cfg.Data, store.Options{Log: log})
		if err != nil {
			return "", err
		}
		defer st.Close()
		return "taken from the data directory; no service was running", writeBackup(w, st, cfg.Data, false)
	}
	if !errors.Is(err, dirlock.ErrLocked) {
		return "", err
	}
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", controlPath(cfg.Data))
	}}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://shian-command/backup", nil)
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("the service holds %s but its control socket does not answer (%w); run backup as the service's user or root", cfg.Data, err)
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

// checkBackup reads a backup through and returns its manifest.
func checkBackup(path string) (Manifest, error) {
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

// restore is `shian-command restore --from FILE --data DIR`.
func (m *Main) restore() error {
	if m.From == "" || !m.set["data"] {
		return errors.New("restore: --from FILE.tar.gz and --data DIR are required")
	}
	man, err := checkBackup(m.From)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	dir := m.Data
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	lk, err := dirlock.Acquire(dir, "shian-command")
	if err != nil {
		return fmt.Errorf("restore: %w (stop the service first: sudo systemctl stop shian-command)", err)
	}
	defer lk.Release()
	db := filepath.Join(dir, "command.db")
	if _, err := os.Stat(db); err == nil {
		if !m.Force {
			return fmt.Errorf("restore: %s already holds a store (%s); restore into an empty directory, or add --force to move it aside", dir, db)
		}
		aside := fmt.Sprintf("%s.before-restore-%s", db, time.Now().UTC().Format("20060102T150405Z"))
		if err := os.Rename(db, aside); err != nil {
			return err
		}
		fmt.Fprintf(m.Stdout, "moved the existing store aside to %s\n", aside)
	}
	err = readBackup(m.From, func(name string, r io.Reader) error {
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
		return fmt.Errorf("restore: %w", err)
	}
	lk.Release()
	// Open it as the service would, to be sure it serves.
	st, err := store.Open(dir, store.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return fmt.Errorf("restore: the restored store does not open: %w", err)
	}
	n := st.ResultCount()
	st.Close()
	fmt.Fprintf(m.Stdout, "restored %s (taken %s by %s) into %s: %d results, %d evidence files\n",
		m.From, man.CreatedAt.Format(time.RFC3339), man.Version, dir, n, man.Evidence)
	return nil
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

func sizeText(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
