// Package sockio reads and writes TCP and Unix sockets on the data path
// without the Go runtime's system-call bookkeeping.
//
// A read or write through package net enters the runtime's syscall state
// (entersyscall), so that sysmon can take the P away from a call that
// lasts; when the process was idle, that wakes the sysmon thread: a futex wake on the path of
// the message, then sysmon polling every 20 µs until the process is idle
// again. A latency-bound relay goes idle and wakes up twice per round trip,
// so it paid that each time (perf: about one futex wake, one futex sleep
// and 1.7 nanosleeps per round trip in each tether process).
//
// The descriptors of net's TCP and Unix connections are non-blocking: a
// read or write either moves bytes or returns EAGAIN at once, so it can
// be made as a raw system call, and the wait for readiness is left to the
// netpoller through syscall.RawConn, as net does, with the connection's
// deadlines and Close still honoured. A Socket keeps the state of its
// calls, so that reading or writing allocates nothing.
//
// The calls are raw on Linux. On the other Unix systems (macOS, where
// operators run the CLI) a Socket makes them through package syscall, as
// net does, which keeps TryWrite for the mux's direct writes; its tests run
// that way on Linux too. Without Unix descriptors (Windows) New returns
// nil, and callers use the connection as it is.
package sockio

import (
	"io"
	"net"
	"os"
	"syscall"
)

// Socket reads and writes one TCP or Unix connection, with raw system
// calls on Linux. As on the connection itself, one Read and one Write (or TryWrite)
// may run at a time: concurrent Reads, or Writes, are the caller's to
// serialise.
type Socket struct {
	c          net.Conn // for its addresses, in errors
	rc         syscall.RawConn
	r, w, tryw xfer
}

// xfer is one direction's state, reused by every call so that the
// function handed to the RawConn is allocated once, in New.
type xfer struct {
	p     []byte
	n     int
	errno syscall.Errno
	fn    func(fd uintptr) bool
}

// sysFunc makes one read(2), or write(2) if write is set, on fd.
type sysFunc func(write bool, fd uintptr, p []byte) (int, syscall.Errno)

// read makes one read; false asks the netpoller to wait for readiness.
func (x *xfer) read(sys sysFunc, fd uintptr) bool {
	for {
		n, e := sys(false, fd, x.p)
		switch e {
		case 0:
			x.n = n
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false // nothing yet
		}
		x.errno = e
		return true
	}
}

// write writes x.p from x.n on; false asks the netpoller to wait for
// room, which try never does.
func (x *xfer) write(sys sysFunc, fd uintptr, try bool) bool {
	for x.n < len(x.p) {
		n, e := sys(true, fd, x.p[x.n:])
		switch e {
		case 0:
			x.n += n
		case syscall.EINTR:
		case syscall.EAGAIN:
			return try
		default:
			x.errno = e
			return true
		}
	}
	return true
}

// New returns a Socket for c when c is a *net.TCPConn or a *net.UnixConn
// (non-blocking descriptors), or nil.
func New(c any) *Socket { return newWith(c, defaultSys) }

// newWith is New with the system calls sys makes; nil sys, nil Socket.
func newWith(c any, sys sysFunc) *Socket {
	var sc interface {
		net.Conn
		syscall.Conn
	}
	switch c := c.(type) {
	case *net.TCPConn:
		sc = c
	case *net.UnixConn:
		sc = c
	default:
		return nil
	}
	if sys == nil {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	s := &Socket{c: sc, rc: rc}
	s.r.fn = func(fd uintptr) bool { return s.r.read(sys, fd) }
	s.w.fn = func(fd uintptr) bool { return s.w.write(sys, fd, false) }
	s.tryw.fn = func(fd uintptr) bool { return s.tryw.write(sys, fd, true) }
	return s
}

// Read reads into p as net.Conn's Read does: it waits until some bytes
// arrive, returns io.EOF at the peer's end of stream, and fails once the
// connection is closed or its read deadline passes.
func (s *Socket) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, err := s.do(&s.r, p, false)
	if err == nil && n == 0 {
		return 0, io.EOF
	}
	return n, err
}

// Write writes all of p as net.Conn's Write does, waiting for room in
// the socket's buffer when it is full.
func (s *Socket) Write(p []byte) (int, error) { return s.do(&s.w, p, true) }

// TryWrite writes what the socket takes at once, without waiting, and
// returns how much that was. An error other than a full buffer is not
// reported: the caller's next Write meets it.
func (s *Socket) TryWrite(p []byte) int {
	n, _ := s.do(&s.tryw, p, true)
	return n
}

// do runs x's function on p through the RawConn, which waits for
// readiness whenever the function asks it to.
func (s *Socket) do(x *xfer, p []byte, write bool) (int, error) {
	x.p, x.n, x.errno = p, 0, 0
	op := "read"
	var err error
	if write {
		op = "write"
		err = s.rc.Write(x.fn)
	} else {
		err = s.rc.Read(x.fn)
	}
	n, errno := x.n, x.errno
	x.p = nil
	switch {
	case err != nil:
		return n, renameOp(err, op)
	case errno != 0:
		return n, s.opError(op, errno)
	}
	return n, nil
}

// opError describes a failed system call as package net does.
func (s *Socket) opError(op string, errno syscall.Errno) error {
	la := s.c.LocalAddr()
	return &net.OpError{Op: op, Net: la.Network(), Source: la, Addr: s.c.RemoteAddr(), Err: os.NewSyscallError(op, errno)}
}

// renameOp names the operation of a RawConn's error ("raw-read") as net's
// Read or Write would, for logs.
func renameOp(err error, op string) error {
	if oe, ok := err.(*net.OpError); ok {
		oe.Op = op
	}
	return err
}
