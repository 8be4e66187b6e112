package pst

import (
	"errors"
	"fmt"
)

// ErrNotPST is returned by Open for a file that is not a PST or OST file
// (bad signature, or too short to hold a header).
var ErrNotPST = errors.New("pst: not a PST or OST file")

// ErrUnsupported is returned by Open for a PST variant this package cannot
// read, such as high ("cyclic") encryption or an unknown format version.
var ErrUnsupported = errors.New("pst: unsupported")

// ItemError reports one message or folder that could not be read. The walk
// that yielded it goes on with the next item or folder.
type ItemError struct {
	File   string // file name as given to Open
	Folder string // folder path below the root, "/"-separated
	Index  int    // 1-based position of the item in its folder; 0 for the folder itself
	Err    error
}

// Error returns "file: folder/path: item N: reason" (without "item N" for a
// folder).
func (e *ItemError) Error() string {
	folder := e.Folder
	if folder == "" {
		folder = "(root)"
	}
	if e.Index > 0 {
		return fmt.Sprintf("%s: %s: item %d: %v", e.File, folder, e.Index, e.Err)
	}
	return fmt.Sprintf("%s: %s: %v", e.File, folder, e.Err)
}

// Unwrap returns the underlying error.
func (e *ItemError) Unwrap() error { return e.Err }

// panicError turns a recovered go-pst panic into an error.
func panicError(r any) error {
	if err, ok := r.(error); ok {
		return fmt.Errorf("go-pst panic: %w", err)
	}
	return fmt.Errorf("go-pst panic: %v", r)
}
