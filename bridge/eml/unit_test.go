package eml

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"crmbridge/bridge/item"
	"crmbridge/crm"
)

func TestParseDate(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Mon, 2 Jan 2006 15:04:05 -0700", "2006-01-02T22:04:05Z"},
		{"Mon, 2 Jan 2006 15:04:05 -0700 (MST)", "2006-01-02T22:04:05Z"},
		{"2 Jan 2006 15:04 +0100", "2006-01-02T14:04:00Z"},
		{"Mon, 02 Jan 06 15:04:05 GMT", "2006-01-02T15:04:05Z"},
		{"Sat, 1 Jan 99 10:00:00 +0000", "1999-01-01T10:00:00Z"},
		{"Mon, 2 Jan 2006 15:04:05 GMT+0100", "2006-01-02T14:04:05Z"},
		{"Mon, 2 Jan 2006 15:04:05 GMT+1", "2006-01-02T14:04:05Z"},
		{"Mon, 2 Jan 2006 15:04:05 +01:00", "2006-01-02T14:04:05Z"},
		{"Mon, 2 Jan 2006 15.04.05 +0100", "2006-01-02T14:04:05Z"},
		{"Mon, 2 Jan 2006 15:04:05 CEST", "2006-01-02T13:04:05Z"},
		{"Mon, 2 Jan 2006 15:04:05", "2006-01-02T15:04:05Z"},
		{"Monday, 2-Jan-2006 15:04:05 +0000", "2006-01-02T15:04:05Z"},
		{"Mon,2 Jan 2006 15:04:05 +0000", "2006-01-02T15:04:05Z"},
		{"Mon Jan  2 15:04:05 2006", "2006-01-02T15:04:05Z"},
		{"Mon Jan  2 15:04:05 PST 2006", "2006-01-02T23:04:05Z"},
		{"January 2, 2006 15:04:05 -0500", "2006-01-02T20:04:05Z"},
		{"Di, 02 Mai 2006 15:04:05 +0200", "2006-05-02T13:04:05Z"},
		{"2006-01-02T15:04:05Z", "2006-01-02T15:04:05Z"},
		{"2006-01-02 15:04:05", "2006-01-02T15:04:05Z"},
		{"Mon, 2 Jan 2006 15:04:05 XYZ", "2006-01-02T15:04:05Z"}, // RFC 5322 4.3: unknown zone = -0000
	} {
		got, err := parseDate(tc.in)
		if err != nil || got.UTC().Format(time.RFC3339) != tc.want {
			t.Errorf("parseDate(%q) = %v, %v; want %s", tc.in, got.UTC(), err, tc.want)
		}
	}
	for _, bad := range []string{"", "<HR>", "Wed, 15 Dec 2010    59:10 -0500", "31 Feb 2006 10:00 +0000", "tomorrow", "2 Foo 2006 10:00"} {
		if got, err := parseDate(bad); err == nil {
			t.Errorf("parseDate(%q) = %v, want an error", bad, got)
		}
	}
}

func TestDecodeTransfer(t *testing.T) {
	for _, tc := range []struct{ cte, in, want string }{
		{"base64", "aGVs\r\nbG8=", "hello"},
		{"BASE64", "aGVsbG8", "hello"},                   // no padding
		{"base64", "aGV*sb G8=\n", "hello"},              // junk skipped
		{"base64", "aGVsbG8=trailing", "hello"},          // data after the end
		{"quoted-printable", "a=3Db=\r\nc=\nd", "a=bcd"}, // soft breaks
		{"quoted-printable", "bad=ZZ =e9", "bad=ZZ \xe9"},
		{"quoted printable", "x=41", "xA"},
		{"7-bit", "raw", "raw"},
		{"x-uuencode", "begin 644 f.txt\n%:&5L;&\\`\n`\nend\n", "hello"},
	} {
		got, err := decodeTransfer(tc.cte, []byte(tc.in))
		if err != nil || string(got) != tc.want {
			t.Errorf("decodeTransfer(%q, %q) = %q, %v; want %q", tc.cte, tc.in, got, err, tc.want)
		}
	}
	if got, err := decodeTransfer("x-unknown", []byte("raw")); err == nil || string(got) != "raw" {
		t.Errorf("unknown encoding: %q, %v", got, err)
	}
}

func TestDecodeText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"=?utf-8?q?caf=C3=A9?=", "café"},
		{"=?UTF-8?B?Y2Fmw6k=?= =?UTF-8?B?IGF1?=  lait", "café au  lait"}, // space between words dropped
		{"=?iso-8859-1?Q?Die_Hasen_und_die_Fr\xf6sche?=", "Die Hasen und die Frösche"},
		{"caf\xe9 cr\xe8me", "café crème"},  // raw latin-1
		{"caf\xc3\xa9", "café"},             // raw UTF-8
		{"=?utf-7?Q?A+ImIDkQ.?=", "A≢Α."},   // UTF-7 is ours, not x/text's
		{"=?koi8-r?B?8NLJ18XU?=", "Привет"}, // via go-message's charset tables
		{"=?utf-8*en?q?hi?=", "hi"},         // RFC 2231 language suffix
	} {
		got, err := decodeText(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("decodeText(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	// An unknown charset: decoded without one, and reported.
	got, err := decodeText("=?x-bogus?q?abc?= tail")
	if err == nil || got != "abc tail" {
		t.Errorf("unknown charset: %q, %v", got, err)
	}
}

func TestParseAddressList(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // "name|addr" joined by ";"
		bad  bool
	}{
		{`"Doe, John" <john@example.com>, jane@example.com`, "Doe, John|john@example.com;|jane@example.com", false},
		{`=?utf-8?q?J=C3=B6rg?= <j@example.de>`, "Jörg|j@example.de", false},
		{`"=?utf-8?q?J=C3=B6rg?=" <j@example.de>`, "Jörg|j@example.de", false},
		{`undisclosed-recipients:;`, "", false},
		{`Bob <bob@x> Bobby <bobby@x>`, "Bob|bob@x;Bobby|bobby@x", true},
		{`Big Bug bb@bug.com`, "Big Bug|bb@bug.com", true},
		{`a@x, , b@x,`, "|a@x;|b@x", false}, // RFC 5322 4.4: empty list elements
		{`Mikel@Lindsaar <r@gmail.com>`, "Mikel@Lindsaar|r@gmail.com", true},
		{`broken <`, "broken|", true}, // a display name alone is kept (the party rule of crm.Party)
		{`"Joe" <>`, "Joe|", true},
	} {
		list, err := parseAddressList(tc.in)
		var got []string
		for _, a := range list {
			got = append(got, a.Name+"|"+a.Address)
		}
		if strings.Join(got, ";") != tc.want || (err != nil) != tc.bad {
			t.Errorf("parseAddressList(%q) = %q, %v; want %q (error %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

func TestHTMLToText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"<p>Hello&nbsp;<b>world</b></p><p>Two<br>lines</p>", "Hello world\n\nTwo\nlines"},
		{"<html><head><title>T</title><style>p{}</style></head><body>x &amp; y<script>evil()</script></body></html>", "x & y"},
		{"a\nb   c<!-- hidden -->d", "a b cd"},
		{"<table><tr><td>1</td><td>2</td></tr></table>", "1 2"},
		{"unclosed <b", "unclosed"},
		// script and style are raw text: a "<" inside them starts no tag.
		{"x<script>if (a<b && c>d) { document.write('<p>no</p>') }</script>y<style>p>b{color:red}</style>z", "xyz"},
		{"caf&eacute; &lt;tag&gt; &#8364;&#x20AC; &amp;amp; &bogus;", "café <tag> €€ &amp; &bogus;"},
		{"<ul><li>one<li>two</ul>after", "one\ntwo\nafter"},
		{"a<br/>b<BR>c<p>d</p>e", "a\nb\nc\nd\ne"},
		{"<div>x</div>\n\n\n<div>y</div>", "x\n\ny"}, // a block start and end each break the line
		{"<p>a</p><p></p><p></p><p>b</p>", "a\n\nb"},
	} {
		if got := htmlToText(tc.in); got != tc.want {
			t.Errorf("htmlToText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// readOne reads an EML and returns the message and its warnings, checking
// the order the contract promises: message, warnings, io.EOF.
func readOne(t *testing.T, eml string) (*crm.Incoming, []string) {
	t.Helper()
	r := NewReader(strings.NewReader(eml), "t.eml")
	inc, err := r.Next()
	if err != nil {
		t.Fatalf("first Next: %v", err)
	}
	var warns []string
	for {
		_, err := r.Next()
		if err == io.EOF {
			return inc, warns
		}
		var ie *item.Error
		if !errors.As(err, &ie) || !strings.HasPrefix(ie.Pos, "t.eml") {
			t.Fatalf("Next after the message: %v, want *item.Error or io.EOF", err)
		}
		warns = append(warns, err.Error())
	}
}

func TestReaderRecovers(t *testing.T) {
	for _, tc := range []struct {
		name, eml string
		check     func(*crm.Incoming) bool
		warn      string // substring of a warning ("" = none expected)
	}{
		{"malformed header line kept as continuation",
			"Subject: a long\nsubject broken by a gateway\nFrom: a@x\n\nbody",
			func(i *crm.Incoming) bool {
				return i.Record.Fields["subject"] == "a long subject broken by a gateway" && i.Record.Fields["sender"] == "a@x"
			}, "malformed header line"},
		{"unindented parameter line",
			"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: application/zip; x-unix-mode=0600;\nname=\"a.zip\"\n\nPK\n--b--\n",
			func(i *crm.Incoming) bool {
				a := i.Record.Attachments
				return len(a) == 1 && a[0].Name == "a.zip" && a[0].Size == 2
			}, "kept as a continuation"},
		{"anti-spam gateway line in a part header (go-message #144)",
			"Content-Type: multipart/mixed; boundary=b\n\n--b\nX-MS-Exchange-Warning: Do not click\nlinks or open attachments unless you recognize the sender and know the cont=\nContent-Type: text/plain\n\nhello\n--b--\n",
			func(i *crm.Incoming) bool { return i.Record.Fields["description"] == "hello" },
			"part 1: header: malformed header line"},
		{"missing blank line before the body",
			"Subject: s\nFrom: a@x\nHello there,\nthis is the body.\n",
			func(i *crm.Incoming) bool {
				return i.Record.Fields["subject"] == "s" && i.Record.Fields["description"] == "Hello there,\nthis is the body.\n"
			}, "no blank line"},
		{"no header at all",
			"Just a note\nwith two lines\n",
			func(i *crm.Incoming) bool {
				return i.Record.Fields["description"] == "Just a note\nwith two lines\n"
			},
			"does not start with a header"},
		{"missing closing boundary keeps the parts",
			"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\none\n--b\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=a.pdf\n\n%PDF\n",
			func(i *crm.Incoming) bool {
				a := i.Record.Attachments
				return i.Record.Fields["description"] == "one" && len(a) == 1 && a[0].Name == "a.pdf" && a[0].Size == 4
			}, "missing closing boundary"},
		{"unknown charset is a warning",
			"Subject: s\nContent-Type: text/plain; charset=x-klingon\n\ncaf\xe9",
			func(i *crm.Incoming) bool { return i.Record.Fields["description"] == "café" },
			`unknown charset "x-klingon"`},
		{"broken date",
			"Date: someday\nSubject: s\n\nb",
			func(i *crm.Incoming) bool {
				_, ok := i.Record.Fields["senton"]
				return !ok && i.ModifiedAt.IsZero()
			},
			"unparseable date"},
		{"envelope line and BOM",
			"\xef\xbb\xbfFrom a@x Mon Jan  1 10:00:00 2024\nSubject: s\n\nb",
			func(i *crm.Incoming) bool {
				return i.Record.Fields["subject"] == "s" && i.Record.Fields["receivedon"] == "2024-01-01T10:00:00Z"
			}, ""},
		{"html only",
			"Content-Type: text/html; charset=utf-8\n\n<p>Hi <i>there</i></p>",
			func(i *crm.Incoming) bool {
				return i.Record.Fields["description"] == "Hi there" && i.Record.Fields["descriptionhtml"] == "<p>Hi <i>there</i></p>"
			}, ""},
		{"attached message named by its subject",
			"Content-Type: multipart/mixed; boundary=b\n\n--b\n\nsee attached\n--b\nContent-Type: message/rfc822\n\nSubject: =?utf-8?q?Inner_=C3=A9?=\nFrom: c@x\n\ninner body\n--b--\n",
			func(i *crm.Incoming) bool {
				a := i.Record.Attachments
				return len(a) == 1 && a[0].Name == "Inner é.eml" && a[0].MimeType == "message/rfc822" && i.Record.Fields["description"] == "see attached"
			}, ""},
		{"RFC 2231 continuations and inline image",
			"Content-Type: multipart/related; boundary=b\n\n--b\nContent-Type: text/html\n\n<img src=cid:x>\n--b\nContent-Type: image/png\nContent-ID: <x@y>\nContent-Disposition: inline; filename*0*=utf-8''%E2%82%AC; filename*1=\"uro.png\"\n\nPNG\n--b--\n",
			func(i *crm.Incoming) bool {
				a := i.Record.Attachments
				return len(a) == 1 && a[0].Name == "€uro.png" && a[0].Inline && a[0].ContentID == "x@y"
			}, ""},
		{"threading headers",
			"Message-ID: <A@EXAMPLE.com>\nIn-Reply-To: <p@x> (comment)\nReferences: <r@x>\n <p@x>\n\nb",
			func(i *crm.Incoming) bool {
				f := i.Record.Fields
				return f["messageid"] == "<A@EXAMPLE.com>" && f["inreplyto"] == "<p@x>" && f["references"] == "<r@x> <p@x>" &&
					i.Source.Key == "A@example.com" && i.Keys[0] == "msgid:A@example.com"
			}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inc, warns := readOne(t, tc.eml)
			if !tc.check(inc) {
				t.Errorf("unexpected reading: fields %q, attachments %+v", inc.Record.Fields, inc.Record.Attachments)
			}
			joined := strings.Join(warns, "\n")
			if tc.warn == "" && len(warns) > 0 || tc.warn != "" && !strings.Contains(joined, tc.warn) {
				t.Errorf("warnings %q, want one containing %q", warns, tc.warn)
			}
		})
	}
}

func TestReaderEmptyAndOversized(t *testing.T) {
	if inc, err := NewReader(strings.NewReader("  \n"), "e.eml").Next(); inc != nil || err == nil {
		t.Errorf("empty file: %v, %v; want an *item.Error", inc, err)
	}
	r := NewReader(strings.NewReader("Subject: big\n\n"+strings.Repeat("x", 1000)), "b.eml")
	r.MaxMessageSize = 100
	inc, err := r.Next()
	var ie *item.Error
	if inc != nil || !errors.As(err, &ie) {
		t.Errorf("oversized: %v, %v; want an *item.Error", inc, err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("after oversized: %v, want io.EOF", err)
	}
}

func TestEnvelopeDate(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{"From alice@example.com Mon Jan  1 10:00:00 2024", "2024-01-01T10:00:00Z"},
		{`From "Craig Breslau" Mon Nov 26 20:27:12 2001`, "2001-11-26T20:27:12Z"},
		{"From 1538564978720419823@xxx Thu Jun 30 12:31:44 +0000 2016", "2016-06-30T12:31:44Z"},
		{"From - Mon Jun  3 12:50:27 1996", "1996-06-03T12:50:27Z"},
		{"From MAILER-DAEMON Fri Jul  8 12:08:34 2011\r\n", "2011-07-08T12:08:34Z"},
		{"From - ", ""},
		{"From ", ""},
	} {
		got := item.FormatTime(envelopeDate(tc.line))
		if got != tc.want {
			t.Errorf("envelopeDate(%q) = %q, want %q", tc.line, got, tc.want)
		}
	}
}
