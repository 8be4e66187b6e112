package pst

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"time"
)

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
		// MS-OXORMDR 2.2.1.4: on a task, PidLidReminderTime is when the
		// reminder goes off.
		ReminderSet:  b.bool(f.lid(psetidCommon, lidReminderSet)),
		ReminderTime: b.time(f.lid(psetidCommon, lidReminderTime)),
	}
	t.PercentComplete, _ = b.float(f.lid(psetidTask, lidPercentComplete))
	t.Status, _ = b.int(f.lid(psetidTask, lidTaskStatus))
	return t
}

// appointment fills the appointment fields (MS-OXOCAL).
func (f *File) appointment(b *bag, class string, recips []Recipient) *Appointment {
	ap := func(l uint32) uint16 { return f.lid(psetidAppt, l) }
	a := &Appointment{
		Start:                b.time(ap(lidAppointmentStartWhole)),
		End:                  b.time(ap(lidAppointmentEndWhole)),
		AllDay:               b.bool(ap(lidAppointmentSubType)),
		Location:             b.str(ap(lidLocation)),
		Recurring:            b.bool(ap(lidRecurring)),
		RecurrencePattern:    b.str(ap(lidRecurrencePattern)),
		RecurrenceBlob:       b.bytes(ap(lidAppointmentRecur)),
		TimeZoneRecur:        b.bytes(ap(lidTZDefRecur)),
		ExceptionReplaceTime: b.time(ap(lidExceptionReplaceTime)),
		GlobalObjectID:       b.bytes(f.lid(psetidMeeting, lidGlobalObjectID)),
		CleanGlobalObjectID:  b.bytes(f.lid(psetidMeeting, lidCleanGlobalObjectID)),
		TimeZone:             b.str(ap(lidTimeZoneDescription)),
		TimeZoneBlob:         b.bytes(ap(lidTZDefStartDisplay)),
		MeetingRequest:       strings.HasPrefix(strings.ToLower(class), "ipm.schedule.meeting"),
		ReminderSet:          b.bool(f.lid(psetidCommon, lidReminderSet)),
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
	a.Sequence, _ = b.int(ap(lidAppointmentSequence))
	a.OwnerCriticalChange = b.time(f.lid(psetidMeeting, lidOwnerCriticalChange))
	a.AttendeeCriticalChange = b.time(f.lid(psetidMeeting, lidAttendeeCriticalChange))
	a.CounterProposal = b.bool(ap(lidCounterProposal))
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
	a.InstanceDate = goidInstanceDate(a.GlobalObjectID)
	if v, ok := b.int(f.lid(psetidMeeting, lidStartRecurrenceTime)); ok {
		// MS-OXPROPS 2.304 (MS-XWDCAL 2.2.7.67): bits 0-5 the seconds,
		// 6-11 the minutes, 12 and up the hours.
		a.StartRecurrenceTime = time.Duration(v>>12)*time.Hour + time.Duration(v>>6&0x3F)*time.Minute + time.Duration(v&0x3F)*time.Second
		a.HasStartRecurrenceTime = v >= 0 && a.StartRecurrenceTime < 24*time.Hour
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
		a.OrganizerAddress = smtpOf(b.str(tagSentRepresentingSMTP), b.str(tagSentRepresentingEmail), b.str(tagSentRepresentingAddrType))
		if a.OrganizerName == "" {
			a.OrganizerName = b.str(tagSenderName)
			a.OrganizerAddress = smtpOf(b.str(tagSenderSMTPAddress), b.str(tagSenderEmailAddress), b.str(tagSenderAddrType))
		}
	}
	return a
}

// goidInstanceDate returns the instance date of a global object id
// (MS-OXOCAL 2.2.1.27: bytes 16 and 17 the year, big-endian, 18 the month,
// 19 the day; all zero for a series or a single meeting) as 00:00 UTC;
// zero when it has none, or none that is a date.
func goidInstanceDate(g []byte) time.Time {
	if len(g) < 20 {
		return time.Time{}
	}
	y, m, d := int(binary.BigEndian.Uint16(g[16:18])), int(g[18]), int(g[19])
	if y == 0 || m < 1 || m > 12 || d < 1 || d > 31 {
		return time.Time{}
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Day() != d { // 31 February
		return time.Time{}
	}
	return t
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
