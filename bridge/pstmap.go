package bridge

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"crmbridge/bridge/item"
	"crmbridge/bridge/wintz"
	"crmbridge/crm"
	"crmbridge/pst"
)

// FromPST maps one Outlook item read from a PST to a CRM record, following
// the mapping table of DESIGN.md. It returns nil for items that have no CRM
// counterpart (sticky notes, journal entries, posts).
func FromPST(file string, it *pst.Item) *crm.Incoming {
	in := fromItem(it)
	if in == nil {
		return nil
	}
	in.Source.Kind = "pst"
	if in.Source.Key == "" {
		in.Source.Key = it.EntryID
	}
	in.Pos = fmt.Sprintf("%s: %s: item %d", file, it.Folder, it.Index)
	return in
}

// FromMSG maps the Outlook item of a .msg file to a CRM record with the
// same mapping, and the same identity keys, as FromPST: a mail that is
// both in a PST and a .msg is one record. It returns nil for items that
// have no CRM counterpart.
func FromMSG(file string, it *pst.Item) *crm.Incoming {
	in := fromItem(it)
	if in == nil {
		return nil
	}
	in.Source.Kind = "msg"
	in.Pos = file
	return in
}

// fromItem maps an Outlook item, whatever its container.
func fromItem(it *pst.Item) *crm.Incoming {
	var in *crm.Incoming
	switch it.Kind {
	case pst.KindEmail:
		in = pstEmail(it)
	case pst.KindContact:
		in = pstContact(it)
	case pst.KindTask:
		in = pstTask(it)
	case pst.KindAppointment:
		in = pstAppointment(it)
	case pst.KindDistList:
		in = pstDistList(it)
	default:
		return nil
	}
	pstKeptExtras(it, in)
	in.Source.Version = pstVersion(it)
	in.ModifiedAt = it.Modified
	// An item crmbridge exported carries its record's id (pstexport.go):
	// re-importing the export, here or into a fresh store, keeps record
	// ids, by the rule a vCard's or iCalendar's UID follows (claimID).
	claimID(in, it.RecordID)
	in.Record.Extras = pstExtrasOf(in.Record.Extras, it.Extras)
	f := in.Record.Fields
	item.SetIf(f, "folder", it.Folder)
	if len(it.Categories) > 0 {
		f["categories"] = strings.Join(it.Categories, ", ")
	}
	return in
}

// pstVersion is the item's source version: its last-modification time,
// or a hash of what it holds when the PST has no such time.
func pstVersion(it *pst.Item) string {
	if !it.Modified.IsZero() {
		return "m:" + it.Modified.UTC().Format(time.RFC3339Nano)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s", it.Class, it.Subject, it.Body, it.BodyHTML)
	return "h:" + hex.EncodeToString(h.Sum(nil))[:24]
}

func activityFields(it *pst.Item) map[string]string {
	f := map[string]string{}
	item.SetIf(f, "subject", it.Subject)
	item.SetIf(f, "description", it.Body)
	item.SetIf(f, "descriptionhtml", it.BodyHTML)
	if it.Importance >= 0 && it.Importance <= 2 {
		f["prioritycode"] = strconv.Itoa(it.Importance)
	}
	if it.Sensitivity >= 0 { // present, normal (0) included
		f["sensitivity"] = strconv.Itoa(it.Sensitivity)
	}
	return f
}

func pstEmail(it *pst.Item) *crm.Incoming {
	f := activityFields(it)
	rec := crm.Record{Entity: crm.Email, Fields: f, Parties: []crm.Party{}}
	e := it.Email
	if e == nil {
		e = &pst.Email{}
	}
	item.SetIf(f, "messageid", e.MessageID)
	item.SetIf(f, "inreplyto", e.InReplyTo)
	item.SetIf(f, "references", e.References)
	item.SetIf(f, "headers", e.Headers)
	item.SetIf(f, "senton", item.FormatTime(e.Sent))
	item.SetIf(f, "receivedon", item.FormatTime(e.Received))
	f["directioncode"] = strconv.FormatBool(e.Outgoing)
	// Dataverse email: statecode 1 (completed), statuscode 3 sent / 4
	// received; a draft (MSGFLAG_UNSENT) is statecode 0 (open), statuscode
	// 1 (draft).
	f["statecode"] = "1"
	switch {
	case e.Unsent:
		f["statecode"], f["statuscode"] = "0", "1"
	case e.Outgoing:
		f["statuscode"] = "3"
	default:
		f["statuscode"] = "4"
	}
	end := e.Sent
	if end.IsZero() {
		end = e.Received
	}
	item.SetIf(f, "actualend", item.FormatTime(end))
	// The follow-up flag (MS-OXOFLAG): a status of 0 (none) is no flag.
	if fl := e.Flag; fl.Status == 1 || fl.Status == 2 {
		f["flagstatus"] = strconv.Itoa(fl.Status)
	}
	item.SetIf(f, "flagrequest", e.Flag.Request)
	item.SetIf(f, "flagstart", item.FormatTime(e.Flag.Start))
	item.SetIf(f, "flagdue", item.FormatTime(e.Flag.Due))
	item.SetIf(f, "flagcompleted", item.FormatTime(e.Flag.Completed))
	if e.Flag.Icon > 0 {
		f["flagicon"] = strconv.Itoa(e.Flag.Icon)
	}
	if e.SenderAddress != "" || e.SenderName != "" {
		f["sender"] = formatAddress(e.SenderName, e.SenderAddress)
		rec.Parties = append(rec.Parties, crm.Party{Role: crm.RoleSender, Address: e.SenderAddress, Name: partyName(e.SenderName, e.SenderAddress)})
	}
	if e.OnBehalfAddress != "" {
		rec.Extras = append(rec.Extras, crm.SenderExtra(e.OnBehalfName, e.OnBehalfAddress))
	}
	var to []string
	for _, r := range e.Recipients {
		role := crm.RoleTo
		switch r.Type {
		case pst.RecipientCc:
			role = crm.RoleCc
		case pst.RecipientBcc:
			role = crm.RoleBcc
		}
		if role == crm.RoleTo && r.Address != "" {
			to = append(to, r.Address)
		}
		rec.Parties = append(rec.Parties, crm.Party{Role: role, Address: r.Address, Name: partyName(r.Name, r.Address)})
	}
	item.SetIf(f, "torecipients", strings.Join(to, ";"))
	rec.Attachments = pstAttachments(it)
	date := e.Sent
	if date.IsZero() {
		date = e.Received
	}
	return &crm.Incoming{
		Record: rec,
		Keys:   item.EmailKeys(e.MessageID, e.SenderAddress, date, it.Subject, it.Body),
	}
}

// partyName is a recipient's display name as a party's name: none when
// it is only the address. MAPI gives every recipient a display name
// (MS-OXCMSG 2.2.3: PidTagDisplayName), and Outlook, like crmbridge's
// writer, puts the address there when it knows no name.
func partyName(name, addr string) string {
	if strings.EqualFold(strings.TrimSpace(name), strings.TrimSpace(addr)) {
		return ""
	}
	return name
}

func formatAddress(name, addr string) string {
	switch {
	case name == "" || strings.EqualFold(name, addr):
		return addr
	case addr == "":
		return name
	}
	return fmt.Sprintf("%s <%s>", name, addr)
}

func pstAttachments(it *pst.Item) []crm.Attachment {
	out := []crm.Attachment{}
	for _, a := range it.Attachments {
		if isOccurrence(it, a) {
			continue // a record of its own (pstOccurrences)
		}
		if a.Open == nil {
			if a.Message != nil {
				out = append(out, embeddedAttachment(a))
			}
			continue
		}
		out = append(out, crm.Attachment{
			Name: a.Name, MimeType: a.MimeType, ContentID: a.ContentID, Inline: a.Inline, Size: a.Size, Open: a.Open,
		})
	}
	return out
}

func pstContact(it *pst.Item) *crm.Incoming {
	f := map[string]string{}
	c := it.Contact
	if c == nil {
		c = &pst.Contact{}
	}
	item.SetIf(f, "salutation", c.Prefix)
	item.SetIf(f, "firstname", c.GivenName)
	item.SetIf(f, "middlename", c.MiddleName)
	item.SetIf(f, "lastname", c.Surname)
	item.SetIf(f, "suffix", c.Generation)
	item.SetIf(f, "nickname", c.Nickname)
	full := c.DisplayName
	if full == "" {
		full = strings.Join(strings.Fields(c.GivenName+" "+c.MiddleName+" "+c.Surname), " ")
	}
	if full == "" {
		full = it.Subject
	}
	item.SetIf(f, "fullname", full)
	for i, e := range c.Emails {
		item.SetIf(f, fmt.Sprintf("emailaddress%d", i+1), e.Address)
	}
	item.SetIf(f, "telephone1", c.BusinessPhone)
	item.SetIf(f, "telephone2", c.HomePhone)
	item.SetIf(f, "telephone3", c.OtherPhone)
	item.SetIf(f, "mobilephone", c.MobilePhone)
	fax := c.BusinessFax
	if fax == "" {
		fax = c.HomeFax
	}
	item.SetIf(f, "fax", fax)
	var extras []crm.Extra
	// Values without a column are extras named as a vCard names them
	// (what Outlook's own vCard export writes), so that every writer
	// treats them as it treats a card's.
	extra := func(name, v string, params map[string]string) {
		if strings.TrimSpace(v) != "" {
			extras = append(extras, crm.Extra{Name: name, Value: v, Params: params})
		}
	}
	if c.BusinessFax != "" {
		extra("TEL", c.HomeFax, map[string]string{"TYPE": "home,fax"})
	}
	extra("X-MS-TEL", c.AssistantPhone, map[string]string{"TYPE": "assistant"})
	extra("ROLE", c.Profession, nil)
	extra("X-MS-MANAGER", c.Manager, nil)
	extra("X-MS-ASSISTANT", c.Assistant, nil)
	// The other string contact properties (pst.Contact.Other), named
	// X-MS-<MS-OXPROPS name>; a value a column already holds (the
	// transmittable display name is the full name) is not a new value.
	// The store derives fullname from the name parts, "first middle
	// last", as Dataverse does; a display name that says more or
	// otherwise ("Dr. Ann Lee", "Lee, Ann") is kept as given, as a
	// vCard's FN is (bridge/vcf map.go).
	if derived := strings.Join(strings.Fields(c.GivenName+" "+c.MiddleName+" "+c.Surname), " "); derived != "" &&
		strings.TrimSpace(c.DisplayName) != "" && strings.TrimSpace(c.DisplayName) != derived {
		extra("FN", c.DisplayName, nil)
	}
	held := map[string]bool{}
	for _, v := range f {
		held[v] = true
	}
	for _, p := range c.Other {
		for _, v := range p.Values {
			if !held[v] {
				extra("X-MS-"+strings.ToUpper(p.Name), v, nil)
			}
		}
	}
	item.SetIf(f, "pager", c.Pager)
	item.SetIf(f, "jobtitle", c.JobTitle)
	item.SetIf(f, "department", c.Department)
	item.SetIf(f, "company", c.Company)
	item.SetIf(f, "spousesname", c.SpouseName)
	item.SetIf(f, "websiteurl", c.WebPage)
	item.SetIf(f, "birthdate", item.FormatDate(c.Birthday))
	item.SetIf(f, "anniversary", item.FormatDate(c.Anniversary))
	item.SetIf(f, "description", it.Body)
	for n, a := range []pst.PostalAddress{c.BusinessAddress, c.HomeAddress, c.OtherAddress} {
		p := fmt.Sprintf("address%d_", n+1)
		lines := strings.Split(strings.ReplaceAll(a.Street, "\r\n", "\n"), "\n")
		for i, l := range lines {
			if i < 3 {
				item.SetIf(f, p+"line"+strconv.Itoa(i+1), strings.TrimSpace(l))
			}
		}
		if len(lines) > 3 {
			// A street of more lines than the three columns: kept whole.
			extra("X-MS-STREET", a.Street, map[string]string{"TYPE": []string{"work", "home", "other"}[n]})
		}
		item.SetIf(f, p+"city", a.City)
		item.SetIf(f, p+"stateorprovince", a.State)
		item.SetIf(f, p+"postalcode", a.PostalCode)
		item.SetIf(f, p+"country", a.Country)
		item.SetIf(f, p+"postofficebox", a.POBox)
	}
	return &crm.Incoming{
		Record: crm.Record{Entity: crm.Contact, Fields: f, Extras: extras, Attachments: pstAttachments(it)},
		Keys:   item.ContactKeys(c.Emails[0].Address),
	}
}

// Dataverse task statuscode by Outlook task status (MS-OXOTASK
// PidLidTaskStatus): not started 2, in progress 3, complete 5, waiting on
// someone else 4, deferred 7.
var taskStatus = map[int]string{0: "2", 1: "3", 2: "5", 3: "4", 4: "7"}

func pstTask(it *pst.Item) *crm.Incoming {
	f := activityFields(it)
	t := it.Task
	if t == nil {
		t = &pst.Task{}
	}
	item.SetIf(f, "scheduledstart", item.FormatTime(t.Start))
	item.SetIf(f, "scheduledend", item.FormatTime(t.Due))
	item.SetIf(f, "actualend", item.FormatTime(t.Completed))
	// A completed task without a percentage is 100 % done; one with its
	// own (an iCalendar COMPLETED task at PERCENT-COMPLETE:20) keeps it.
	pc := int(t.PercentComplete*100 + 0.5)
	if t.Complete && pc == 0 {
		pc = 100
	}
	f["percentcomplete"] = strconv.Itoa(pc)
	if t.Complete || t.Status == 2 {
		f["statecode"] = "1"
	} else {
		f["statecode"] = "0"
	}
	if s, ok := taskStatus[t.Status]; ok {
		f["statuscode"] = s
	}
	if t.ReminderSet && !t.ReminderTime.IsZero() {
		f["reminder"] = item.FormatTime(t.ReminderTime)
	}
	// A task's iCalendar UID, kept by crmbridge's PST writer: the same
	// identity key as the VTODO's.
	item.SetIf(f, "uid", it.UID)
	rec := crm.Record{Entity: crm.Task, Fields: f, Attachments: pstAttachments(it), Parties: []crm.Party{}}
	for _, r := range t.Recipients {
		role := crm.RoleRequired
		switch {
		case r.Organizer:
			role = crm.RoleOrganizer
		case r.Type == 2:
			role = crm.RoleOptional
		}
		rec.Parties = append(rec.Parties, crm.Party{Role: role, Address: r.Address, Name: partyName(r.Name, r.Address), Status: responseStatus(r.Response)})
	}
	return &crm.Incoming{Record: rec, Keys: item.TaskKeys(it.UID)}
}

func pstAppointment(it *pst.Item) *crm.Incoming {
	f := activityFields(it)
	a := it.Appointment
	if a == nil {
		a = &pst.Appointment{}
	}
	item.SetIf(f, "location", a.Location)
	item.SetIf(f, "scheduledstart", item.FormatTime(a.Start))
	item.SetIf(f, "scheduledend", item.FormatTime(a.End))
	f["isalldayevent"] = strconv.FormatBool(a.AllDay)
	if len(a.GlobalObjectID) > 0 {
		f["globalobjectid"] = hex.EncodeToString(a.GlobalObjectID)
	}
	// The UID crmbridge's writer kept beside the global object id it
	// derived from it: the same id, as the source spelt it (the case of
	// a hex UID).
	uid := a.UID
	if it.UID != "" && strings.EqualFold(it.UID, uid) {
		uid = it.UID
	}
	item.SetIf(f, "uid", uid)
	// A pattern text without the recurring flag is a rule Outlook cannot
	// hold as a series (crmbridge's own PSTs keep an iCalendar rule so).
	if a.Recurring || a.RecurrencePattern != "" {
		r := a.RecurrencePattern
		if r == "" {
			r = "recurring"
		}
		f["recurrence"] = r
	}
	item.SetIf(f, "timezone", a.TimeZone)
	// Outlook's own form of the series and its zone, written back as they
	// are when the record's pattern is still Outlook's description.
	// The zone's rules: those of a series' local times (written back with
	// the blob); for a zone its name does not give (a custom VTIMEZONE's
	// TZID written by crmbridge, a zone Outlook names in another language),
	// of any appointment, as the start's display definition states them:
	// the form the ICS reader keeps a custom zone in, so that the same
	// rules are the same value whichever file they came from.
	if len(a.RecurrenceBlob) > 0 {
		f["recurrenceblob"] = hex.EncodeToString(a.RecurrenceBlob)
		item.SetIf(f, "timezoneblob", hex.EncodeToString(a.TimeZoneRecur))
	}
	if _, err := wintz.Location(a.TimeZone); err != nil && a.TimeZone != "" {
		if _, _, _, err := wintz.ParseDefinition(a.TimeZoneBlob); err == nil {
			f["timezoneblob"] = hex.EncodeToString(a.TimeZoneBlob)
		}
	}
	f["busystatus"] = strconv.Itoa(a.BusyStatus)
	if a.ReminderSet {
		f["reminder"] = fmt.Sprintf("-PT%dM", a.ReminderMinutes)
	}
	meeting := a.MeetingStatus&1 != 0 || len(a.Attendees) > 0 || a.MeetingRequest
	f["ismeeting"] = strconv.FormatBool(meeting)
	// Dataverse appointment: statecode 3 scheduled (statuscode 5 busy),
	// 2 canceled (statuscode 4).
	if a.MeetingStatus&4 != 0 || strings.HasPrefix(strings.ToLower(it.Class), "ipm.schedule.meeting.canceled") {
		f["statecode"], f["statuscode"] = "2", "4"
	} else {
		f["statecode"], f["statuscode"] = "3", "5"
	}
	rec := crm.Record{Entity: crm.Appointment, Fields: f, Parties: []crm.Party{}}
	if a.OrganizerAddress != "" || a.OrganizerName != "" {
		rec.Parties = append(rec.Parties, crm.Party{Role: crm.RoleOrganizer, Address: a.OrganizerAddress, Name: partyName(a.OrganizerName, a.OrganizerAddress)})
	}
	for _, r := range a.Attendees {
		if r.Organizer {
			continue
		}
		role := crm.RoleRequired
		if r.Type == 2 || r.Type == 3 { // optional, resource
			role = crm.RoleOptional
		}
		rec.Parties = append(rec.Parties, crm.Party{Role: role, Address: r.Address, Name: partyName(r.Name, r.Address), Status: responseStatus(r.Response)})
	}
	rec.Attachments = pstAttachments(it)
	// The same meeting from another file, or as a meeting request and as
	// the calendar item, is one record through its UID.
	// An occurrence as an item of its own: the original start it
	// replaces is its recurrence id (pstOccurrences sets the same for one
	// inside its series).
	recID := occurrenceOf(a, a.AllDay, false)
	item.SetIf(f, "recurrenceid", item.FormatTime(recID))
	if !a.InstanceDate.IsZero() && len(a.GlobalObjectID) >= 20 {
		// The record of an occurrence keeps its series' id, as one read
		// from the series' exceptions does (pstOccurrences): the instance
		// date is its recurrenceid.
		g := bytes.Clone(a.GlobalObjectID)
		copy(g[16:20], []byte{0, 0, 0, 0})
		f["globalobjectid"] = hex.EncodeToString(g)
	}
	in := &crm.Incoming{Record: rec, Keys: item.EventKeys(uid, recID)}
	var partstat string
	in.Schedule, partstat = outlookSchedule(it.Class, a, meeting)
	if in.Schedule != nil && !in.Schedule.Changes() {
		// An answer names one attendee, its sender (MS-OXCICAL
		// 2.1.3.1.1.20.1: the ATTENDEE of a REPLY is the responder), with
		// the participation its class says; the recipients are the
		// organizer it is sent to.
		in.Record.Parties = nil
		if it.Email != nil && it.Email.SenderAddress != "" {
			in.Record.Parties = []crm.Party{{Role: crm.RoleRequired, Address: it.Email.SenderAddress, Name: it.Email.SenderName, Status: partstat}}
		}
	}
	return in
}

// occurrenceOf returns the RECURRENCE-ID of an Outlook appointment or
// meeting object that concerns one occurrence of a series (an exception,
// or a meeting request, response or cancellation for one occurrence), the
// zero time for a series or a single meeting. allDay says whether the
// series is all-day; inSeries that a is an exception read inside its
// series (whose all-day flag is then known, not only a's own).
// MS-OXCICAL 2.1.3.1.1.20.20 maps RECURRENCE-ID to
// PidLidExceptionReplaceTime, the occurrence's original start in UTC; a
// meeting object for one occurrence may carry only the original date, in
// its global object id (MS-OXOCAL 2.2.1.27, pst.Appointment.InstanceDate).
// The rules, in this order:
//
//   - an all-day series: a DATE (RFC 5545 3.8.4.4: RECURRENCE-ID has the
//     value type of the series' DTSTART), kept as the iCalendar reader
//     keeps one, 00:00 UTC: the instance date; without one, for an
//     exception inside its series, the date of the original start, which
//     Outlook stores as local midnight in UTC (rounded to the nearest
//     midnight, as pst reads date-only values). A standalone object
//     without an instance date keeps its original start as it is: an
//     occurrence that is not an instance of its series may have any;
//   - PidLidExceptionReplaceTime when the object has it: the exact
//     instant;
//   - else the instance date at the series' start time of day
//     (PidLidStartRecurrenceTime, which a meeting object of a series
//     carries; without it, the object's own start time of day, right for
//     an occurrence that was not moved) in the series' zone
//     (outlookZone): the wall time the series repeats at, so the instant
//     is right on both sides of a DST change. (Zimbra's TNEF converter
//     derives RECURRENCE-ID from the same properties.)
func occurrenceOf(a *pst.Appointment, allDay, inSeries bool) time.Time {
	switch {
	case a.InstanceDate.IsZero() && a.ExceptionReplaceTime.IsZero():
		return time.Time{}
	case allDay && !a.InstanceDate.IsZero():
		return a.InstanceDate
	case allDay && inSeries:
		t := a.ExceptionReplaceTime.UTC()
		if t.Hour() >= 12 {
			t = t.Add(24 * time.Hour)
		}
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	case !a.ExceptionReplaceTime.IsZero():
		return a.ExceptionReplaceTime.UTC()
	}
	loc := outlookZone(a)
	tod := a.StartRecurrenceTime
	if !a.HasStartRecurrenceTime {
		if a.Start.IsZero() {
			return time.Time{}
		}
		s := a.Start.In(loc)
		tod = time.Duration(s.Hour())*time.Hour + time.Duration(s.Minute())*time.Minute + time.Duration(s.Second())*time.Second
	}
	d := a.InstanceDate
	h, m, sec := int(tod/time.Hour), int(tod%time.Hour/time.Minute), int(tod%time.Minute/time.Second)
	return time.Date(d.Year(), d.Month(), d.Day(), h, m, sec, 0, loc).UTC()
}

// outlookZone is the zone of an appointment's series: its time-zone name
// (PidLidTimeZoneDescription) through package wintz, else the rules of
// its definitions (the recurrence's, then the start's); UTC when none
// gives one.
func outlookZone(a *pst.Appointment) *time.Location {
	if a.TimeZone != "" {
		if loc, err := wintz.Location(a.TimeZone); err == nil {
			return loc
		}
	}
	for _, def := range [][]byte{a.TimeZoneRecur, a.TimeZoneBlob} {
		if key, rules, _, err := wintz.ParseDefinition(def); err == nil {
			if loc, err := wintz.RulesLocation(key, rules); err == nil {
				return loc
			}
		}
	}
	return time.UTC
}

// outlookSchedule is the iTIP version of an Outlook meeting object, as
// MS-OXCICAL maps it: METHOD from the message class (2.1.3.1.1.1; a
// calendar item that is a meeting has none, as a plain iCalendar file),
// SEQUENCE from PidLidAppointmentSequence (2.1.3.1.1.20.23), DTSTAMP from
// PidLidAttendeeCriticalChange for a REPLY or COUNTER and from
// PidLidOwnerCriticalChange otherwise (2.1.3.1.1.20.8). A response
// (IPM.Schedule.Meeting.Resp.Pos, .Neg, .Tent) is a REPLY with the
// PARTSTAT of its class (ACCEPTED, DECLINED, TENTATIVE), or a COUNTER when
// it proposes a new time (PidLidAppointmentCounterProposal). It returns
// nil for an appointment that is no meeting and for meeting objects of
// other classes (a forward notification), which apply as before.
func outlookSchedule(class string, a *pst.Appointment, meeting bool) (s *crm.Schedule, partstat string) {
	c := strings.ToLower(class)
	is := func(prefix string) bool {
		return c == prefix || strings.HasPrefix(c, prefix+".")
	}
	s = &crm.Schedule{Sequence: a.Sequence, Stamp: a.OwnerCriticalChange}
	switch {
	case is("ipm.schedule.meeting.request"):
		s.Method = "REQUEST"
	case is("ipm.schedule.meeting.canceled"):
		s.Method = crm.MethodCancel
	case is("ipm.schedule.meeting.resp.pos"):
		s.Method, partstat = crm.MethodReply, "ACCEPTED"
	case is("ipm.schedule.meeting.resp.neg"):
		s.Method, partstat = crm.MethodReply, "DECLINED"
	case is("ipm.schedule.meeting.resp.tent"):
		s.Method, partstat = crm.MethodReply, "TENTATIVE"
	case is("ipm.appointment") && meeting:
	default:
		return nil, ""
	}
	if s.Method == crm.MethodReply {
		if a.CounterProposal {
			s.Method = crm.MethodCounter
		}
		s.Stamp = a.AttendeeCriticalChange
	}
	if !s.Stamp.IsZero() {
		s.Stamp = s.Stamp.UTC()
	}
	return s, partstat
}

// responseStatus maps PidTagRecipientTrackStatus to an iCalendar PARTSTAT.
func responseStatus(s int) string {
	switch s {
	case 2:
		return "TENTATIVE"
	case 3:
		return "ACCEPTED"
	case 4:
		return "DECLINED"
	}
	return ""
}

func pstDistList(it *pst.Item) *crm.Incoming {
	f := map[string]string{}
	item.SetIf(f, "listname", it.Subject)
	item.SetIf(f, "description", it.Body)
	rec := crm.Record{Entity: crm.List, Fields: f, Members: []crm.Party{}}
	if it.DistList != nil {
		for _, m := range it.DistList.Members {
			rec.Members = append(rec.Members, crm.Party{Address: m.Address, Name: partyName(m.Name, m.Address)})
		}
	}
	return &crm.Incoming{Record: rec}
}

// isOccurrence reports whether a is an exception attachment of the
// recurring appointment it (MS-OXOCAL 2.2.10.1): an embedded appointment
// with the original start of the occurrence it replaces.
func isOccurrence(it *pst.Item, a *pst.Attachment) bool {
	return it.Appointment != nil && a.Message != nil && a.Message.Appointment != nil &&
		!a.Message.Appointment.ExceptionReplaceTime.IsZero() &&
		strings.HasPrefix(strings.ToLower(a.Message.Class), "ipm.ole.class.{00061055-0000-0000-c000-000000000046}")
}

// seriesOnly are the fields of a series that an occurrence does not
// share: its pattern (as text and as Outlook's blob) and its body.
var seriesOnly = map[string]bool{"recurrence": true, "recurrenceblob": true, "timezoneblob": true, "description": true, "descriptionhtml": true}

// pstOccurrences maps the modified occurrences of a recurring appointment
// (its exception attachments) to appointment records of their own, as an
// iCalendar source gives them (RFC 5545 3.8.4.4 RECURRENCE-ID): the
// series' UID, the original start as recurrenceid, what the occurrence
// has (times, subject, location, attendees) from its embedded message,
// what it does not have from the series. The store links them to the
// series by UID.
func pstOccurrences(master *crm.Incoming, it *pst.Item) []*crm.Incoming {
	var out []*crm.Incoming
	for _, a := range it.Attachments {
		if !isOccurrence(it, a) {
			continue
		}
		m := a.Message
		in := pstAppointment(m)
		claimID(in, m.RecordID)
		in.Record.Extras = pstExtrasOf(in.Record.Extras, m.Extras)
		f := in.Record.Fields
		for k, v := range master.Record.Fields {
			if _, ok := f[k]; !ok && !seriesOnly[k] {
				f[k] = v
			}
		}
		if m.Subject == "" {
			item.SetIf(f, "subject", master.Record.Fields["subject"])
		}
		for k := range seriesOnly {
			if k != "description" && k != "descriptionhtml" {
				delete(f, k)
			}
		}
		uid := master.Record.Fields["uid"]
		item.SetIf(f, "uid", uid)
		item.SetIf(f, "globalobjectid", master.Record.Fields["globalobjectid"])
		recID := occurrenceOf(m.Appointment, master.Record.Fields["isalldayevent"] == "true", true)
		f["recurrenceid"] = item.FormatTime(recID)
		if len(in.Record.Parties) == 0 {
			in.Record.Parties = master.Record.Parties
		}
		in.Keys = item.EventKeys(uid, recID)
		in.Source = master.Source
		in.Source.Key = master.Source.Key + "/" + recID.UTC().Format("20060102T150405Z")
		in.ModifiedAt = master.ModifiedAt
		in.Pos = master.Pos + ": occurrence " + recID.UTC().Format(time.RFC3339)
		out = append(out, in)
	}
	return append(out, pstCancelledOccurrences(master)...)
}

// pstCancelledOccurrences reads back the cancelled occurrences that
// crmbridge's writer folds into a series as deleted instances
// (foldExceptions: the store held them as occurrence records with
// statecode 2): when the series' recurrence is an iCalendar rule (as
// crmbridge's own PSTs keep it), a date Outlook's blob deletes
// (DeletedInstanceDates, MS-OXOCAL 2.2.1.44.1) that is neither an EXDATE
// of the rule nor the original date of a modified instance was such an
// occurrence. Each becomes a cancelled appointment of the series' UID, its
// recurrence id the date at the series' start time in its zone (a date
// for an all-day series, as occurrenceOf), lasting as the series does,
// with the series' fields but its pattern. A series whose recurrence is
// Outlook's own description keeps its deleted occurrences in the blob it
// keeps (there they cannot be told from EXDATEs): nothing is read for it.
func pstCancelledOccurrences(master *crm.Incoming) []*crm.Incoming {
	mf := master.Record.Fields
	k, ok := keptRecurrence(mf)
	if !ok || len(k.deleted) == 0 {
		return nil
	}
	start, err1 := time.Parse(time.RFC3339, mf["scheduledstart"])
	end, err2 := time.Parse(time.RFC3339, mf["scheduledend"])
	if err1 != nil || err2 != nil || end.Before(start) {
		return nil
	}
	zone := recordZone(mf["timezone"], mf["timezoneblob"])
	r, ok := parseRecurrence(mf["recurrence"], start, end, zone.loc)
	if !ok {
		return nil
	}
	excluded := map[time.Time]bool{}
	for _, d := range r.deleted {
		excluded[d] = true
	}
	for _, m := range k.modified {
		excluded[midnight(m.orig)] = true
	}
	allDay := mf["isalldayevent"] == "true"
	s := start.In(zone.loc)
	var out []*crm.Incoming
	for _, d := range k.deleted {
		if excluded[d] {
			continue
		}
		excluded[d] = true
		rid := d
		if !allDay {
			rid = time.Date(d.Year(), d.Month(), d.Day(), s.Hour(), s.Minute(), s.Second(), 0, zone.loc).UTC()
		}
		f := map[string]string{}
		for key, v := range mf {
			if !seriesOnly[key] {
				f[key] = v
			}
		}
		f["recurrenceid"] = item.FormatTime(rid)
		f["scheduledstart"], f["scheduledend"] = item.FormatTime(rid), item.FormatTime(rid.Add(end.Sub(start)))
		// Dataverse appointment: statecode 2 canceled (statuscode 4).
		f["statecode"], f["statuscode"] = "2", "4"
		in := &crm.Incoming{Record: crm.Record{Entity: crm.Appointment, Fields: f, Parties: master.Record.Parties},
			Keys: item.EventKeys(mf["uid"], rid), Source: master.Source, ModifiedAt: master.ModifiedAt}
		in.Source.Key = master.Source.Key + "/" + rid.UTC().Format("20060102T150405Z")
		in.Pos = master.Pos + ": cancelled occurrence " + rid.UTC().Format(time.RFC3339)
		out = append(out, in)
	}
	return out
}

// pstExtrasOf adds the extra values crmbridge's writer kept in its
// "Extras" property (pstExtras) to those the mapping read, each value
// once; a value that is not the writer's encoding is skipped.
func pstExtrasOf(have []crm.Extra, kept []string) []crm.Extra {
	seen := map[string]bool{}
	for _, x := range have {
		seen[x.String()] = true
	}
	for _, k := range kept {
		var e pstExtra
		if json.Unmarshal([]byte(k), &e) != nil || e.Name == "" {
			continue
		}
		x := crm.Extra{Name: e.Name, Params: e.Params, Value: e.Value}
		if !seen[x.String()] {
			seen[x.String()] = true
			have = append(have, x)
		}
	}
	return have
}
