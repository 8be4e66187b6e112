package eml_test

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"crmbridge/bridge/eml"
	"crmbridge/bridge/item"
	"crmbridge/crm"
)

func ExampleNewMboxReader() {
	const mbox = `From alice@example.com Mon Jan  1 10:00:00 2024
From: Alice <alice@example.com>
To: bob@example.com
Subject: =?utf-8?q?Caf=C3=A9?=
Date: Mon, 1 Jan 2024 10:00:00 +0100

See you there.
>From the cafe, with love.

From bob@example.com Mon Jan  1 11:00:00 2024
From: Bob <bob@example.com>
Subject: Re: Cafe
Date: yesterday

OK.
`
	r := eml.NewMboxReader(strings.NewReader(mbox), "inbox.mbox")
	for {
		inc, err := r.Next()
		if err == io.EOF {
			break
		}
		var ie *item.Error
		if errors.As(err, &ie) {
			fmt.Println("warning:", ie)
			continue
		} else if err != nil {
			fmt.Println("error:", err)
			return
		}
		f := inc.Record.Fields
		fmt.Printf("%s: %q from %s, sent %q\n", inc.Pos, f["subject"], f["sender"], f["senton"])
		fmt.Printf("  body %q\n", f["description"])
	}
	// Output:
	// inbox.mbox: message 1: "Café" from Alice <alice@example.com>, sent "2024-01-01T09:00:00Z"
	//   body "See you there.\nFrom the cafe, with love.\n"
	// inbox.mbox: message 2: "Re: Cafe" from Bob <bob@example.com>, sent ""
	//   body "OK.\n"
	// warning: inbox.mbox: message 2: header Date: unparseable date "yesterday" (senton left empty)
}

func ExampleFileName() {
	rec := crm.Record{
		ID:     "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
		Entity: crm.Email,
		Fields: map[string]string{"subject": "Re: Q3 report / draft?"},
	}
	fmt.Println(eml.FileName(rec))
	// Output: Re_ Q3 report _ draft_ - 3f2504e0-4f89-11d3-9a0c-0305e82c3301.eml
}
