package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/shianfood/shian/internal/version"
	"github.com/shianfood/shian/kiosk"
	"github.com/shianfood/shian/kiosk/outbox"
)

// export writes the kiosk's outbox for support: a .tar.gz holding
//
//	outbox.db       the file byte for byte, as it is on the card
//	records.jsonl   every readable record (result, state, when saved and acknowledged), in seq order
//	summary.json    counts by state, the file's health, the kiosk and the version
//	kiosk.yaml      the configuration with the token removed
//
// It reads the outbox without opening it (kiosk/outbox.Inspect), so it
// works while the kiosk runs and on a damaged file, and changes nothing.
func (m *Main) export() error {
	if m.To == "" {
		return errors.New("export: --to FILE.tar.gz is required")
	}
	cfg, err := kiosk.LoadConfig(m.Config)
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(filepath.Join(cfg.Data, "outbox.db"))
	if err != nil {
		return fmt.Errorf("export: %w (is data: in %s the kiosk's data directory?)", err, m.Config)
	}
	in, err := outbox.Inspect(cfg.Data)
	if err != nil {
		return err
	}
	var recs bytes.Buffer
	enc := json.NewEncoder(&recs)
	enc.SetEscapeHTML(false)
	for _, r := range in.Records {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	summary, _ := json.MarshalIndent(map[string]any{
		"kiosk_id": cfg.KioskID, "version": version.String(), "exported_at": time.Now().UTC(),
		"records": len(in.Records), "unreadable": in.Unreadable, "stats": in.Stats, "file": in.File.String(),
	}, "", "  ")
	conf, err := os.ReadFile(m.Config)
	if err != nil {
		return err
	}
	conf = redact(conf)

	tmp := m.To + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer os.Remove(tmp)
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	now := time.Now()
	for _, e := range []struct {
		name string
		data []byte
	}{{"outbox.db", raw}, {"records.jsonl", recs.Bytes()}, {"summary.json", append(summary, '\n')}, {"kiosk.yaml", conf}} {
		hdr := &tar.Header{Name: cfg.KioskID + "/" + e.name, Mode: 0o600, Size: int64(len(e.data)), ModTime: now}
		if err := tw.WriteHeader(hdr); err != nil {
			f.Close()
			return err
		}
		if _, err := tw.Write(e.data); err != nil {
			f.Close()
			return err
		}
	}
	if err := errors.Join(tw.Close(), gz.Close(), f.Sync(), f.Close()); err != nil {
		return fmt.Errorf("export: write %s: %w", m.To, err)
	}
	if err := os.Rename(tmp, m.To); err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "%s: kiosk %s, %d records (%d waiting to upload, %d rejected, %d unreadable); outbox file %s\n",
		m.To, cfg.KioskID, len(in.Records), in.Stats.Pending, in.Stats.Rejected, in.Unreadable, in.File.String())
	return nil
}

var tokenLine = regexp.MustCompile(`(?m)^(\s*token:\s*).*$`)

// redact removes the kiosk token from a kiosk.yaml.
func redact(b []byte) []byte {
	return tokenLine.ReplaceAll(b, []byte("${1}REDACTED # removed by shian-kiosk export"))
}
