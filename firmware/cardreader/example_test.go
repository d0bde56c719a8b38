package cardreader_test

import (
	"fmt"

	"github.com/shianfood/shian/firmware/cardreader"
	"github.com/shianfood/shian/protocols/device/goldcard"
	"github.com/shianfood/shian/protocols/device/modbus"
)

// A card goes in, the master measures it, reads the result block and
// acknowledges it.
func Example() {
	optics := &cardreader.SimOptics{}
	r, _ := cardreader.New(cardreader.Config{Addr: 1}, optics)
	optics.Insert(cardreader.Card{C: 42125, T: 9000})

	r.Handle(modbus.WriteSingle(1, goldcard.RegCommand, goldcard.CmdMeasure))
	resp, _ := r.Handle(modbus.ReadInput(1, goldcard.ResultAddr, goldcard.ResultLen))
	res, _ := goldcard.DecodeResult(resp.Values)
	it, _ := goldcard.Lookup(res.Item)
	fmt.Printf("seq %d %s C %v T %v, reader says %s\n", res.Seq, it.Name, res.C, res.T, res.Verdict)

	r.Handle(modbus.WriteSingle(1, goldcard.RegAck, res.Seq))
	fmt.Println("waiting:", r.Waiting())
	// Output:
	// seq 1 克伦特罗 C 42.125 T 9.0, reader says positive
	// waiting: 0
}
