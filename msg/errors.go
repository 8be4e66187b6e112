package msg

import (
	"errors"
	"fmt"
)

// ErrNotMSG is returned (wrapped) for a file that is not a .msg file: no
// Compound File Binary signature, or no __properties_version1.0 stream at
// its root.
var ErrNotMSG = errors.New("msg: not an Outlook .msg file")

// Error reports a damaged part of a .msg file.
type Error struct {
	File   string // file name as given to Open
	Stream string // CFB path of the storage or stream, "/"-separated; "" for the container itself
	Err    error
}

// Error returns "file: stream: reason" (without the stream when there is
// none).
func (e *Error) Error() string {
	if e.Stream == "" {
		return fmt.Sprintf("%s: %v", e.File, e.Err)
	}
	return fmt.Sprintf("%s: %s: %v", e.File, e.Stream, e.Err)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }
