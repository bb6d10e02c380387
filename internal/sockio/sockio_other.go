//go:build !unix

package sockio

// defaultSys is nil where there are no Unix descriptors: New returns nil.
var defaultSys sysFunc
