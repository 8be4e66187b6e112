package bridge

import (
	"strings"

	"crmbridge/bridge/eml"
	"crmbridge/crm"
	"crmbridge/crmstore"
	"crmbridge/pstwrite"
)

// maxEmbeddedDepth bounds how deep attached messages are written as
// embedded messages; deeper ones stay files.
const maxEmbeddedDepth = 7

// pstEmbedded turns an attached e-mail (message/rfc822, an .eml file:
// what the import made of a PST's embedded message, or an EML's attached
// message) into the message Outlook attaches as an embedded message
// object (MS-OXCMSG 2.2.2.9: PidTagAttachMethod afEmbeddedMessage), so
// that readers show it as a message rather than a file. ok is false when
// the attachment is not an e-mail or does not parse as one: it is then
// written as the file it is.
func pstEmbedded(a crm.Attachment, depth int) (*pstwrite.Message, bool) {
	mt := strings.ToLower(strings.TrimSpace(a.MimeType))
	if a.Open == nil || depth >= maxEmbeddedDepth ||
		!(mt == "message/rfc822" || mt == "" && strings.HasSuffix(strings.ToLower(a.Name), ".eml")) {
		return nil, false
	}
	rc, err := a.Open()
	if err != nil {
		return nil, false
	}
	defer rc.Close()
	// The first Next gives the message; warnings, which would follow, do
	// not make it less of a message.
	inc, err := eml.NewReader(rc, a.Name).Next()
	if err != nil || inc == nil || inc.Record.Entity != crm.Email {
		return nil, false
	}
	// The reader keeps the file's own header block as "headers"; they are
	// not the transport headers of a message received (PidTagTransport-
	// MessageHeaders), and the import turns the message back into the
	// same file without them (embeddedAttachment).
	delete(inc.Record.Fields, "headers")
	m, ok, err := pstMessageAt(&crmstore.View{Record: inc.Record}, depth+1, nil)
	if err != nil || !ok {
		return nil, false
	}
	return m, true
}
