package i2cbus

import (
	"fmt"
	"strconv"

	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/protocols/domain/assay"
)

// Addr returns spec.Addr, or def when it is 0, refusing addresses not in
// allowed (when given).
func Addr(spec device.Spec, def uint16, allowed ...uint16) (uint16, error) {
	a := spec.Addr
	if a == 0 {
		return def, nil
	}
	if len(allowed) == 0 {
		if a < 0x08 || a > 0x77 {
			return 0, fmt.Errorf("device %q: addr 0x%02X is outside the 7-bit range 0x08…0x77", spec.ID, a)
		}
		return a, nil
	}
	for _, x := range allowed {
		if a == x {
			return a, nil
		}
	}
	return 0, fmt.Errorf("device %q: addr 0x%02X: this part answers only at %s", spec.ID, a, hexList(allowed))
}

func hexList(v []uint16) string {
	s := ""
	for i, a := range v {
		if i > 0 {
			s += " or "
		}
		s += fmt.Sprintf("0x%02X", a)
	}
	return s
}

// OptInt reads an integer option within [lo, hi] if present.
func OptInt(spec device.Spec, key string, v *int, lo, hi int) error {
	s, ok := spec.Options[key]
	if !ok {
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return fmt.Errorf("device %q: options.%s %q: want a whole number %d…%d", spec.ID, key, s, lo, hi)
	}
	*v = n
	return nil
}

// TemperatureItems are the on-screen item names of the temperature
// methods.
var TemperatureItems = map[assay.Method]string{
	assay.CoreTemperature:    "中心温度",
	assay.HotHolding:         "热藏温度",
	assay.ColdHolding:        "冷藏温度",
	assay.Frozen:             "冷冻温度",
	assay.SurfaceTemperature: "表面温度",
}

// OptMethod reads options.method, which must be one of allowed; def
// when absent.
func OptMethod(spec device.Spec, def assay.Method, allowed ...assay.Method) (assay.Method, error) {
	s, ok := spec.Options["method"]
	if !ok {
		return def, nil
	}
	for _, m := range allowed {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("device %q: options.method %q: this sensor can decide %v", spec.ID, s, allowed)
}
