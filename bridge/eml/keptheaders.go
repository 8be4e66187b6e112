package eml

import (
	"strings"

	"github.com/emersion/go-message/mail"
)

// Header fields the writer does not produce itself are written back from
// the record's "headers" field (the header block as it was read, from an
// EML/mbox file or a PST's transport headers), so that import → export →
// import keeps every header value; the headers field is the column that
// holds them, so they are not extra values.
//
// Left out, by rule:
//   - the fields the writer writes from the record's columns
//     (ownedHeaders): the column is the value now, an edit included;
//   - the MIME structure fields (MIME-Version, Content-*): they describe
//     the body as it was encoded then, not the one written now;
//   - signatures over the header and body (DKIM-Signature,
//     DomainKey-Signature, X-Google-DKIM-Signature and the ARC set, RFC
//     6376 and 8617): the message is re-encoded, so a kept signature would
//     fail verification and report the mail as tampered with.
//
// Trace fields (Received, Return-Path) are kept: RFC 5321 4.4 says a mail
// program must not change or delete a Received line, and the reader takes
// receivedon from the topmost one.

// ownedHeaders are the fields Write produces from columns (lower case).
var ownedHeaders = map[string]bool{
	"date": true, "from": true, "to": true, "cc": true, "bcc": true, "subject": true, "message-id": true,
	"in-reply-to": true, "references": true, "delivery-date": true, "importance": true, "x-priority": true,
	"sensitivity": true, "keywords": true, "x-folder": true, "x-unsent": true, strings.ToLower(directionHeader): true,
	"x-message-flag": true, strings.ToLower(flagHeader): true,
	"mime-version": true,
}

// keptHeader reports whether a field of the stored header block named
// name is written back.
func keptHeader(name string) bool {
	n := strings.ToLower(name)
	switch {
	case ownedHeaders[n], strings.HasPrefix(n, "content-"), strings.HasPrefix(n, "arc-"),
		n == "dkim-signature", n == "domainkey-signature", n == "x-google-dkim-signature":
		return false
	}
	return true
}

// headerFields splits a stored header block into its fields, each with
// its continuation lines and CRLF line ends. A line that is not a field
// ("Name:" with a valid name) nor a continuation, and a field with a line
// longer than RFC 5322 2.1.1's 998 octets or with control characters, is
// left out (the headers field still holds it).
func headerFields(block string) []string {
	var out []string
	var cur []string
	ok := false
	flush := func() {
		if ok && len(cur) > 0 {
			out = append(out, strings.Join(cur, "\r\n")+"\r\n")
		}
		cur, ok = nil, false
	}
	for _, line := range strings.Split(strings.ReplaceAll(block, "\r\n", "\n"), "\n") {
		if line != "" && (line[0] == ' ' || line[0] == '\t') {
			if ok {
				cur = append(cur, line)
				if !safeHeaderLine(line) {
					ok = false
				}
			}
			continue
		}
		flush()
		name, _, found := strings.Cut(line, ":")
		if !found || !isFieldName(name) {
			continue
		}
		cur, ok = []string{line}, safeHeaderLine(line)
	}
	flush()
	return out
}

// isFieldName reports whether s is an RFC 5322 2.2 field name: printable
// US-ASCII but colon.
func isFieldName(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 || s[i] == ':' {
			return false
		}
	}
	return s != ""
}

func safeHeaderLine(s string) bool {
	if len(s) > 998 {
		return false
	}
	for _, r := range s {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return false
		}
	}
	return true
}

// addKeptHeaders adds the fields of the stored header block that keptHeader
// allows to h, in their order, as they were (folding included).
func addKeptHeaders(h *mail.Header, block string) {
	fs := headerFields(block)
	// go-message writes fields in the reverse order of addition.
	for i := len(fs) - 1; i >= 0; i-- {
		name, _, _ := strings.Cut(fs[i], ":")
		if keptHeader(name) {
			h.AddRaw([]byte(fs[i]))
		}
	}
}
