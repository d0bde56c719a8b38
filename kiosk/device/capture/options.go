package capture

import (
	"fmt"
	"strconv"
	"time"

	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/protocols/domain/measure"
)

func optErr(spec device.Spec, key, want string) error {
	return fmt.Errorf("%w: device %q: options.%s %q: %s", ErrOption, spec.ID, key, spec.Options[key], want)
}

// SettleOptions and LogOptions are the option keys SettleFromSpec and
// LogFromSpec read, for device.RegisterOptions.
var (
	SettleOptions = []string{"capture", "settle_reads", "settle_band", "ambient_min", "ambient_max", "insert_delta"}
	LogOptions    = []string{"log_every", "confirm"}
)

// SettleFromSpec reads a Settle rule from the device's options over
// DefaultSettle:
//
//	capture: auto          auto (settled in food, or the button) or trigger (the button only)
//	settle_reads: "5"      readings that must agree
//	settle_band: 0.5       °C they may spread
//	ambient_min: 10        °C, the band where a probe in the air sits
//	ambient_max: 35
//	insert_delta: 5        °C from the last result that makes another dish
func SettleFromSpec(spec device.Spec, value func(device.Reading) (measure.Temperature, bool)) (*Settle, error) {
	s := DefaultSettle(value)
	switch v := spec.Options["capture"]; v {
	case "", "auto":
	case "trigger":
		s.Auto = false
	default:
		return nil, optErr(spec, "capture", "auto (settled readings in food, and the measure button) or trigger (the button only)")
	}
	if v, ok := spec.Options["settle_reads"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 600 {
			return nil, optErr(spec, "settle_reads", "a whole number 1…600")
		}
		s.Reads = n
	}
	temps := []struct {
		key string
		dst *measure.Temperature
	}{{"settle_band", &s.Band}, {"ambient_min", &s.AmbientMin}, {"ambient_max", &s.AmbientMax}, {"insert_delta", &s.Insert}}
	for _, t := range temps {
		if v, ok := spec.Options[t.key]; ok {
			if err := t.dst.Set(v); err != nil {
				return nil, optErr(spec, t.key, "a temperature in °C, e.g. 0.5")
			}
		}
	}
	if s.Band < 0 {
		return nil, optErr(spec, "settle_band", "not negative")
	}
	if s.Insert <= 0 {
		return nil, optErr(spec, "insert_delta", "above 0 °C")
	}
	if s.AmbientMax < s.AmbientMin {
		return nil, optErr(spec, "ambient_max", fmt.Sprintf("not below ambient_min %v", s.AmbientMin))
	}
	return s, nil
}

// LogFromSpec reads a Log rule from the device's options:
//
//	log_every: 15m     interval between log entries
//	confirm: "1"       readings a new verdict must hold before it is logged at once
func LogFromSpec(spec device.Spec, classify func(device.Reading) string) (*Log, error) {
	l := &Log{Every: 15 * time.Minute, Confirm: 1, Classify: classify}
	if v, ok := spec.Options["log_every"]; ok {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, optErr(spec, "log_every", "a positive duration like 15m")
		}
		l.Every = d
	}
	if v, ok := spec.Options["confirm"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return nil, optErr(spec, "confirm", "a whole number 1…100")
		}
		l.Confirm = n
	}
	return l, nil
}
