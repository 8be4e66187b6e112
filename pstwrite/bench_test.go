package pstwrite

import (
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkManyMessages writes PSTW_N (default 20,000) small messages
// into one folder: the contents table grows with every message. Run it
// under /usr/bin/time to see the peak RSS (bench/pstwrite.sh rows).
func BenchmarkManyMessages(b *testing.B) {
	n := 20000
	if s := getenv("PSTW_N"); s != "" {
		fmt.Sscan(s, &n)
	}
	for range b.N {
		if err := writeMany(filepath.Join(b.TempDir(), "many.pst"), n, nil); err != nil {
			b.Fatal(err)
		}
	}
}
