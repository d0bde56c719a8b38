package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/shianfood/shian/kiosk"
	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/device/profiled"
	"github.com/shianfood/shian/kiosk/drivers"
	"github.com/shianfood/shian/protocols/device/profile"
	"github.com/shianfood/shian/protocols/domain/assay"
)

const probeUsage = `shian-kiosk probe — 用仪器档案读一次仪器 / read an instrument once with its profile

Usage:
  shian-kiosk probe --profile VENDOR-MODEL --port /dev/ttyUSB0 [--addr N] [flags]
  shian-kiosk probe --profile FILE.yaml --port HOST:502

Reads the device once as the profile says and prints what it read: the
identity, the raw registers (or the text received), the decoded values and
the verdict the rules give. Nothing is acknowledged: the instrument keeps
its result. Use it at the bench to write and check a profile
(docs/profiles.md). Stop shian-kiosk first if it reads the same port.

Flags:
`

// Probe is the probe subcommand.
type Probe struct {
	Profile  string
	Profiles string
	Port     string
	Addr     uint
	Baud     int
	Method   string
	Config   string
	Timeout  time.Duration
	Stdout   io.Writer
	// Env holds the openers (tests); nil: the real ports.
	Env *device.Env
}

// ParseFlags reads the probe's command line.
func (p *Probe) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("shian-kiosk probe", flag.ContinueOnError)
	fs.SetOutput(p.Stdout)
	fs.Usage = func() {
		fmt.Fprint(p.Stdout, probeUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&p.Profile, "profile", "", "the profile: a name (SHIAN-GC1, or one in --profiles) or a .yaml file")
	fs.StringVar(&p.Profiles, "profiles", profile.DefaultDir, "directory of installed profiles")
	fs.StringVar(&p.Port, "port", "", "serial device (/dev/ttyUSB0), or host:port for Modbus TCP")
	fs.UintVar(&p.Addr, "addr", 0, "Modbus unit address (default: the profile's)")
	fs.IntVar(&p.Baud, "baud", 0, "serial speed (default: the profile's)")
	fs.StringVar(&p.Method, "method", "", "fix the method, as options.method does (default: the device's)")
	fs.StringVar(&p.Config, "config", "", "kiosk.yaml whose built-in rules decide the verdict (default: the standard rules)")
	fs.DurationVar(&p.Timeout, "timeout", 10*time.Second, "how long to wait for the device (a text device: for a result)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if p.Profile == "" || p.Port == "" {
		fs.Usage()
		return errors.New("--profile and --port are required")
	}
	return nil
}

// library is the built-in profiles, the installed ones, and --profile
// itself when it is a file.
func (p *Probe) library() (*profile.Library, string, error) {
	lib := profile.Builtin()
	if st, err := os.Stat(p.Profiles); err == nil && st.IsDir() {
		l, err := profile.Load(os.DirFS(p.Profiles), p.Profiles)
		if err != nil {
			return nil, "", err
		}
		lib = l
	}
	name := p.Profile
	if strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, "", err
		}
		pr, err := profile.Parse(name, b)
		if err != nil {
			return nil, "", err
		}
		own := &profile.Library{}
		for _, n := range lib.Names() {
			x, _ := lib.Lookup(n)
			own.Add(x)
		}
		own.Add(pr)
		lib, name = own, pr.Name
	}
	return lib, name, nil
}

// Run probes and prints.
func (p *Probe) Run(ctx context.Context) error {
	lib, name, err := p.library()
	if err != nil {
		return err
	}
	book := assay.DefaultBook()
	rulesFrom := "标准默认规则 / the standard default rules"
	if p.Config != "" {
		cfg, err := kiosk.LoadConfig(p.Config)
		if err != nil {
			return err
		}
		book.Rules = *cfg.Rules
		rulesFrom = "kiosk.yaml 内置规则 / the built-in rules of " + p.Config
	}
	env := device.Env{Serial: drivers.Serial(), Profiles: lib}
	if p.Env != nil {
		env = *p.Env
		env.Profiles = lib
	}
	spec := device.Spec{ID: "probe", Profile: name, Port: p.Port, Addr: uint16(p.Addr), Baud: p.Baud}
	if p.Method != "" {
		spec.Options = map[string]string{"method": p.Method}
	}
	rep, perr := profiled.Probe(ctx, spec, env, p.Timeout)
	if rep != nil {
		p.print(rep, book, rulesFrom)
	}
	return perr
}

func yesNo(b bool) string {
	if b {
		return "是 yes"
	}
	return "否 no"
}

func (p *Probe) print(rep *profiled.Report, book assay.Book, rulesFrom string) {
	w := p.Stdout
	pr := rep.Profile
	t := pr.Transport
	fmt.Fprintf(w, "档案 profile    %s (%s %s) · %s\n", pr.Name, pr.Vendor, pr.Model, pr.File)
	line := fmt.Sprintf("%s %d %d%s%d", t.Kind, t.Baud, t.DataBits, t.Parity, t.StopBits)
	if t.Kind == profile.ModbusTCP {
		line = string(t.Kind)
	}
	if t.Kind.Modbus() {
		unit := uint(t.Unit)
		if p.Addr != 0 {
			unit = p.Addr
		}
		line += fmt.Sprintf(" · unit %d", unit)
	}
	fmt.Fprintf(w, "端口 port       %s · %s\n", p.Port, line)
	if pr.Identity != nil {
		fmt.Fprintf(w, "身份 identity   serial %q · model %q · firmware %q\n", rep.Ident.Serial, rep.Ident.Model, rep.Ident.Firmware)
		if pr.Identity.Reads != nil {
			dumpRegisters(w, "identity", pr.Identity.Reads, rep.IdentRegisters)
		}
	}
	if rep.Registers != nil {
		dumpRegisters(w, "result", pr.Result.Reads, rep.Registers)
	}
	for _, m := range rep.Messages {
		fmt.Fprintf(w, "收到 received\n")
		for _, l := range strings.SplitAfter(string(m), t.LineEnd) {
			if l != "" {
				fmt.Fprintf(w, "  %q\n", l)
			}
		}
	}
	d := rep.Result
	state := fmt.Sprintf("ready %s · busy %s · fault %s", yesNo(rep.Ready), yesNo(d.Busy), yesNo(d.Fault))
	if d.HasSequence {
		state += fmt.Sprintf(" · sequence %d", d.Sequence)
	}
	fmt.Fprintf(w, "状态 state      %s\n", state)
	if !rep.Ready {
		fmt.Fprintf(w, "结果 result     无 none: the device holds no result now — measure one and probe again\n")
		return
	}
	fmt.Fprintf(w, "方法 method     %s · item %s (%s, code %s)\n", d.Method, d.Item, d.Analyte, d.ItemCode)
	if !d.Time.IsZero() {
		fmt.Fprintf(w, "时间 time       %s\n", d.Time.Format("2006-01-02 15:04:05 -07:00"))
	}
	if d.SampleCode != "" || d.SampleName != "" {
		fmt.Fprintf(w, "样品 sample     %s %s\n", d.SampleCode, d.SampleName)
	}
	for _, q := range profile.Values(d.Raw) {
		fmt.Fprintf(w, "数值 value      %-15s %s\n", q.Name, strings.TrimSpace(q.Value+" "+q.Unit))
	}
	out, err := book.Decide(d.Method, d.Item, rep.Model, "", d.Raw)
	if err != nil {
		fmt.Fprintf(w, "判定 verdict    cannot decide: %v\n", err)
		return
	}
	zh, en := out.Verdict.Label()
	fmt.Fprintf(w, "判定 verdict    %s / %s · %v %s%s\n", zh, en, out.Value, out.Unit, reasonText(out.Reason))
	fmt.Fprintf(w, "规则 rules      %s, for model %s\n", rulesFrom, rep.Model)
	if d.HasSequence {
		fmt.Fprintf(w, "未确认 not acknowledged: the instrument still holds result %d\n", d.Sequence)
	}
}

func reasonText(r string) string {
	if r == "" {
		return ""
	}
	return " (" + r + ")"
}

// dumpRegisters prints each block read, eight registers to a row.
func dumpRegisters(w io.Writer, what string, reads []profile.Read, regs profile.Registers) {
	for _, r := range reads {
		fmt.Fprintf(w, "寄存器 registers %s %s 0x%04X–0x%04X\n", what, r.Table, r.Start, r.Start+r.Count-1)
		vals := regs.Block(r.Table, r.Start, r.Count)
		for i := 0; i < len(vals); i += 8 {
			row := vals[i:min(i+8, len(vals))]
			hex := make([]string, len(row))
			for j, v := range row {
				hex[j] = fmt.Sprintf("%04X", v)
			}
			fmt.Fprintf(w, "  0x%04X  %s\n", int(r.Start)+i, strings.Join(hex, " "))
		}
	}
}

// runProbe is `shian-kiosk probe`.
func runProbe(ctx context.Context, args []string, stdout io.Writer) error {
	p := &Probe{Stdout: stdout}
	if err := p.ParseFlags(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	return p.Run(ctx)
}
