package katamari

/*
#include "katamari_go.h"
*/
import "C"

import "fmt"

// Code is a Katamari status code (kat_status). Codes are never renumbered.
type Code int32

// The status codes of the C API.
const (
	CodeOK              Code = C.KAT_OK
	CodeNotFound        Code = C.KAT_NOT_FOUND
	CodeInvalidArgument Code = C.KAT_INVALID_ARGUMENT
	CodeIO              Code = C.KAT_IO
	CodeCorruption      Code = C.KAT_CORRUPTION
	CodeConflict        Code = C.KAT_CONFLICT
	CodeClosed          Code = C.KAT_CLOSED
	CodeLocked          Code = C.KAT_LOCKED
	CodeNoSpace         Code = C.KAT_NO_SPACE
	CodeTooLarge        Code = C.KAT_TOO_LARGE
	CodeAuthFailed      Code = C.KAT_AUTH_FAILED
	CodeReadOnly        Code = C.KAT_READ_ONLY
	CodePanic           Code = C.KAT_PANIC
	CodeInternal        Code = C.KAT_INTERNAL
	CodeBufferTooSmall  Code = C.KAT_BUFFER_TOO_SMALL
)

// statusText holds kat_status_str for the known codes, read once at start-up.
var statusText = func() map[Code]string {
	m := make(map[Code]string)
	for c := CodeOK; c <= CodeBufferTooSmall; c++ {
		m[c] = C.GoString(C.kat_status_str(C.kat_status(c)))
	}
	return m
}()

// String returns the library's text for the code (kat_status_str).
func (c Code) String() string {
	if s, ok := statusText[c]; ok {
		return s
	}
	return fmt.Sprintf("unknown status %d", int32(c))
}

// Error is a failed Katamari call: the status code, the operation that failed and the
// library's message. Use errors.Is with the Err* sentinels to test the code, or
// errors.As to read the fields.
type Error struct {
	Code    Code   // status code
	Op      string // operation, e.g. "get", "tx.commit"
	Message string // detail from the library (may be empty)

	sentinel bool
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = e.Code.String()
	}
	if e.Op == "" {
		return "katamari: " + msg
	}
	return "katamari: " + e.Op + ": " + msg
}

// Is reports whether target is the sentinel for e's code (errors.Is(err, ErrConflict)),
// or e itself.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	if t.sentinel {
		return t.Code == e.Code
	}
	return t == e
}

func sentinel(c Code) *Error { return &Error{Code: c, sentinel: true} }

// Sentinels for errors.Is, one per status code. A lookup of a missing key returns
// ErrNotFound itself.
var (
	ErrNotFound        = sentinel(CodeNotFound)
	ErrInvalidArgument = sentinel(CodeInvalidArgument)
	ErrIO              = sentinel(CodeIO)
	ErrCorruption      = sentinel(CodeCorruption)
	ErrConflict        = sentinel(CodeConflict)
	ErrClosed          = sentinel(CodeClosed)
	ErrLocked          = sentinel(CodeLocked)
	ErrNoSpace         = sentinel(CodeNoSpace)
	ErrTooLarge        = sentinel(CodeTooLarge)
	ErrAuthFailed      = sentinel(CodeAuthFailed)
	ErrReadOnly        = sentinel(CodeReadOnly)
	ErrPanic           = sentinel(CodePanic)
	ErrInternal        = sentinel(CodeInternal)
	ErrBufferTooSmall  = sentinel(CodeBufferTooSmall)
)

// closedError is the error of a call on a closed database or on a handle whose
// database was closed.
func closedError(op string) error {
	return &Error{Code: CodeClosed, Op: op, Message: "database is closed"}
}

// invalidError is a CodeInvalidArgument error made by the binding itself.
func invalidError(op, msg string) error {
	return &Error{Code: CodeInvalidArgument, Op: op, Message: msg}
}
