package aofsalvage_test

import (
	"fmt"

	"github.com/shianfood/shian/internal/aofsalvage"
)

// A buntdb file with two records, a garbage byte between them, and a
// write cut short at the end: both records are recovered.
func ExampleSalvage() {
	var data []byte
	data = aofsalvage.AppendSet(data, "result:00000000000000000001", `{"state":"acked"}`)
	data = append(data, '#')
	data = aofsalvage.AppendSet(data, "result:00000000000000000002", `{"state":"pending"}`)
	data = append(data, "*3\r\n$3\r\nset\r\n$27\r\nresult:000"...)

	recs, rep := aofsalvage.Salvage(data)
	for _, r := range recs {
		fmt.Println(r.Key, r.Value)
	}
	fmt.Println(rep.String())
	// Output:
	// result:00000000000000000001 {"state":"acked"}
	// result:00000000000000000002 {"state":"pending"}
	// damaged at byte 71 (1 damaged bytes in 1 regions): 1 commands before the damage, 1 after it; 2 records salvaged
}
