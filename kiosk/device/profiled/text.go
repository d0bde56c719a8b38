package profiled

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/device/internal/serialloop"
	"github.com/shianfood/shian/protocols/device/profile"
	"github.com/shianfood/shian/protocols/domain/assay"
)

const textKeys = "backoff_max, backoff_min, fail_after, method, probe_every, read_timeout, reply_timeout, report_timeout, tz"

// Text is a text device read from its profile.
type Text struct {
	loop *serialloop.Loop
	spec device.Spec
	p    *profile.Profile
	// reportTimeout abandons a report that stops half-way.
	reportTimeout time.Duration
	method        assay.Method
	timing        serialloop.Timing

	mu    sync.Mutex
	seen  []string // serial/sequence of the last results taken
	model string   // what the device's identity said
}

// triggeredText is a text device whose profile has a trigger.
type triggeredText struct{ *Text }

var (
	_ device.Instrument = (*Text)(nil)
	_ device.Triggerer  = triggeredText{}
)

func newText(spec device.Spec, env device.Env, p *profile.Profile) (device.Instrument, error) {
	t := serialloop.Timing{ReadTimeout: 100 * time.Millisecond, ProbeEvery: 30 * time.Second, ReplyTimeout: time.Second,
		FailAfter: 3, BackoffMin: 500 * time.Millisecond, BackoffMax: 30 * time.Second}
	if pr := p.Transport.Probe; pr != nil {
		t.ProbeEvery, t.ReplyTimeout = pr.Every, pr.ReplyTimeout
	}
	d := &Text{spec: spec, p: p, reportTimeout: 2 * time.Second}
	if b := p.Transport.Block; b != nil {
		d.reportTimeout = b.Timeout
	}
	err := t.Parse(spec.ID, spec.Options, map[string]*time.Duration{"report_timeout": &d.reportTimeout}, textKeys, func(k, v string) (bool, error) {
		switch k {
		case "method":
			m, err := methodOption(spec.ID, p, v)
			d.method = m
			return true, err
		case "tz":
			loc, err := time.LoadLocation(v)
			if err != nil {
				return true, fmt.Errorf("device %q: options.tz %q: %v (e.g. Asia/Shanghai)", spec.ID, v, err)
			}
			if p.Result.Time != nil {
				cp := *p
				tm := *p.Result.Time
				tm.Zone = loc
				cp.Result.Time = &tm
				d.p = &cp
			}
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	if p.Transport.Probe == nil {
		// A device that only speaks when it measures: never probed, never
		// down for being quiet.
		t.ProbeEvery, t.ReplyTimeout = 1000*time.Hour, 1000*time.Hour
	}
	if spec.Model == "" {
		spec.Model = p.Model
		d.spec.Model = ""
	}
	d.timing = t
	d.loop = serialloop.New(spec, env, t, "instrument ("+p.Name+")")
	if p.Trigger != nil {
		return triggeredText{d}, nil
	}
	return d, nil
}

// ID implements device.Instrument.
func (d *Text) ID() string { return d.spec.ID }

// Status implements device.Instrument.
func (d *Text) Status() device.Status { return d.loop.Status() }

// Trigger implements device.Triggerer: it sends the profile's trigger
// command (item is ignored: the device measures what it is set to).
func (t triggeredText) Trigger(item string) error { return t.send(t.p.Trigger.Send) }

func (d *Text) send(s string) error {
	p := d.loop.Port()
	if p == nil {
		return fmt.Errorf("%q: %w (is it switched on and on %s?)", d.spec.ID, device.ErrNotConnected, d.spec.Port)
	}
	return d.loop.Write(p, []byte(s))
}

// Run implements device.Instrument.
func (d *Text) Run(ctx context.Context, sink func(device.Reading)) error {
	return d.loop.Run(ctx, func(port device.Port) serialloop.Session {
		dec := d.p.NewTextDecoder()
		var lastByte time.Time
		probe := func() error { return nil }
		what := "a message"
		if pr := d.p.Transport.Probe; pr != nil {
			probe = func() error { return d.loop.Write(port, []byte(pr.Send)) }
			what = fmt.Sprintf("an answer to %q", pr.Send)
		}
		return serialloop.Session{
			Probe:    probe,
			NoAnswer: fmt.Errorf("no %s within %v: is the instrument switched on and on %s at %d baud?", what, d.timing.ReplyTimeout, d.spec.Port, d.p.Transport.Baud),
			Feed: func(now time.Time, b []byte) (heard bool) {
				if len(b) > 0 {
					lastByte = now
					dec.Feed(b)
				}
				for {
					msg, err := dec.Next()
					if errors.Is(err, profile.ErrIncomplete) {
						break
					}
					if err != nil {
						d.bad(err)
						continue
					}
					m, err := d.p.Match(msg, d.method)
					if err != nil {
						d.bad(err)
						continue
					}
					heard = true
					d.loop.Good()
					d.handle(m, sink)
				}
				if dec.Pending() && now.Sub(lastByte) >= d.reportTimeout {
					if err := dec.Gap(); err != nil {
						d.bad(err)
					}
				}
				return heard
			},
		}
	})
}

func (d *Text) bad(err error) {
	d.loop.Update(func(st *device.Status) {
		st.BadFrames++
		st.LastErr = "damaged message: " + err.Error()
	})
}

func (d *Text) handle(m profile.Message, sink func(device.Reading)) {
	switch m.Kind {
	case profile.KindIdentity:
		d.mu.Lock()
		d.model = m.Ident.Model
		d.mu.Unlock()
		if d.spec.Model == "" && m.Ident.Model != "" {
			d.loop.Update(func(st *device.Status) { st.Model = m.Ident.Model })
		}
	case profile.KindError:
		d.loop.Update(func(st *device.Status) { st.LastErr = "instrument: " + m.Code })
	case profile.KindResult:
		r := m.Result
		d.mu.Lock()
		model := d.spec.Model
		if model == "" {
			model = r.Model
		}
		if model == "" {
			model = d.model
		}
		if model == "" {
			model = d.p.Model
		}
		rd := reading(d.spec, model, "", r)
		if rd.Report != "" {
			for _, k := range d.seen {
				if k == rd.Report {
					d.mu.Unlock()
					return // printed again: taken already
				}
			}
			d.seen = append(d.seen, rd.Report)
			if len(d.seen) > 64 {
				d.seen = d.seen[1:]
			}
		}
		d.mu.Unlock()
		sink(rd)
	}
}
