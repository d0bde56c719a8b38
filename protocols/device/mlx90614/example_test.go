package mlx90614_test

import (
	"fmt"

	"github.com/shianfood/shian/protocols/device/mlx90614"
)

func ExampleDecodeTemperature() {
	// Read word of RAM 0x07 (Tobj1) from 0x5A: D2 3A and PEC 30.
	t, raw, err := mlx90614.DecodeTemperature(mlx90614.Addr, mlx90614.RegTobj1, []byte{0xD2, 0x3A, 0x30})
	fmt.Printf("raw 0x%04X → %.2f °C %v\n", raw, t.Float(), err)

	_, _, err = mlx90614.DecodeTemperature(mlx90614.Addr, mlx90614.RegTobj1, []byte{0xD2, 0x3A, 0x31})
	fmt.Println(err)
	// Output:
	// raw 0x3AD2 → 28.01 °C <nil>
	// mlx90614: register 0x07 PEC 0x31, computed 0x30: the bytes were corrupted on the bus (check wiring, keep the bus at ≤ 100 kHz)
}
