package ads1115_test

import (
	"fmt"

	"github.com/shianfood/shian/protocols/device/ads1115"
)

// A PT100 core-temperature probe under 1 kΩ from 3.3 V, read on AIN0 at
// ±0.512 V.
func Example() {
	cfg := ads1115.SingleShot(ads1115.MuxAIN0, ads1115.PGA512, ads1115.DR128)
	fmt.Printf("write % X, wait %v\n", cfg.WriteBytes(), cfg.Rate.Period())

	raw, _ := ads1115.DecodeConversion([]byte{0x5D, 0x04}) // read from register 0x00
	v := ads1115.Volts(raw, cfg.PGA)
	t, err := ads1115.DefaultProbe().Temperature(v)
	fmt.Println(raw, v, t, err)

	_, err = ads1115.DefaultProbe().Temperature(ads1115.Volts(32766, ads1115.PGA4096))
	fmt.Println(err)
	// Output:
	// write 01 C9 83, wait 7.8125ms
	// 23812 0.372063 V 70.0°C <nil>
	// ads1115: probe open or shorted: 4.095750 V at the input (supply 3.300000 V): probe open or unplugged
}
