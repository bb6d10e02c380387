//go:build unix

package sockio

import "syscall"

// sysPortable makes the call through package syscall, as package net
// does (with the runtime's syscall bookkeeping). Elsewhere than on Linux,
// where it is the default, a Socket then still saves a socket's reader the
// hand-off to another goroutine that TryWrite allows.
func sysPortable(write bool, fd uintptr, p []byte) (int, syscall.Errno) {
	var n int
	var err error
	if write {
		n, err = syscall.Write(int(fd), p)
	} else {
		n, err = syscall.Read(int(fd), p)
	}
	if err != nil {
		if e, ok := err.(syscall.Errno); ok {
			return 0, e
		}
		return 0, syscall.EIO
	}
	return n, 0
}
