package crm

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule is the scheduling version of an iCalendar item (RFC 5546
// iTIP): the METHOD of the message that carried it, its SEQUENCE and its
// DTSTAMP. Versions of one item (one UID, and RECURRENCE-ID for an
// occurrence) apply in the order Compare gives, whatever order they are
// read in.
type Schedule struct {
	// Method is the calendar's METHOD, upper case: "PUBLISH", "REQUEST",
	// "REPLY", "CANCEL", "COUNTER", ...; "" when the calendar has none
	// (a plain calendar file, applied as PUBLISH).
	Method string
	// Sequence is the SEQUENCE (RFC 5545 3.8.7.4), 0 when absent.
	Sequence int
	// Stamp is the DTSTAMP (RFC 5545 3.8.7.2) in UTC; zero when absent.
	Stamp time.Time
}

// iTIP methods the store treats apart. Every other method (PUBLISH,
// REQUEST, ADD, none) is a version of the event itself.
const (
	MethodReply   = "REPLY"
	MethodCancel  = "CANCEL"
	MethodCounter = "COUNTER"
	// MethodAdd adds instances to a recurring event (RFC 5546 3.2.4).
	MethodAdd = "ADD"
	// MethodDeclineCounter and MethodRefresh change nothing on the event,
	// as COUNTER (RFC 5546 3.2.7, 3.2.6).
	MethodDeclineCounter = "DECLINECOUNTER"
	MethodRefresh        = "REFRESH"
)

// Changes reports whether a message of this method is a version of the
// event itself (PUBLISH, REQUEST, ADD, CANCEL or none), as opposed to an
// attendee's answer (REPLY) or a proposal or request that changes nothing
// (COUNTER, DECLINECOUNTER, REFRESH).
func (s Schedule) Changes() bool {
	switch s.Method {
	case MethodReply, MethodCounter, MethodDeclineCounter, MethodRefresh:
		return false
	}
	return true
}

// Replaces reports whether a message of this method is a whole version of
// the event, which replaces every field the organizer gives (RFC 5546
// 3.2.2: a REQUEST that updates an event carries its full set of
// properties, as PUBLISH does, 3.2.1; a calendar without METHOD is
// applied as PUBLISH): a field a newer such version lacks is cleared. A
// CANCEL changes the state only, an ADD adds instances.
func (s Schedule) Replaces() bool {
	return s.Changes() && s.Method != MethodCancel && s.Method != MethodAdd
}

// OrganizerFields are the fields of an appointment or task that the
// organizer's version of a scheduled event gives whole (see Replaces):
// what it is, when and where, and its series. Fields an attendee keeps for
// themselves in Outlook and iCalendar clients (categories, reminder, busy
// status) and the state (which CANCEL changes) are not among them.
func OrganizerFields(e Entity) []string {
	switch e {
	case Appointment:
		return []string{"subject", "description", "descriptionhtml", "location", "scheduledstart", "scheduledend",
			"isalldayevent", "timezone", "recurrence", "prioritycode", "sensitivity"}
	case Task:
		return []string{"subject", "description", "descriptionhtml", "scheduledstart", "scheduledend", "prioritycode", "sensitivity"}
	}
	return nil
}

// Compare orders two versions of one item as RFC 5546 2.1.5 says: the
// higher SEQUENCE is the newer; at equal SEQUENCE the later DTSTAMP is.
// It returns -1 when s is older than o, +1 when newer, 0 when neither is
// known to be (equal, or a DTSTAMP missing on either side).
func (s Schedule) Compare(o Schedule) int {
	switch {
	case s.Sequence < o.Sequence:
		return -1
	case s.Sequence > o.Sequence:
		return 1
	case s.Stamp.IsZero() || o.Stamp.IsZero():
		return 0
	case s.Stamp.Before(o.Stamp):
		return -1
	case s.Stamp.After(o.Stamp):
		return 1
	}
	return 0
}

func (s Schedule) String() string {
	var b strings.Builder
	if s.Method != "" {
		b.WriteString(s.Method + " ")
	}
	b.WriteString("SEQUENCE " + strconv.Itoa(s.Sequence))
	if !s.Stamp.IsZero() {
		b.WriteString(" DTSTAMP " + s.Stamp.UTC().Format("20060102T150405Z"))
	}
	return b.String()
}

// Errors of CheckSpan.
var (
	// ErrEndsBeforeStart: an appointment's end is before its start.
	ErrEndsBeforeStart = errors.New("would end before it starts")
	// ErrAllDayMixed: an all-day appointment whose start and end are not
	// whole days apart (a timed start or end mixed into an all-day
	// event).
	ErrAllDayMixed = errors.New("is all-day but its start and end are not whole days apart")
)

// CheckSpan checks the times of an appointment's fields (canonical
// values, as the store holds them): the end is not before the start, and
// an all-day event (isalldayevent "true") lasts whole days: its start and
// end are the same time of day, give or take the one hour of a daylight
// saving change between them (an all-day event is midnight to midnight in
// one zone, which is midnight UTC for an iCalendar DATE, and another time
// for Outlook's local midnight), and it lasts at least one day unless it
// is empty (DTEND equal to a DATE DTSTART, which some writers give).
// A field that is absent or empty is not checked.
func CheckSpan(fields map[string]string) error {
	start, err1 := time.Parse(time.RFC3339Nano, fields["scheduledstart"])
	end, err2 := time.Parse(time.RFC3339Nano, fields["scheduledend"])
	if err1 != nil || err2 != nil {
		return nil
	}
	if end.Before(start) {
		return fmt.Errorf("it %w (start %s, end %s)", ErrEndsBeforeStart, fields["scheduledstart"], fields["scheduledend"])
	}
	if fields["isalldayevent"] != "true" {
		return nil
	}
	d := end.Sub(start)
	days := (d + 12*time.Hour) / (24 * time.Hour)
	off := d - days*24*time.Hour
	if d != 0 && (days < 1 || off > time.Hour || off < -time.Hour) {
		return fmt.Errorf("it %w (start %s, end %s)", ErrAllDayMixed, fields["scheduledstart"], fields["scheduledend"])
	}
	return nil
}
