package tcs34725_test

import (
	"fmt"

	"github.com/shianfood/shian/protocols/device/tcs34725"
)

func Example() {
	atime := tcs34725.ATime(0xC0)
	fmt.Println("integration", atime.Integration(), "max count", atime.MaxCount())
	fmt.Printf("read data with command 0x%02X\n", tcs34725.CmdAuto(tcs34725.RegCDataL))

	c, _ := tcs34725.DecodeCounts([]byte{0x28, 0x23, 0x48, 0x0D, 0xE4, 0x0C, 0x28, 0x0A})
	fmt.Printf("%+v %v\n", c, c.Check(atime))
	_, err := tcs34725.CheckID(0x00)
	fmt.Println(err)
	// Output:
	// integration 153.6ms max count 65535
	// read data with command 0xB4
	// {C:9000 R:3400 G:3300 B:2600} <nil>
	// tcs34725: ID register reads 0x00, want 0x44 (TCS34725) or 0x4D (TCS34727): wrong part or address on the bus (a TCS34721/3 answers at 0x39)
}
