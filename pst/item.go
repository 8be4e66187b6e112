package pst

import (
	"io"
	"strings"
	"time"
)

// Kind is the kind of an Outlook item, from its message class.
type Kind int

// Kinds of items.
const (
	KindEmail       Kind = iota // IPM.Note*, REPORT.*, and unknown IPM classes read as mail
	KindContact                 // IPM.Contact*
	KindTask                    // IPM.Task*, IPM.TaskRequest*
	KindAppointment             // IPM.Appointment*, IPM.Schedule.Meeting.*
	KindDistList                // IPM.DistList*
	KindNote                    // IPM.StickyNote*, IPM.Activity (journal), IPM.Post*, other non-mail classes
)

var kindNames = [...]string{"email", "contact", "task", "appointment", "distlist", "note"}

// String returns "email", "contact", "task", "appointment", "distlist" or "note".
func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// classPrefixes maps message class prefixes (lower case) to kinds; the
// first match wins, so longer prefixes come first.
var classPrefixes = []struct {
	prefix string
	kind   Kind
}{
	{"ipm.schedule.meeting", KindAppointment}, // requests, responses, cancellations
	{"ipm.appointment", KindAppointment},
	{"ipm.ole.class.{00061055-0000-0000-c000-000000000046}", KindAppointment},
	{"ipm.taskrequest", KindTask},
	{"ipm.task", KindTask},
	{"ipm.contact", KindContact},
	{"ipm.abchperson", KindContact},
	{"ipm.distlist", KindDistList},
	{"ipm.stickynote", KindNote},
	{"ipm.activity", KindNote}, // journal entry
	{"ipm.post", KindNote},
	{"ipm.note", KindEmail}, // IPM.Note.SMIME…, IPM.Note.Rules.OofTemplate…
	{"report.", KindEmail},  // delivery and read reports
	{"ipm.outlook.recall", KindEmail},
	{"ipm.sharing", KindEmail},
}

// ClassKind maps a message class to a kind by prefix, case-insensitively
// (MS-OXCMSG 2.2.1.3: subclasses extend a class with ".Suffix"). An empty
// or unknown class reads as e-mail when it is "IPM" or starts with "IPM."
// but matches nothing else, which is how Outlook treats custom forms based
// on a message; anything else (e.g. "IPM.Microsoft.…" configuration items
// that are not in the IPM subtree) also reads as a note.
func ClassKind(messageClass string) Kind {
	c := strings.ToLower(strings.TrimSpace(messageClass))
	for _, p := range classPrefixes {
		if strings.HasPrefix(c, p.prefix) {
			// "ipm.task" must not match "ipm.taskfoo"-like unrelated classes
			// only in theory; Outlook has none, so a prefix is enough.
			return p.kind
		}
	}
	if c == "" || c == "ipm" {
		return KindEmail
	}
	return KindNote
}

// Item is one Outlook item read from a PST.
type Item struct {
	Folder      string // folder path below the root, "/"-separated ("Inbox/Projects"); the IPM subtree's own name is omitted
	Index       int    // 1-based position within its folder (0 for an embedded message, which carries its parent's Folder)
	NodeID      uint32 // NID of the message (0 for an embedded message)
	EntryID     string // stable key within this file: hex of the PST entry id (store record key + NID)
	Class       string // PidTagMessageClass
	Kind        Kind
	Subject     string // PidTagSubject without its prefix marker
	Body        string // PidTagBody, else the text of PidTagRtfCompressed
	BodyHTML    string // PidTagHtml, decoded per PidTagInternetCodepage, else HTML encapsulated in the RTF body
	Created     time.Time
	Modified    time.Time // the item's source version
	Categories  []string  // PidNameKeywords
	Importance  int       // 0 low, 1 normal, 2 high
	Sensitivity int       // PidTagSensitivity: 0 normal, 1 personal, 2 private, 3 confidential; -1 when the item has none

	// RecordID and UID are crmbridge's own named properties (property set
	// PSETIDCrmbridge, names "RecordId" and "Uid"): the id of the CRM
	// record an item was exported from, and the iCalendar UID of a task or
	// appointment as the record spelt it. Empty
	// in items crmbridge did not write.
	RecordID, UID string
	// Extras is crmbridge's named property "Extras" in the same set: the
	// record's values without an Outlook property, one string each, as
	// the writer encoded them.
	Extras []string

	// Exactly one of Contact, Task, Appointment, DistList is set for those
	// kinds; Email is set for KindEmail and for meeting messages
	// (IPM.Schedule.Meeting.*, which also have Appointment). Notes have
	// none.
	Email       *Email
	Contact     *Contact
	Task        *Task
	Appointment *Appointment
	DistList    *DistList
	Attachments []*Attachment
	// Other are the properties of an e-mail, appointment or task that no
	// field holds and the rule of kept.go keeps; NotKept the binaries that
	// rule leaves out for their size (Values empty, Size set).
	Other   []Property `json:",omitempty"`
	NotKept []Property `json:",omitempty"`
}

// Email holds the fields of an e-mail (and of meeting messages, which also
// travel as mail).
type Email struct {
	MessageID, InReplyTo, References, Headers string
	SenderName, SenderAddress                 string // the author (From): PidTagSentRepresenting*, else PidTagSender*; SMTP address when one can be found
	// OnBehalfName and OnBehalfAddress are the mailbox that sent the
	// message for the author (PidTagSender*, RFC 5322 3.6.2 Sender), set
	// only when it is another mailbox than the author's.
	OnBehalfName, OnBehalfAddress string
	Recipients                    []Recipient
	Sent, Received                time.Time // PidTagClientSubmitTime, PidTagMessageDeliveryTime
	Outgoing                      bool      // unsent, sent by the user, or in Sent Items
	Unsent                        bool      // a draft: MSGFLAG_UNSENT (MS-OXCMSG 2.2.1.6)
	Flag                          Flag      // the follow-up flag
}

// Flag is a message's follow-up flag (MS-OXOFLAG 2.2.1).
type Flag struct {
	Status    int       // PidTagFlagStatus: 0 none, 1 complete, 2 flagged
	Request   string    // PidLidFlagRequest: "Follow up", "Call", ...
	Start     time.Time // PidLidTaskStartDate on the message
	Due       time.Time // PidLidTaskDueDate
	Completed time.Time // PidTagFlagCompleteTime
	Icon      int       // PidTagFollowupIcon: 0 none, 1 purple, 2 orange, 3 green, 4 yellow, 5 blue, 6 red
}

// Recipient types (PidTagRecipientType, MS-OXOMSG 2.2.3.1 and MS-OXOCAL
// 2.2.4.10.1: for meetings 1 required, 2 optional, 3 resource).
const (
	RecipientTo  = 1
	RecipientCc  = 2
	RecipientBcc = 3
)

// Recipient is one row of a message's recipient table, or a member of a
// distribution list.
type Recipient struct {
	Type        int
	Name        string
	Address     string // SMTP address when known, else the native address
	AddressType string // "SMTP", "EX", …
	Response    int    // PidTagRecipientTrackStatus (0 none, 2 tentative, 3 accepted, 4 declined)
	Organizer   bool   // recipOrganizer flag (PidTagRecipientFlags 0x2)
}

// Contact holds the fields of a contact.
type Contact struct {
	DisplayName, Prefix, GivenName, MiddleName, Surname, Generation, Nickname string
	Emails                                                                    [3]EmailAddress
	BusinessPhone, HomePhone, OtherPhone, MobilePhone, BusinessFax, HomeFax   string
	Pager, AssistantPhone                                                     string
	Company, JobTitle, Department, Profession, Manager, Assistant, SpouseName string
	WebPage                                                                   string
	BusinessAddress, HomeAddress, OtherAddress                                PostalAddress
	Birthday, Anniversary                                                     time.Time // the calendar date the user sees, at 00:00 UTC
	// Other are the string contact properties (ids 0x3A00-0x3AFF) that no
	// field above holds: Children, Hobbies, Business Phone 2, Initials...
	Other []Property
}

// EmailAddress is one of a contact's three e-mail addresses.
type EmailAddress struct {
	Address, DisplayName, AddrType string
}

// PostalAddress is a contact's postal address.
type PostalAddress struct {
	Street, City, State, PostalCode, Country, POBox string
}

// Task holds the fields of a task.
type Task struct {
	Start, Due, Completed time.Time
	PercentComplete       float64 // 0..1
	Status                int     // 0 not started, 1 in progress, 2 complete, 3 waiting, 4 deferred
	Complete              bool
	Owner                 string
	Recurring             bool
	// ReminderSet and ReminderTime: PidLidReminderSet and PidLidReminderTime,
	// for a task the time the reminder goes off (MS-OXORMDR 2.2.1.1, 2.2.1.4).
	ReminderSet  bool
	ReminderTime time.Time
	// Recipients is the task's recipient table: its owner (flagged
	// Organizer) and the people it is assigned to or shared with.
	Recipients []Recipient
}

// Appointment holds the fields of an appointment or meeting.
type Appointment struct {
	Start, End                      time.Time
	AllDay                          bool
	Location                        string
	OrganizerName, OrganizerAddress string
	Attendees                       []Recipient
	Recurring                       bool
	RecurrencePattern               string    // PidLidRecurrencePattern, a description
	RecurrenceBlob                  []byte    // PidLidAppointmentRecur, raw
	TimeZoneRecur                   []byte    // PidLidAppointmentTimeZoneDefinitionRecur, raw: the zone of the blob's local times
	ExceptionReplaceTime            time.Time // PidLidExceptionReplaceTime: of an exception (a modified occurrence), its original start
	GlobalObjectID                  []byte    // PidLidGlobalObjectId
	CleanGlobalObjectID             []byte    // PidLidCleanGlobalObjectId
	UID                             string    // iCalendar UID per MS-OXCICAL 2.1.3.1.1.20.26, of the series: the instance date zeroed; "" without a global object id (use the item's EntryID)
	TimeZone                        string    // PidLidTimeZoneDescription
	TimeZoneBlob                    []byte    // PidLidAppointmentTimeZoneDefinitionStartDisplay, else PidLidTimeZoneStruct
	BusyStatus                      int
	MeetingRequest                  bool // a meeting request/response/cancellation message (IPM.Schedule.Meeting.*)
	MeetingStatus                   int  // PidLidAppointmentStateFlags (1 meeting, 2 received, 4 canceled)
	ResponseStatus                  int  // PidLidResponseStatus
	// InstanceDate is the original date of the one occurrence of a
	// series that the object concerns (a meeting request, response or
	// cancellation for one occurrence, an exception), from the global
	// object id's Year, Month and Day fields (MS-OXOCAL 2.2.1.27), as
	// 00:00 UTC of that date; zero for a series or a single meeting.
	InstanceDate time.Time
	// StartRecurrenceTime is PidLidStartRecurrenceTime (PSETID_Meeting
	// 0x000E, MS-OXPROPS 2.304): the time of day a series starts, in its
	// zone, as a duration from midnight; HasStartRecurrenceTime says
	// whether the object has it.
	StartRecurrenceTime    time.Duration
	HasStartRecurrenceTime bool
	// The meeting's scheduling version (MS-OXOCAL 2.2.1.2, 2.2.5.4,
	// 2.2.5.5; iCalendar SEQUENCE and DTSTAMP per MS-OXCICAL
	// 2.1.3.1.1.20.23 and 2.1.3.1.1.20.8).
	Sequence               int       // PidLidAppointmentSequence
	OwnerCriticalChange    time.Time // PidLidOwnerCriticalChange: when the organizer last changed the meeting
	AttendeeCriticalChange time.Time // PidLidAttendeeCriticalChange: when the attendee answered
	CounterProposal        bool      // PidLidAppointmentCounterProposal: a response proposing a new time
	ReminderMinutes        int
	ReminderSet            bool
}

// DistList holds the members of a distribution list.
type DistList struct {
	Members []Recipient
}

// Attachment is one attachment of an item.
type Attachment struct {
	Name      string // long file name, else file name, else display name
	MimeType  string
	ContentID string
	Size      int64 // size of the content (PidTagAttachDataBinary), or PidTagAttachSize for other methods
	Method    int   // PidTagAttachMethod: 1 by value, 5 embedded message, 6 OLE, …
	Inline    bool  // referenced from the HTML body (content id, ATT_MHTML_REF) or hidden
	// Open streams the content. It is valid until the iterator advances
	// (and the File stays open). Nil when there is no binary content.
	Open func() (io.ReadCloser, error) `json:"-"`
	// Message is the attached message read as an Item, for method 5.
	Message *Item
}
