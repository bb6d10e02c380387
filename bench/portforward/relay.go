package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/tetherhq/tether/bench/internal/benchenv"
)

// The calibration rows reach the target through chains of relay processes
// that do nothing but copy bytes between two TCP connections: no protocol,
// no crypto. They show what a design with that many user-space hops costs
// on this machine before any protocol is added: the floor for ssh -L's
// process count (two) and for tether's (three), not a competitor.
//
// A relay is this binary started again with relayEnv set to the address of
// its next hop. It listens on a free loopback port, prints relayReady and
// that address on stdout, and for each connection it accepts dials the next
// hop and copies both ways until each side's EOF, which it passes on as a
// half-close.
const (
	relayEnv   = "TETHERBENCH_RELAY_TO"
	relayReady = "relay listening on "
	// relayBuf is each direction's copy buffer: a tether message's size.
	relayBuf = 64 << 10
)

// relayMain runs a relay to the address to; it returns only on failure.
func relayMain(to string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("%s%s\n", relayReady, ln.Addr())
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go relayConn(c.(*net.TCPConn), to)
	}
}

// relayConn connects in to a new connection to the next hop. Go sets
// TCP_NODELAY on both.
func relayConn(in *net.TCPConn, to string) {
	defer in.Close()
	c, err := net.Dial("tcp", to)
	if err != nil {
		fmt.Fprintf(os.Stderr, "relay: %v\n", err)
		return
	}
	out := c.(*net.TCPConn)
	defer out.Close()
	var wg sync.WaitGroup
	wg.Go(func() { relayCopy(out, in) })
	relayCopy(in, out)
	wg.Wait()
}

// relayCopy copies src to dst, then half-closes dst, or on an error closes
// both. The bytes pass through this process's memory, as they must in any
// relay that reads its protocol: the wrappers hide the *net.TCPConn methods
// through which io.Copy would splice the bytes inside the kernel.
func relayCopy(dst, src *net.TCPConn) {
	buf := make([]byte, relayBuf)
	if _, err := io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, buf); err != nil {
		dst.Close()
		src.Close()
		return
	}
	dst.CloseWrite()
}

// startRelayRow starts hops relays in series in front of the target at
// addr and returns the row that measures the chain and a function that stops
// the relays.
func startRelayRow(ctx context.Context, hops int, addr string, self procSet, timeout time.Duration) (_ *row, stop func(), err error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	name := fmt.Sprintf("Go TCP relay x%d", hops)
	r := &row{name: name}
	var relays []*benchenv.Daemon
	stop = func() {
		for _, d := range relays {
			d.Stop()
		}
	}
	defer func() {
		if err != nil {
			stop()
			err = fmt.Errorf("%s: %w", name, err)
		}
	}()
	// From the target's end: each relay needs its next hop's address.
	procs := make([]procSet, hops)
	for i := hops; i >= 1; i-- {
		stdout := benchenv.NewLineWatch(relayReady)
		d, err := benchenv.StartDaemon(ctx, fmt.Sprintf("relay %d (%s)", i, r.name), append(os.Environ(), relayEnv+"="+addr),
			stdout, benchenv.NewLineWatch(""), exe)
		if err != nil {
			return nil, nil, err
		}
		relays = append(relays, d)
		line, err := d.Await(ctx, timeout, stdout)
		if err != nil {
			return nil, nil, err
		}
		addr = strings.TrimSpace(strings.TrimPrefix(line, relayReady))
		procs[i-1] = procSet{label: fmt.Sprintf("relay %d", i), pid: d.Pid()}
		r.logs = append(r.logs, d)
	}
	r.addr, r.procs = addr, append(procs, self)
	return r, stop, nil
}
