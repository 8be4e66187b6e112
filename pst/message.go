package pst

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Subnode ids of a message's tables (MS-PST 2.4.5, 2.4.6).
const (
	nidRecipientTable  = 0x692
	nidAttachmentTable = 0x671
)

// Message flags (PidTagMessageFlags, MS-OXCMSG 2.2.1.6).
const (
	mfUnsent    = 0x08
	mfFromMe    = 0x20
	attMHTMLRef = 0x04 // PidTagAttachFlags: referenced from the HTML body
)

// readItem turns a message's property bag into an Item. depth counts
// embedded-message nesting.
func (f *File) readItem(b *bag, folder string, index int, nid uint32, depth int) (*Item, error) {
	b.cp = b.codepage(f.storeCP)
	b.read = map[uint16]bool{} // what the mapping reads; the rest is kept by rule (kept.go)
	it := &Item{
		Folder:      folder,
		Index:       index,
		NodeID:      nid,
		Class:       b.str(tagMessageClass),
		Subject:     stripSubjectPrefix(b.str(tagSubject)),
		Body:        b.str(tagBody),
		Created:     b.time(tagCreationTime),
		Modified:    b.time(tagLastModificationTime),
		Importance:  1,
		Sensitivity: -1,
	}
	if nid != 0 {
		it.EntryID = f.entryID(nid)
	}
	it.Kind = ClassKind(it.Class)
	if v, ok := b.int(tagImportance); ok {
		it.Importance = v
	}
	if v, ok := b.int(tagSensitivity); ok {
		it.Sensitivity = v
	}
	it.BodyHTML = f.htmlBody(b)
	if it.Body == "" {
		// Recent Outlook keeps the notes of contacts, tasks and
		// appointments only as compressed RTF.
		if rtf := b.bytes(tagRtfCompressed); len(rtf) > 0 {
			if raw, err := decompressRTF(rtf); err == nil {
				text, isHTML := rtfText(raw)
				text = trimNUL(text)
				if strings.TrimSpace(text) == "" {
					text = ""
				}
				switch {
				case !isHTML:
					it.Body = text
				case it.BodyHTML == "":
					it.BodyHTML = text
				}
			}
		}
	}
	if id, ok := f.names.name(psPublicStrings, "Keywords"); ok {
		it.Categories = b.strings(id)
	}
	if id, ok := f.names.name(psetidCrmbridge, "RecordId"); ok {
		it.RecordID = b.str(id)
	}
	if id, ok := f.names.name(psetidCrmbridge, "Uid"); ok {
		it.UID = b.str(id)
	}
	if id, ok := f.names.name(psetidCrmbridge, "Extras"); ok {
		it.Extras = b.strings(id)
	}

	recips, err := f.recipients(b)
	if err != nil {
		return nil, fmt.Errorf("recipient table: %w", err)
	}
	switch it.Kind {
	case KindContact:
		it.Contact = f.contact(b)
		it.Contact.Other = b.unreadStrings(contactFirst, contactLast)
		// The mailing address is a copy of one of the three addresses
		// (MS-OXOCNTC 2.2.1.3.9): not a value of its own.
		for id := range mailingAddress {
			b.read[id] = true
		}
	case KindTask:
		it.Task = f.task(b)
		it.Task.Recipients = recips
	case KindAppointment:
		it.Appointment = f.appointment(b, it.Class, recips)
	case KindDistList:
		it.DistList = f.distList(b)
	}
	// Meeting requests and responses travel as mail: they get both.
	if it.Kind == KindEmail || it.Kind == KindAppointment && it.Appointment.MeetingRequest {
		it.Email = f.email(b, recips)
	}
	if it.Kind == KindEmail || it.Kind == KindAppointment || it.Kind == KindTask || it.Kind == KindContact {
		it.Other, it.NotKept = b.unreadKept()
	}
	b.read = nil
	atts, err := f.attachments(b, folder, depth)
	if err != nil {
		return nil, fmt.Errorf("attachment table: %w", err)
	}
	it.Attachments = atts
	return it, nil
}

// codepage returns the code page of the bag's 8-bit strings:
// PidTagMessageCodepage, else the ANSI code page of PidTagMessageLocaleId,
// else that of PidTagInternetCodepage, else def.
func (b *bag) codepage(def int) int {
	if cp, ok := b.int(tagMessageCodepage); ok && knownCodepage(cp) && cp != 1200 {
		return cp
	}
	if l, ok := b.int(tagMessageLocaleID); ok {
		if cp := lcidCodepage(l); cp != 0 {
			return cp
		}
	}
	if c, ok := b.int(tagInternetCodepage); ok {
		if cp := ansiCodepage(c); cp != 0 {
			return cp
		}
	}
	return def
}

// entryID returns the hex of the PST entry id of nid (MS-PST 2.2.2.1
// ENTRYID: rgbFlags, uid = the store's record key, nid), stable across reads.
func (f *File) entryID(nid uint32) string {
	b := make([]byte, 0, 24)
	b = append(b, 0, 0, 0, 0)
	b = append(b, f.storeID...)
	b = binary.LittleEndian.AppendUint32(b, nid)
	return strings.ToUpper(hex.EncodeToString(b))
}

// stripSubjectPrefix removes the prefix marker of PidTagSubject: in a PST
// the stored subject may start with U+0001 and a character whose value is
// the length of the prefix ("RE: "); the rest is the full subject (MS-PST
// 2.5.3.1.1.1 / MS-OXCMSG 2.2.1.46).
func stripSubjectPrefix(s string) string {
	if len(s) >= 2 && s[0] == 0x01 {
		_, n := utf8.DecodeRuneInString(s[1:])
		return s[1+n:]
	}
	return s
}

// htmlBody reads PidTagHtml (binary, in PidTagInternetCodepage) or a string
// PidTagBodyHtml.
func (f *File) htmlBody(b *bag) string {
	v, p, ok := b.raw(tagHTML)
	if !ok || len(v) == 0 {
		return ""
	}
	switch p.Type {
	case ptUnicode:
		return trimNUL(decodeUTF16(v))
	case ptString8:
		return trimNUL(decodeCodepage(v, b.cp))
	}
	cp := 0
	if c, ok := b.int(tagInternetCodepage); ok {
		cp = c
	}
	if cp == 0 {
		cp = charsetFromHTML(v)
	}
	if cp == 0 {
		cp = b.cp
	}
	return trimNUL(decodeCodepage(v, cp))
}

// charsetFromHTML finds a <meta charset> in the first KiB of an HTML body.
func charsetFromHTML(v []byte) int {
	head := strings.ToLower(string(v[:min(len(v), 1024)]))
	i := strings.Index(head, "charset=")
	if i < 0 {
		return 0
	}
	fields := strings.FieldsFunc(head[i+8:], func(r rune) bool {
		return r == '"' || r == '\'' || r == ';' || r == '>' || r == ' ' || r == '/'
	})
	if len(fields) == 0 { // "charset=" at the end of the head
		return 0
	}
	switch strings.TrimSpace(fields[0]) {
	case "utf-8", "utf8":
		return 65001
	case "iso-8859-1", "us-ascii":
		return 28591
	case "windows-1252":
		return 1252
	case "shift_jis", "shift-jis":
		return 932
	case "iso-2022-jp":
		return 50220
	}
	return 0
}

// recipients reads the recipient table (MS-PST 2.4.5.2, subnode 0x692).
func (f *File) recipients(b *bag) ([]Recipient, error) {
	var rows []*bag
	var err error
	if b.ext != nil {
		rows, err = f.extRecipients(b)
	} else {
		rows, err = f.subTable(b, nidRecipientTable)
	}
	if err != nil || rows == nil {
		return nil, err
	}
	out := make([]Recipient, 0, len(rows))
	for _, r := range rows {
		r.cp = b.cp
		rc := Recipient{
			Name:        r.str(tagDisplayName),
			AddressType: r.str(tagAddrType),
		}
		if rc.Name == "" {
			rc.Name = r.str(tagRecipientDisplayNameUnicde)
		}
		rc.Type, _ = r.int(tagRecipientType)
		rc.Type &^= 0x10000000 // MAPI_SUBMITTED
		rc.Response, _ = r.int(tagRecipientTrackStatus)
		if fl, ok := r.int(tagRecipientFlags); ok {
			rc.Organizer = fl&0x2 != 0
		}
		rc.Address = smtpOf(r.str(tagSMTPAddress), r.str(tagEmailAddress), rc.AddressType)
		out = append(out, rc)
	}
	return out, nil
}

// smtpOf prefers an explicit SMTP address, then the native address when its
// type is SMTP, then the native address as it is.
func smtpOf(smtp, addr, typ string) string {
	switch {
	case smtp != "":
		return smtp
	case strings.EqualFold(typ, "SMTP"):
		return addr
	}
	return addr
}

// email fills the e-mail fields.
func (f *File) email(b *bag, recips []Recipient) *Email {
	e := &Email{
		MessageID:  b.str(tagInternetMessageID),
		InReplyTo:  b.str(tagInReplyToID),
		References: b.str(tagInternetReferences),
		Headers:    b.str(tagTransportMessageHeaders),
		Recipients: recips,
		Sent:       b.time(tagClientSubmitTime),
		Received:   b.time(tagMessageDeliveryTime),
	}
	e.Flag.Status, _ = b.int(tagFlagStatus)
	e.Flag.Icon, _ = b.int(tagFollowupIcon)
	e.Flag.Completed = b.time(tagFlagCompleteTime)
	e.Flag.Request = b.str(f.lid(psetidCommon, lidFlagRequest))
	e.Flag.Start = b.time(f.lid(psetidTask, lidTaskStartDate))
	e.Flag.Due = b.time(f.lid(psetidTask, lidTaskDueDate))
	e.SenderName = b.str(tagSenderName)
	e.SenderAddress = smtpOf(b.str(tagSenderSMTPAddress), b.str(tagSenderEmailAddress), b.str(tagSenderAddrType))
	if !strings.Contains(e.SenderAddress, "@") {
		if a := headerAddress(e.Headers, "From"); a != "" {
			e.SenderAddress = a
		} else if a := smtpOf(b.str(tagSentRepresentingSMTP), b.str(tagSentRepresentingEmail), b.str(tagSentRepresentingAddrType)); strings.Contains(a, "@") || e.SenderAddress == "" {
			e.SenderAddress = a
		}
	}
	if e.SenderName == "" {
		e.SenderName = b.str(tagSentRepresentingName)
	}
	// MS-OXOMSG 2.2.1.50-57: PidTagSentRepresenting* is the mailbox the
	// message is sent for (the author, RFC 5322 From) and PidTagSender* the
	// one that sent it (Sender), which differ in a mail sent on behalf of
	// someone. The author is From; the sending mailbox is kept apart.
	if rep := smtpOf(b.str(tagSentRepresentingSMTP), b.str(tagSentRepresentingEmail), b.str(tagSentRepresentingAddrType)); strings.Contains(rep, "@") &&
		strings.Contains(e.SenderAddress, "@") && !strings.EqualFold(rep, e.SenderAddress) {
		e.OnBehalfName, e.OnBehalfAddress = e.SenderName, e.SenderAddress
		e.SenderName, e.SenderAddress = b.str(tagSentRepresentingName), rep
	}
	if fl, ok := b.int(tagMessageFlags); ok && fl&(mfUnsent|mfFromMe) != 0 {
		e.Outgoing = true
		e.Unsent = fl&mfUnsent != 0
	}
	return e
}

// headerAddress returns the address in the first header line named name of
// a transport header block ("From: Name <a@b>"), or "".
func headerAddress(headers, name string) string {
	for _, line := range strings.Split(headers, "\n") {
		if len(line) > len(name)+1 && strings.EqualFold(line[:len(name)+1], name+":") {
			v := strings.TrimSpace(line[len(name)+1:])
			if i := strings.LastIndexByte(v, '<'); i >= 0 {
				if j := strings.IndexByte(v[i:], '>'); j > 0 {
					return v[i+1 : i+j]
				}
			}
			if strings.Contains(v, "@") && !strings.ContainsAny(v, " ,") {
				return v
			}
			return ""
		}
	}
	return ""
}
