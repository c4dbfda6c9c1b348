//go:build katamari_system

package katamari

// With the build tag katamari_system the package links an installed shared library:
// the header and libkatamari.so are found through the usual paths, or through
// CGO_CFLAGS="-I<prefix>/include" and CGO_LDFLAGS="-L<prefix>/lib -Wl,-rpath,<prefix>/lib".

/*
#cgo LDFLAGS: -lkatamari
*/
import "C"
