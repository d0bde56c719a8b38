// Package drivers links every instrument driver into a kiosk binary and
// provides the real port and bus openers. Import it for its side effect
// (each driver registers its protocol with kiosk/device) and call Serial and
// I2C for the openers that kiosk.Options needs.
package drivers

import (
	"github.com/shianfood/shian/kiosk/device"
	"github.com/shianfood/shian/kiosk/i2cbus"
	"github.com/shianfood/shian/kiosk/serialport"

	_ "github.com/shianfood/shian/kiosk/device/ads1115"     // core-temperature probe on an ADS1115 (I²C)
	_ "github.com/shianfood/shian/kiosk/device/atp"         // ATP luminometer, printed reports (serial)
	_ "github.com/shianfood/shian/kiosk/device/dyenzyme"    // DY-3000-family enzyme-inhibition tester (serial)
	_ "github.com/shianfood/shian/kiosk/device/mlx90614"    // MLX90614 infrared surface thermometer (I²C)
	_ "github.com/shianfood/shian/kiosk/device/modbusgold"  // colloidal-gold card readers on RS-485 Modbus RTU
	_ "github.com/shianfood/shian/kiosk/device/profiled"    // any instrument with a profile (Modbus RTU/TCP, text lines)
	_ "github.com/shianfood/shian/kiosk/device/sht31"       // SHT31 cold-room temperature/humidity (I²C)
	_ "github.com/shianfood/shian/kiosk/device/stripreader" // reference strip reader, $STRIP lines (serial)
	_ "github.com/shianfood/shian/kiosk/device/tcs34725"    // TCS34725 strip reader on the Pi (I²C)
	_ "github.com/shianfood/shian/kiosk/device/thermometer" // food probe thermometer, printed reports (serial)
)

// Serial returns the serial opener for real ports (go.bug.st/serial), with
// one shared handle and lock per physical port, so several Modbus units on
// one RS-485 bus take turns.
func Serial() device.SerialOpener { return &serialport.Hub{} }

// I2C returns the I²C bus opener for a Raspberry Pi (periph.io host).
func I2C() device.BusOpener { return &i2cbus.Host{} }
