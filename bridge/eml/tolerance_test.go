package eml

import (
	"strings"
	"testing"
	"time"

	"crmbridge/crm"
)

// TestLeadingWhiteSpace checks what comes before the first header field:
// a byte order mark, a line of spaces (dropped, as Python's email
// package does) or a margin before the first field's own name (the field
// is kept).
func TestLeadingWhiteSpace(t *testing.T) {
	for _, tc := range []struct {
		name, in      string
		subject, from string
		body          string
		warn          string
	}{
		{"bom", "\xef\xbb\xbfSubject: s\r\nFrom: a@example.com\r\n\r\nbody\r\n", "s", "a@example.com", "body\r\n", ""},
		{"line of spaces", "      \nSubject: s\nFrom: a@example.com\n\nbody\n", "s", "a@example.com", "body\n", "1 indented line(s) before the first header field ignored"},
		{"indented first field", "  Subject: s\nFrom: a@example.com\n\nbody\n", "s", "a@example.com", "body\n", "white space before the first header field ignored"},
		{"indented only field", "\tFrom: a@example.com\n\nbody\n", "", "a@example.com", "body\n", "white space before the first header field ignored"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			incs, warns := collect(t, NewReader(strings.NewReader(tc.in), "t.eml"))
			if len(incs) != 1 {
				t.Fatalf("%d messages, warnings %v", len(incs), warns)
			}
			f := incs[0].Record.Fields
			if f["subject"] != tc.subject || f["description"] != tc.body {
				t.Errorf("subject %q body %q", f["subject"], f["description"])
			}
			if got := partyAddrs(incs[0].Record, crm.RoleSender); len(got) != 1 || got[0] != tc.from {
				t.Errorf("from %v", got)
			}
			var ws []string
			for _, w := range warns {
				ws = append(ws, w.Error())
			}
			if tc.warn == "" && len(ws) > 0 || tc.warn != "" && (len(ws) != 1 || !strings.HasSuffix(ws[0], tc.warn)) {
				t.Errorf("warnings %q, want %q", ws, tc.warn)
			}
		})
	}
}

// TestHeaderText checks unstructured header text: unfolding removes only
// the line breaks (RFC 5322 2.2.3), and an encoded word in an unknown
// charset ("NONE", as some mailers write) or with sloppy base64 padding
// is decoded as text without a charset, as Python's email package does,
// with a warning.
func TestHeaderText(t *testing.T) {
	for _, tc := range []struct{ name, field, want, warn string }{
		{"inner runs kept", "Subject: a   b \t c", "a   b \t c", ""},
		{"fold keeps its white space", "Subject: a\r\n  b\r\n\tc", "a  b\tc", ""},
		{"outer white space trimmed", "Subject:    a b   ", "a b", ""},
		{"NONE charset", "Subject: =?NONE?B?VEVTVA=?=", "TEST", `unknown charset "NONE"`},
		{"unknown charset, UTF-8 bytes", "Subject: =?x-unknown?Q?caf=C3=A9?=", "café", `unknown charset "x-unknown"`},
		{"unknown charset, Latin-1 bytes", "Subject: =?x-unknown?Q?caf=E9?=", "café", `unknown charset "x-unknown"`},
		{"words joined, text around kept", "Subject: x  =?utf-8?q?a?= =?utf-8?q?b?=  y", "x  ab  y", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			incs, warns := collect(t, NewReader(strings.NewReader(tc.field+"\r\nFrom: a@example.com\r\n\r\nbody\r\n"), "t.eml"))
			if len(incs) != 1 {
				t.Fatalf("%d messages %v", len(incs), warns)
			}
			if got := incs[0].Record.Fields["subject"]; got != tc.want {
				t.Errorf("subject %q, want %q", got, tc.want)
			}
			if tc.warn == "" && len(warns) > 0 || tc.warn != "" && (len(warns) != 1 || !strings.Contains(warns[0].Error(), tc.warn)) {
				t.Errorf("warnings %v, want %q", warns, tc.warn)
			}
		})
	}
}

// TestObsoleteZones checks RFC 5322 4.3: military and other unknown zone
// names read as -0000 instead of losing the date; a known abbreviation
// leading a POSIX zone ("EST5EDT") and an offset without its sign are
// read as what they say.
func TestObsoleteZones(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Mon, 1 Jan 2024 10:00:00 H0500", "2024-01-01T10:00:00Z"},
		{"Mon, 1 Jan 2024 10:00:00 A", "2024-01-01T10:00:00Z"},
		{"Mon, 1 Jan 2024 10:00:00 z", "2024-01-01T10:00:00Z"},
		{"1 Jan 2024 10:00:00 XYZ", "2024-01-01T10:00:00Z"},
		{"Mon, 1 Jan 2024 10:00:00 EST5EDT", "2024-01-01T15:00:00Z"},
		{"Mon, 1 Jan 2024 10:00:00 0500", "2024-01-01T05:00:00Z"},
		{"Mon, 1 Jan 2024 10:00:00 EDT", "2024-01-01T14:00:00Z"},
	} {
		got, err := parseDate(tc.in)
		if err != nil || got.UTC().Format(time.RFC3339) != tc.want {
			t.Errorf("parseDate(%q) = %v, %v; want %s", tc.in, got.UTC(), err, tc.want)
		}
	}
	for _, bad := range []string{"Mon, 1 Jan 2024 10:00:00 +9999", "Mon, 1 Jan 2024 10:00:00 12:00"} {
		if got, err := parseDate(bad); err == nil {
			t.Errorf("parseDate(%q) = %v, want an error", bad, got)
		}
	}
}

// TestAddressValidation checks RFC 5322 3.4.1 and 4.4: obsolete source
// routes are dropped, and whatever stands between < and > that is not an
// addr-spec is kept as the address, as written, with a warning (the party
// rule of crm.Party: a party always has an address); the display name
// stays the display name.
func TestAddressValidation(t *testing.T) {
	for _, tc := range []struct {
		to    string
		want  string // parties as name|address joined by ";"
		warns int
	}{
		{"<@route.example:a@x.example>", "|a@x.example", 0},
		{"Ann <@r1.example,@r2.example:ann@x.example>, bob@x.example", "Ann|ann@x.example;|bob@x.example", 0},
		{"<Undisclosed-Recipient:@host;>", "|Undisclosed-Recipient:@host", 2},
		{"undisclosed-recipients:;", "", 0},
		{`"Joe" <joe@>, x@y@z`, "Joe|joe@;|x@y@z", 3},
		{"Ann <ann@x.example>, <not an address>", "Ann|ann@x.example;|not an address", 2},
		{`"a b"@x.example, user@[192.0.2.1]`, `|"a b"@x.example;|user@[192.0.2.1]`, 0},
	} {
		t.Run(tc.to, func(t *testing.T) {
			incs, warns := collect(t, NewReader(strings.NewReader("From: s@example.com\r\nTo: "+tc.to+"\r\n\r\nbody\r\n"), "t.eml"))
			if len(incs) != 1 {
				t.Fatalf("%d messages", len(incs))
			}
			var got []string
			var to []string
			for _, p := range incs[0].Record.Parties {
				if p.Role == crm.RoleTo {
					got = append(got, p.Name+"|"+p.Address)
					if p.Address != "" {
						to = append(to, p.Address)
					}
				}
			}
			if strings.Join(got, ";") != tc.want {
				t.Errorf("parties %q, want %q", strings.Join(got, ";"), tc.want)
			}
			if f := incs[0].Record.Fields["torecipients"]; f != strings.Join(to, ",") {
				t.Errorf("torecipients %q", f)
			}
			if len(warns) != tc.warns {
				t.Errorf("warnings %v, want %d", warns, tc.warns)
			}
		})
	}
}

// A multipart whose first delimiter line is mangled and whose close
// delimiter is intact has no body part at all (RFC 2046 5.1.1: the text
// before the first delimiter is the preamble). What it holds is the only
// text there is: it is the body, read as text/plain, as Python's email
// package reads it, not dropped.
func TestCloseDelimiterOnly(t *testing.T) {
	const msg = "From: a@example.org\r\nSubject: x\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/alternative; boundary=\"--b1\"\r\n\r\n" +
		"----b**1\r\nContent-Type: text/html;\r\n\r\nHello\r\n\r\n----b1--\r\n"
	incs, errs := collect(t, NewReader(strings.NewReader(msg), "x.eml"))
	if len(incs) != 1 {
		t.Fatalf("%d messages, %v", len(incs), errs)
	}
	want := "----b**1\r\nContent-Type: text/html;\r\n\r\nHello\r\n"
	if got := incs[0].Record.Fields["description"]; strings.TrimSpace(got) != strings.TrimSpace(want) {
		t.Errorf("body %q, want %q", got, want)
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "no body part") {
		t.Errorf("warnings %v, want one about no body part", errs)
	}
}
