package enzyme

import (
	"math"

	"github.com/shianfood/shian/protocols/device/dyframe"
	"github.com/shianfood/shian/protocols/domain/measure"
)

// Counts is one photometer reading of a channel, in raw AD counts, as the
// DY-3500 reads its wells (a 32-bit value per well and LED):
//   - Light: the LED on, through the well;
//   - Dark: the LED off (the dark current, subtracted from both others);
//   - Full: the channel's full-scale reference, the light through a blank
//     well stored at calibration.
type Counts struct {
	Light uint32 `json:"light"`
	Dark  uint32 `json:"dark"`
	Full  uint32 `json:"full"`
}

// Photometer is the sensor the firmware reads. On the instrument it drives
// an LED and an ADC per channel; in the simulator it is a [SimPhotometer].
type Photometer interface {
	// Read measures channel ch (0 … channels). An error makes the reading
	// invalid (reported as dyframe.AbsInvalid), not the test.
	Read(ch int) (Counts, error)
}

// TestBeginner is an optional Photometer capability: the firmware calls
// BeginTest when the operator starts a test on channel ch, before the first
// reading. The simulator uses it to pick the next planned result.
type TestBeginner interface {
	BeginTest(ch int)
}

// Absorbance computes the absorbance of one reading with the DY-3500
// algorithm (docs/domain.md §1.1, Caculate.cs):
//
//   - subtract the dark count from Light and Full, clamping at 0;
//   - Full = 0 → invalid (dyframe.AbsInvalid);
//   - transmittance T = Light/Full; T ≥ 1.2 → overflow (dyframe.AbsOverflow);
//     0.998 ≤ T ≤ 1.002 → T = 1, A = 0;
//   - Light < 1 → A = 5 (the vendor's "no light" value);
//   - otherwise A = log10(Full/Light), rounded to the nearest µAU.
func Absorbance(c Counts) measure.Absorbance {
	light := sub0(c.Light, c.Dark)
	full := sub0(c.Full, c.Dark)
	if full == 0 {
		return dyframe.AbsInvalid
	}
	if light < 1 {
		return 5 * measure.AU
	}
	t := float64(light) / float64(full)
	switch {
	case t >= 1.2:
		return dyframe.AbsOverflow
	case t >= 0.998 && t <= 1.002:
		return 0
	}
	return measure.Absorbance(math.Round(math.Log10(float64(full)/float64(light)) * float64(measure.AU)))
}

func sub0(a, b uint32) uint32 {
	if a < b {
		return 0
	}
	return a - b
}
