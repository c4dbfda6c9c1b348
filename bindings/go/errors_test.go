package katamari

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// allCodes lists every status code with its sentinel and C constant name.
var allCodes = []struct {
	code     Code
	sentinel error
	name     string
}{
	{CodeNotFound, ErrNotFound, "KAT_NOT_FOUND"},
	{CodeInvalidArgument, ErrInvalidArgument, "KAT_INVALID_ARGUMENT"},
	{CodeIO, ErrIO, "KAT_IO"},
	{CodeCorruption, ErrCorruption, "KAT_CORRUPTION"},
	{CodeConflict, ErrConflict, "KAT_CONFLICT"},
	{CodeClosed, ErrClosed, "KAT_CLOSED"},
	{CodeLocked, ErrLocked, "KAT_LOCKED"},
	{CodeNoSpace, ErrNoSpace, "KAT_NO_SPACE"},
	{CodeTooLarge, ErrTooLarge, "KAT_TOO_LARGE"},
	{CodeAuthFailed, ErrAuthFailed, "KAT_AUTH_FAILED"},
	{CodeReadOnly, ErrReadOnly, "KAT_READ_ONLY"},
	{CodePanic, ErrPanic, "KAT_PANIC"},
	{CodeInternal, ErrInternal, "KAT_INTERNAL"},
	{CodeBufferTooSmall, ErrBufferTooSmall, "KAT_BUFFER_TOO_SMALL"},
}

// codeName maps a Go error to the C constant name used by the test vectors.
func codeName(err error) string {
	if err == nil {
		return "KAT_OK"
	}
	var e *Error
	if !errors.As(err, &e) {
		return fmt.Sprintf("non-katamari error %v", err)
	}
	for _, c := range allCodes {
		if c.code == e.Code {
			return c.name
		}
	}
	return fmt.Sprintf("unknown code %d", e.Code)
}

// TestCodesMatchHeader checks the Go codes against the header's constants and text.
func TestCodesMatchHeader(t *testing.T) {
	// docs/C-API.md: codes 1..14 in this order, never renumbered.
	seen := map[string]bool{}
	for i, c := range allCodes {
		if int(c.code) != i+1 {
			t.Errorf("%s = %d, want %d", c.name, c.code, i+1)
		}
		s := c.code.String()
		if s == "" || s == "unknown status" || seen[s] {
			t.Errorf("%s: library text %q", c.name, s)
		}
		seen[s] = true
	}
	if CodeBufferTooSmall != 14 {
		t.Fatal("CodeBufferTooSmall")
	}
	if CodeOK != 0 || CodeOK.String() == "" {
		t.Fatal("CodeOK")
	}
	if s := Code(999).String(); !strings.Contains(s, "999") {
		t.Fatalf("unknown code text %q", s)
	}
}

// TestErrorMappingEveryCode converts every status the library can return into a Go
// error and checks it against every sentinel: exactly its own matches.
func TestErrorMappingEveryCode(t *testing.T) {
	for _, c := range allCodes {
		err := makeError("op", c.code, "")
		var e *Error
		if !errors.As(err, &e) || e.Code != c.code {
			t.Fatalf("%s: got %#v", c.name, err)
		}
		for _, other := range allCodes {
			if got := errors.Is(err, other.sentinel); got != (other.code == c.code) {
				t.Errorf("errors.Is(%s error, %s sentinel) = %v", c.name, other.name, got)
			}
		}
		// Wrapped errors still match.
		wrapped := fmt.Errorf("context: %w", err)
		if !errors.Is(wrapped, c.sentinel) {
			t.Errorf("%s: wrapped error does not match", c.name)
		}
		if errors.Is(err, io.EOF) {
			t.Errorf("%s matches io.EOF", c.name)
		}
		if codeName(err) != c.name {
			t.Errorf("codeName = %s, want %s", codeName(err), c.name)
		}
		if c.code != CodeNotFound && !strings.Contains(err.Error(), "op: ") {
			t.Errorf("%s: message %q lacks the operation", c.name, err.Error())
		}
	}
	if makeError("op", CodeOK, "") != nil {
		t.Fatal("KAT_OK is not nil")
	}
	if makeError("op", CodeNotFound, "") != ErrNotFound {
		t.Fatal("KAT_NOT_FOUND is not ErrNotFound")
	}
	// Two distinct non-sentinel errors do not match each other; an error matches itself.
	a := makeError("a", CodeIO, "")
	b := makeError("b", CodeIO, "")
	if errors.Is(a, b) || !errors.Is(a, a) {
		t.Fatal("identity matching of non-sentinel errors")
	}
	if codeName(nil) != "KAT_OK" || !strings.Contains(codeName(io.EOF), "non-katamari") {
		t.Fatal("codeName")
	}
}

// TestErrorObjectIsRead takes a real kat_error from the library: its code and message
// become the Error's fields (and the object is freed by statusError).
func TestErrorObjectIsRead(t *testing.T) {
	db := openTest(t)
	err := db.PutTTL([]byte("k"), nil, 0)
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeInvalidArgument || e.Op != "put_ttl" ||
		!strings.Contains(e.Message, "ttl") {
		t.Fatalf("got %#v", err)
	}
	if got := e.Error(); got != "katamari: put_ttl: "+e.Message {
		t.Fatalf("Error() = %q", got)
	}
	if got := (&Error{Code: CodeIO}).Error(); got != "katamari: "+CodeIO.String() {
		t.Fatalf("Error() without op and message = %q", got)
	}
	if got := ErrConflict.Error(); !strings.Contains(got, CodeConflict.String()) {
		t.Fatalf("sentinel text %q", got)
	}
}

// TestReadOnlyAndConflictCodes provokes KAT_READ_ONLY and KAT_CONFLICT through the API
// (the other provokable codes are covered next to their operations: NOT_FOUND,
// INVALID_ARGUMENT, IO, CORRUPTION, CLOSED, LOCKED, TOO_LARGE, BUFFER_TOO_SMALL).
// NO_SPACE, AUTH_FAILED, PANIC and INTERNAL cannot be provoked through the current API
// on a healthy machine; their mapping is covered by TestErrorMappingEveryCode.
func TestReadOnlyAndConflictCodes(t *testing.T) {
	db := openTest(t)
	err := db.View(func(tx *Tx) error { return tx.Put([]byte("k"), []byte("v")) })
	wantCode(t, err, ErrReadOnly, CodeReadOnly)

	t1, _ := db.Begin(nil)
	t2, _ := db.Begin(nil)
	t1.Put([]byte("k"), []byte("1"))
	t2.Put([]byte("k"), []byte("2"))
	if err := t1.Commit(); err != nil {
		t.Fatal(err)
	}
	wantCode(t, t2.Commit(), ErrConflict, CodeConflict)
}
