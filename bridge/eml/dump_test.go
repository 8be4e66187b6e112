package eml

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"testing"
)

func TestDumpOne(t *testing.T) {
	f := os.Getenv("EMLDUMP")
	if f == "" {
		t.Skip()
	}
	incs, errs := collect(t, NewReader(bytes.NewReader(readFile(t, f)), f))
	for _, e := range errs {
		fmt.Println("W", e)
	}
	for _, inc := range incs {
		for k, v := range inc.Record.Fields {
			if k != "headers" && k != "descriptionhtml" {
				fmt.Printf("%s=%q\n", k, v)
			}
		}
		for _, a := range inc.Record.Attachments {
			rc, _ := a.Open()
			b, _ := io.ReadAll(rc)
			fmt.Printf("ATT %q %s inline=%v cid=%q %q\n", a.Name, a.MimeType, a.Inline, a.ContentID, truncate(string(b), 200))
		}
	}
}
