package sht31_test

import (
	"fmt"

	"github.com/shianfood/shian/protocols/device/sht31"
)

func ExampleDecode() {
	// Bytes read after writing MeasureHigh (24 00) and waiting 16 ms.
	m, err := sht31.Decode([]byte{0x66, 0x66, 0x93, 0x80, 0x00, 0xA2})
	fmt.Println(m.Temperature, m.Humidity, err)

	// One bit flipped on the bus: the reading is refused.
	_, err = sht31.Decode([]byte{0x66, 0x67, 0x93, 0x80, 0x00, 0xA2})
	fmt.Println(err)
	// Output:
	// 25.0°C 50.0% <nil>
	// sht31: temperature word CRC 0x93, computed 0xA2: the bytes were corrupted on the bus (check wiring and pull-ups)
}
