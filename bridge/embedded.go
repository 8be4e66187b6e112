package bridge

import (
	"bytes"
	"io"
	"strings"

	"crmbridge/bridge/eml"
	"crmbridge/crm"

	"crmbridge/pst"
)

// embeddedAttachment turns a message attached to a PST item (attach
// method 5) into an RFC 5322 attachment, so the parent keeps it whole.
func embeddedAttachment(a *pst.Attachment) crm.Attachment {
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
	// eml.Write does not write the transport headers, but its boundaries
	// hash every field: without them the same message gives the same
	// bytes whether it comes from Outlook's PST or from ours (where
	// pstEmbedded wrote it without them).
	delete(rec.Fields, "headers")
	return crm.Attachment{
		Name:     name,
		MimeType: "message/rfc822",
		// The message is written when opened (for a PST, when the store
		// stores it), and held in memory (Bytes) so that the store hashes
		// and writes it without writing it again.
		Open: func() (io.ReadCloser, error) {
			var buf bytes.Buffer
			if err := eml.Write(&buf, rec); err != nil {
				return nil, err
			}
			return &memContent{Reader: bytes.NewReader(buf.Bytes()), data: buf.Bytes()}, nil
		},
	}
}
