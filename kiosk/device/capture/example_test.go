package capture_test

import (
	"fmt"
	"time"

	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/device/capture"
	"github.com/shianfood/shian/protocols/domain/assay"
	"github.com/shianfood/shian/protocols/domain/measure"
)

// A core probe read once a second: lying on the bench, pushed into a
// pot, settling, pulled out. One result.
func ExampleSettle() {
	gate := capture.DefaultSettle(func(r device.Reading) (measure.Temperature, bool) {
		if r.Raw.CoreTemp == nil {
			return 0, false
		}
		return *r.Raw.CoreTemp, true
	})
	now := time.Now()
	for _, c := range []float64{24, 24, 24, 24, 24, 45, 66, 71, 72.1, 72.3, 72.2, 72.3, 72.3, 72.2, 55, 38, 30, 26, 25, 25, 25, 25, 25} {
		t := measure.Temperature(c * 1000)
		r := device.Reading{Method: assay.CoreTemperature, Raw: assay.Raw{CoreTemp: &t}}
		if gate.Take(now, r) {
			fmt.Println("result:", t)
		}
	}
	// Output: result: 72.3°C
}
