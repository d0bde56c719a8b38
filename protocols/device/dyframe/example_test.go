package dyframe_test

import (
	"errors"
	"fmt"

	"github.com/shianfood/shian/protocols/device/dyframe"
	"github.com/shianfood/shian/protocols/domain/measure"
)

// The host's communication test, byte for byte as the vendor software sends it.
func ExampleEncode() {
	b, _ := dyframe.Encode(dyframe.Hello{})
	fmt.Printf("% X\n", b)
	// Output: 03 FF 20 00 00 00 00 00 08 00 D4 18 44 45 56 49 43 45 3F 3F
}

// A driver feeds whatever the port returned and drains the Scanner.
func ExampleScanner() {
	report := dyframe.Report{
		Record: 7, Channel: 1, Interval: 180,
		Control:    dyframe.Kinetics{First: 200 * measure.MilliAU, Last: 503 * measure.MilliAU},
		Sample:     dyframe.Kinetics{First: 210 * measure.MilliAU, Last: 341 * measure.MilliAU},
		SampleCode: "S-012", SampleName: "菠菜", Item: "有机磷和氨基甲酸酯类农药",
	}
	frame, _ := dyframe.Encode(report)
	line := append([]byte{0x55, 0x03, 0x00}, frame...) // noise, then the frame

	var s dyframe.Scanner
	s.Feed(line[:40]) // split anywhere
	s.Feed(line[40:])
	for {
		f, err := s.Next()
		if errors.Is(err, dyframe.ErrIncomplete) {
			break
		}
		if err != nil {
			fmt.Println("bad frame:", err)
			continue
		}
		m, err := dyframe.Decode(f)
		if err != nil {
			fmt.Println("bad message:", err)
			continue
		}
		r := m.(dyframe.Report)
		c, _ := r.ControlDeltaA()
		x, _ := r.SampleDeltaA()
		fmt.Printf("record %d %s %s: ΔA0 %v, ΔAt %v\n", r.Record, r.SampleCode, r.SampleName, c, x)
	}
	fmt.Println("noise bytes skipped:", s.Skipped())
	// Output:
	// record 7 S-012 菠菜: ΔA0 0.303 A, ΔAt 0.131 A
	// noise bytes skipped: 3
}
