package bridge

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// writeAtomic writes what fn writes, byte for byte, as one 0600 file and
// nothing else, and returns its SHA-256, also when the file is large
// enough that write-back is started on the way (writeBackFile), in pieces
// that do not fall on its boundaries.
func TestWriteAtomicLarge(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "big.vcf")
	data := make([]byte, 3*writeBackBytes+12345)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	sum, err := writeAtomic(path, func(w io.Writer) error {
		for rest := data; len(rest) > 0; {
			n := min(len(rest), 1+r.IntN(200_000))
			if _, err := w.Write(rest[:n]); err != nil {
				return err
			}
			rest = rest[n:]
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(data)
	if !bytes.Equal(got, data) || sum != hex.EncodeToString(want[:]) {
		t.Errorf("wrote %d bytes, sum %s; want %d bytes, sum %x", len(got), sum, len(data), want)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, %v; want 0600", fi.Mode(), err)
	}
	if es, _ := os.ReadDir(dir); len(es) != 1 {
		t.Errorf("%d files in the folder, want 1", len(es))
	}
}
