//go:build unix && !linux

package sockio

// defaultSys elsewhere than on Linux goes through package syscall.
var defaultSys sysFunc = sysPortable
