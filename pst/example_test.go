package pst_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"

	"crmbridge/pst"
)

// Walk a PST: report bad items and go on, stream attachments.
func ExampleFile_Items() {
	f, err := pst.Open("mail.pst")
	if err != nil {
		log.Print(err) // e.g. "open mail.pst: pst: unsupported: high (cyclic) encryption"
		return
	}
	defer f.Close()
	for it, err := range f.Items(context.Background()) {
		var bad *pst.ItemError
		if errors.As(err, &bad) {
			log.Print(bad) // "mail.pst: Inbox: item 17: …" — the walk goes on
			continue
		} else if err != nil {
			log.Print(err) // the context was cancelled
			return
		}
		fmt.Println(it.Kind, it.Folder, it.Subject)
		for _, a := range it.Attachments {
			if a.Open == nil {
				continue
			}
			rc, err := a.Open() // valid until the loop body returns
			if err != nil {
				continue
			}
			n, _ := io.Copy(io.Discard, rc)
			rc.Close()
			fmt.Println("  ", a.Name, n)
		}
	}
}
