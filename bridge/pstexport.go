package bridge

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"crmbridge/crm"
	"crmbridge/crmstore"
	"crmbridge/pst"
	"crmbridge/pstwrite"
)

// pstEntities are the record types a PST holds (DESIGN.md mapping table).
var pstEntities = []crm.Entity{crm.Email, crm.Contact, crm.List, crm.Appointment, crm.Task}

// Property ids written for CRM fields: the inverse of what pst reads
// (MS-OXPROPS names in the comments).
const (
	tagImportance         = 0x0017 // PidTagImportance
	tagMessageClass       = 0x001A
	tagSensitivity        = 0x0036
	tagSubject            = 0x0037
	tagClientSubmitTime   = 0x0039
	tagSentReprName       = 0x0042
	tagStartDate          = 0x0060
	tagEndDate            = 0x0061
	tagSentReprAddrType   = 0x0064
	tagSentReprEmail      = 0x0065
	tagConversationTopic  = 0x0070
	tagTransportHeaders   = 0x007D
	tagRecipientType      = 0x0C15
	tagSenderName         = 0x0C1A
	tagSenderAddrType     = 0x0C1E
	tagSenderEmail        = 0x0C1F
	tagDisplayBcc         = 0x0E02
	tagDisplayCc          = 0x0E03
	tagDisplayTo          = 0x0E04
	tagDeliveryTime       = 0x0E06
	tagMessageFlags       = 0x0E07
	tagEntryID            = 0x0FFF
	tagObjectType         = 0x0FFE
	tagBody               = 0x1000
	tagHTML               = 0x1013
	tagMessageID          = 0x1035
	tagReferences         = 0x1039
	tagInReplyTo          = 0x1042
	tagDisplayName        = 0x3001
	tagAddrType           = 0x3002
	tagEmailAddress       = 0x3003
	tagCreationTime       = 0x3007
	tagLastModTime        = 0x3008
	tagAttachFilename     = 0x3704
	tagAttachMethod       = 0x3705
	tagAttachLongFilename = 0x3707
	tagRenderingPosition  = 0x370B
	tagAttachMimeTag      = 0x370E
	tagAttachContentID    = 0x3712
	tagAttachFlags        = 0x3714
	tagDisplayType        = 0x3900
	tagSMTPAddress        = 0x39FE
	tagInternetCodepage   = 0x3FDE
	tagSenderSMTP         = 0x5D01
	tagSentReprSMTP       = 0x5D02
	tagRecipientFlags     = 0x5FFD
	tagRecipientTrack     = 0x5FFF
)

// pstMessage maps a record to an Outlook item for pstwrite, the inverse of
// FromPST. ok is false for record types a PST does not hold.
func pstMessage(v *crmstore.View) (m *pstwrite.Message, ok bool, err error) {
	return pstMessageAt(v, 0, nil)
}

// pstMessageAt is pstMessage for a message attached depth levels deep.
// members are the records of an appointment's UID (its series) when v is
// a series master: the modified and canceled occurrences among them go
// into the series (foldExceptions).
func pstMessageAt(v *crmstore.View, depth int, members []*crmstore.View) (m *pstwrite.Message, ok bool, err error) {
	r := v.Record
	f := r.Fields
	var props []pstwrite.Prop
	str := func(k pstwrite.Key, field string) {
		if s := f[field]; s != "" {
			props = append(props, pstwrite.String(k, s))
		}
	}
	tm := func(k pstwrite.Key, field string) {
		if t, err := time.Parse(time.RFC3339, f[field]); err == nil {
			props = append(props, pstwrite.Time(k, t))
		}
	}
	tag := pstwrite.Tag
	addr := func(lid uint32) pstwrite.Key { return pstwrite.LID(pstwrite.PSETIDAddress, lid) }
	appt := func(lid uint32) pstwrite.Key { return pstwrite.LID(pstwrite.PSETIDAppointment, lid) }
	task := func(lid uint32) pstwrite.Key { return pstwrite.LID(pstwrite.PSETIDTask, lid) }
	common := func(lid uint32) pstwrite.Key { return pstwrite.LID(pstwrite.PSETIDCommon, lid) }

	m = &pstwrite.Message{}
	class := ""
	switch r.Entity {
	case crm.Email:
		class = "IPM.Note"
	case crm.Contact:
		class = "IPM.Contact"
	case crm.List:
		class = "IPM.DistList"
	case crm.Appointment:
		class = "IPM.Appointment"
	case crm.Task:
		class = "IPM.Task"
	default:
		return nil, false, nil
	}
	props = append(props, pstwrite.String(tag(tagMessageClass), class))
	if r.Entity != crm.Email {
		// MSGFLAG_READ: contacts, appointments, tasks and lists are not
		// "unread" (an e-mail sets its own flags below).
		props = append(props, pstwrite.Int32(tag(tagMessageFlags), 0x01))
	}
	// The item's source version on re-import is its last-modification time.
	if !v.ModifiedAt.IsZero() {
		props = append(props, pstwrite.Time(tag(tagLastModTime), v.ModifiedAt))
	}
	if !v.CreatedAt.IsZero() {
		props = append(props, pstwrite.Time(tag(tagCreationTime), v.CreatedAt))
	}
	str(tag(tagBody), "description")
	if h := f["descriptionhtml"]; h != "" {
		props = append(props, pstwrite.Binary(tag(tagHTML), []byte(h)), pstwrite.Int32(tag(tagInternetCodepage), 65001))
	}
	if n, err := strconv.Atoi(f["prioritycode"]); err == nil && n >= 0 && n <= 2 {
		props = append(props, pstwrite.Int32(tag(tagImportance), int32(n)))
	}
	if n, err := strconv.Atoi(f["sensitivity"]); err == nil {
		props = append(props, pstwrite.Int32(tag(tagSensitivity), int32(n)))
	}
	if c := f["categories"]; c != "" {
		var cats []string
		for _, s := range strings.Split(c, ",") {
			if s = strings.TrimSpace(s); s != "" {
				cats = append(cats, s)
			}
		}
		// PidNameKeywords (MS-OXCMSG 2.2.1.17).
		props = append(props, pstwrite.MVString(pstwrite.NameString(pstwrite.PSPublicStrings, "Keywords"), cats))
	}
	props = append(props, pstReminder(r.Entity, f)...)
	// The record's id, and a task's iCalendar UID, in crmbridge's own
	// property set (pst.PSETIDCrmbridge): read back as the record id and
	// the task's identity key (FromPST).
	own := pstwrite.MustGUID(pst.PSETIDCrmbridge)
	if r.ID != "" {
		props = append(props, pstwrite.String(pstwrite.NameString(own, "RecordId"), r.ID))
	}
	if r.Entity == crm.Task || r.Entity == crm.Appointment {
		str(pstwrite.NameString(own, "Uid"), "uid")
	}

	switch r.Entity {
	case crm.Email:
		str(tag(tagSubject), "subject")
		str(tag(tagConversationTopic), "subject")
		str(tag(tagMessageID), "messageid")
		str(tag(tagInReplyTo), "inreplyto")
		str(tag(tagReferences), "references")
		str(tag(tagTransportHeaders), "headers")
		tm(tag(tagClientSubmitTime), "senton")
		tm(tag(tagDeliveryTime), "receivedon")
		flags := int32(0x01) // MSGFLAG_READ: what the CRM holds has been dealt with
		if f["directioncode"] == "true" {
			flags |= 0x20 // MSGFLAG_FROMME (MS-OXCMSG 2.2.1.6)
		}
		if f["statecode"] == "0" && f["statuscode"] == "1" {
			flags |= 0x08 // MSGFLAG_UNSENT: a draft
		}
		props = append(props, pstwrite.Int32(tag(tagMessageFlags), flags))
		// The follow-up flag (MS-OXOFLAG 2.2.1): PidTagFlagStatus,
		// PidLidFlagRequest, the start and due dates of the mail's to-do,
		// PidTagFlagCompleteTime and PidTagFollowupIcon.
		if n, err := strconv.Atoi(f["flagstatus"]); err == nil && (n == 1 || n == 2) {
			props = append(props, pstwrite.Int32(tag(0x1090), int32(n)))
		}
		str(common(0x8530), "flagrequest")
		tm(task(0x8104), "flagstart")
		tm(task(0x8105), "flagdue")
		tm(tag(0x1091), "flagcompleted")
		if n, err := strconv.Atoi(f["flagicon"]); err == nil && n > 0 && n <= 6 {
			props = append(props, pstwrite.Int32(tag(0x1095), int32(n)))
		}
		var names [5][]string
		for _, p := range r.Parties {
			switch p.Role {
			case crm.RoleSender:
				// MS-OXOMSG 2.2.1.50-57: the author is the represented
				// mailbox; the sending one is the same unless the mail was
				// sent on the author's behalf (the SENDER extra).
				sn, sa := p.Name, p.Address
				for _, x := range r.Extras {
					if x.Name == crm.ExtraSender && x.Value != "" {
						sn, sa = x.Params["CN"], x.Value
						break
					}
				}
				props = append(props,
					pstwrite.String(tag(tagSenderName), sn), pstwrite.String(tag(tagSenderEmail), sa),
					pstwrite.String(tag(tagSenderAddrType), "SMTP"), pstwrite.String(tag(tagSenderSMTP), sa),
					pstwrite.String(tag(tagSentReprName), p.Name), pstwrite.String(tag(tagSentReprEmail), p.Address),
					pstwrite.String(tag(tagSentReprAddrType), "SMTP"), pstwrite.String(tag(tagSentReprSMTP), p.Address))
			case crm.RoleTo, crm.RoleCc, crm.RoleBcc:
				typ := p.Role - crm.RoleTo + 1 // MAPI_TO 1, MAPI_CC 2, MAPI_BCC 3
				m.Recipients = append(m.Recipients, pstRecipient(p, typ, 0, 0))
				names[typ] = append(names[typ], displayOf(p))
			}
		}
		for typ, tg := range map[int]uint16{1: tagDisplayTo, 2: tagDisplayCc, 3: tagDisplayBcc} {
			if len(names[typ]) > 0 {
				props = append(props, pstwrite.String(tag(tg), strings.Join(names[typ], "; ")))
			}
		}
		if err := addAttachments(m, r.Attachments, depth); err != nil {
			return nil, true, err
		}
	case crm.Contact:
		// PidTagSendRichInfo (MS-OXPROPS 2.1005): Outlook keeps it on
		// e-mail-enabled contacts; libpst (readpst) recognises a contact only
		// by such a tagged contact property, and a contact with nothing but
		// an e-mail address has no other.
		props = append(props, pstwrite.Bool(tag(0x3A40), false))
		full := f["fullname"]
		if full == "" {
			full = strings.Join(strings.Fields(f["firstname"]+" "+f["middlename"]+" "+f["lastname"]), " ")
		}
		if full != "" {
			props = append(props, pstwrite.String(tag(tagSubject), full), pstwrite.String(tag(tagDisplayName), full),
				pstwrite.String(addr(0x8005), full)) // PidLidFileUnder
		}
		for field, id := range map[string]uint16{
			"salutation": 0x3A45, "firstname": 0x3A06, "middlename": 0x3A44, "lastname": 0x3A11, "suffix": 0x3A05,
			"nickname": 0x3A4F, "telephone1": 0x3A08, "telephone2": 0x3A09, "telephone3": 0x3A1F, "mobilephone": 0x3A1C,
			"fax": 0x3A24, "pager": 0x3A21, "jobtitle": 0x3A17, "department": 0x3A18, "company": 0x3A16,
			"spousesname": 0x3A48, "websiteurl": 0x3A51,
		} {
			str(tag(id), field)
		}
		// Dates a user sees: 00:00 UTC of that day (pst reads them back so).
		for field, id := range map[string]uint16{"birthdate": 0x3A42, "anniversary": 0x3A41} {
			if d, err := time.Parse("2006-01-02", f[field]); err == nil {
				props = append(props, pstwrite.Time(tag(id), d))
			}
		}
		// MS-OXOCNTC 2.2.1.2: Email1..3 as named properties, 0x10 apart.
		var list []int32
		for i := range 3 {
			a := f[fmt.Sprintf("emailaddress%d", i+1)]
			if a == "" {
				continue
			}
			off := uint32(i) * 0x10
			disp := a
			if full != "" {
				disp = full + " (" + a + ")"
			}
			props = append(props,
				pstwrite.String(addr(0x8083+off), a), pstwrite.String(addr(0x8082+off), "SMTP"),
				pstwrite.String(addr(0x8080+off), disp), pstwrite.String(addr(0x8084+off), a),
				pstwrite.Binary(addr(0x8085+off), oneOff(disp, "SMTP", a)))
			list = append(list, int32(i))
		}
		if len(list) > 0 {
			// PidLidAddressBookProviderEmailList and ...ArrayType: which of
			// the three Outlook shows.
			var mask int32
			b := make([]byte, 0, 4*len(list))
			for _, i := range list {
				mask |= 1 << i
				b = binary.LittleEndian.AppendUint32(b, uint32(i))
			}
			props = append(props, pstwrite.Prop{Key: addr(0x8028), Type: pstwrite.TypeMVInt32, Value: b}, pstwrite.Int32(addr(0x8029), mask))
		}
		lines := func(n string) string {
			var ls []string
			for _, k := range []string{"line1", "line2", "line3"} {
				if s := f["address"+n+"_"+k]; s != "" {
					ls = append(ls, s)
				}
			}
			return strings.Join(ls, "\r\n")
		}
		setAddr := func(n string, street, city, state, postal, country, pobox pstwrite.Key) {
			if s := lines(n); s != "" {
				props = append(props, pstwrite.String(street, s))
			}
			str(city, "address"+n+"_city")
			str(state, "address"+n+"_stateorprovince")
			str(postal, "address"+n+"_postalcode")
			str(country, "address"+n+"_country")
			str(pobox, "address"+n+"_postofficebox")
		}
		setAddr("1", addr(0x8045), addr(0x8046), addr(0x8047), addr(0x8048), addr(0x8049), addr(0x804A)) // PidLidWorkAddress*
		setAddr("2", tag(0x3A5D), tag(0x3A59), tag(0x3A5C), tag(0x3A5B), tag(0x3A5A), tag(0x3A5E))       // PidTagHomeAddress*
		setAddr("3", tag(0x3A63), tag(0x3A5F), tag(0x3A62), tag(0x3A61), tag(0x3A60), tag(0x3A64))       // PidTagOtherAddress*
		// MS-OXOCNTC 2.2.1.8: the contact's picture is an attachment
		// flagged PidTagAttachmentContactPhoto, with PidLidHasPicture set;
		// the first image attachment is the photo (as the vCard PHOTO).
		photo := false
		for _, a := range r.Attachments {
			pa, err := pstAttachment(a, depth)
			if err != nil {
				return nil, true, fmt.Errorf("attachment %q: %w", a.Name, err)
			}
			if !photo && strings.HasPrefix(strings.ToLower(a.MimeType), "image/") {
				photo = true
				pa.Props = append(pa.Props, pstwrite.Bool(tag(0x7FFF), true))
				props = append(props, pstwrite.Bool(addr(0x8015), true))
			}
			m.Attachments = append(m.Attachments, pa)
		}
	case crm.List:
		str(tag(tagSubject), "listname")
		str(tag(tagDisplayName), "listname")
		str(addr(0x8053), "listname") // PidLidDistributionListName
		var ids [][]byte
		for _, p := range r.Members {
			ids = append(ids, oneOff(p.Name, "SMTP", p.Address))
		}
		if len(ids) > 0 {
			// MS-OXOCNTC 2.2.2.2.1-2: parallel lists of members; one-off
			// entry ids carry name and address themselves.
			props = append(props, pstwrite.MVBinary(addr(0x8055), ids), pstwrite.MVBinary(addr(0x8054), ids))
		}
	case crm.Task:
		str(tag(tagSubject), "subject")
		tm(task(0x8104), "scheduledstart") // PidLidTaskStartDate
		tm(task(0x8105), "scheduledend")   // PidLidTaskDueDate
		tm(task(0x810F), "actualend")      // PidLidTaskDateCompleted
		if pc, err := strconv.Atoi(f["percentcomplete"]); err == nil {
			props = append(props, pstwrite.Float64(task(0x8102), float64(pc)/100))
		}
		status, ok := map[string]int32{"2": 0, "3": 1, "5": 2, "4": 3, "7": 4}[f["statuscode"]]
		if !ok && f["statecode"] == "1" {
			status, ok = 2, true
		}
		if ok {
			props = append(props, pstwrite.Int32(task(0x8101), status))
		}
		props = append(props, pstwrite.Bool(task(0x811C), f["statecode"] == "1"))
		// The owner and the attendees (an iCalendar VTODO's ORGANIZER and
		// ATTENDEEs) as recipient rows, flagged as an appointment's are.
		addAttendees(m, r.Parties)
		if err := addAttachments(m, r.Attachments, depth); err != nil {
			return nil, true, err
		}
	case crm.Appointment:
		str(tag(tagSubject), "subject")
		str(appt(0x8208), "location")
		// PidLidAppointmentStartWhole/EndWhole, PidLidCommonStart/End,
		// PidTagStartDate/EndDate. Named ids are assigned in first-use
		// order, so the order here is fixed (no map).
		for _, k := range []pstwrite.Key{appt(0x820D), common(0x8516), tag(tagStartDate)} {
			tm(k, "scheduledstart")
		}
		for _, k := range []pstwrite.Key{appt(0x820E), common(0x8517), tag(tagEndDate)} {
			tm(k, "scheduledend")
		}
		props = append(props, pstwrite.Bool(appt(0x8215), f["isalldayevent"] == "true"))
		if goid := appointmentGOID(f["globalobjectid"], f["uid"]); goid != nil {
			clean := append([]byte(nil), goid...)
			copy(clean[16:20], []byte{0, 0, 0, 0})
			// MS-OXOCAL 2.2.1.27: the id of an occurrence carries its
			// original date, the clean id (2.2.1.28) none.
			goid = append([]byte(nil), clean...)
			copy(goid[16:20], instanceDate(f))
			meeting := func(lid uint32) pstwrite.Key { return pstwrite.LID(pstwrite.PSETIDMeeting, lid) }
			props = append(props, pstwrite.Binary(meeting(0x0003), goid), pstwrite.Binary(meeting(0x0023), clean))
		}
		// The record's zone (its "timezone" field, UTC when it has none):
		// PidLidAppointmentTimeZoneDefinitionStartDisplay/EndDisplay
		// (MS-OXOCAL 2.2.1.41) say which zone Outlook shows the times in.
		zone := recordZone(f["timezone"], f["timezoneblob"])
		start, _ := time.Parse(time.RFC3339, f["scheduledstart"])
		end, _ := time.Parse(time.RFC3339, f["scheduledend"])
		year, endYear := start.In(zone.loc).Year(), end.In(zone.loc).Year()
		display := zone.tzDefinition(year, max(year, endYear), false)
		props = append(props, pstwrite.Binary(appt(0x825E), display), pstwrite.Binary(appt(0x825F), display))
		if rec := f["recurrence"]; rec != "" {
			// PidLidRecurrencePattern: the text, read back as the record's
			// recurrence; PidLidRecurring and the blob when the rule has an
			// Outlook form.
			props = append(props, pstwrite.String(appt(0x8232), rec))
			// A rule Outlook cannot hold (RSCALE, hourly, ...) is not flagged
			// recurring: a flag without its blob reads as a wrong series
			// (readpst shows a daily one).
			if rc, ok := parseRecurrence(rec, start, end, zone.loc); ok {
				rc.foldExceptions(v, members)
				for _, e := range rc.exceptions {
					a, err := exceptionAttachment(e, depth)
					if err != nil {
						return nil, true, fmt.Errorf("occurrence %s: %w", e.origUTC.Format(time.RFC3339), err)
					}
					m.Attachments = append(m.Attachments, a)
				}
				props = append(props, pstwrite.Bool(appt(0x8223), true))
				// PidLidClipStart/End (MS-OXOCAL 2.2.1.14-15): the first and
				// last day at 00:00 local time, in UTC.
				local := func(d time.Time) time.Time {
					return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, zone.loc)
				}
				clipEnd := time.Date(4500, 8, 31, 23, 59, 0, 0, time.UTC)
				lastYear := year + openEndYears
				if !rc.end.IsZero() {
					clipEnd = local(rc.end)
					lastYear = rc.end.Year()
				}
				props = append(props,
					pstwrite.Binary(appt(0x8216), rc.blob()),                               // PidLidAppointmentRecur
					pstwrite.Int32(appt(0x8231), rc.recurType),                             // PidLidRecurrenceType
					pstwrite.Time(appt(0x8235), local(rc.start)),                           // PidLidClipStart
					pstwrite.Time(appt(0x8236), clipEnd),                                   // PidLidClipEnd
					pstwrite.Binary(appt(0x8260), zone.tzDefinition(year, lastYear, true)), // PidLidAppointmentTimeZoneDefinitionRecur
					pstwrite.Binary(appt(0x8233), zone.tzStruct(year)),                     // PidLidTimeZoneStruct
					pstwrite.Bool(pstwrite.LID(pstwrite.PSETIDMeeting, 0x0005), true))      // PidLidIsRecurring
			} else if k, ex, ok := keptSeriesOf(v, members, zone.loc); ok {
				// Outlook's own series, kept from the PST it came from, with
				// the exception attachments of its modified instances.
				for _, e := range ex {
					a, err := exceptionAttachment(e, depth)
					if err != nil {
						return nil, true, fmt.Errorf("occurrence %s: %w", e.origUTC.Format(time.RFC3339), err)
					}
					m.Attachments = append(m.Attachments, a)
				}
				local := func(d time.Time) time.Time {
					return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, zone.loc)
				}
				clipEnd := time.Date(4500, 8, 31, 23, 59, 0, 0, time.UTC)
				if !k.end.IsZero() {
					clipEnd = local(k.end)
				}
				tz, tzs := k.tz, tzStructOf(k.tz)
				if tz == nil || tzs == nil {
					lastYear := year + openEndYears
					if !k.end.IsZero() {
						lastYear = k.end.Year()
					}
					tz, tzs = zone.tzDefinition(year, lastYear, true), zone.tzStruct(year)
				}
				props = append(props, pstwrite.Bool(appt(0x8223), true),
					pstwrite.Binary(appt(0x8216), k.blob),
					pstwrite.Int32(appt(0x8231), k.recurType),
					pstwrite.Time(appt(0x8235), local(k.start)),
					pstwrite.Time(appt(0x8236), clipEnd),
					pstwrite.Binary(appt(0x8260), tz),
					pstwrite.Binary(appt(0x8233), tzs),
					pstwrite.Bool(pstwrite.LID(pstwrite.PSETIDMeeting, 0x0005), true))
			}
		}
		if depth == 0 {
			// An occurrence written as an item of its own (one that is
			// not an instance of its series, or whose series is not
			// here): PidLidExceptionReplaceTime says which occurrence it
			// replaces (MS-OXOCAL 2.2.1.45), read back as its recurrence
			// id. Inside a series the exception attachment sets it.
			tm(appt(0x8228), "recurrenceid")
		}
		str(appt(0x8234), "timezone")
		if n, err := strconv.Atoi(f["busystatus"]); err == nil {
			props = append(props, pstwrite.Int32(appt(0x8205), int32(n)))
		}
		var state int32
		if f["ismeeting"] == "true" {
			state |= 1 // asfMeeting (MS-OXOCAL 2.2.1.10)
		}
		if f["statecode"] == "2" {
			state |= 4 // asfCanceled
		}
		props = append(props, pstwrite.Int32(appt(0x8217), state))
		if sc := r.Schedule; sc != nil {
			// The iTIP version the store holds, read back as the meeting's
			// SEQUENCE and DTSTAMP: PidLidAppointmentSequence (MS-OXOCAL
			// 2.2.1.1) and PidLidOwnerCriticalChange (2.2.1.31).
			props = append(props, pstwrite.Int32(appt(0x8201), int32(sc.Sequence)))
			if !sc.Stamp.IsZero() {
				props = append(props, pstwrite.Time(pstwrite.LID(pstwrite.PSETIDMeeting, 0x001A), sc.Stamp))
			}
		}
		for _, p := range addAttendees(m, r.Parties) {
			props = append(props, pstwrite.String(tag(tagSentReprName), p.Name), pstwrite.String(tag(tagSentReprEmail), p.Address),
				pstwrite.String(tag(tagSentReprAddrType), "SMTP"), pstwrite.String(tag(tagSentReprSMTP), p.Address))
		}
		if err := addAttachments(m, r.Attachments, depth); err != nil {
			return nil, true, err
		}
	}
	// Extras that name a property the reader keeps (pst/kept.go: the
	// MAPI properties of a PST or .msg source) are written back as that
	// property, the others to crmbridge's Extras property.
	kept, rest := pstKeptProps(r.Entity == crm.Contact, r.Extras, props)
	props = append(props, kept...)
	if xs := pstExtras(rest); len(xs) > 0 {
		props = append(props, pstwrite.MVString(pstwrite.NameString(own, "Extras"), xs))
	}
	m.Props = props
	return m, true, nil
}

// trackStatus maps an iCalendar PARTSTAT to PidTagRecipientTrackStatus.
var trackStatus = map[string]int32{"TENTATIVE": 2, "ACCEPTED": 3, "DECLINED": 4}

func displayOf(p crm.Party) string {
	if p.Name != "" {
		return p.Name
	}
	return p.Address
}

// pstRecipient is one recipient table row (MS-OXCMSG 2.2.3, MS-PST 2.4.5.3).
// addAttendees adds an appointment's or task's organizer and attendees to
// m as recipient rows, flagged as Outlook flags a meeting's, and returns
// the organizers.
func addAttendees(m *pstwrite.Message, parties []crm.Party) (organizers []crm.Party) {
	for _, p := range parties {
		switch p.Role {
		case crm.RoleOrganizer:
			m.Recipients = append(m.Recipients, pstRecipient(p, 1, 0x3, 0)) // recipSendable | recipOrganizer
			organizers = append(organizers, p)
		case crm.RoleRequired, crm.RoleOptional:
			typ := 1
			if p.Role == crm.RoleOptional {
				typ = 2
			}
			m.Recipients = append(m.Recipients, pstRecipient(p, typ, 0x1, trackStatus[p.Status]))
		}
	}
	return organizers
}

// addAttachments adds a record's attachments to m.
func addAttachments(m *pstwrite.Message, as []crm.Attachment, depth int) error {
	for _, a := range as {
		pa, err := pstAttachment(a, depth)
		if err != nil {
			return fmt.Errorf("attachment %q: %w", a.Name, err)
		}
		m.Attachments = append(m.Attachments, pa)
	}
	return nil
}

func pstRecipient(p crm.Party, typ int, flags, track int32) []pstwrite.Prop {
	tag := pstwrite.Tag
	name := displayOf(p)
	row := []pstwrite.Prop{
		pstwrite.Int32(tag(tagRecipientType), int32(typ)),
		pstwrite.String(tag(tagDisplayName), name),
		pstwrite.String(tag(tagAddrType), "SMTP"),
		pstwrite.String(tag(tagEmailAddress), p.Address),
		pstwrite.String(tag(tagSMTPAddress), p.Address),
		pstwrite.Binary(tag(tagEntryID), oneOff(name, "SMTP", p.Address)),
		pstwrite.Int32(tag(tagObjectType), 6),  // MAPI_MAILUSER
		pstwrite.Int32(tag(tagDisplayType), 0), // DT_MAILUSER
	}
	if flags != 0 {
		row = append(row, pstwrite.Int32(tag(tagRecipientFlags), flags))
	}
	if track != 0 {
		row = append(row, pstwrite.Int32(tag(tagRecipientTrack), track))
	}
	return row
}

// oneOff builds a Unicode one-off entry id (MS-OXCDATA 2.2.5.1).
func oneOff(name, addrType, address string) []byte {
	b := make([]byte, 4, 64)
	b = append(b, 0x81, 0x2B, 0x1F, 0xA4, 0xBE, 0xA3, 0x10, 0x19, 0x9D, 0x6E, 0x00, 0xDD, 0x01, 0x0F, 0x54, 0x02)
	b = append(b, 0, 0, 0x01, 0x90) // version 0; flags: Unicode, no rich info
	for _, s := range []string{name, addrType, address} {
		for _, c := range utf16.Encode([]rune(s)) {
			b = binary.LittleEndian.AppendUint16(b, c)
		}
		b = append(b, 0, 0)
	}
	return b
}

// instanceDate is the Year, Month and Day fields of the global object id
// of an occurrence (MS-OXOCAL 2.2.1.27: year big-endian, month, day), the
// date of its original start: in the record's zone, where the series
// repeats (the reader combines it with the series' start time there,
// occurrenceOf); the date itself for an all-day occurrence, whose
// recurrence id is a DATE (00:00 UTC). Zero for a record that is no
// occurrence, and for an all-day one whose recurrence id is not a date
// (an occurrence that is no instance of its series: the reader keeps
// PidLidExceptionReplaceTime for it as it is).
func instanceDate(f map[string]string) []byte {
	rid, err := time.Parse(time.RFC3339, f["recurrenceid"])
	if err != nil {
		return []byte{0, 0, 0, 0}
	}
	d := rid.UTC()
	if f["isalldayevent"] == "true" {
		if d.Hour() != 0 || d.Minute() != 0 || d.Second() != 0 {
			return []byte{0, 0, 0, 0}
		}
	} else {
		d = rid.In(recordZone(f["timezone"], f["timezoneblob"]).loc)
	}
	return []byte{byte(d.Year() >> 8), byte(d.Year()), byte(d.Month()), byte(d.Day())}
}

// appointmentGOID returns the global object id: the one the record kept,
// else one that carries the iCalendar UID (MS-OXCICAL 2.1.3.1.1.20.26).
func appointmentGOID(hexID, uid string) []byte {
	if b, err := hex.DecodeString(hexID); err == nil && len(b) >= 20 {
		return b
	}
	if uid == "" {
		return nil
	}
	if b, err := hex.DecodeString(uid); err == nil && len(b) >= 40 && strings.EqualFold(hex.EncodeToString(b), uid) {
		return b // a UID that is the hex of an Outlook id
	}
	data := append([]byte("vCal-Uid\x01\x00\x00\x00"), uid...)
	data = append(data, 0)
	g := []byte{0x04, 0x00, 0x00, 0x00, 0x82, 0x00, 0xE0, 0x00, 0x74, 0xC5, 0xB7, 0x10, 0x1A, 0x82, 0xE0, 0x08}
	g = append(g, make([]byte, 4+8+8)...) // instance date, creation time, reserved
	g = binary.LittleEndian.AppendUint32(g, uint32(len(data)))
	return append(g, data...)
}

// pstAttachment maps an attachment; its content is read when the message
// is written. An attached e-mail (message/rfc822, as the import keeps a
// PST's embedded message) becomes an embedded message again
// (pstEmbedded).
func pstAttachment(a crm.Attachment, depth int) (pstwrite.Attachment, error) {
	tag := pstwrite.Tag
	props := []pstwrite.Prop{
		pstwrite.Int32(tag(tagAttachMethod), 1), // afByValue
		pstwrite.String(tag(tagAttachLongFilename), a.Name),
		pstwrite.String(tag(tagAttachFilename), a.Name),
		pstwrite.String(tag(tagDisplayName), a.Name),
		pstwrite.String(tag(tagAttachMimeTag), a.MimeType),
		pstwrite.String(tag(tagAttachContentID), a.ContentID),
		pstwrite.Int32(tag(tagRenderingPosition), -1),
	}
	if a.Inline {
		props = append(props, pstwrite.Int32(tag(tagAttachFlags), 4)) // attRenderedInBody... ATT_MHTML_REF
	}
	pa := pstwrite.Attachment{Props: props}
	if m, ok := pstEmbedded(a, depth); ok {
		props[0] = pstwrite.Int32(tag(tagAttachMethod), 5) // afEmbeddedMessage
		pa.Embedded = m
		return pa, nil
	}
	if a.Open != nil {
		rc, err := a.Open()
		if err != nil {
			return pa, err
		}
		pa.Data = &closingReader{rc: rc}
	}
	return pa, nil
}

// closingReader closes its ReadCloser at EOF or on error.
type closingReader struct{ rc io.ReadCloser }

func (c *closingReader) Read(p []byte) (int, error) {
	if c.rc == nil {
		return 0, io.EOF
	}
	n, err := c.rc.Read(p)
	if err != nil {
		c.rc.Close()
		c.rc = nil
	}
	return n, err
}

// pstFolders gives the folder of each record: the PST folder it came from
// (its "folder" field), else the standard folder for its type.
type pstFolders struct {
	w   *pstwrite.Writer
	ids map[string]pstwrite.FolderID
}

// standardFolders are created in every PST, in this order.
var standardFolders = []struct{ name, class string }{
	{"Inbox", "IPF.Note"}, {"Sent Items", "IPF.Note"}, {"Contacts", "IPF.Contact"},
	{"Calendar", "IPF.Appointment"}, {"Tasks", "IPF.Task"},
}

var entityFolder = map[crm.Entity]string{
	crm.Contact: "Contacts", crm.List: "Contacts", crm.Appointment: "Calendar", crm.Task: "Tasks",
}

var entityClass = map[crm.Entity]string{
	crm.Email: "IPF.Note", crm.Contact: "IPF.Contact", crm.List: "IPF.Contact", crm.Appointment: "IPF.Appointment", crm.Task: "IPF.Task",
}

func newPSTFolders(w *pstwrite.Writer) (*pstFolders, error) {
	pf := &pstFolders{w: w, ids: map[string]pstwrite.FolderID{"Deleted Items": pstwrite.DeletedItems}}
	for _, s := range standardFolders {
		id, err := w.Folder(pstwrite.IPMSubtree, s.name, s.class)
		if err != nil {
			return nil, err
		}
		pf.ids[strings.ToLower(s.name)] = id
	}
	pf.ids["deleted items"] = pstwrite.DeletedItems
	w.SetSentItems(pf.ids["sent items"])
	return pf, nil
}

func (pf *pstFolders) folder(r crm.Record) (pstwrite.FolderID, error) {
	path := strings.Trim(r.Fields["folder"], "/")
	if path == "" {
		path = entityFolder[r.Entity]
		if r.Entity == crm.Email {
			path = "Inbox"
			if r.Fields["directioncode"] == "true" {
				path = "Sent Items"
			}
		}
	}
	parent, sofar := pstwrite.IPMSubtree, ""
	for _, name := range strings.Split(path, "/") {
		if name == "" {
			continue
		}
		if sofar != "" {
			sofar += "/"
		}
		sofar += strings.ToLower(name)
		id, ok := pf.ids[sofar]
		if !ok {
			var err error
			if id, err = pf.w.Folder(parent, name, entityClass[r.Entity]); err != nil {
				return 0, err
			}
			pf.ids[sofar] = id
		}
		parent = id
	}
	return parent, nil
}

// pstOwned reports whether the PST at path carries crmbridge's mark and
// is unchanged since (pstwrite.Owned).
func pstOwned(path string) bool {
	fh, err := os.Open(path)
	if err != nil {
		return false
	}
	defer fh.Close()
	return pstwrite.Owned(fh)
}

// seriesFunc returns the live records of v's iCalendar UID (a series
// master and its modified occurrences), nil when there are none.
type seriesFunc func(v *crmstore.View) ([]*crmstore.View, error)

// writePST writes the records recs yields as a PST at path (through a
// temporary file that pstwrite renames at Close). A record it cannot
// build a message for is told to omit and left out; an error (of the
// file, or from failed: recs stopped early) leaves path as it was. It
// returns the records written, counting the modified occurrences written
// inside their series (series finds them; nil: none are).
func writePST(path string, recs iter.Seq[*crmstore.View], omit func(*crmstore.View, error), failed func() error, series seriesFunc) (int, error) {
	w, err := pstwrite.Create(path, pstwrite.Options{DisplayName: "crmbridge"})
	if err != nil {
		return 0, err
	}
	defer w.Abort()
	folders, err := newPSTFolders(w)
	if err != nil {
		return 0, err
	}
	n, seen := 0, 0
	for v := range recs {
		seen++
		var members []*crmstore.View
		if series != nil && v.Entity == crm.Appointment && (v.Fields["recurrence"] != "" || v.Fields["recurrenceid"] != "") {
			if members, err = series(v); err != nil {
				return n, err
			}
			if v.Fields["recurrenceid"] != "" && foldedIntoSeries(v, members) {
				n++ // written with its series
				continue
			}
			if seriesMaster(v, members) != v {
				members = nil // a second master of the UID keeps no occurrences
			}
		}
		m, ok, err := pstMessageAt(v, 0, members)
		if err != nil {
			omit(v, err)
			continue
		}
		if !ok {
			continue
		}
		f, err := folders.folder(v.Record)
		if err != nil {
			return n, err
		}
		if err := w.Add(f, m); err != nil {
			return n, fmt.Errorf("%s %s: %w", v.Entity, v.ID, err)
		}
		n++
	}
	if err := failed(); err != nil {
		return n, err
	}
	if n == 0 && seen > 0 {
		// Never empty a file while the selection is not empty.
		return 0, fmt.Errorf("none of its %d record(s) could be written", seen)
	}
	return n, w.Close()
}

// foldedIntoSeries reports whether the occurrence v is written inside its
// series master (one of members) rather than as an appointment of its own:
// the decision foldExceptions makes when the master is written.
func foldedIntoSeries(v *crmstore.View, members []*crmstore.View) bool {
	ms := seriesMaster(v, members)
	if ms == nil {
		return false
	}
	start, _ := time.Parse(time.RFC3339, ms.Fields["scheduledstart"])
	end, _ := time.Parse(time.RFC3339, ms.Fields["scheduledend"])
	loc := recordZone(ms.Fields["timezone"], ms.Fields["timezoneblob"]).loc
	rc, ok := parseRecurrence(ms.Fields["recurrence"], start, end, loc)
	if !ok {
		_, ex, ok := keptSeriesOf(ms, members, loc)
		return ok && slices.ContainsFunc(ex, func(e exception) bool { return e.v.ID == v.ID })
	}
	return slices.ContainsFunc(rc.foldExceptions(ms, members), func(x *crmstore.View) bool { return x.ID == v.ID })
}

// keptSeriesOf is the series kept from a PST on master (keptRecurrence)
// with its modified instances matched to their occurrence records; ok
// false when there is none, when the record's start or end was moved
// since (keptSeries.agrees: the record wins over the blob), or when an
// instance has lost its record.
func keptSeriesOf(master *crmstore.View, members []*crmstore.View, loc *time.Location) (keptSeries, []exception, bool) {
	k, ok := keptRecurrence(master.Fields)
	if !ok || !k.agrees(master.Fields, loc) {
		return k, nil, false
	}
	ex, ok := k.fold(master, members, loc)
	return k, ex, ok
}

// seriesMaster is the series master among members for v's UID: the first
// (members come oldest first) appointment with a recurrence and no
// recurrence id; when v itself is such a record and in members, the one
// equal to v is returned as v.
func seriesMaster(v *crmstore.View, members []*crmstore.View) *crmstore.View {
	for _, ms := range members {
		if ms.Entity == crm.Appointment && ms.Fields["recurrenceid"] == "" && ms.Fields["recurrence"] != "" && ms.Fields["uid"] == v.Fields["uid"] && v.Fields["uid"] != "" {
			if ms.ID == v.ID {
				return v
			}
			return ms
		}
	}
	return nil
}

// pstReminder maps the reminder field (a duration before the start, as an
// iCalendar TRIGGER gives it, or a time) to MS-OXORMDR's properties:
// PidLidReminderSet; for an appointment PidLidReminderDelta, whole minutes
// before the start (2.2.1.3; an absolute reminder is its distance from the
// start, rounded to the minute), PidLidReminderTime the start and
// PidLidReminderSignalTime when it goes off (2.2.1.4-5); for a task (and
// any other item) PidLidReminderTime and PidLidReminderSignalTime, the
// time it goes off (a duration counts from the start, RFC 5545 3.8.6.3).
// Nothing when the reminder cannot be placed in time: a duration without
// a start, a reminder after an appointment's start (Outlook's delta counts
// before it), or one beyond FILETIME's range.
func pstReminder(e crm.Entity, f map[string]string) []pstwrite.Prop {
	rem := strings.TrimSpace(f["reminder"])
	if rem == "" {
		return nil
	}
	common := func(lid uint32) pstwrite.Key { return pstwrite.LID(pstwrite.PSETIDCommon, lid) }
	start, errStart := time.Parse(time.RFC3339, f["scheduledstart"])
	at, err := time.Parse(time.RFC3339, rem)
	if err != nil {
		d, err := crm.ParseDuration(rem)
		if err != nil || errStart != nil {
			return nil
		}
		at = start.Add(d)
	}
	if at.Year() < 1601 || at.Year() > 30827 {
		return nil
	}
	set := pstwrite.Bool(common(0x8503), true) // PidLidReminderSet
	if e != crm.Appointment {
		return []pstwrite.Prop{set, pstwrite.Time(common(0x8502), at), pstwrite.Time(common(0x8560), at)}
	}
	if errStart != nil || at.After(start) {
		return nil
	}
	d := start.Sub(at)
	mins := d.Round(time.Minute) / time.Minute
	if at.Add(d) != start || mins > math.MaxInt32 { // beyond a Duration (292 years) or an int32 of minutes
		return nil
	}
	return []pstwrite.Prop{set, pstwrite.Int32(common(0x8501), int32(mins)), // PidLidReminderDelta
		pstwrite.Time(common(0x8502), start), pstwrite.Time(common(0x8560), start.Add(-mins*time.Minute))}
}

// pstExtra is one extra value as crmbridge's "Extras" property holds it
// (JSON, one string per value).
type pstExtra struct {
	Name   string            `json:"n"`
	Params map[string]string `json:"p,omitempty"`
	Value  string            `json:"v"`
}

// pstExtras encodes a record's extra values for crmbridge's "Extras"
// property: the values no Outlook property holds (a vCard's SOUND, an
// iCalendar URL or second VALARM, ...), so that a PST export read back
// gives them back (pstExtrasOf). Outlook keeps a named property it does
// not know with the item and shows nothing of it.
func pstExtras(xs []crm.Extra) []string {
	var out []string
	for _, x := range xs {
		b, err := json.Marshal(pstExtra{Name: x.Name, Params: x.Params, Value: x.Value})
		if err == nil {
			out = append(out, string(b))
		}
	}
	return out
}
