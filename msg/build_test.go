package msg

import (
	"time"

	"crmbridge/fixtures"
)

// Property sets of the fixtures (MS-OXPROPS 1.3.2).
const (
	setAddress = "00062004-0000-0000-C000-000000000046"
	setAppt    = "00062002-0000-0000-C000-000000000046"
	setTask    = "00062003-0000-0000-C000-000000000046"
	setPublic  = "00020329-0000-0000-C000-000000000046"
)

var t0 = time.Date(2024, 3, 5, 9, 30, 0, 0, time.UTC)

// p is a short MSGProp constructor.
func p(id, typ uint16, v any) fixtures.MSGProp { return fixtures.MSGProp{ID: id, Type: typ, Value: v} }

// mail is a minimal Unicode e-mail: sender, one To and one Cc recipient,
// one attachment.
func mail() *fixtures.MSGMessage {
	return &fixtures.MSGMessage{
		Props: []fixtures.MSGProp{
			p(0x001A, 0x001F, "IPM.Note"),
			p(0x0037, 0x001F, "Grüße aus Köln ✓"),
			p(0x1000, 0x001F, "Hallo,\r\nbis morgen.\r\n"),
			p(0x0C1A, 0x001F, "Ann Lee"),
			p(0x0C1E, 0x001F, "EX"),
			p(0x0C1F, 0x001F, "/O=EXAMPLE/OU=FIRST/CN=RECIPIENTS/CN=ANN"),
			p(0x5D01, 0x001F, "ann@example.com"),
			p(0x0039, 0x0040, t0),
			p(0x0E06, 0x0040, t0.Add(5*time.Second)),
			p(0x1035, 0x001F, "<abc123@example.com>"),
			p(0x3008, 0x0040, t0.Add(time.Minute)),
			p(0x0017, 0x0003, int32(2)),
		},
		Recipients: [][]fixtures.MSGProp{
			{p(0x0C15, 0x0003, int32(1)), p(0x3001, 0x001F, "Bob Stone"), p(0x3002, 0x001F, "EX"),
				p(0x3003, 0x001F, "/O=EXAMPLE/CN=BOB"), p(0x39FE, 0x001F, "bob@example.com")},
			{p(0x0C15, 0x0003, int32(2)), p(0x3001, 0x001F, "Carol"), p(0x3002, 0x001F, "SMTP"),
				p(0x3003, 0x001F, "carol@example.org")},
			{p(0x0C15, 0x0003, int32(3)), p(0x3001, 0x001F, "Dan"), p(0x3002, 0x001F, "SMTP"),
				p(0x3003, 0x001F, "dan@example.net")},
		},
		Attachments: []fixtures.MSGAttachment{{
			Props: []fixtures.MSGProp{p(0x3705, 0x0003, int32(1)), p(0x3707, 0x001F, "report.txt"),
				p(0x3704, 0x001F, "REPORT.TXT"), p(0x370E, 0x001F, "text/plain")},
			Data: bigData(5000),
		}},
	}
}

// bigData returns n deterministic bytes: over 4,096 they leave the mini
// stream for regular sectors.
func bigData(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}
