package sockio

import (
	"syscall"
	"unsafe"
)

const supported = true

// read makes one read; false asks the netpoller to wait for readiness.
func (x *xfer) read(fd uintptr) bool {
	for {
		r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&x.p[0])), uintptr(len(x.p)))
		switch e {
		case 0:
			x.n = int(r)
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
func (x *xfer) write(fd uintptr, try bool) bool {
	for x.n < len(x.p) {
		p := x.p[x.n:]
		r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		switch e {
		case 0:
			x.n += int(r)
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
