//go:build !katamari_system

package katamari

// By default the package builds against the repository it lives in: the header in
// include/ and the static library that `cargo build --release` leaves in
// target/release, so binaries (and `go test`) need no LD_LIBRARY_PATH.

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: ${SRCDIR}/../../target/release/libkatamari.a -lgcc_s -lutil -lrt -lpthread -lm -ldl
*/
import "C"
