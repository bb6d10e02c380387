// Package sockio reads and writes TCP and Unix sockets on the data path
// without the Go runtime's system-call bookkeeping.
//
// A read or write through package net enters the runtime's syscall state
// (entersyscall), which hands the P back for the duration and, when the
// process was idle, wakes the sysmon thread: a futex wake on the path of
// the message, then sysmon polling every 20 µs until the process is idle
// again. A latency-bound relay goes idle and wakes up twice per round trip,
// so it paid that each time (perf: about one futex wake, one futex sleep
// and 1.7 nanosleeps per round trip in each tether process).
//
// The descriptors of net's TCP and Unix connections are non-blocking: a
// read or write either moves bytes or returns EAGAIN at once, so it can
// be made as a raw system call, and the wait for readiness is left to the
// netpoller through syscall.RawConn, as net does, with the connection's
// deadlines and Close still honoured.
package sockio

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// Raw returns c's syscall.RawConn when c is a *net.TCPConn or a
// *net.UnixConn (non-blocking descriptors), or nil.
func Raw(c any) syscall.RawConn {
	var sc syscall.Conn
	switch c := c.(type) {
	case *net.TCPConn:
		sc = c
	case *net.UnixConn:
		sc = c
	default:
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// Read reads into p as net.Conn's Read does: it waits until some bytes
// arrive, returns io.EOF at the peer's end of stream, and fails once the
// connection is closed or its read deadline passes.
func Read(rc syscall.RawConn, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	err := rc.Read(func(fd uintptr) bool {
		for {
			r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
			switch e {
			case 0:
				n = int(r)
				return true
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // nothing yet: the netpoller waits
			}
			errno = e
			return true
		}
	})
	switch {
	case err != nil:
		return 0, err
	case errno != 0:
		return 0, &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", errno)}
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// Write writes all of p as net.Conn's Write does, waiting for room in
// the socket's buffer when it is full.
func Write(rc syscall.RawConn, p []byte) (int, error) {
	n, errno := 0, syscall.Errno(0)
	err := rc.Write(func(fd uintptr) bool {
		for n < len(p) {
			k, e := writeOnce(fd, p[n:])
			switch e {
			case 0:
				n += k
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false
			default:
				errno = e
				return true
			}
		}
		return true
	})
	switch {
	case err != nil:
		return n, err
	case errno != 0:
		return n, &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", errno)}
	}
	return n, nil
}

// TryWrite writes what the socket takes at once, without waiting, and
// returns how much that was. An error other than a full buffer is not
// reported: the caller's next blocking Write meets it.
func TryWrite(rc syscall.RawConn, p []byte) int {
	n := 0
	rc.Write(func(fd uintptr) bool {
		for n < len(p) {
			k, e := writeOnce(fd, p[n:])
			switch e {
			case 0:
				n += k
			case syscall.EINTR:
			default:
				return true
			}
		}
		return true // never wait
	})
	return n
}

func writeOnce(fd uintptr, p []byte) (int, syscall.Errno) {
	if len(p) == 0 {
		return 0, 0
	}
	r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(r), 0
}
