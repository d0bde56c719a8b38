package alarm_test

import (
	"fmt"

	"github.com/shianfood/shian/kiosk/alarm"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

// A positive raises the alarm; the operator's acknowledgement clears it.
// On a Pi the pins come from &alarm.HostPins{} instead of gpiotest.
func Example() {
	led, buzzer := &gpiotest.Pin{N: "GPIO17"}, &gpiotest.Pin{N: "GPIO27"}
	a, err := alarm.Open(alarm.Config{LED: "GPIO17", Buzzer: "GPIO27"},
		alarm.Pins{"GPIO17": led, "GPIO27": buzzer}, alarm.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	a.Raise("0193…result-id")
	fmt.Println("raised:", led.Read(), buzzer.Read())
	a.Acknowledge()
	fmt.Println("acknowledged:", led.Read(), buzzer.Read())

	_, err = alarm.Open(alarm.Config{LED: "GPIO99"}, alarm.Pins{"GPIO17": led}, alarm.Options{})
	fmt.Println(err)
	// Output:
	// raised: High High
	// acknowledged: Low Low
	// alarm.led: no GPIO pin named "GPIO99" on this board; use a BCM name such as GPIO17 (header pin 11). Pins here: GPIO17
}
