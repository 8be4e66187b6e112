package bridge

import (
	"bytes"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"

	"crmbridge/crmstore"
	"crmbridge/pst"
)

// embeddedAttachment turns a message attached to a PST item (attach
// method 5) into an RFC 5322 attachment, so the parent keeps it whole.
func embeddedAttachment(a *pst.Attachment) crmstore.Attachment {
	in := pstEmail(a.Message)
	name := a.Name
	if name == "" {
		name = a.Message.Subject
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name = "message"
	}
	if !strings.HasSuffix(strings.ToLower(name), ".eml") {
		name += ".eml"
	}
	rec := in.Record
	return crmstore.Attachment{
		Name:     name,
		MimeType: "message/rfc822",
		Open: func() (io.ReadCloser, error) {
			var buf bytes.Buffer
			if err := writeEML(&buf, rec); err != nil {
				return nil, err
			}
			return io.NopCloser(&buf), nil
		},
	}
}

// writeEML renders an email record as RFC 5322 (used until bridge/eml has
// a writer).
func writeEML(w io.Writer, rec crmstore.Record) error {
	var h mail.Header
	h.SetSubject(rec.Fields["subject"])
	if t, err := time.Parse(time.RFC3339, rec.Fields["senton"]); err == nil {
		h.SetDate(t)
	}
	if id := rec.Fields["messageid"]; id != "" {
		h.SetMessageID(strings.Trim(id, "<>"))
	}
	var from, to, cc []*mail.Address
	for _, p := range rec.Parties {
		a := &mail.Address{Name: p.Name, Address: p.Address}
		switch p.Role {
		case crmstore.RoleSender:
			from = append(from, a)
		case crmstore.RoleTo:
			to = append(to, a)
		case crmstore.RoleCc:
			cc = append(cc, a)
		}
	}
	h.SetAddressList("From", from)
	h.SetAddressList("To", to)
	h.SetAddressList("Cc", cc)
	h.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
	mw, err := mail.CreateSingleInlineWriter(w, h)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(mw, rec.Fields["description"]); err != nil {
		return err
	}
	return mw.Close()
}
