package bridge

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// syncFiles makes the content of the pending files in dir durable with
// one syncfs(2) of the file system that holds dir, rather than one
// fsync(2) per file: a folder target syncs once per batch.
func syncFiles(dir string, _ []pendingFile) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
