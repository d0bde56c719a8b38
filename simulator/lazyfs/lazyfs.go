// Package lazyfs mounts LazyFS file systems and cuts their power, for the
// power-loss tests (`make powerloss`, `shian-sim powerloss`).
//
// # What LazyFS is
//
// LazyFS (third_party/lazyfs, MIT, from INESC TEC) is a FUSE file system
// over a directory of the real disk that keeps every write in its own page
// cache until the writer calls fsync (or fdatasync) on the file. Told
// "lazyfs::clear-cache" on its control FIFO, it drops everything not yet
// synced: what a file holds afterwards is exactly what a power cut would
// have left on a disk that honours fsync. Kill the programs that used the
// mount first (SIGKILL, so that they cannot sync on the way out), clear
// the cache, and start them again: that is a power cut.
//
// Metadata operations (create, rename, unlink, truncate) pass through to
// the disk at once, so a cut never loses a rename; it loses file contents
// that were written and not synced, which is where our stores' durability
// rules live (the outbox's fsync before "saved", the history's
// synchronous=FULL before an ack).
//
// # Using it
//
//	fs, err := lazyfs.Mount(bin, "/run/x/command", "/run/x/.lazyfs/command")
//	… run the program with its data in /run/x/command …
//	kill -9 it; fs.Cut(); start it again
//	fs.Unmount()
//
// The LazyFS binary is built from the repository's copy by
// third_party/lazyfs/build.sh. Mounting needs /dev/fuse and fusermount3
// (Debian's fuse3), which root has in our CI containers.
package lazyfs

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// FS is one mounted LazyFS.
type FS struct {
	Mountpoint string
	state      string // the backing root, config, FIFOs and log
	cmd        *exec.Cmd
	done       chan struct{}
	waitErr    error

	mu        sync.Mutex
	fifo      *os.File // faults FIFO, written
	completed *bufio.Reader
	compFile  *os.File // completion FIFO, read
	cuts      int
}

// Mount mounts a LazyFS at mountpoint (created if needed) over the
// directory state/root, keeping its config, FIFOs and log in state. bin is
// the LazyFS binary. It returns once the mount answers.
func Mount(bin, mountpoint, state string) (*FS, error) {
	for _, d := range []string{mountpoint, filepath.Join(state, "root")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	mp, err := filepath.Abs(mountpoint)
	if err != nil {
		return nil, err
	}
	st, err := filepath.Abs(state)
	if err != nil {
		return nil, err
	}
	if mounted(mp) {
		return nil, fmt.Errorf("lazyfs: %s is already a mount point; unmount it first (fusermount3 -u %s)", mp, mp)
	}
	fs := &FS{Mountpoint: mp, state: st, done: make(chan struct{})}
	fifo, comp := filepath.Join(st, "faults.fifo"), filepath.Join(st, "completed.fifo")
	for _, f := range []string{fifo, comp} {
		os.Remove(f)
		if err := syscall.Mkfifo(f, 0o600); err != nil {
			return nil, fmt.Errorf("lazyfs: make %s: %w", f, err)
		}
	}
	// LazyFS opens the completion FIFO for writing, which blocks until a
	// reader has it open: open ours first (O_RDWR never blocks).
	cf, err := os.OpenFile(comp, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	fs.compFile, fs.completed = cf, bufio.NewReader(cf)
	cfg := filepath.Join(st, "lazyfs.toml")
	// The cache holds every unsynced write until a sync or a cut; our runs
	// write a few MB between fsyncs at most.
	conf := fmt.Sprintf(`[faults]
fifo_path=%q
fifo_path_completed=%q
[cache]
apply_eviction=false
[cache.simple]
custom_size="256mb"
blocks_per_page=1
[filesystem]
log_all_operations=false
logfile=%q
`, fifo, comp, filepath.Join(st, "lazyfs.log"))
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		cf.Close()
		return nil, err
	}
	out, err := os.OpenFile(filepath.Join(st, "lazyfs.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		cf.Close()
		return nil, err
	}
	fs.cmd = exec.Command(bin, mp, "--config-path", cfg, "-o", "modules=subdir", "-o", "subdir="+filepath.Join(st, "root"), "-f")
	fs.cmd.Stdout, fs.cmd.Stderr = out, out
	if err := fs.cmd.Start(); err != nil {
		cf.Close()
		out.Close()
		return nil, fmt.Errorf("lazyfs: start %s: %w", bin, err)
	}
	go func() { fs.waitErr = fs.cmd.Wait(); out.Close(); close(fs.done) }()
	deadline := time.Now().Add(60 * time.Second)
	for !mounted(mp) {
		select {
		case <-fs.done:
			cf.Close()
			return nil, fmt.Errorf("lazyfs: %s exited before the mount came up (%v); see %s", bin, fs.waitErr, filepath.Join(st, "lazyfs.out"))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			fs.Unmount()
			return nil, fmt.Errorf("lazyfs: %s not mounted within 60 s; see %s", mp, filepath.Join(st, "lazyfs.out"))
		}
	}
	f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		fs.Unmount()
		return nil, err
	}
	fs.fifo = f
	return fs, nil
}

// mounted reports whether path is a mount point (in /proc/self/mountinfo).
func mounted(path string) bool {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && unescape(f[4]) == path {
			return true
		}
	}
	return false
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &c); err == nil {
				b.WriteByte(c)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Cut drops every write not yet synced — the power cut — and returns when
// LazyFS says it has. The programs using the mount must be stopped
// (SIGKILL) first.
func (fs *FS) Cut() error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.fifo == nil {
		return errors.New("lazyfs: not mounted")
	}
	if _, err := fs.fifo.WriteString("lazyfs::clear-cache\n"); err != nil {
		return fmt.Errorf("lazyfs: clear-cache: %w", err)
	}
	fs.compFile.SetReadDeadline(time.Now().Add(60 * time.Second))
	line, err := fs.completed.ReadString('\n')
	if err != nil {
		return fmt.Errorf("lazyfs: waiting for clear-cache to finish: %w", err)
	}
	if strings.TrimSpace(line) != "finished::clear-cache" {
		return fmt.Errorf("lazyfs: unexpected answer %q", line)
	}
	fs.cuts++
	return nil
}

// Cuts returns how many cuts were made.
func (fs *FS) Cuts() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.cuts
}

// Unmount unmounts the file system and waits for LazyFS to exit. What was
// not synced is written out first (an orderly shutdown, not a cut).
func (fs *FS) Unmount() error {
	fs.mu.Lock()
	if fs.fifo != nil {
		fs.fifo.Close()
		fs.fifo = nil
	}
	fs.mu.Unlock()
	var err error
	if out, uerr := exec.Command("fusermount3", "-u", fs.Mountpoint).CombinedOutput(); uerr != nil {
		err = fmt.Errorf("lazyfs: fusermount3 -u %s: %v: %s", fs.Mountpoint, uerr, strings.TrimSpace(string(out)))
		// Lazily, so that a process still inside it cannot keep it.
		exec.Command("fusermount3", "-u", "-z", fs.Mountpoint).Run()
	}
	select {
	case <-fs.done:
	case <-time.After(30 * time.Second):
		fs.cmd.Process.Kill()
		<-fs.done
	}
	if fs.compFile != nil {
		fs.compFile.Close()
	}
	return err
}

// Disks mounts one LazyFS per directory (simulator/chaos.Disks): each
// program's data on its own disk, so that cutting one program's power
// leaves the others' disks alone.
type Disks struct {
	Bin   string // the LazyFS binary
	State string // where each mount keeps its backing root, FIFOs and log

	mu   sync.Mutex
	m    map[string]*FS
	cuts int
}

// Mount mounts a LazyFS at dir.
func (d *Disks) Mount(dir string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.m = map[string]*FS{}
	}
	state := filepath.Join(d.State, fmt.Sprintf("%02d-%s", len(d.m)+1, filepath.Base(filepath.Dir(dir))+"-"+filepath.Base(dir)))
	fs, err := Mount(d.Bin, dir, state)
	if err != nil {
		return err
	}
	d.m[dir] = fs
	return nil
}

// Cut cuts the power of the disk mounted at dir.
func (d *Disks) Cut(dir string) error {
	d.mu.Lock()
	fs := d.m[dir]
	d.mu.Unlock()
	if fs == nil {
		return fmt.Errorf("lazyfs: %s is not one of the mounted disks", dir)
	}
	if err := fs.Cut(); err != nil {
		return err
	}
	d.mu.Lock()
	d.cuts++
	d.mu.Unlock()
	return nil
}

// Cuts returns how many cuts were made, over every disk.
func (d *Disks) Cuts() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cuts
}

// Unmount unmounts every disk.
func (d *Disks) Unmount() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []error
	for dir, fs := range d.m {
		if err := fs.Unmount(); err != nil {
			errs = append(errs, err)
		}
		delete(d.m, dir)
	}
	return errors.Join(errs...)
}
