package pst

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	gopst "github.com/mooijtech/go-pst/v6/pkg"
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
		Sensitivity: 0,
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
	if id, ok := f.names.name(psPublicStrings, "Keywords"); ok {
		it.Categories = b.strings(id)
	}

	recips, err := f.recipients(b)
	if err != nil {
		return nil, fmt.Errorf("recipient table: %w", err)
	}
	switch it.Kind {
	case KindContact:
		it.Contact = f.contact(b)
	case KindTask:
		it.Task = f.task(b)
	case KindAppointment:
		it.Appointment = f.appointment(b, it.Class, recips)
	case KindDistList:
		it.DistList = f.distList(b)
	}
	if it.Kind == KindEmail || it.Kind == KindAppointment && it.Appointment.MeetingRequest {
		it.Email = f.email(b, recips, folder)
	} else if it.Kind == KindEmail {
		it.Email = f.email(b, recips, folder)
	}
	if it.Email == nil && it.Kind == KindEmail {
		it.Email = &Email{}
	}
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
		_, n := utf8DecodeAt(s, 1)
		return s[1+n:]
	}
	return s
}

func utf8DecodeAt(s string, i int) (rune, int) {
	for n := 1; n <= 4 && i+n <= len(s); n++ {
		r := []rune(s[i : i+n])
		if len(r) == 1 && r[0] != 0xFFFD {
			return r[0], n
		}
	}
	return 0, 1
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
	cs := strings.Trim(strings.FieldsFunc(head[i+8:], func(r rune) bool {
		return r == '"' || r == '\'' || r == ';' || r == '>' || r == ' ' || r == '/'
	})[0:1][0], " ")
	switch cs {
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
	rows, err := f.subTable(b, nidRecipientTable)
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
		rc.Address = smtpOf(r.str(tagSmtpAddress), r.str(tagEmailAddress), rc.AddressType)
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

// subTable reads a table context held in a message subnode (recipients,
// attachments). It returns nil rows when the subnode is absent.
func (f *File) subTable(b *bag, nid uint32) ([]*bag, error) {
	ld, err := gopst.FindLocalDescriptor(gopst.Identifier(nid), b.lds)
	if err != nil {
		return nil, nil
	}
	lds, err := f.localDescriptors(ld.LocalDescriptorsIdentifier)
	if err != nil {
		return nil, err
	}
	hon, err := f.heapFromBID(ld.DataIdentifier)
	if err != nil {
		return nil, err
	}
	return f.table(hon, lds)
}

// table reads all rows of a table context, each as a bag.
func (f *File) table(hon *gopst.HeapOnNode, lds []gopst.LocalDescriptor, cols ...uint16) ([]*bag, error) {
	// go-pst follows subnodes of the table (its row matrix) without
	// checking their data trees: check them first.
	for _, ld := range lds {
		if bn, err := f.pst.GetBlockBTreeNode(ld.DataIdentifier); err == nil {
			if err := f.checkDataTree(bn, 0); err != nil {
				return nil, fmt.Errorf("subnode %#x: %w", ld.Identifier, err)
			}
		}
	}
	tc, err := f.pst.GetTableContext(hon, lds, cols...)
	if err != nil {
		if err == gopst.ErrTableContextNoRows {
			return nil, nil
		}
		return nil, err
	}
	if int64(len(tc.Properties)) > f.size/8 {
		return nil, fmt.Errorf("table claims %d rows", len(tc.Properties))
	}
	rows := make([]*bag, len(tc.Properties))
	for i, props := range tc.Properties {
		rows[i] = &bag{f: f, props: props, hon: tc.HeapOnNode, lds: lds, cp: f.storeCP}
	}
	return rows, nil
}

// email fills the e-mail fields.
func (f *File) email(b *bag, recips []Recipient, folder string) *Email {
	e := &Email{
		MessageID:  b.str(tagInternetMessageID),
		InReplyTo:  b.str(tagInReplyToID),
		References: b.str(tagInternetReferences),
		Headers:    b.str(tagTransportMessageHeaders),
		Recipients: recips,
		Sent:       b.time(tagClientSubmitTime),
		Received:   b.time(tagMessageDeliveryTime),
	}
	e.SenderName = b.str(tagSenderName)
	e.SenderAddress = smtpOf(b.str(tagSenderSmtpAddress), b.str(tagSenderEmailAddress), b.str(tagSenderAddrType))
	if !strings.Contains(e.SenderAddress, "@") {
		if a := headerAddress(e.Headers, "From"); a != "" {
			e.SenderAddress = a
		} else if a := smtpOf(b.str(tagSentRepresentingSmtp), b.str(tagSentRepresentingEmail), b.str(tagSentRepresentingAddrType)); strings.Contains(a, "@") || e.SenderAddress == "" {
			e.SenderAddress = a
		}
	}
	if e.SenderName == "" {
		e.SenderName = b.str(tagSentRepresentingName)
	}
	if fl, ok := b.int(tagMessageFlags); ok && fl&(mfUnsent|mfFromMe) != 0 {
		e.Outgoing = true
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

// lid returns the property id of a numeric named property in set.
func (f *File) lid(set guid, lid uint32) uint16 {
	id, ok := f.names.lid(set, lid)
	if !ok {
		return 0 // no property has id 0
	}
	return id
}

// contact fills the contact fields (MS-OXOCNTC).
func (f *File) contact(b *bag) *Contact {
	c := &Contact{
		DisplayName:    b.str(tagDisplayName),
		Prefix:         b.str(tagDisplayNamePrefix),
		GivenName:      b.str(tagGivenName),
		MiddleName:     b.str(tagMiddleName),
		Surname:        b.str(tagSurname),
		Generation:     b.str(tagGeneration),
		Nickname:       b.str(tagNickname),
		BusinessPhone:  b.str(tagBusinessTelephone),
		HomePhone:      b.str(tagHomeTelephone),
		OtherPhone:     b.str(tagOtherTelephone),
		MobilePhone:    b.str(tagMobileTelephone),
		BusinessFax:    b.str(tagBusinessFax),
		HomeFax:        b.str(tagHomeFax),
		Pager:          b.str(tagPager),
		AssistantPhone: b.str(tagAssistantTelephone),
		Company:        b.str(tagCompanyName),
		JobTitle:       b.str(tagTitle),
		Department:     b.str(tagDepartmentName),
		Profession:     b.str(tagProfession),
		Manager:        b.str(tagManagerName),
		Assistant:      b.str(tagAssistant),
		SpouseName:     b.str(tagSpouseName),
		WebPage:        b.str(tagBusinessHomePage),
		HomeAddress: PostalAddress{
			Street: b.str(tagHomeAddressStreet), City: b.str(tagHomeAddressCity), State: b.str(tagHomeAddressState),
			PostalCode: b.str(tagHomeAddressPostalCode), Country: b.str(tagHomeAddressCountry), POBox: b.str(tagHomeAddressPOBox),
		},
		OtherAddress: PostalAddress{
			Street: b.str(tagOtherAddressStreet), City: b.str(tagOtherAddressCity), State: b.str(tagOtherAddressState),
			PostalCode: b.str(tagOtherAddressPostalCode), Country: b.str(tagOtherAddressCountry), POBox: b.str(tagOtherAddressPOBox),
		},
		Birthday:    localDate(b.time(tagBirthday)),
		Anniversary: localDate(b.time(tagWeddingAnniversary)),
	}
	a := func(l uint32) string { return b.str(f.lid(psetidAddress, l)) }
	c.BusinessAddress = PostalAddress{
		Street: a(lidWorkAddressStreet), City: a(lidWorkAddressCity), State: a(lidWorkAddressState),
		PostalCode: a(lidWorkAddressPostalCode), Country: a(lidWorkAddressCountry), POBox: a(lidWorkAddressPOBox),
	}
	for i := range c.Emails {
		off := uint32(i) * 0x10
		e := EmailAddress{
			Address:     a(lidEmail1EmailAddress + off),
			DisplayName: a(lidEmail1DisplayName + off),
			AddrType:    a(lidEmail1AddrType + off),
		}
		if !strings.EqualFold(e.AddrType, "SMTP") && e.Address != "" && !strings.Contains(e.Address, "@") {
			// An Exchange (EX) address: the SMTP address is in the one-off
			// original entry id when it is one, else often in the original
			// display name (MS-OXOCNTC 2.2.1.2.7).
			if r, ok := parseOneOff(b.bytes(f.lid(psetidAddress, lidEmail1OrigEntryID+off))); ok && strings.Contains(r.Address, "@") {
				e.Address = r.Address
			} else if od := a(lidEmail1OrigDisplayName + off); strings.Contains(od, "@") {
				e.Address = od
			}
		}
		c.Emails[i] = e
	}
	return c
}

// localDate keeps the calendar date a user sees for a date-only value:
// Outlook stores a birthday as local midnight converted to UTC, so
// 1980-05-03 00:00 in UTC+2 is 1980-05-02T22:00Z. A time in the evening
// (12:00 or later UTC) is rounded up to the next day.
func localDate(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	t = t.UTC()
	if t.Hour() >= 12 {
		t = t.Add(24 * time.Hour)
	}
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// task fills the task fields (MS-OXOTASK).
func (f *File) task(b *bag) *Task {
	t := &Task{
		Start:     b.time(f.lid(psetidTask, lidTaskStartDate)),
		Due:       b.time(f.lid(psetidTask, lidTaskDueDate)),
		Completed: b.time(f.lid(psetidTask, lidTaskDateCompleted)),
		Complete:  b.bool(f.lid(psetidTask, lidTaskComplete)),
		Owner:     b.str(f.lid(psetidTask, lidTaskOwner)),
		Recurring: b.bool(f.lid(psetidTask, lidTaskFRecurring)),
	}
	t.PercentComplete, _ = b.float(f.lid(psetidTask, lidPercentComplete))
	t.Status, _ = b.int(f.lid(psetidTask, lidTaskStatus))
	return t
}

// appointment fills the appointment fields (MS-OXOCAL).
func (f *File) appointment(b *bag, class string, recips []Recipient) *Appointment {
	ap := func(l uint32) uint16 { return f.lid(psetidAppt, l) }
	a := &Appointment{
		Start:               b.time(ap(lidAppointmentStartWhole)),
		End:                 b.time(ap(lidAppointmentEndWhole)),
		AllDay:              b.bool(ap(lidAppointmentSubType)),
		Location:            b.str(ap(lidLocation)),
		Recurring:           b.bool(ap(lidRecurring)),
		RecurrencePattern:   b.str(ap(lidRecurrencePattern)),
		RecurrenceBlob:      b.bytes(ap(lidAppointmentRecur)),
		GlobalObjectID:      b.bytes(f.lid(psetidMeeting, lidGlobalObjectID)),
		CleanGlobalObjectID: b.bytes(f.lid(psetidMeeting, lidCleanGlobalObjectID)),
		TimeZone:            b.str(ap(lidTimeZoneDescription)),
		TimeZoneBlob:        b.bytes(ap(lidTZDefStartDisplay)),
		MeetingRequest:      strings.HasPrefix(strings.ToLower(class), "ipm.schedule.meeting"),
		ReminderSet:         b.bool(f.lid(psetidCommon, lidReminderSet)),
	}
	if a.Start.IsZero() {
		a.Start = b.time(f.lid(psetidCommon, lidCommonStart))
	}
	if a.End.IsZero() {
		a.End = b.time(f.lid(psetidCommon, lidCommonEnd))
	}
	if a.TimeZoneBlob == nil {
		a.TimeZoneBlob = b.bytes(ap(lidTimeZoneStruct))
	}
	a.BusyStatus, _ = b.int(ap(lidBusyStatus))
	a.MeetingStatus, _ = b.int(ap(lidAppointmentStateFlags))
	a.ResponseStatus, _ = b.int(ap(lidResponseStatus))
	a.ReminderMinutes, _ = b.int(f.lid(psetidCommon, lidReminderDelta))
	if a.CleanGlobalObjectID == nil && len(a.GlobalObjectID) >= 20 {
		// MS-OXOCAL 2.2.1.27: the clean id is the global id with the
		// instance date (bytes 16..19) zeroed.
		a.CleanGlobalObjectID = bytes.Clone(a.GlobalObjectID)
		copy(a.CleanGlobalObjectID[16:20], []byte{0, 0, 0, 0})
	}
	a.UID = goidUID(a.CleanGlobalObjectID)
	if a.UID == "" {
		a.UID = goidUID(a.GlobalObjectID)
	}
	for _, r := range recips {
		if r.Organizer {
			a.OrganizerName, a.OrganizerAddress = r.Name, r.Address
			continue
		}
		a.Attendees = append(a.Attendees, r)
	}
	if a.OrganizerName == "" && a.OrganizerAddress == "" {
		a.OrganizerName = b.str(tagSentRepresentingName)
		a.OrganizerAddress = smtpOf(b.str(tagSentRepresentingSmtp), b.str(tagSentRepresentingEmail), b.str(tagSentRepresentingAddrType))
		if a.OrganizerName == "" {
			a.OrganizerName = b.str(tagSenderName)
			a.OrganizerAddress = smtpOf(b.str(tagSenderSmtpAddress), b.str(tagSenderEmailAddress), b.str(tagSenderAddrType))
		}
	}
	return a
}

// goidUID derives an iCalendar UID from a global object id (MS-OXCICAL
// 2.1.3.1.1.20.26): when the data part (after the 40-byte header) begins
// with "vCal-Uid" and a version of 1, the UID is the string that follows;
// otherwise it is the upper-case hex of the whole id.
func goidUID(g []byte) string {
	if len(g) == 0 {
		return ""
	}
	const hdr = 40
	if len(g) >= hdr+12 {
		data := g[hdr:]
		if string(data[:8]) == "vCal-Uid" && binary.LittleEndian.Uint32(data[8:12]) == 1 {
			return trimNUL(string(data[12:]))
		}
	}
	return strings.ToUpper(hex.EncodeToString(g))
}

// distList reads members from PidLidDistributionListOneOffMembers (one-off
// entry ids carry name and address), falling back to one-off entries in
// PidLidDistributionListMembers.
func (f *File) distList(b *bag) *DistList {
	d := &DistList{}
	// The two lists are parallel; prefer a resolvable Members entry (it
	// points at the contact) and fall back to the one-off copy.
	members := b.binaries(f.lid(psetidAddress, lidDistListMembers))
	oneOffs := b.binaries(f.lid(psetidAddress, lidDistListOneOffMembers))
	list := oneOffs
	if len(list) == 0 {
		list = members
	}
	for _, eid := range list {
		if r, ok := parseOneOff(eid); ok {
			d.Members = append(d.Members, r)
			continue
		}
		if r, ok := parseWrappedOneOff(eid); ok {
			d.Members = append(d.Members, r)
			continue
		}
		if nid, idx, ok := wrappedContact(eid); ok {
			if r, ok := f.memberFromContact(nid, idx); ok {
				d.Members = append(d.Members, r)
			}
		}
	}
	return d
}

// attachments reads the attachment table (MS-PST 2.4.6, subnode 0x671) and
// each attachment's property context.
func (f *File) attachments(b *bag, folder string, depth int) ([]*Attachment, error) {
	rows, err := f.subTable(b, nidAttachmentTable)
	if err != nil || rows == nil {
		return nil, err
	}
	var out []*Attachment
	for _, r := range rows {
		nid, ok := r.int(tagLtpRowID)
		if !ok {
			continue
		}
		ld, err := gopst.FindLocalDescriptor(gopst.Identifier(uint32(nid)), b.lds)
		if err != nil {
			return nil, fmt.Errorf("attachment %#x: %w", nid, err)
		}
		ab, err := f.subnodeBag(ld)
		if err != nil {
			return nil, err
		}
		ab.cp = b.cp
		a, err := f.attachment(ab, folder, depth)
		if err != nil {
			return nil, fmt.Errorf("attachment %#x: %w", nid, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// attachment reads one attachment (MS-OXCMSG 2.2.2).
func (f *File) attachment(ab *bag, folder string, depth int) (*Attachment, error) {
	a := &Attachment{
		Name:      ab.str(tagAttachLongFilename),
		MimeType:  ab.str(tagAttachMimeTag),
		ContentID: ab.str(tagAttachContentID),
	}
	if a.Name == "" {
		a.Name = ab.str(tagAttachFilename)
	}
	if a.Name == "" {
		a.Name = ab.str(tagDisplayName)
	}
	a.Method, _ = ab.int(tagAttachMethod)
	flags, _ := ab.int(tagAttachFlags)
	a.Inline = a.ContentID != "" || flags&attMHTMLRef != 0 || ab.bool(tagAttachmentHidden)
	if sz, ok := ab.int(tagAttachSize); ok {
		a.Size = int64(sz)
	}
	p, ok := ab.find(tagAttachDataBinary)
	if !ok {
		return a, nil
	}
	if p.Type == ptObject {
		if a.Method == 5 { // afEmbeddedMessage
			m, err := f.embedded(ab, p, folder, depth)
			if err != nil {
				return nil, fmt.Errorf("embedded message: %w", err)
			}
			a.Message = m
		}
		return a, nil
	}
	r, size, err := ab.reader(p)
	if err != nil {
		if len(p.Data) > 0 { // tiny inline value
			data := bytes.Clone(p.Data)
			a.Size = int64(len(data))
			a.Open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
			return a, nil
		}
		return nil, fmt.Errorf("content: %w", err)
	}
	a.Size = size
	a.Open = func() (io.ReadCloser, error) {
		return io.NopCloser(io.NewSectionReader(safeReaderAt{r}, 0, size)), nil
	}
	return a, nil
}

// embedded reads the message of an afEmbeddedMessage attachment: its
// PidTagAttachDataObject is an HNID of 8 bytes, the subnode NID of the
// message and its size (MS-PST 2.4.6.2.2 / 2.3.3.5: PtypObject).
func (f *File) embedded(ab *bag, p gopst.Property, folder string, depth int) (*Item, error) {
	if depth >= maxEmbeddedDepth {
		return nil, fmt.Errorf("nested deeper than %d", maxEmbeddedDepth)
	}
	v, _, ok := ab.raw(tagAttachDataBinary)
	if !ok || len(v) < 4 {
		return nil, fmt.Errorf("bad object reference (%d bytes)", len(v))
	}
	nid := binary.LittleEndian.Uint32(v)
	ld, err := gopst.FindLocalDescriptor(gopst.Identifier(nid), ab.lds)
	if err != nil {
		return nil, fmt.Errorf("subnode %#x: %w", nid, err)
	}
	mb, err := f.subnodeBag(ld)
	if err != nil {
		return nil, err
	}
	return f.readItem(mb, folder, 0, 0, depth+1)
}

// safeReaderAt turns a panic of go-pst's readers into an error: attachment
// content is read by the caller, outside the walk's recover.
type safeReaderAt struct{ r io.ReaderAt }

func (s safeReaderAt) ReadAt(p []byte, off int64) (n int, err error) {
	defer func() {
		if r := recover(); r != nil {
			n, err = 0, panicError(r)
		}
	}()
	return s.r.ReadAt(p, off)
}
