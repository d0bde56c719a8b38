package asciirpt_test

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shianfood/shian/protocols/device/asciirpt"
)

// An ATP meter prints a report; the kiosk reads it from its serial line.
func Example() {
	cst := time.FixedZone("CST", 8*3600)
	r := asciirpt.Report{Kind: asciirpt.KindATP, Model: "SHIAN-ATP1", Serial: "ATP1-0001", No: 42,
		Time: time.Date(2026, 11, 28, 10, 15, 3, 0, cst), Point: "CB-01", RLU: 27}
	printed := r.Bytes()
	fmt.Print(strings.ReplaceAll(string(printed), "\r\n", "\n")) // CR LF on the wire

	d := asciirpt.Decoder{Loc: cst}
	d.Feed([]byte("\x00noise\r\n"))
	d.Feed(printed)
	for {
		got, err := d.Next()
		if errors.Is(err, asciirpt.ErrIncomplete) {
			break
		}
		if err != nil {
			fmt.Println("skipped:", err)
			continue
		}
		fmt.Println(got.Kind, got.No, got.Point, got.RLU)
	}
	// Output:
	// *** SHIAN REPORT ***
	// TYPE  : ATP
	// MODEL : SHIAN-ATP1
	// SERIAL: ATP1-0001
	// NO.   : 000042
	// DATE  : 2026-11-28
	// TIME  : 10:15:03
	// POINT : CB-01
	// RESULT: 27 RLU
	// CHECK : 1815
	// *** END ***
	// skipped: asciirpt: not a report: "\x00noise" outside a report
	// ATP 42 CB-01 27 RLU
}
