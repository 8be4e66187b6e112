package eml

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	_ "github.com/emersion/go-message/charset"

	"crmbridge/bridge/item"
	"crmbridge/crm"
)

// collect reads r to the end and returns the messages and the per-item
// errors; any other error fails the test.
func collect(t testing.TB, r item.Reader) ([]*crm.Incoming, []error) {
	t.Helper()
	var incs []*crm.Incoming
	var errs []error
	for i := 0; ; i++ {
		inc, err := r.Next()
		if err == io.EOF {
			return incs, errs
		}
		if err != nil {
			var ie *item.Error
			if !errors.As(err, &ie) {
				t.Fatalf("fatal error: %v", err)
			}
			if strings.Contains(err.Error(), "recovered panic") {
				t.Errorf("parser panicked: %v", err)
			}
			errs = append(errs, err)
			continue
		}
		if inc == nil {
			t.Fatal("Next returned nil, nil")
		}
		incs = append(incs, inc)
		if i > 1e6 {
			t.Fatal("reader does not end")
		}
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// attachmentSHA returns the hex SHA-256 of an attachment's content.
func attachmentSHA(t testing.TB, a crm.Attachment) string {
	t.Helper()
	rc, err := a.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		t.Fatal(err)
	}
	if n != a.Size {
		t.Errorf("attachment %q: Size %d but content has %d bytes", a.Name, a.Size, n)
	}
	return hex.EncodeToString(h.Sum(nil))
}
