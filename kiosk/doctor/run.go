package doctor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/shianfood/shian/internal/dirlock"
	"github.com/shianfood/shian/kiosk"
	"github.com/shianfood/shian/kiosk/alarm"
	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/outbox"
	"golang.org/x/sys/unix"
)

// Options are what a doctor run needs from its caller.
type Options struct {
	// Config is the kiosk.yaml path.
	Config string
	// Serial, I2C and GPIO open the devices, as for kiosk.Open
	// (kiosk/drivers.Serial and I2C, alarm.HostPins on a Pi).
	Serial device.SerialOpener
	I2C    device.BusOpener
	GPIO   alarm.PinOpener
	// Client makes the request to the command (default: a client with
	// the environment's proxy and the system's roots, 10 s timeout).
	Client *http.Client
	// Now is the kiosk's clock (default time.Now).
	Now func() time.Time
	// ProbeTimeout bounds the device probes (default 10 s).
	ProbeTimeout time.Duration
	// Ports and Buses list what the machine has (defaults read /dev and
	// /sys); tests replace them.
	Ports func() []Port
	Buses func() []string
	// OnCheck, if set, receives each check as soon as it is made.
	OnCheck func(Check)
	// Log receives the drivers' log lines while they are probed
	// (default: discarded).
	Log *slog.Logger
}

// MaxSkew is the clock offset against the command above which a kiosk
// fails the clock check: the command flags results from such a kiosk.
const MaxSkew = 5 * time.Minute

// warnSkew is the offset above which the clock check warns.
const warnSkew = 30 * time.Second

// Free space thresholds of the data directory.
const (
	minFree  = 64 << 20
	warnFree = 512 << 20
)

type run struct {
	o   Options
	rep Report
	cfg *kiosk.Config
}

func (r *run) add(c Check) {
	r.rep.Checks = append(r.rep.Checks, c)
	if r.o.OnCheck != nil {
		r.o.OnCheck(c)
	}
}

// Run checks the kiosk and returns the report. It fails only through the
// report: every problem is a check.
func Run(ctx context.Context, o Options) Report {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = 10 * time.Second
	}
	if o.Ports == nil {
		o.Ports = SerialPorts
	}
	if o.Buses == nil {
		o.Buses = I2CBuses
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: http.ProxyFromEnvironment,
			TLSHandshakeTimeout: 10 * time.Second}}
	}
	r := &run{o: o}
	insts, ok := r.config()
	if !ok {
		return r.rep
	}
	r.machine()
	lock, running := r.dataDir()
	defer lock.Release()
	r.devices(ctx, insts, running)
	r.screen(running)
	r.alarmPins()
	r.command(ctx)
	return r.rep
}

// config is step 1: parse, then build every driver.
func (r *run) config() ([]device.Instrument, bool) {
	what := Text{"配置文件", "config"}
	cfg, err := kiosk.LoadConfig(r.o.Config)
	if err != nil {
		probs := kiosk.AsProblems(err)
		if probs == nil {
			r.add(Check{Status: Fail, What: what, Found: err.Error(),
				Fix: Text{"检查 --config 路径是否正确、文件是否可读", "check the --config path and that this user may read the file"}})
			return nil, false
		}
		for _, p := range probs {
			r.add(configFail(p))
		}
		return nil, false
	}
	r.cfg = cfg
	env := device.Env{Serial: r.o.Serial, I2C: r.o.I2C, Now: r.o.Now, Log: r.o.Log, Rules: cfg.Rules}
	insts, err := cfg.Instruments(env)
	if err != nil {
		for _, p := range kiosk.AsProblems(err) {
			r.add(configFail(p))
		}
		return nil, false
	}
	r.add(Check{Status: Pass, What: what, Found: fmt.Sprintf("%s: kiosk %s, %d devices, every driver built with its options, no port or bus address given twice",
		cfg.File, cfg.KioskID, len(cfg.Devices))})
	return insts, true
}

func configFail(p *kiosk.ConfigError) Check {
	line := "the file"
	lineZH := "该文件"
	if p.Line > 0 {
		line = fmt.Sprintf("line %d", p.Line)
		lineZH = fmt.Sprintf("第 %d 行", p.Line)
	}
	return Check{Status: Fail, What: Text{"配置文件", "config"}, Found: p.Error(),
		Fix: Text{"按提示改正" + lineZH + "（完整示例见 kiosk/README.md），再运行 doctor", "correct " + line + " as the message says (kiosk/README.md has a complete example) and run doctor again"}}
}

// machine is step 2: what ports and buses this machine has.
func (r *run) machine() {
	ports := r.o.Ports()
	var names []string
	for _, p := range ports {
		names = append(names, p.String())
	}
	found := "none"
	if len(names) > 0 {
		found = strings.Join(names, ", ")
	}
	st, fix := Info, Text{}
	if len(ports) == 0 && r.uses(func(s device.Spec) bool { return s.Port != "" }) {
		st, fix = Warn, Text{"未发现串口：接上仪器的 USB 串口线；树莓派板载串口需在 config.txt 中 enable_uart=1", "no serial port found: plug in the instruments' USB adapters; the Pi's own UART needs enable_uart=1 in config.txt"}
	}
	r.add(Check{Status: st, What: Text{"串口", "serial ports"}, Found: found, Fix: fix})
	buses := r.o.Buses()
	found = "none"
	if len(buses) > 0 {
		found = strings.Join(buses, ", ")
	}
	st, fix = Info, Text{}
	if len(buses) == 0 && r.uses(func(s device.Spec) bool { return s.Bus != "" }) {
		st, fix = Fail, Text{"启用 I²C：在 /boot/firmware/config.txt 加 dtparam=i2c_arm=on 并重启（或 raspi-config → Interface Options → I2C）",
			"enable I²C: add dtparam=i2c_arm=on to /boot/firmware/config.txt and reboot (or raspi-config → Interface Options → I2C)"}
	}
	r.add(Check{Status: st, What: Text{"I²C 总线", "I²C buses"}, Found: found, Fix: fix})
}

func (r *run) uses(f func(device.Spec) bool) bool {
	for _, s := range r.cfg.Devices {
		if f(s) {
			return true
		}
	}
	return false
}

func (r *run) where(key string) string {
	if l := r.cfg.Line(key); l > 0 {
		return fmt.Sprintf("%s:%d", r.cfg.File, l)
	}
	return r.cfg.File
}

func (r *run) devWhere(i int, key string) string {
	return fmt.Sprintf("%s:%d", r.cfg.File, r.cfg.DeviceLine(i, key))
}

// dataDir is step 4. It takes the directory's lock for the rest of the
// run when it can (so the kiosk does not start while its devices are
// probed); running reports that a kiosk holds it.
func (r *run) dataDir() (lock *dirlock.Lock, running string) {
	what := Text{"数据目录", "data directory"}
	dir := r.cfg.Data
	where := r.where("data")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.add(Check{Status: Fail, What: what, Found: fmt.Sprintf("%s: %s: %v", where, dir, err),
			Fix: Text{"创建该目录并交给终端用户：sudo install -d -o shian -g shian " + dir + "（systemd 单元的 StateDirectory= 会自动创建）",
				"create it for the kiosk's user: sudo install -d -o shian -g shian " + dir + " (the systemd unit's StateDirectory= does this)"}})
		return nil, ""
	}
	probe := filepath.Join(dir, ".doctor-write-test")
	if err := writeSynced(probe); err != nil {
		r.add(Check{Status: Fail, What: what, Found: fmt.Sprintf("%s: %s is not writable: %v", where, dir, err),
			Fix: Text{"让终端用户可写：sudo chown -R shian:shian " + dir + "；只读或损坏的 SD 卡需更换", "make it writable by the kiosk's user: sudo chown -R shian:shian " + dir + "; a read-only or failing SD card must be replaced"}})
	} else {
		r.add(Check{Status: Pass, What: what, Found: fmt.Sprintf("%s: %s is writable (write and fsync)", where, dir)})
	}
	lk, err := dirlock.Acquire(dir, "shian-kiosk")
	switch {
	case errors.Is(err, dirlock.ErrLocked):
		b, _ := os.ReadFile(filepath.Join(dir, "LOCK"))
		running = "pid " + strings.TrimSpace(string(b))
		r.add(Check{Status: Warn, What: Text{"数据目录锁", "data directory lock"}, Found: fmt.Sprintf("%s is locked by a running shian-kiosk (%s): its devices are in use, so their state is read from the running kiosk instead of probed", dir, running),
			Fix: Text{"要让 doctor 亲自探测仪器，先停止终端：sudo systemctl stop shian-kiosk，检查后再启动", "for doctor to probe the instruments itself, stop the kiosk first (sudo systemctl stop shian-kiosk) and start it again afterwards"}})
	case err != nil:
		r.add(Check{Status: Fail, What: Text{"数据目录锁", "data directory lock"}, Found: err.Error(),
			Fix: Text{"让终端用户可写该目录", "make the directory writable by the kiosk's user"}})
	default:
		lock = lk
		r.add(Check{Status: Pass, What: Text{"数据目录锁", "data directory lock"}, Found: fmt.Sprintf("%s/LOCK taken (no other shian-kiosk uses it); held while doctor runs", dir)})
	}
	r.freeSpace(dir)
	r.outboxHealth(dir)
	return lock, running
}

func writeSynced(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, werr := f.Write([]byte("shian-kiosk doctor\n"))
	serr := f.Sync()
	cerr := f.Close()
	os.Remove(path)
	return errors.Join(werr, serr, cerr)
}

func (r *run) freeSpace(dir string) {
	what := Text{"存储空间", "free space"}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		r.add(Check{Status: Warn, What: what, Found: err.Error(), Fix: Text{"检查存储卡", "check the storage card"}})
		return
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	total := int64(st.Blocks) * int64(st.Bsize)
	found := fmt.Sprintf("%s free of %s on the filesystem of %s", bytesText(free), bytesText(total), dir)
	switch {
	case free < minFree:
		r.add(Check{Status: Fail, What: what, Found: found + fmt.Sprintf(" (below %s: results cannot be saved)", bytesText(minFree)),
			Fix: Text{"清理空间（journalctl --vacuum-size=50M，删除旧文件）或换更大的卡", "free space (journalctl --vacuum-size=50M, remove old files) or use a larger card"}})
	case free < warnFree:
		r.add(Check{Status: Warn, What: what, Found: found + fmt.Sprintf(" (below %s)", bytesText(warnFree)),
			Fix: Text{"活动前清理空间", "free some space before the event"}})
	default:
		r.add(Check{Status: Pass, What: what, Found: found})
	}
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

func (r *run) outboxHealth(dir string) {
	what := Text{"结果队列", "outbox"}
	in, err := outbox.Inspect(dir)
	if os.IsNotExist(err) {
		r.add(Check{Status: Pass, What: what, Found: fmt.Sprintf("%s does not exist yet (a new kiosk: it is created at the first start)", in.Path)})
		return
	}
	if err != nil {
		r.add(Check{Status: Fail, What: what, Found: err.Error(), Fix: Text{"让终端用户可读该文件", "make the file readable by the kiosk's user"}})
		return
	}
	found := fmt.Sprintf("%s: %d records, %d waiting to upload", in.Path, len(in.Records), in.Stats.Pending)
	if in.Stats.OldestPending != nil {
		found += fmt.Sprintf(" (oldest saved %s ago)", r.o.Now().Sub(*in.Stats.OldestPending).Round(time.Second))
	}
	switch {
	case in.File.Damaged() || in.Unreadable > 0:
		r.add(Check{Status: Warn, What: what, Found: found + "; " + in.File.String() + fmt.Sprintf(", %d unreadable records", in.Unreadable),
			Fix: Text{"终端启动时会自动修复并向指挥中心报警；先用 shian-kiosk export 导出一份交技术支持", "the kiosk repairs it at start and raises an alarm at the command; first save a copy for support with shian-kiosk export"}})
	default:
		// A torn tail while a kiosk runs is the write in progress.
		r.add(Check{Status: Pass, What: what, Found: found + "; file " + in.File.String()})
	}
}

// devices is step 3.
func (r *run) devices(ctx context.Context, insts []device.Instrument, running string) {
	ready := make([]bool, len(insts))
	for i, spec := range r.cfg.Devices {
		what := Text{"仪器 " + spec.ID, "device " + spec.ID}
		ready[i] = true
		if spec.Port != "" {
			if c, ok := portCheck(spec.Port); !ok {
				c.What, c.Found = what, r.devWhere(i, "port")+": "+c.Found
				r.add(c)
				ready[i] = false
			}
		}
		if spec.Bus != "" {
			dev := "/dev/i2c-" + spec.Bus
			if c, ok := portCheck(dev); !ok {
				c.What, c.Found = what, r.devWhere(i, "bus")+": "+c.Found
				if strings.Contains(c.Found, "does not exist") {
					c.Fix = Text{"确认 bus 写的是 /dev/i2c-N 的编号 N（树莓派排针为 \"1\"）并已启用 I²C（dtparam=i2c_arm=on）",
						"name the bus by the N of /dev/i2c-N (\"1\" is the Pi's header bus) and enable I²C (dtparam=i2c_arm=on)"}
				}
				r.add(c)
				ready[i] = false
			}
		}
	}
	if running != "" {
		r.runningDevices(ctx, ready, running)
		return
	}
	var probe []int
	for i := range insts {
		if ready[i] {
			probe = append(probe, i)
		}
	}
	for _, res := range probeAll(ctx, insts, probe, r.o.ProbeTimeout) {
		spec := r.cfg.Devices[res.i]
		what := Text{"仪器 " + spec.ID, "device " + spec.ID}
		where := fmt.Sprintf("%s:%d", r.cfg.File, spec.Line)
		st := res.status
		model := st.Model
		if model == "" {
			model = spec.Model
		}
		if st.State == device.StateReady || st.State == device.StateMeasuring {
			found := fmt.Sprintf("%s: %s %s answered on %s", where, driverName(spec), model, conn(spec))
			if res.readings > 0 {
				found += fmt.Sprintf("; it sent %d result(s) during the check, not saved (a confirming instrument repeats them to the kiosk; otherwise test the sample again)", res.readings)
			}
			r.add(Check{Status: Pass, What: what, Found: found})
			continue
		}
		why := st.LastErr
		if why == "" {
			why = fmt.Sprintf("no answer within %v", r.o.ProbeTimeout)
		}
		r.add(Check{Status: Fail, What: what, Found: fmt.Sprintf("%s: %s %s on %s did not answer: %s", where, driverName(spec), model, conn(spec), why),
			Fix: fixFor(spec)})
	}
}

// runningDevices reports the devices of a running kiosk as it sees them
// (its screen's GET /api/state): the kiosk has their ports open.
func (r *run) runningDevices(ctx context.Context, ready []bool, running string) {
	states := map[string]device.Status{}
	asked := false
	if addr := r.cfg.UI.Listen; addr != kiosk.UIOff {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/api/state", nil)
		if resp, err := (&http.Client{Timeout: 3 * time.Second}).Do(req); err == nil {
			var st struct {
				Instruments []device.Status `json:"instruments"`
			}
			if resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&st) == nil {
				asked = true
				for _, in := range st.Instruments {
					states[in.ID] = in
				}
			}
			resp.Body.Close()
		}
	}
	for i, spec := range r.cfg.Devices {
		if !ready[i] {
			continue
		}
		what := Text{"仪器 " + spec.ID, "device " + spec.ID}
		where := fmt.Sprintf("%s:%d", r.cfg.File, spec.Line)
		st, ok := states[spec.ID]
		switch {
		case !asked || !ok:
			r.add(Check{Status: Skip, What: what, Found: where + ": not probed: the running kiosk (" + running + ") has it open"})
		case st.State == device.StateReady || st.State == device.StateMeasuring:
			r.add(Check{Status: Pass, What: what, Found: fmt.Sprintf("%s: %s %s on %s is %s in the running kiosk (%s): %d frames, %d bad, %d timeouts",
				where, driverName(spec), st.Model, conn(spec), st.State, running, st.Frames, st.BadFrames, st.Timeouts)})
		default:
			why := st.LastErr
			if why == "" {
				why = "no answer yet"
			}
			r.add(Check{Status: Fail, What: what, Found: fmt.Sprintf("%s: %s on %s is %s in the running kiosk (%s): %s", where, driverName(spec), conn(spec), st.State, running, why),
				Fix: fixFor(spec)})
		}
	}
}

func conn(spec device.Spec) string {
	if spec.Port != "" {
		s := spec.Port
		if spec.Baud != 0 {
			s += fmt.Sprintf(" at %d baud", spec.Baud)
		}
		if spec.Addr != 0 {
			s += fmt.Sprintf(", addr %d", spec.Addr)
		}
		return s
	}
	s := "I²C bus " + spec.Bus
	if spec.Addr != 0 {
		s += fmt.Sprintf(" addr 0x%02X", spec.Addr)
	}
	return s
}

func fixFor(spec device.Spec) Text {
	if spec.Bus != "" {
		return Text{"检查传感器接线（SDA/SCL/3.3V/GND）与地址（i2cdetect -y " + spec.Bus + "）",
			"check the sensor's wiring (SDA, SCL, 3.3 V, GND) and its address (i2cdetect -y " + spec.Bus + ")"}
	}
	if spec.Addr != 0 {
		return Text{"检查仪器电源、RS-485 的 A/B 接线、仪器上设置的地址与波特率是否与配置一致",
			"check the unit's power, the RS-485 A/B wiring, and that the address and baud set on the unit match the config"}
	}
	return Text{"打开仪器电源，检查串口线，并确认仪器菜单中的波特率与配置一致",
		"switch the instrument on, check its cable, and that the baud rate in its menu matches the config"}
}

// portCheck reports whether a device node is there and this user may
// open it for reading and writing.
func portCheck(path string) (Check, bool) {
	if _, err := os.Stat(path); err != nil {
		return Check{Status: Fail, Found: fmt.Sprintf("%s does not exist", path),
			Fix: Text{"接上该仪器的 USB 串口线，用 ls -l /dev/serial/by-id/ 查看它的稳定名称并改正该行",
				"plug in the instrument's adapter, find its stable name with ls -l /dev/serial/by-id/ and correct that line"}}, false
	}
	if err := unix.Access(path, unix.R_OK|unix.W_OK); err != nil {
		grp := "dialout"
		if strings.HasPrefix(path, "/dev/i2c") {
			grp = "i2c"
		}
		return Check{Status: Fail, Found: fmt.Sprintf("%s: this user may not open it (%v)", path, err),
			Fix: Text{"把终端用户加入 " + grp + " 组：sudo usermod -aG " + grp + " shian（systemd 单元已写 SupplementaryGroups）",
				"add the kiosk's user to group " + grp + ": sudo usermod -aG " + grp + " shian (the systemd unit sets SupplementaryGroups)"}}, false
	}
	return Check{}, true
}

type probeResult struct {
	i        int
	status   device.Status
	readings int
}

// probeAll runs the drivers of idx until each is ready or the timeout
// passes, and returns their last status.
func probeAll(ctx context.Context, insts []device.Instrument, idx []int, timeout time.Duration) []probeResult {
	if len(idx) == 0 {
		return nil
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var mu sync.Mutex
	readings := map[int]int{}
	var wg sync.WaitGroup
	for _, i := range idx {
		inst := insts[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			refuse := func(device.Reading) error {
				mu.Lock()
				readings[i]++
				mu.Unlock()
				return errors.New("doctor: not saved")
			}
			if ci, ok := inst.(device.Confirming); ok {
				ci.RunConfirmed(pctx, refuse)
			} else {
				inst.Run(pctx, func(rd device.Reading) { refuse(rd) })
			}
		}()
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		all := true
		for _, i := range idx {
			if s := insts[i].Status().State; s != device.StateReady && s != device.StateMeasuring {
				all = false
			}
		}
		if all {
			break
		}
		select {
		case <-pctx.Done():
			break wait
		case <-tick.C:
		}
	}
	out := make([]probeResult, 0, len(idx))
	for _, i := range idx {
		out = append(out, probeResult{i: i, status: insts[i].Status()})
	}
	cancel()
	wg.Wait()
	mu.Lock()
	for k := range out {
		out[k].readings = readings[out[k].i]
	}
	mu.Unlock()
	return out
}

// screen is step 5a: the operator screen's address.
func (r *run) screen(running string) {
	what := Text{"操作界面", "operator screen"}
	addr := r.cfg.UI.Listen
	if addr == kiosk.UIOff {
		r.add(Check{Status: Info, What: what, Found: r.where("ui.listen") + ": ui.listen is off: no touchscreen page"})
		return
	}
	if running != "" {
		r.add(Check{Status: Skip, What: what, Found: fmt.Sprintf("%s: not checked: the running kiosk serves it (http://%s/)", r.where("ui.listen"), addr)})
		return
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		r.add(Check{Status: Fail, What: what, Found: fmt.Sprintf("%s: cannot listen on %s: %v", r.where("ui.listen"), addr, err),
			Fix: Text{"该端口已被占用：停止占用它的程序（sudo ss -ltnp 'sport = :" + portOf(addr) + "'）或换一个 ui.listen 端口",
				"the port is taken: stop the program that holds it (sudo ss -ltnp 'sport = :" + portOf(addr) + "') or choose another ui.listen port"}})
		return
	}
	ln.Close()
	r.add(Check{Status: Pass, What: what, Found: fmt.Sprintf("%s: http://%s/ can be served (Chromium's kiosk mode opens it)", r.where("ui.listen"), addr)})
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// alarmPins is step 5b.
func (r *run) alarmPins() {
	for _, p := range []struct{ key, name string }{{"led", r.cfg.Alarm.LED}, {"buzzer", r.cfg.Alarm.Buzzer}} {
		if p.name == "" {
			continue
		}
		what := Text{"报警 " + p.key, "alarm " + p.key}
		if r.o.GPIO == nil {
			r.add(Check{Status: Skip, What: what, Found: "no GPIO on this build"})
			continue
		}
		if _, err := r.o.GPIO.OpenPin(p.name); err != nil {
			r.add(Check{Status: Fail, What: what, Found: fmt.Sprintf("%s: %v", r.where("alarm."+p.key), err),
				Fix: Text{"用 BCM 名称（如 GPIO17）并把终端用户加入 gpio 组", "name the pin by its BCM name (GPIO17) and add the kiosk's user to group gpio"}})
			continue
		}
		r.add(Check{Status: Pass, What: what, Found: fmt.Sprintf("%s: pin %s is there", r.where("alarm."+p.key), p.name)})
	}
}

// command is step 6: every command URL (command.url, or each of
// command.urls) is checked on its own.
func (r *run) command(ctx context.Context) {
	urls := r.cfg.Command.URLs()
	for i, raw := range urls {
		where := r.where("command.url")
		if len(urls) > 1 || len(r.cfg.Command.URLList) > 0 {
			where = fmt.Sprintf("%s: command.urls[%d] %s", r.where("command.urls"), i, raw)
		}
		r.commandAt(ctx, raw, where)
	}
}

// commandAt checks one command URL.
func (r *run) commandAt(ctx context.Context, raw, where string) {
	cmd := r.cfg.Command
	u, _ := url.Parse(raw) // validated by the config
	host := u.Host
	if u.Port() == "" {
		if u.Scheme == "wss" {
			host = net.JoinHostPort(u.Hostname(), "443")
		} else {
			host = net.JoinHostPort(u.Hostname(), "80")
		}
	}
	reach := Text{"指挥中心连接", "command reachable"}
	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		r.add(Check{Status: Fail, What: reach, Found: fmt.Sprintf("%s: %s: %v", where, host, err),
			Fix: Text{"检查网络（网线/Wi-Fi/4G）、command.url 中的主机名与端口、以及防火墙是否放行", "check the network (cable, Wi-Fi, 4G), the host and port in command.url, and that the firewall lets it through"}})
		r.add(Check{Status: Skip, What: Text{"终端令牌", "kiosk token"}, Found: "not checked: the command is not reachable"})
		r.add(Check{Status: Skip, What: Text{"时钟", "clock"}, Found: "not checked: the command is not reachable"})
		return
	}
	c.Close()
	r.add(Check{Status: Pass, What: reach, Found: fmt.Sprintf("%s: %s accepts connections", where, host)})

	if tc := r.cfg.TLS(); tc != nil {
		// command.ca_file: check with the roots the link will use.
		if t, ok := r.o.Client.Transport.(*http.Transport); ok && t.TLSClientConfig == nil {
			t = t.Clone()
			t.TLSClientConfig = tc
			c := *r.o.Client
			c.Transport = t
			r.o.Client = &c
		}
	}
	httpURL := *u
	httpURL.Scheme = map[string]string{"ws": "http", "wss": "https"}[u.Scheme]
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, httpURL.String(), nil)
	req.Header.Set("Authorization", "Bearer "+cmd.Token)
	t0 := r.o.Now()
	resp, err := r.o.Client.Do(req)
	t1 := r.o.Now()
	certWhat := Text{"证书", "certificate"}
	if err != nil {
		var uae x509.UnknownAuthorityError
		var hne x509.HostnameError
		var cie x509.CertificateInvalidError
		var rhe tls.RecordHeaderError
		switch {
		case errors.As(err, &uae), errors.As(err, &hne), errors.As(err, &cie):
			r.add(Check{Status: Fail, What: certWhat, Found: fmt.Sprintf("%s: %v", where, err),
				Fix: Text{"指挥中心证书不受信任、已过期或与主机名不符：续期证书，或在 command.ca_file 中给出签发它的 CA 证书（PEM）",
					"the command's certificate is untrusted, expired or for another name: renew it, or name the CA that signed it (PEM) in command.ca_file"}})
		case errors.As(err, &rhe):
			r.add(Check{Status: Fail, What: certWhat, Found: fmt.Sprintf("%s: %v", where, err),
				Fix: Text{"该端口不讲 TLS：command.url 改用 ws://，或连接到 TLS 端口", "that port does not speak TLS: use ws:// in command.url, or the TLS port"}})
		default:
			r.add(Check{Status: Fail, What: Text{"指挥中心应答", "command answers"}, Found: fmt.Sprintf("%s: %v", where, err),
				Fix: Text{"检查 command.url 的路径（…/ws/kiosk）与代理设置", "check the path in command.url (…/ws/kiosk) and the proxy settings"}})
		}
		r.add(Check{Status: Skip, What: Text{"终端令牌", "kiosk token"}, Found: "not checked: no answer from the command"})
		return
	}
	defer resp.Body.Close()
	r.certificate(resp.TLS, u, where)
	tokWhat := Text{"终端令牌", "kiosk token"}
	tokWhere := r.where("command.token")
	if r.cfg.Command.TokenFile != "" {
		tokWhere = r.where("command.token_file")
	}
	var ans struct {
		KioskID    string    `json:"kiosk_id"`
		ServerTime time.Time `json:"server_time"`
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		r.add(Check{Status: Fail, What: tokWhat, Found: fmt.Sprintf("%s: the command refused the token (HTTP %d)", tokWhere, resp.StatusCode),
			Fix: Text{"在指挥中心重新登记该终端（POST /api/v1/kiosks 返回新令牌），写入 token_file 后重试",
				"register the kiosk again at the command (POST /api/v1/kiosks answers a new token), put it in token_file and retry"}})
		r.add(Check{Status: Skip, What: Text{"时钟", "clock"}, Found: "not checked: the token was refused"})
		return
	case resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&ans) != nil || ans.ServerTime.IsZero():
		r.add(Check{Status: Fail, What: Text{"指挥中心应答", "command answers"}, Found: fmt.Sprintf("%s: %s answered HTTP %d, not a Shian kiosk endpoint", where, httpURL.String(), resp.StatusCode),
			Fix: Text{"command.url 应指向指挥中心的 /ws/kiosk；检查反向代理是否转发该路径", "command.url must be the command's /ws/kiosk; check that the reverse proxy forwards that path"}})
		return
	case ans.KioskID != r.cfg.KioskID:
		r.add(Check{Status: Fail, What: tokWhat, Found: fmt.Sprintf("%s: the token belongs to kiosk %s, but %s says kiosk_id: %s", tokWhere, ans.KioskID, r.where("kiosk_id"), r.cfg.KioskID),
			Fix: Text{"令牌与 kiosk_id 不一致：换成本终端的令牌，或改正 kiosk_id", "the token and kiosk_id disagree: use this kiosk's token, or correct kiosk_id"}})
	default:
		r.add(Check{Status: Pass, What: tokWhat, Found: fmt.Sprintf("%s: accepted as kiosk %s", tokWhere, ans.KioskID)})
	}
	// The command stamped its time somewhere between t0 and t1.
	rtt := t1.Sub(t0)
	skew := t0.Add(rtt / 2).Sub(ans.ServerTime)
	found := fmt.Sprintf("kiosk clock %s the command's by %v (±%v, half the round trip)", aheadBehind(skew), abs(skew).Round(time.Millisecond), (rtt / 2).Round(time.Millisecond))
	clockWhat := Text{"时钟", "clock"}
	fix := Text{"开启网络校时：sudo timedatectl set-ntp true（无网络时在 /etc/systemd/timesyncd.conf 指向指挥中心的 NTP）；树莓派无电池时钟，断电后需重新校时",
		"turn on network time: sudo timedatectl set-ntp true (without internet, point /etc/systemd/timesyncd.conf at the command's NTP server); a Pi has no battery clock and needs it after every power cut"}
	switch {
	case abs(skew) > MaxSkew:
		r.add(Check{Status: Fail, What: clockWhat, Found: found + fmt.Sprintf(" — over %v: the command flags every result from this kiosk", MaxSkew), Fix: fix})
	case abs(skew) > warnSkew:
		r.add(Check{Status: Warn, What: clockWhat, Found: found, Fix: fix})
	default:
		r.add(Check{Status: Pass, What: clockWhat, Found: found})
	}
}

func (r *run) certificate(cs *tls.ConnectionState, u *url.URL, where string) {
	what := Text{"证书", "certificate"}
	if cs == nil {
		r.add(Check{Status: Warn, What: what, Found: fmt.Sprintf("%s: %s is not encrypted: results and the token cross the network in clear", where, u.Scheme+"://"+u.Host),
			Fix: Text{"生产环境请用 wss://（指挥中心配置 TLS 证书）", "use wss:// in production (give the command a TLS certificate)"}})
		return
	}
	if len(cs.PeerCertificates) == 0 {
		return
	}
	leaf := cs.PeerCertificates[0]
	left := leaf.NotAfter.Sub(r.o.Now())
	subject := leaf.Subject.CommonName
	if subject == "" {
		var names []string
		names = append(names, leaf.DNSNames...)
		for _, ip := range leaf.IPAddresses {
			names = append(names, ip.String())
		}
		subject = strings.Join(names, ", ")
	}
	issuer := leaf.Issuer.CommonName
	if issuer == "" {
		issuer = leaf.Issuer.String()
	}
	found := fmt.Sprintf("%s: certificate for %s, issued by %s, valid until %s (%d days)", where, subject, issuer,
		leaf.NotAfter.Format("2006-01-02"), int(left.Hours()/24))
	if left < 14*24*time.Hour {
		r.add(Check{Status: Warn, What: what, Found: found, Fix: Text{"证书两周内到期：活动前续期", "the certificate expires within two weeks: renew it before the event"}})
		return
	}
	r.add(Check{Status: Pass, What: what, Found: found})
}

func aheadBehind(d time.Duration) string {
	if d < 0 {
		return "is behind"
	}
	return "is ahead of"
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// Port is a serial port of the machine, with its stable names.
type Port struct {
	Path  string
	ByID  []string // /dev/serial/by-id/… links to it
	Alias []string // /dev/serial0, /dev/shian/… links
}

func (p Port) String() string {
	names := append(append([]string{}, p.ByID...), p.Alias...)
	if len(names) == 0 {
		return p.Path
	}
	return p.Path + " (" + strings.Join(names, ", ") + ")"
}

// SerialPorts lists the machine's serial ports: USB adapters (ttyUSB,
// ttyACM), the Pi's UARTs (ttyAMA, ttyS0), with the names udev gives them.
func SerialPorts() []Port {
	var paths []string
	for _, pat := range []string{"/dev/ttyUSB*", "/dev/ttyACM*", "/dev/ttyAMA*", "/dev/ttyS0"} {
		m, _ := filepath.Glob(pat)
		paths = append(paths, m...)
	}
	ports := map[string]*Port{}
	for _, p := range paths {
		if !isCharDevice(p) {
			continue
		}
		ports[p] = &Port{Path: p}
	}
	links := func(pat string, add func(*Port, string)) {
		m, _ := filepath.Glob(pat)
		for _, l := range m {
			if t, err := filepath.EvalSymlinks(l); err == nil {
				if p := ports[t]; p != nil {
					add(p, l)
				}
			}
		}
	}
	links("/dev/serial/by-id/*", func(p *Port, l string) { p.ByID = append(p.ByID, l) })
	links("/dev/serial[0-9]", func(p *Port, l string) { p.Alias = append(p.Alias, l) })
	links("/dev/shian/*", func(p *Port, l string) { p.Alias = append(p.Alias, l) })
	out := make([]Port, 0, len(ports))
	for _, p := range ports {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func isCharDevice(p string) bool {
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		return false
	}
	return st.Mode&syscall.S_IFMT == syscall.S_IFCHR
}

// I2CBuses lists /dev/i2c-N.
func I2CBuses() []string {
	m, _ := filepath.Glob("/dev/i2c-*")
	sort.Strings(m)
	return m
}

// driverName names what reads a device: its protocol, or its profile.
func driverName(spec device.Spec) string {
	if spec.Profile != "" {
		return "profile " + spec.Profile
	}
	return spec.Protocol
}
