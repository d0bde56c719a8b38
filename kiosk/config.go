package kiosk

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/shianfood/shian/internal/yamlconf"
	"github.com/shianfood/shian/kiosk/alarm"
	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/protocols/device/profile"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/stallsamples"
	"go.yaml.in/yaml/v3"
)

// Config is the kiosk configuration (kiosk.yaml). See kiosk/README.md for a
// complete example.
type Config struct {
	// KioskID is this kiosk's id, as registered at the command.
	KioskID string `yaml:"kiosk_id"`
	// Name is shown on the command centre's map.
	Name string `yaml:"name"`
	// Data is the data directory (the outbox); default /var/lib/shian-kiosk.
	Data    string        `yaml:"data"`
	Command CommandConfig `yaml:"command"`
	Site    SiteConfig    `yaml:"site"`
	// Operator is the default operator id (检测员) stamped on results.
	Operator string   `yaml:"operator"`
	UI       UIConfig `yaml:"ui"`
	// HistoryHours is how long acknowledged results stay on the kiosk
	// for the operator's history screen (default 72).
	HistoryHours int `yaml:"history_hours"`
	// Profiles is the directory of the instrument profiles an installer
	// added (default /etc/shian/profiles; a missing default directory is
	// not an error). Its profiles and the built-in ones are what a
	// device's profile: names.
	Profiles string        `yaml:"profiles"`
	Devices  []device.Spec `yaml:"devices"`
	// Rules override the default decision thresholds.
	Rules *assay.Rules `yaml:"rules"`
	// Stalls are the stalls and kitchens offered on the screen's pick
	// list (optional; the stalls of recent results are added).
	Stalls []StallConfig `yaml:"stalls"`
	// SampleSuggestions replace, per stall category, the built-in samples
	// the screen offers (protocols/domain/stallsamples.Default, every
	// mapping of which is [UNVERIFIED]), e.g.
	//   sample_suggestions: {奶茶: [{name: 奶茶, name_en: Milk tea, category: 饮品}]}
	SampleSuggestions stallsamples.Table `yaml:"sample_suggestions"`
	// Alarm names the GPIO pins of the alarm LED and buzzer (optional).
	Alarm alarm.Config `yaml:"alarm"`
	// Metrics serves /metrics, /healthz and /readyz on an address of its
	// own (optional; they are always on the screen's ui.listen too).
	Metrics MetricsConfig `yaml:"metrics"`

	// File is the file the config was read from, for messages.
	File string `yaml:"-"`
	// lines are the lines of the top-level keys; devKeys those of each
	// device's keys ("port", "options", "options.mode").
	lines   map[string]int
	devKeys []map[string]int

	library *profile.Library // the profiles, loaded by validate
	roots   *x509.CertPool   // command.ca_file, loaded by validate
}

// TLS returns the TLS configuration of the link to the command: the
// authorities of command.ca_file as the only roots, or nil (the system's
// roots) when there is no ca_file.
func (c *Config) TLS() *tls.Config {
	if c.roots == nil {
		return nil
	}
	return &tls.Config{RootCAs: c.roots, MinVersion: tls.VersionTLS12}
}

// URLs returns the command URLs the uplink tries, in order: command.urls,
// or the one command.url.
func (c *CommandConfig) URLs() []string {
	if len(c.URLList) > 0 {
		return c.URLList
	}
	if c.URL == "" {
		return nil
	}
	return []string{c.URL}
}

// urlKey is the config key the command URLs were given under.
func (c *CommandConfig) urlKey() string {
	if len(c.URLList) > 0 {
		return "command.urls"
	}
	return "command.url"
}

// LinkWarnings returns a warning for each command URL that sends the
// token and the results in clear text over a network: ws:// to a host
// that is not the kiosk itself. There is none for wss:// and for ws:// to
// a loopback address.
func (c *Config) LinkWarnings() []string {
	var out []string
	for _, raw := range c.Command.URLs() {
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "ws" || isLoopback(u.Hostname()) {
			continue
		}
		out = append(out, fmt.Sprintf("%s %s is ws:// to %s, not this machine: the kiosk token and every result cross the network unencrypted and can be read or forged on the way; use wss:// (with command.ca_file for a private CA)",
			c.Command.urlKey(), raw, u.Hostname()))
	}
	return out
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Library returns the instrument profiles the configuration's devices
// name: the built-in ones and those of the profiles directory.
func (c *Config) Library() *profile.Library {
	if c.library == nil {
		return profile.Builtin()
	}
	return c.library
}

// MetricsConfig is the kiosk's monitoring endpoint.
type MetricsConfig struct {
	// Listen is an address for Prometheus to scrape, e.g. 0.0.0.0:9464
	// on the event network; empty serves the endpoints only on ui.listen.
	Listen string `yaml:"listen"`
}

// Line returns the line of a key of the file ("command", "command.url",
// "alarm"), or of its parent when the key itself is absent, or 0.
func (c *Config) Line(key string) int {
	if l := c.lines[key]; l > 0 {
		return l
	}
	if parent, _, ok := strings.Cut(key, "."); ok {
		return c.lines[parent]
	}
	return 0
}

// DeviceLine returns the line of a key of devices[i] ("port", "addr",
// "options.mode"), or the entry's first line.
func (c *Config) DeviceLine(i int, key string) int { return c.keyLine(i, key) }

// StallConfig is one entry of the stall list.
type StallConfig struct {
	// ID is the stall's id at the command (what its QR code carries).
	ID string `yaml:"id"`
	// Name is shown on the screen, e.g. "12号 王记凉菜".
	Name string `yaml:"name"`
	// Category is the stall's business (奶茶, 凉菜, 烧烤 …): the screen
	// shows it and offers the samples that fit it (sample_suggestions).
	Category string `yaml:"category"`
}

// CommandConfig says where the command service is.
type CommandConfig struct {
	// URL of the command's kiosk endpoint, ws:// or wss://…/ws/kiosk.
	URL string `yaml:"url"`
	// URLList (command.urls), instead of URL, lists the kiosk endpoints of
	// several command instances (a cluster without a load balancer in
	// front): the uplink uses the first, and moves to the next whenever a
	// dial fails or a link drops, with the same backoff. Give url or urls,
	// not both.
	URLList []string `yaml:"urls"`
	// Token is the kiosk token; or TokenFile names a file holding it.
	Token     string `yaml:"token"`
	TokenFile string `yaml:"token_file"`
	// CAFile names a PEM file of the certificate authorities that sign
	// the command's certificate (a city's private CA, or the command's own
	// self-signed certificate). With it, a wss:// link trusts only those
	// authorities, not the system's; without it, the system's.
	CAFile string `yaml:"ca_file"`
	// Link timing, optional: the reconnect backoff (1s doubling to 60s,
	// ±50 % jitter, never above the maximum) and how long a silent link
	// is trusted before it is dropped (pong_wait, 60s; pings every 9/10).
	BackoffMin time.Duration `yaml:"backoff_min"`
	BackoffMax time.Duration `yaml:"backoff_max"`
	PongWait   time.Duration `yaml:"pong_wait"`
}

// SiteConfig is where the kiosk stands.
type SiteConfig struct {
	// StallID is the default stall or kitchen a sample comes from when the
	// operator picks none and the instrument reports no sample code.
	StallID string  `yaml:"stall_id"`
	EventID string  `yaml:"event_id"`
	Lon     float64 `yaml:"lon"`
	Lat     float64 `yaml:"lat"`
}

// UIConfig is the local touchscreen server.
type UIConfig struct {
	// Listen is the address of the operator screen (default
	// 127.0.0.1:8090); "off" serves no screen.
	Listen string `yaml:"listen"`
}

// UIOff as ui.listen turns the operator screen off.
const UIOff = "off"

// ConfigError is a configuration problem with the line it is on.
type ConfigError struct {
	File string
	Line int
	Msg  string
}

func (e *ConfigError) Error() string {
	file := e.File
	if file == "" {
		file = "kiosk.yaml" // a Config built in code, not read from a file
	}
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", file, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", file, e.Msg)
}

// LoadConfig reads and checks a kiosk configuration file. Every problem is
// reported as a *ConfigError naming the line and what is wrong.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return ParseConfig(path, b)
}

// ParseConfig parses configuration text; name is used in error messages.
func ParseConfig(name string, b []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, yamlErr(name, err, nil)
	}
	if len(root.Content) == 0 {
		return nil, &ConfigError{File: name, Msg: "the file is empty; see kiosk/README.md for an example"}
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	rules := assay.DefaultRules() // YAML overrides only the keys it names
	cfg := Config{Rules: &rules}
	if err := dec.Decode(&cfg); err != nil {
		return nil, yamlErr(name, err, &root)
	}
	lines := keyLines(root.Content[0])
	devLines, devKeys := deviceLines(root.Content[0])
	for i := range cfg.Devices {
		if i < len(devLines) {
			cfg.Devices[i].Line = devLines[i]
		}
	}
	cfg.File, cfg.lines, cfg.devKeys = name, lines, devKeys
	if cfg.Data == "" {
		cfg.Data = "/var/lib/shian-kiosk"
	}
	if cfg.UI.Listen == "" {
		cfg.UI.Listen = "127.0.0.1:8090"
	}
	if cfg.HistoryHours <= 0 {
		cfg.HistoryHours = 72
	}
	if err := cfg.validate(name, lines); err != nil {
		return nil, err
	}
	return &cfg, nil
}

func (c *Config) validate(name string, lines map[string]int) error {
	bad := func(key, format string, args ...any) error {
		return &ConfigError{File: name, Line: lines[key], Msg: fmt.Sprintf(format, args...)}
	}
	if c.KioskID == "" {
		return bad("", "kiosk_id is required (the id registered at the command, e.g. K-NT-01)")
	}
	if strings.ContainsAny(c.KioskID, " /*?") {
		return bad("kiosk_id", "kiosk_id %q may only contain letters, digits and - _ . :", c.KioskID)
	}
	urls, err := c.checkURLs(bad)
	if err != nil {
		return err
	}
	if c.Command.Token == "" && c.Command.TokenFile == "" {
		return bad("command", "command.token or command.token_file is required")
	}
	if c.Command.Token == "" {
		t, err := os.ReadFile(c.Command.TokenFile)
		if err != nil {
			return bad("command", "command.token_file: %v", err)
		}
		c.Command.Token = strings.TrimSpace(string(t))
	}
	if c.Command.CAFile != "" {
		for _, u := range urls {
			if u.Scheme != "wss" {
				return bad("command", "command.ca_file is set but %s %q is not wss://: a CA file is only used for a TLS link; use wss://", c.Command.urlKey(), u.String())
			}
		}
		pem, err := os.ReadFile(c.Command.CAFile)
		if err != nil {
			return bad("command", "command.ca_file: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return bad("command", "command.ca_file %s holds no PEM certificate (-----BEGIN CERTIFICATE-----); give the CA's certificate, not its key", c.Command.CAFile)
		}
		c.roots = pool
	}
	if c.Command.BackoffMin < 0 || c.Command.BackoffMax < 0 || c.Command.PongWait < 0 {
		return bad("command", "command.backoff_min, backoff_max and pong_wait must be positive durations (e.g. 1s, 60s)")
	}
	if c.Site.Lon < -180 || c.Site.Lon > 180 || c.Site.Lat < -90 || c.Site.Lat > 90 {
		return bad("site", "site.lon/lat must be WGS-84 degrees")
	}
	if err := c.loadProfiles(name, lines); err != nil {
		return err
	}
	ids := map[string]bool{}
	for i, d := range c.Devices {
		where := &ConfigError{File: name, Line: d.Line}
		_, perr := c.Library().Lookup(d.Profile)
		switch {
		case d.ID == "":
			where.Msg = fmt.Sprintf("devices[%d]: id is required", i)
		case ids[d.ID]:
			where.Msg = fmt.Sprintf("devices[%d]: id %q is used twice", i, d.ID)
		case d.Profile != "" && d.Protocol != "" && d.Protocol != device.ProfileProtocol:
			where.Msg = fmt.Sprintf("device %q: give protocol (%s) or profile (%s), not both", d.ID, d.Protocol, d.Profile)
		case d.Profile != "" && perr != nil:
			where.Msg = fmt.Sprintf("device %q: %v", d.ID, perr)
		case d.Profile != "":
		case d.Protocol == "":
			where.Msg = fmt.Sprintf("device %q: protocol or profile is required (a protocol of %v, or a profile of %v)", d.ID, device.Protocols(), c.Library().Names())
		case !contains(device.Protocols(), d.Protocol):
			where.Msg = fmt.Sprintf("device %q: unknown protocol %q (one of %v)", d.ID, d.Protocol, device.Protocols())
		case d.Port == "" && d.Bus == "":
			where.Msg = fmt.Sprintf("device %q: set port (serial device, e.g. /dev/ttyUSB0) or bus (I²C bus, e.g. \"1\")", d.ID)
		}
		if where.Msg != "" {
			return where
		}
		ids[d.ID] = true
	}
	if err := c.SampleSuggestions.Validate(); err != nil {
		return bad("sample_suggestions", "%s", err.Error())
	}
	stalls := map[string]bool{}
	for i, st := range c.Stalls {
		switch {
		case st.ID == "":
			return bad("stalls", "stalls[%d]: id is required (the stall id its QR code carries)", i)
		case stalls[st.ID]:
			return bad("stalls", "stalls[%d]: id %q is listed twice", i, st.ID)
		case !validID(st.ID):
			return bad("stalls", "stalls[%d]: id %q may only contain letters, digits and - _ . : (at most 64)", i, st.ID)
		}
		stalls[st.ID] = true
	}
	if c.UI.Listen != UIOff {
		if _, _, err := net.SplitHostPort(c.UI.Listen); err != nil {
			return bad("ui", "ui.listen %q: want host:port (127.0.0.1:8090) or off", c.UI.Listen)
		}
	}
	if c.Metrics.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Metrics.Listen); err != nil {
			return bad("metrics", "metrics.listen %q: want host:port, e.g. 0.0.0.0:9464 (or leave it out: /metrics is on ui.listen too)", c.Metrics.Listen)
		}
	}
	if c.Alarm.LED != "" && c.Alarm.LED == c.Alarm.Buzzer {
		return bad("alarm", "alarm.led and alarm.buzzer are both %s; give each its own pin", c.Alarm.LED)
	}
	if c.Alarm.Beep != nil && *c.Alarm.Beep < 0 {
		return bad("alarm", "alarm.beep must not be negative (0s sounds the buzzer continuously)")
	}
	if c.Rules == nil {
		r := assay.DefaultRules()
		c.Rules = &r
	}
	if err := c.Rules.Validate(); err != nil {
		return bad("rules", "rules: %v", err)
	}
	return nil
}

// checkURLs checks command.url or command.urls: one of them, each a
// ws:// or wss:// URL with a host, none listed twice.
func (c *Config) checkURLs(bad func(key, format string, args ...any) error) ([]*url.URL, error) {
	cmd := &c.Command
	switch {
	case cmd.URL != "" && len(cmd.URLList) > 0:
		return nil, bad("command.urls", "command.url and command.urls are both set; give one URL in url, or every command instance in urls (and delete url)")
	case cmd.URL == "" && len(cmd.URLList) == 0:
		return nil, bad("command", "command.url is required (e.g. wss://command.example/ws/kiosk), or command.urls: a list of them, one per command instance")
	}
	key := cmd.urlKey()
	at := "command" // where command.url's problems have always been reported
	if len(cmd.URLList) > 0 {
		at = key
	}
	var out []*url.URL
	seen := map[string]bool{}
	for i, raw := range cmd.URLs() {
		name := key
		if len(cmd.URLList) > 0 {
			name = fmt.Sprintf("%s[%d]", key, i)
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			return nil, bad(at, "%s %q must be a ws:// or wss:// URL with a host (e.g. wss://command-a.example/ws/kiosk)", name, raw)
		}
		if seen[raw] {
			return nil, bad(at, "%s %q is listed twice; list each command instance once", name, raw)
		}
		seen[raw] = true
		out = append(out, u)
	}
	return out, nil
}

// loadProfiles reads the profiles directory over the built-in profiles.
func (c *Config) loadProfiles(name string, lines map[string]int) error {
	dir := c.Profiles
	if dir == "" {
		dir = profile.DefaultDir
	}
	if _, err := os.Stat(dir); err != nil {
		if c.Profiles == "" && errors.Is(err, fs.ErrNotExist) {
			return nil // no profiles added: the built-in ones
		}
		return &ConfigError{File: name, Line: lines["profiles"], Msg: fmt.Sprintf("profiles: %v", err)}
	}
	lib, err := profile.Load(os.DirFS(dir), dir)
	if err != nil {
		return &ConfigError{File: name, Line: lines["profiles"], Msg: fmt.Sprintf("instrument profiles in %s are not valid:\n%v", dir, err)}
	}
	c.library = lib
	return nil
}

// validID reports whether s is a valid id on the wire (protocols/wire).
func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.:", c)) {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// yamlErr turns a yaml error into a ConfigError with its line
// (internal/yamlconf.Explain; root may be nil).
func yamlErr(name string, err error, root *yaml.Node) error {
	e := yamlconf.Explain(name, err, root)
	return &ConfigError{File: e.File, Line: e.Line, Msg: e.Msg}
}

// keyLines maps top-level keys to their lines.
func keyLines(m *yaml.Node) map[string]int {
	out := map[string]int{"": 1}
	if m.Kind != yaml.MappingNode {
		return out
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		key := m.Content[i].Value
		out[key] = m.Content[i].Line
		if v := m.Content[i+1]; v.Kind == yaml.MappingNode {
			for j := 0; j+1 < len(v.Content); j += 2 {
				out[key+"."+v.Content[j].Value] = v.Content[j].Line
			}
		}
	}
	return out
}

// deviceLines returns the line of each entry of the devices list, and of
// each entry's keys ("port", "options", "options.mode").
func deviceLines(m *yaml.Node) ([]int, []map[string]int) {
	if m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "devices" && m.Content[i+1].Kind == yaml.SequenceNode {
			var out []int
			var keys []map[string]int
			for _, d := range m.Content[i+1].Content {
				out = append(out, d.Line)
				k := map[string]int{}
				if d.Kind == yaml.MappingNode {
					for j := 0; j+1 < len(d.Content); j += 2 {
						name := d.Content[j].Value
						k[name] = d.Content[j].Line
						if v := d.Content[j+1]; name == "options" && v.Kind == yaml.MappingNode {
							for o := 0; o+1 < len(v.Content); o += 2 {
								k["options."+v.Content[o].Value] = v.Content[o].Line
							}
						}
					}
				}
				keys = append(keys, k)
			}
			return out, keys
		}
	}
	return nil, nil
}
