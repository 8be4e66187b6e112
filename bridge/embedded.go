package bridge

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"crmbridge/bridge/eml"
	"crmbridge/crm"
	"crmbridge/internal/recovered"

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
		// stores it), through a pipe: it holds its attachments, which
		// can be large, and is written a buffer at a time. The store
		// opens content larger than a chunk twice (hash, then write):
		// it is written twice, the same bytes each time.
		Open: func() (io.ReadCloser, error) {
			pr, pw := io.Pipe()
			go func() {
				defer func() {
					if r := recover(); r != nil {
						recovered.Note(r)
						pw.CloseWithError(fmt.Errorf("internal error: %v", r))
					}
				}()
				// Buffered: the writer writes a line at a time, and each
				// write through the pipe waits for the reader.
				bw := bufio.NewWriterSize(pw, 64<<10)
				err := eml.Write(bw, rec)
				if err == nil {
					err = bw.Flush()
				}
				pw.CloseWithError(err)
			}()
			return pr, nil
		},
	}
}
