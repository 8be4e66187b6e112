package eml

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"crmbridge/crm"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
)

// reportTypes maps the machine-readable part of a report to the
// report-type parameter of its multipart/report (RFC 6522 3): delivery
// status notifications (RFC 3464, RFC 6533 for the UTF-8 form),
// message disposition notifications, that is read receipts (RFC 8098,
// RFC 6533), and abuse feedback (RFC 5965).
var reportTypes = map[string]string{
	"message/delivery-status":                 "delivery-status",
	"message/global-delivery-status":          "global-delivery-status",
	"message/disposition-notification":        "disposition-notification",
	"message/global-disposition-notification": "global-disposition-notification",
	"message/feedback-report":                 "feedback-report",
}

// isOriginal reports whether mt is the optional third part of a report:
// the returned message or its header (RFC 6522 3, RFC 3462 3).
func isOriginal(mt string) bool {
	switch mt {
	case "message/rfc822", "message/global", "text/rfc822-headers", "message/global-headers":
		return true
	}
	return false
}

// textual reports whether an attachment of type mt is written as text
// (7bit or 8bit) rather than base64: report parts and returned headers
// are fields that must stay readable (RFC 3464 2.1 and RFC 8098 3.1:
// "7bit encoding is sufficient and MUST be used to maintain readability
// when viewed by non-MIME mail readers").
func textual(mt string) bool {
	_, report := reportTypes[mt]
	return report || mt == "text/rfc822-headers" || mt == "message/global-headers"
}

// reportParts splits a record's attachments (those not in a
// multipart/related) for a multipart/report: the first report part, the
// original message or header that follows it (if any), and the rest. ok
// is false when the record holds no report part.
func reportParts(atts []crm.Attachment) (report crm.Attachment, reportType string, orig *crm.Attachment, rest []crm.Attachment, ok bool) {
	ri := -1
	for i, a := range atts {
		if rt, found := reportTypes[mediaType(a.MimeType)]; found {
			report, reportType, ri, ok = a, rt, i, true
			break
		}
	}
	if !ok {
		return report, "", nil, atts, false
	}
	oi := -1
	for i, a := range atts {
		if i != ri && isOriginal(mediaType(a.MimeType)) && (oi < 0 || oi < ri && i > ri) {
			oi = i // the first one after the report part, else the first one
		}
	}
	for i := range atts {
		switch {
		case i == ri:
		case i == oi:
			orig = &atts[i]
		default:
			rest = append(rest, atts[i])
		}
	}
	return report, reportType, orig, rest, true
}

// mediaType is the lower-case media type of a stored MIME type.
func mediaType(mt string) string {
	mt, _, _ = strings.Cut(mt, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

// writeReport writes a report as RFC 6522 requires: multipart/report as
// the top-level type with its report-type, and in order the
// human-readable part (the body; with the record's other attachments it
// is a multipart/mixed of the body and them, so that the report keeps its
// two or three parts), the machine-readable report, and the original
// message or its header when the record has one.
func writeReport(w io.Writer, b *boundaries, h mail.Header, text, html string, related []crm.Attachment,
	report crm.Attachment, reportType string, orig *crm.Attachment, rest []crm.Attachment) error {
	h.SetContentType("multipart/report", b.next(map[string]string{"report-type": reportType}))
	mw, err := message.CreateWriter(w, h.Header)
	if err != nil {
		return fmt.Errorf("write header: %w", err)
	}
	if len(rest) == 0 {
		if err := writeText(mw, b, text, html, related); err != nil {
			return err
		}
	} else {
		var ph message.Header
		ph.SetContentType("multipart/mixed", b.next(nil))
		pw, err := mw.CreatePart(ph)
		if err != nil {
			return fmt.Errorf("write report text part: %w", err)
		}
		if err := writeText(pw, b, text, html, related); err != nil {
			return err
		}
		for _, a := range rest {
			if err := writeAttachment(pw, a); err != nil {
				return err
			}
		}
		if err := pw.Close(); err != nil {
			return fmt.Errorf("write report text part: %w", err)
		}
	}
	if err := writeAttachment(mw, report); err != nil {
		return err
	}
	if orig != nil {
		if err := writeAttachment(mw, *orig); err != nil {
			return err
		}
	}
	return mw.Close()
}

// textEncoding is the Content-Transfer-Encoding for content written as
// it is: 7bit for ASCII, 8bit for UTF-8 (RFC 6533's global types carry
// UTF-8), with lines of at most 998 octets and no NUL or bare CR
// (RFC 2045 2.7, 2.8); "" when neither fits and it must be base64.
func textEncoding(b []byte) string {
	if longestLine(b) > 998 || bytes.IndexByte(b, 0) >= 0 || !utf8.Valid(b) {
		return ""
	}
	for i, c := range b {
		if c == '\r' && (i+1 == len(b) || b[i+1] != '\n') {
			return ""
		}
	}
	for _, c := range b {
		if c >= 0x80 {
			return "8bit"
		}
	}
	return "7bit"
}
