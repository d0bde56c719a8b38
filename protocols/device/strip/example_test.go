package strip_test

import (
	"fmt"

	"github.com/shianfood/shian/protocols/device/strip"
	"github.com/shianfood/shian/protocols/device/tcs34725"
)

func Example() {
	background := tcs34725.Counts{C: 9000, R: 3400, G: 3300, B: 2600}
	cLine := tcs34725.Counts{C: 7100, R: 2930, G: 1910, B: 2240}
	tLine := tcs34725.Counts{C: 8400, R: 3240, G: 3003, B: 2480}
	c, _ := strip.LineIntensity(cLine, background)
	t, _ := strip.LineIntensity(tLine, background)
	line := strip.StripMessage("clenbuterol", c, t).Append(nil)
	fmt.Printf("%q\n", line)

	m, err := strip.Parse(line[:len(line)-2])
	fmt.Println(m.Item, m.C, m.T, m.Ratio, err)
	// Output:
	// "$STRIP,clenbuterol,42.121,9.000,0.214*2B\r\n"
	// clenbuterol 42.121 9.0 0.214 <nil>
}
