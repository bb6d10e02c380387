//go:build !linux

package sockio

// supported is false: New returns nil, so these are never called.
const supported = false

func (x *xfer) read(fd uintptr) bool { panic("sockio: unsupported") }

func (x *xfer) write(fd uintptr, try bool) bool { panic("sockio: unsupported") }
