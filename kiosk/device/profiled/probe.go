package profiled

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/protocols/device/profile"
)

// Report is what a probe read from a device with its profile.
type Report struct {
	Profile *profile.Profile
	// Ident is what the identity said; IdentRegisters its registers.
	Ident          profile.Ident
	IdentRegisters profile.Registers
	// Registers are the result blocks as read (Modbus).
	Registers profile.Registers
	// Messages are the text messages heard (text devices).
	Messages [][]byte
	// Result is the decoded result; Ready is false when the device held
	// none (its state is still in Result: busy, fault, sequence).
	Result profile.Decoded
	Ready  bool
	// Model is the model a reading would carry.
	Model string
}

// Probe reads spec's device once with its profile, for an installer at
// the bench (`shian-kiosk probe`): the identity and the result blocks of a
// Modbus device — without acknowledging anything, so the device keeps
// its result — or, for a text device, what it sends within timeout (after
// the profile's probe, if it has one) until a result arrives. It returns
// the report so far with the first error.
func Probe(ctx context.Context, spec device.Spec, env device.Env, timeout time.Duration) (*Report, error) {
	spec.Protocol = ""
	lib := env.Profiles
	if lib == nil {
		lib = profile.Builtin()
	}
	p, err := lib.Lookup(spec.Profile)
	if err != nil {
		return nil, err
	}
	rep := &Report{Profile: p}
	if env.Now == nil {
		env.Now = time.Now
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if p.Transport.Kind == profile.Text {
		return rep, probeText(ctx, spec, env, p, rep)
	}
	d, err := buildModbus(spec, env, p)
	if err != nil {
		return rep, err
	}
	l, err := d.open(ctx)
	if err != nil {
		return rep, err
	}
	defer l.close()
	if p.Identity != nil {
		regs, err := d.identify(ctx, l)
		rep.IdentRegisters, rep.Ident = regs, d.ident
		if err != nil {
			return rep, err
		}
	}
	regs, err := d.readBlocks(ctx, l, p.Result.Reads)
	rep.Registers = regs
	if err != nil {
		return rep, err
	}
	res, err := p.DecodeResult(regs, d.opt.Method)
	rep.Result, rep.Ready, rep.Model = res, res.Ready, d.modelName()
	return rep, err
}

func probeText(ctx context.Context, spec device.Spec, env device.Env, p *profile.Profile, rep *Report) error {
	if env.Serial == nil {
		return errors.New("no serial opener")
	}
	t := p.Transport
	baud := t.Baud
	if spec.Baud != 0 {
		baud = spec.Baud
	}
	port, err := env.Serial.OpenSerial(spec.Port, device.SerialMode{Baud: baud, DataBits: t.DataBits, Parity: t.Parity, StopBits: t.StopBits})
	if err != nil {
		return fmt.Errorf("open %s: %w", spec.Port, err)
	}
	defer port.Close()
	if err := port.SetReadTimeout(100 * time.Millisecond); err != nil {
		return err
	}
	_ = port.ResetInputBuffer()
	if t.Probe != nil {
		if _, err := port.Write([]byte(t.Probe.Send)); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	dec := p.NewTextDecoder()
	buf := make([]byte, 256)
	var first error
	rep.Model = spec.Model
	for ctx.Err() == nil {
		n, err := port.Read(buf)
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if n == 0 {
			if gerr := dec.Gap(); gerr != nil && first == nil {
				first = gerr
			}
			continue
		}
		dec.Feed(buf[:n])
		for {
			msg, err := dec.Next()
			if errors.Is(err, profile.ErrIncomplete) {
				break
			}
			if err != nil {
				if first == nil {
					first = err
				}
				continue
			}
			rep.Messages = append(rep.Messages, msg)
			m, err := p.Match(msg, "")
			if err != nil {
				if first == nil {
					first = err
				}
				continue
			}
			switch m.Kind {
			case profile.KindIdentity:
				rep.Ident = m.Ident
			case profile.KindError:
				if first == nil {
					first = fmt.Errorf("the instrument reports an error: %s", m.Code)
				}
			case profile.KindResult:
				rep.Result, rep.Ready = m.Result, true
				if rep.Model == "" {
					rep.Model = m.Result.Model
				}
				if rep.Model == "" {
					rep.Model = rep.Ident.Model
				}
				if rep.Model == "" {
					rep.Model = p.Model
				}
				return nil
			}
		}
	}
	if first != nil {
		return fmt.Errorf("no result within the time given; %w", first)
	}
	return fmt.Errorf("no result within the time given: measure something on the instrument while the probe listens")
}
