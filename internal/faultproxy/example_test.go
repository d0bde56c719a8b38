package faultproxy_test

import (
	"fmt"
	"io"
	"net"
	"time"

	"github.com/shianfood/shian/internal/faultproxy"
)

// Put the proxy between a client and a server, then break the link: here
// every byte is delayed and forwarded one at a time.
func ExampleProxy() {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go func() {
		c, _ := ln.Accept()
		c.Write([]byte("welcome"))
		c.Close()
	}()
	p, _ := faultproxy.New(ln.Addr().String())
	defer p.Close()
	p.Set(faultproxy.Faults{Latency: time.Millisecond, Fragment: 1})

	c, _ := net.Dial("tcp", p.Addr()) // the client dials the proxy
	b, _ := io.ReadAll(c)
	fmt.Printf("%s (faults: %s)\n", b, p.Faults())
	c.Close()
	ln.Close()
	// Output: welcome (faults: latency=1ms±0s fragment=1/0s)
}
