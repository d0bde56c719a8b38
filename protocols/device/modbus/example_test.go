package modbus_test

import (
	"errors"
	"fmt"

	"github.com/shianfood/shian/protocols/device/modbus"
)

// A master reads the result block of the card reader at address 1.
func Example() {
	req := modbus.ReadInput(1, 0x0010, 2)
	fmt.Printf("request  % X\n", req.Bytes())

	// The slave answers (here: encoded locally); the bytes arrive in two
	// pieces with a byte of noise in front.
	answer, _ := req.Reply([]uint16{0x010D, 0x0007}).Append(nil)
	var f modbus.Framer
	f.Expect(&req)
	f.Feed(append([]byte{0xFF}, answer[:4]...))
	f.Feed(answer[4:])
	for {
		adu, err := f.Next()
		if errors.Is(err, modbus.ErrIncomplete) {
			break
		}
		if err != nil {
			fmt.Println("skipped:", err)
			continue
		}
		resp, _ := modbus.ParseResponse(adu)
		if err := req.Check(resp); err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("status %04X, sequence %d\n", resp.Values[0], resp.Values[1])
	}
	// Output:
	// request  01 04 00 10 00 02 70 0E
	// skipped: modbus: malformed frame: slave address 255 cannot answer (1…247)
	// status 010D, sequence 7
}

// An exception answer is an *ExceptionError from Check.
func ExampleRequest_Check() {
	req := modbus.ReadInput(1, 0x0010, 14)
	resp, _ := modbus.ParseResponse([]byte{0x01, 0x84, 0x02, 0xC2, 0xC1})
	err := req.Check(resp)
	var ee *modbus.ExceptionError
	fmt.Println(errors.As(err, &ee), ee.Code)
	// Output: true illegal data address
}

func ExampleCRC() {
	fmt.Printf("%04X % X\n", modbus.CRC([]byte("123456789")), modbus.AppendCRC([]byte{0x06, 0x03, 0x00, 0x00, 0x00, 0x01}))
	// Output: 4B37 06 03 00 00 00 01 85 BD
}
