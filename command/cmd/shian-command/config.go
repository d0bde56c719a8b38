package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/shianfood/shian/command"
	"github.com/shianfood/shian/command/api"
	"github.com/shianfood/shian/command/engine"
	"github.com/shianfood/shian/geo"
	"github.com/shianfood/shian/internal/yamlconf"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/assurance"
)

// Config is command.yaml. Every key is optional; a key the file leaves
// out keeps its default, and a command-line flag given explicitly wins
// over the file. command/README.md has a complete, commented example.
type Config struct {
	// Listen is the address to serve on (127.0.0.1:8080).
	Listen string `yaml:"listen"`
	// Data is the data directory: command.db, its LOCK, evidence files,
	// and the result history history.db unless DB names another.
	Data string `yaml:"data"`
	// DB is the result history: sqlite:PATH or postgres://… (default
	// sqlite:DATA/history.db). postgres://… is cluster mode: the
	// operational records are in the same database (not DATA/command.db).
	DB string `yaml:"db"`
	// Evidence is the directory of evidence files (default
	// DATA/evidence); in cluster mode a directory every instance shares.
	Evidence string `yaml:"evidence"`
	// Admin is the user created with a random password on first start.
	Admin string    `yaml:"admin"`
	Log   LogConfig `yaml:"log"`
	// Tiles is the map's street layer (instead of SHIAN_TILE_*).
	Tiles TileConfig `yaml:"tiles"`
	// LabelBaseURL is the URL printed into QR labels (SHIAN_LABEL_BASE_URL).
	LabelBaseURL string `yaml:"label_base_url"`
	// Rules are the decision thresholds the command re-derives verdicts
	// with (only the keys named change).
	Rules  *assay.Rules `yaml:"rules"`
	Engine EngineConfig `yaml:"engine"`
	// Assurance is the 三结合三强化 protocol's configuration: incident
	// deadlines, the re-test window, credit points, grades, the high-risk
	// dish rules, banquet rules (only the keys named change; a list
	// replaces the default list).
	Assurance *assurance.Config `yaml:"assurance"`
	// TLS serves HTTPS itself (cert and key are PEM files).
	TLS TLSConfig `yaml:"tls"`
	// Proxy names the reverse proxies in front whose X-Forwarded-For
	// and X-Forwarded-Proto are believed.
	Proxy ProxyConfig `yaml:"proxy"`
	// HTTP is the web server's timeouts.
	HTTP HTTPConfig `yaml:"http"`
	// Live caps the live map's websockets.
	Live LiveConfig `yaml:"live"`

	file  string
	lines yamlconf.Lines
}

// TLSConfig is the service's own certificate (--tls-cert, --tls-key).
type TLSConfig struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// ProxyConfig is the behind-a-proxy mode (--trusted-proxy).
type ProxyConfig struct {
	Trusted []string `yaml:"trusted"` // addresses or CIDR prefixes
}

// HTTPConfig is the web server's timeouts (command.HTTPConfig).
type HTTPConfig struct {
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	ReadTimeout       time.Duration `yaml:"read_timeout"`
	WriteTimeout      time.Duration `yaml:"write_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
	StreamIdle        time.Duration `yaml:"stream_idle"`
}

// LiveConfig caps the /ws/live connections.
type LiveConfig struct {
	MaxPerUser int `yaml:"max_per_user"`
	MaxTotal   int `yaml:"max_total"`
}

// LogConfig is the log output.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// TileConfig is the street tile layer (command/api/ui_support.go).
type TileConfig struct {
	URL         string `yaml:"url"`
	Datum       string `yaml:"datum"` // wgs84, gcj02 or bd09
	Name        string `yaml:"name"`
	Attribution string `yaml:"attribution"`
	Subdomains  string `yaml:"subdomains"`
	MaxZoom     int    `yaml:"max_zoom"`
}

// EngineConfig tunes the assurance engine.
type EngineConfig struct {
	Tick          time.Duration `yaml:"tick"`
	RecoverWindow time.Duration `yaml:"recover_window"`
	MaxEvidenceMB int           `yaml:"max_evidence_mb"`
	Cluster       ClusterConfig `yaml:"cluster"`
}

// ClusterConfig is what counts as a cluster of positives (聚集性预警).
type ClusterConfig struct {
	MinEvents int           `yaml:"min_events"`
	RadiusM   float64       `yaml:"radius_m"`
	Window    time.Duration `yaml:"window"`
}

// DefaultConfig is the configuration with no file.
func DefaultConfig() Config {
	rules := assay.DefaultRules()
	proto := assurance.DefaultConfig()
	return Config{Listen: "127.0.0.1:8080", Data: "./shian-data", Admin: "admin", Log: LogConfig{Level: "info", Format: "text"},
		Rules: &rules, Assurance: &proto}
}

// LoadConfig reads command.yaml over the defaults and checks it. Every
// problem is a *yamlconf.Error naming the file and line; all of them are
// reported, joined.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return ParseConfig(path, b)
}

// ParseConfig parses command.yaml text; name is used in messages.
func ParseConfig(name string, b []byte) (*Config, error) {
	cfg := DefaultConfig()
	lines, err := yamlconf.Decode(name, b, &cfg)
	if err != nil {
		return nil, err
	}
	cfg.file, cfg.lines = name, lines
	// An empty section ("assurance:" with nothing under it) is null in
	// YAML: it keeps the defaults, as a missing one does.
	if cfg.Rules == nil {
		r := assay.DefaultRules()
		cfg.Rules = &r
	}
	if cfg.Assurance == nil {
		p := assurance.DefaultConfig()
		cfg.Assurance = &p
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

func (c *Config) validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, &yamlconf.Error{File: c.file, Line: c.lines.Of(path), Msg: fmt.Sprintf(format, args...)})
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", "listen %q: want host:port, e.g. 0.0.0.0:8080 (or 127.0.0.1:8080 behind a proxy)", c.Listen)
	}
	if c.Data == "" {
		bad("data", "data is required: the data directory, e.g. /var/lib/shian-command")
	}
	if c.Admin == "" {
		bad("admin", "admin must not be empty (the first user's name)")
	}
	var l slogLevel
	if l.set(c.Log.Level) != nil {
		bad("log.level", "log.level %q: want debug, info, warn or error", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format", "log.format %q: want text or json", c.Log.Format)
	}
	if c.Tiles.URL != "" {
		if !strings.Contains(c.Tiles.URL, "{x}") || !strings.Contains(c.Tiles.URL, "{y}") || !strings.Contains(c.Tiles.URL, "{z}") {
			bad("tiles.url", "tiles.url %q must contain {x}, {y} and {z}", c.Tiles.URL)
		}
		switch strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(c.Tiles.Datum)) {
		case "", "wgs84", "gcj02", "bd09":
		default:
			bad("tiles.datum", "tiles.datum %q: use wgs84, gcj02 (高德, 腾讯) or bd09 (百度)", c.Tiles.Datum)
		}
		if c.Tiles.MaxZoom < 0 || c.Tiles.MaxZoom > 22 {
			bad("tiles.max_zoom", "tiles.max_zoom %d: want 1…22", c.Tiles.MaxZoom)
		}
	}
	switch {
	case (c.TLS.Cert == "") != (c.TLS.Key == ""):
		bad("tls", "tls: give both cert and key (PEM files), or neither")
	case c.TLS.Cert != "":
		if _, err := tls.LoadX509KeyPair(c.TLS.Cert, c.TLS.Key); err != nil {
			bad("tls.cert", "tls: cannot load %s with %s: %v (both PEM, readable by the service's user; the key must match the certificate)", c.TLS.Cert, c.TLS.Key, err)
		}
	}
	if _, err := api.ParseProxies(c.Proxy.Trusted); err != nil {
		bad("proxy.trusted", "proxy.trusted: %v", err)
	}
	h := c.HTTP
	if h.ReadHeaderTimeout < 0 || h.ReadTimeout < 0 || h.WriteTimeout < 0 || h.IdleTimeout < 0 || h.StreamIdle < 0 {
		bad("http", "http timeouts must be positive (e.g. read_timeout: 1m)")
	}
	if c.Live.MaxPerUser < 0 || c.Live.MaxTotal < 0 {
		bad("live", "live.max_per_user and live.max_total must be positive")
	}
	e := c.Engine
	if e.Tick < 0 || e.RecoverWindow < 0 || e.Cluster.Window < 0 {
		bad("engine", "engine durations must be positive (e.g. tick: 5s, recover_window: 48h, cluster.window: 24h)")
	}
	if e.MaxEvidenceMB < 0 || e.MaxEvidenceMB > 1024 {
		bad("engine.max_evidence_mb", "engine.max_evidence_mb %d: want 1…1024 (MiB)", e.MaxEvidenceMB)
	}
	if e.Cluster.MinEvents < 0 || e.Cluster.RadiusM < 0 {
		bad("engine.cluster", "engine.cluster.min_events and radius_m must be positive")
	}
	if err := c.Rules.Validate(); err != nil {
		bad("rules", "rules: %v", err)
	}
	if err := c.Assurance.Validate(); err != nil {
		for _, e := range unjoin(err) {
			var ve *assurance.ValidationError
			if errors.As(e, &ve) {
				path := "assurance." + ve.Field
				// A problem naming a key of the field ("warnd" is not an
				// incident state) is on that key's line.
				if q := quoted.FindStringSubmatch(ve.Problem); q != nil && c.lines[path+"."+q[1]] > 0 {
					path += "." + q[1]
				}
				bad(path, "assurance.%s: %s", ve.Field, ve.Problem)
			} else {
				bad("assurance", "assurance: %v", e)
			}
		}
	}
	return errors.Join(errs...)
}

var quoted = regexp.MustCompile(`"([^"]+)"`)

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// Service returns the command.Config the file describes.
func (c *Config) Service() command.Config {
	ec := engine.Config{Protocol: c.Assurance, Tick: c.Engine.Tick, RecoverWindow: c.Engine.RecoverWindow,
		MaxEvidence: int64(c.Engine.MaxEvidenceMB) << 20}
	if cl := c.Engine.Cluster; cl != (ClusterConfig{}) {
		p := geo.DefaultClusterParams
		if cl.MinEvents > 0 {
			p.MinEvents = cl.MinEvents
		}
		if cl.RadiusM > 0 {
			p.Radius = cl.RadiusM
		}
		if cl.Window > 0 {
			p.Window = cl.Window
		}
		ec.Cluster = p
	}
	return command.Config{DataDir: c.Data, DB: c.DB, Evidence: c.Evidence, Rules: c.Rules, Assure: ec, Getenv: c.getenv,
		TLSCert: c.TLS.Cert, TLSKey: c.TLS.Key, TrustedProxies: c.Proxy.Trusted,
		HTTP: command.HTTPConfig(c.HTTP), LiveMaxPerUser: c.Live.MaxPerUser, LiveMaxTotal: c.Live.MaxTotal,
		Instance: c.Listen} // names the instance in a cluster (its notices, logs)
}

// getenv gives the map page the file's tile and label settings, falling
// back to the environment.
func (c *Config) getenv(key string) string {
	t := c.Tiles
	v := map[string]string{"SHIAN_TILE_URL": t.URL, "SHIAN_TILE_DATUM": t.Datum, "SHIAN_TILE_NAME": t.Name,
		"SHIAN_TILE_ATTRIBUTION": t.Attribution, "SHIAN_TILE_SUBDOMAINS": t.Subdomains, "SHIAN_LABEL_BASE_URL": c.LabelBaseURL}[key]
	if key == "SHIAN_TILE_MAX_ZOOM" && t.MaxZoom > 0 {
		v = fmt.Sprint(t.MaxZoom)
	}
	if v == "" && (t.URL == "" || !strings.HasPrefix(key, "SHIAN_TILE_")) {
		return os.Getenv(key)
	}
	return v
}
