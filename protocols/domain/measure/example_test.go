package measure_test

import (
	"fmt"

	"github.com/shianfood/shian/protocols/domain/measure"
)

func Example() {
	var threshold measure.Percent
	if err := threshold.Set("50%"); err != nil {
		panic(err)
	}
	inhibition := measure.Percent(567656) // 56.7656 %
	fmt.Println(inhibition, inhibition >= threshold)
	// Output: 56.77% true
}
