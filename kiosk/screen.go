package kiosk

import (
	"context"
	"fmt"
	"net"
	"net/http"

	"github.com/shianfood/shian/kiosk/alarm"
	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/device/profiled"
	"github.com/shianfood/shian/kiosk/outbox"
	"github.com/shianfood/shian/kiosk/ui"
	"github.com/shianfood/shian/kiosk/uplink"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/stallsamples"
	"github.com/shianfood/shian/protocols/wire"
)

// ErrNoTrigger is returned by Trigger for an instrument that is started on
// the instrument itself (the enzyme tester's START key).
var ErrNoTrigger = ui.ErrNoTrigger

// screen is the operator touchscreen (kiosk/ui) and the alarm outputs
// (kiosk/alarm).
type screen struct {
	srv   *ui.Server
	alarm *alarm.Alarm
	ln    net.Listener // nil when ui.listen is off
}

// defaultItems are the test items offered for a protocol whose device
// entry lists none.
var defaultItems = map[string][]string{
	"dy-enzyme":    {"有机磷和氨基甲酸酯类农药"},
	"strip-reader": {"克伦特罗", "莱克多巴胺", "沙丁胺醇", "氯霉素", "孔雀石绿"},
}

// defaultMethods are the test methods of each protocol, so that the
// screen offers the kit lots made for them.
var defaultMethods = map[string][]assay.Method{
	"dy-enzyme":    {assay.EnzymeInhibition},
	"strip-reader": {assay.GoldLine, assay.GoldRatio},
	"modbus-gold":  {assay.GoldLine, assay.GoldRatio},
	"tcs34725":     {assay.GoldLine, assay.GoldRatio},
	"ascii-atp":    {assay.ATP},
}

func (k *Kiosk) openScreen() error {
	a, err := alarm.Open(k.cfg.Alarm, k.opts.GPIO, alarm.Options{Now: k.opts.Now, Log: k.opts.Log})
	if err != nil {
		return &ConfigError{File: k.cfg.File, Line: k.cfg.Line("alarm"), Msg: err.Error()}
	}
	devs := make([]ui.Device, 0, len(k.insts))
	for i, inst := range k.insts {
		spec := k.cfg.Devices[i]
		_, trig := inst.(device.Triggerer)
		items := spec.Items
		if len(items) == 0 {
			items = defaultItems[spec.Protocol]
		}
		d := ui.Device{ID: inst.ID(), Model: spec.Model, Protocol: spec.Protocol, Items: items, Triggerable: trig,
			Methods: defaultMethods[spec.Protocol]}
		if p, ok := profiled.Profile(inst); ok {
			// A profile says what the instrument tests and how it decides.
			d.Protocol, d.Methods = "profile "+p.Name, p.Result.Method.Methods()
			if d.Model == "" {
				d.Model = p.Model
			}
			if len(spec.Items) == 0 && p.Result.Item != nil && p.Result.Item.Field != nil {
				d.Items = nil
				for _, k := range profiled.ItemCodes(p) {
					d.Items = append(d.Items, p.Items[k].Name)
				}
			}
		}
		devs = append(devs, d)
	}
	stalls := make([]ui.Stall, 0, len(k.cfg.Stalls))
	for _, st := range k.cfg.Stalls {
		stalls = append(stalls, ui.Stall{ID: st.ID, Name: st.Name, Category: st.Category})
	}
	srv, err := ui.New(ui.Config{KioskID: k.cfg.KioskID, Name: k.cfg.Name, Operator: k.cfg.Operator,
		DefaultStall: k.cfg.Site.StallID, Stalls: stalls, Devices: devs, Rules: k.rules,
		Samples: stallsamples.Default().Merge(k.cfg.SampleSuggestions),
		Backend: screenBackend{k}, Alarm: a, Now: k.opts.Now, Log: k.opts.Log, Monitor: k.monitor()})
	if err != nil {
		a.Close()
		return err
	}
	sc := &screen{srv: srv, alarm: a}
	srv.SetCommandStalls(k.commandStalls())
	if k.cfg.UI.Listen != UIOff {
		sc.ln, err = net.Listen("tcp", k.cfg.UI.Listen)
		if err != nil {
			a.Close()
			return fmt.Errorf("kiosk: operator screen on ui.listen %s: %w (is another shian-kiosk running? choose another port, or ui.listen: off)", k.cfg.UI.Listen, err)
		}
	}
	user := k.opts.OnSaved
	k.opts.OnSaved = func(s Saved) {
		srv.OnSaved(ui.Saved{Result: s.Result, Err: s.Err})
		if user != nil {
			user(s)
		}
	}
	k.screen = sc
	return nil
}

func (k *Kiosk) monitor() http.Handler {
	if k.opts.Monitor == nil {
		return nil
	}
	return k.opts.Monitor(k)
}

func (k *Kiosk) runScreen(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		k.screen.alarm.Run(ctx)
	}()
	if k.screen.ln != nil {
		if err := k.screen.srv.Serve(ctx, k.screen.ln); err != nil {
			k.opts.Log.Error("operator screen stopped", "err", err)
		}
	}
	<-done
}

func (k *Kiosk) closeScreen() {
	if k.screen == nil {
		return
	}
	if k.screen.ln != nil {
		k.screen.ln.Close() // no-op after Serve has shut down
	}
	k.screen.alarm.Close()
}

func (k *Kiosk) onNotice(n wire.Notice) {
	if k.screen != nil {
		k.screen.srv.OnNotice(n)
	}
	if k.opts.OnNotice != nil {
		k.opts.OnNotice(n)
	}
}

// UIAddr returns the address the operator screen listens on (the port
// chosen when ui.listen ends in :0), or "" when ui.listen is off.
func (k *Kiosk) UIAddr() string {
	if k.screen == nil || k.screen.ln == nil {
		return ""
	}
	return k.screen.ln.Addr().String()
}

// Alarm returns the alarm outputs' state.
func (k *Kiosk) Alarm() alarm.State { return k.screen.alarm.State() }

// Trigger asks instrument id to measure now, for test item item. It
// returns ErrNoTrigger for instruments started on the instrument itself.
func (k *Kiosk) Trigger(id, item string) error {
	for _, inst := range k.insts {
		if inst.ID() != id {
			continue
		}
		if t, ok := inst.(device.Triggerer); ok {
			return t.Trigger(item)
		}
		return ErrNoTrigger
	}
	return fmt.Errorf("kiosk: no instrument %q", id)
}

// screenBackend is the kiosk as the screen sees it.
type screenBackend struct{ k *Kiosk }

var _ ui.Backend = screenBackend{}

func (b screenBackend) Instruments() []device.Status          { return b.k.Instruments() }
func (b screenBackend) Link() uplink.LinkState                { return b.k.Link() }
func (b screenBackend) Stats() outbox.Stats                   { return b.k.out.Stats() }
func (b screenBackend) Recent(n int) ([]outbox.Record, error) { return b.k.out.Recent(n) }
func (b screenBackend) Trigger(id, item string) error         { return b.k.Trigger(id, item) }
func (b screenBackend) Book() assay.Book                      { return b.k.Book() }
func (b screenBackend) SetSession(s ui.Session)               { b.k.SetSession(s) }
func (b screenBackend) CurrentSession() ui.Session            { return b.k.CurrentSession() }
