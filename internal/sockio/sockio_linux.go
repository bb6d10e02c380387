package sockio

import (
	"syscall"
	"unsafe"
)

// defaultSys on Linux makes raw system calls.
var defaultSys sysFunc = sysRaw

// sysRaw makes the call with syscall.RawSyscall, outside the runtime's
// syscall state: the descriptor is non-blocking, so it returns at once.
func sysRaw(write bool, fd uintptr, p []byte) (int, syscall.Errno) {
	if len(p) == 0 {
		return 0, 0
	}
	trap := uintptr(syscall.SYS_READ)
	if write {
		trap = syscall.SYS_WRITE
	}
	r, _, e := syscall.RawSyscall(trap, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(r), 0
}
