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

// startWriteBack asks the kernel to start writing the n bytes of f at off
// to disk (sync_file_range(2), SYNC_FILE_RANGE_WRITE: it does not wait for
// them, nor make them durable). It is a hint: an error is ignored.
func startWriteBack(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
