package stripreader_test

import (
	"fmt"
	"os"

	"github.com/shianfood/shian/firmware/stripreader"
	"github.com/shianfood/shian/protocols/device/strip/striptest"
	"github.com/shianfood/shian/protocols/domain/measure"
)

// A simulated reader: a strip goes into the slot, settles for one poll,
// and is reported once on the UART (here, standard output).
func Example() {
	r, fx, err := stripreader.NewSimulated(stdout{}, "clenbuterol", "SR1-0001")
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = r.Poll() // empty slot: nothing
	fx.Show(&striptest.Strip{C: 42 * measure.IntensityUnit, T: 45 * measure.IntensityUnit})
	_ = r.Poll() // just inserted: wait
	_ = r.Poll() // settled: report
	_ = r.Poll() // still there: nothing
	// Output:
	// $STRIP,clenbuterol,42.000,45.000,1.071*11
}

type stdout struct{}

func (stdout) Read([]byte) (int, error) { return 0, nil }
func (stdout) Write(b []byte) (int, error) {
	// Drop the CR so the example output compares line by line.
	if n := len(b); n >= 2 && b[n-2] == '\r' {
		os.Stdout.Write(append(b[:n-2:n-2], '\n'))
		return n, nil
	}
	return os.Stdout.Write(b)
}
