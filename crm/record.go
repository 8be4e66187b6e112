package crm

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// Entity is a CRM record type, named by its Dataverse logical name
// ("contact", "email", "appointment", ...).
type Entity string

// The record types the store holds. Activities share one table.
const (
	Contact     Entity = "contact"
	Account     Entity = "account"
	Lead        Entity = "lead"
	Opportunity Entity = "opportunity"
	List        Entity = "list" // marketing list, from an Outlook distribution list
	Email       Entity = "email"
	Task        Entity = "task"
	Appointment Entity = "appointment"
	PhoneCall   Entity = "phonecall"
	Fax         Entity = "fax"
	Letter      Entity = "letter"
)

// Party roles of an activity party (Dataverse participationtypemask).
const (
	RoleSender    = 1
	RoleTo        = 2
	RoleCc        = 3
	RoleBcc       = 4
	RoleRequired  = 5
	RoleOptional  = 6
	RoleOrganizer = 7
)

// Record is one CRM record: its id, its type and its field values by
// Dataverse logical name. Field values are text in a canonical form that
// depends on the field's Kind (see Field): times are RFC 3339 in UTC
// ("2006-01-02T15:04:05Z"), dates "2006-01-02", integers decimal,
// booleans "true"/"false". A field absent from Fields is not set by the
// source that produced the record; an empty string clears it.
type Record struct {
	ID     string // lower-case GUID; on import the id a new record takes (when free), else empty until the store assigns one
	Entity Entity
	Fields map[string]string

	// Parties are an activity's sender, recipients, attendees and organizer.
	Parties []Party
	// Attachments are files attached to an activity (or a contact's photo).
	Attachments []Attachment
	// Members are the e-mail addresses (or record ids) of a list's members.
	Members []Party
	// Extras are the values a source gave that no field holds (a fourth
	// e-mail address, a second home phone, an X- property, a birthday
	// without a year). They are kept, shown and exported back, never
	// pushed upstream. nil means the source says nothing about extras;
	// an empty list, that it gives none (a whole version: what it gave
	// before is withdrawn).
	Extras []Extra
	// Schedule is the iTIP version (SEQUENCE, DTSTAMP) the store holds
	// for a scheduled appointment or task, nil when it holds none. The
	// store fills it when it reads a record, and exports write it, so
	// that importing an export keeps the event's version. On import, the
	// version of what is read is Incoming.Schedule; this one is ignored.
	Schedule *Schedule
}

// Extra is one value without a field: named as the source names it (the
// vCard or iCalendar property name, "EMAIL", "TEL", "X-SKYPE", "BDAY"),
// with its parameters (TYPE=home,fax). Value is the decoded text; for a
// structured property (ADR, N, ORG) it keeps the components separated by
// ';' with RFC 6350 3.4 escapes, so that it can be written back as it
// came.
type Extra struct {
	Name   string            `json:"name"`
	Value  string            `json:"value"`
	Params map[string]string `json:"params,omitempty"`
}

// String shows x as NAME;PARAM=value: value, parameters sorted (as
// `show` lists it and a CSV export's notes hold it).
func (x Extra) String() string {
	var b strings.Builder
	b.WriteString(x.Name)
	for _, k := range slices.Sorted(maps.Keys(x.Params)) {
		b.WriteString(";" + k + "=" + x.Params[k])
	}
	b.WriteString(": " + x.Value)
	return b.String()
}

// ExtraSender names the extra value of an e-mail that holds the mailbox
// that sent it on behalf of its author (RFC 5322 3.6.2 Sender, MAPI
// PidTagSender* beside PidTagSentRepresenting*): the author is the sender
// party, and Dataverse has no role for the other.
const ExtraSender = "SENDER"

// SenderExtra returns the ExtraSender value for a mailbox; the display
// name goes in the CN parameter.
func SenderExtra(name, address string) Extra {
	x := Extra{Name: ExtraSender, Value: address}
	if name != "" && name != address {
		x.Params = map[string]string{"CN": name}
	}
	return x
}

// Party is one participant of an activity (or one member of a list). The
// store resolves Address to a contact (case-insensitively) and fills
// ContactID when one matches; an unresolved party keeps its address and
// name.
//
// The party rule: every party has an address or a record (ContactID),
// because that is what Dataverse's activityparty holds (addressused or
// partyid) and what the EML, iCalendar and PST writers write; a name alone
// is not a party anyone can send or write. Address is the text the source
// gave for the participant's address, as given: an SMTP address, an
// Exchange X.500 DN, a calendar user URI, or text that is none of these
// (an address header that does not parse, "x@y@z"); the writers carry such
// text in a form that reads back the same. A source that gives only a
// display name gives that name as the address too (SettleParties). The
// store refuses a party that breaks the rule (Check), and crmbridge check
// reports one.
type Party struct {
	Role      int
	Address   string // the address as the source gave it (see the party rule); matched case-insensitively
	Name      string
	ContactID string // filled by the store
	Status    string // attendee response (iCalendar PARTSTAT), if known
}

// ErrPartyNoAddress is the error of a party that breaks the party rule.
var ErrPartyNoAddress = errors.New("party has neither a record nor an address")

// Check returns ErrPartyNoAddress (wrapped, naming the party) when p has
// neither an address nor a record.
func (p Party) Check() error {
	if strings.TrimSpace(p.Address) != "" || strings.TrimSpace(p.ContactID) != "" {
		return nil
	}
	if p.Name != "" {
		return fmt.Errorf("party %q in role %d: %w", p.Name, p.Role, ErrPartyNoAddress)
	}
	return fmt.Errorf("party in role %d: %w", p.Role, ErrPartyNoAddress)
}

// SettleParties makes ps follow the party rule, and says what it changed,
// one note per party: a party known by its display name only gets that
// name as its address (the name is all the source said of it, and is
// kept as the name too); a party with neither a name nor an address nor a
// record holds no value and is left out. ps is not modified; when nothing
// changes it is returned as it is (nil stays nil).
func SettleParties(ps []Party) ([]Party, []string) {
	var out []Party
	var notes []string
	for i, p := range ps {
		if p.Check() == nil {
			if out != nil {
				out = append(out, p)
			}
			continue
		}
		if out == nil {
			out = append(make([]Party, 0, len(ps)), ps[:i]...)
		}
		if name := strings.TrimSpace(p.Name); name != "" {
			p.Address = name
			out = append(out, p)
			notes = append(notes, fmt.Sprintf("party %q in role %d has no address: its name is kept as its address too", name, p.Role))
			continue
		}
		notes = append(notes, fmt.Sprintf("party in role %d has neither a name nor an address: left out", p.Role))
	}
	if out == nil {
		return ps, nil
	}
	return out, notes
}

// Attachment is one file attached to a record. Its content is stored once
// per SHA-256 in the store. On import, Open supplies the content; the store
// calls it only when the record is created or changed, so an unchanged
// re-import never reads attachment data.
type Attachment struct {
	Name      string
	MimeType  string
	ContentID string
	Inline    bool
	Size      int64
	SHA256    string // hex; filled by the store when Open is used

	// Open returns the content. It may be nil when SHA256 names content
	// the store already has. The caller closes the reader.
	Open func() (io.ReadCloser, error) `json:"-"`
}

// SourceRef names where an imported version of a record came from:
// the kind of source ("pst", "vcf", "ics", "eml", "mbox", "cli",
// "upstream"), a key that identifies the item within that kind (a
// Message-ID, a vCard UID, a PST entry id) and a version that changes
// whenever the item changes (a last-modification time, a content hash).
type SourceRef struct {
	Kind    string
	Key     string
	Version string
}

// Incoming is one version of one record as a source gives it.
type Incoming struct {
	Source SourceRef
	Record Record
	// MatchID is the id of a record the item says it is, where the id was
	// not necessarily made by crmbridge (a UID that is a UUID but not a
	// version 7 one: a record an earlier version created under a file's
	// UID, or one pulled from the server, exported and read back). The
	// item is that record when the store holds it (same entity, not
	// deleted); a new record never takes the id. Record.ID, by contrast,
	// is an id the new record takes when it is free.
	MatchID string
	// Keys identify the record across sources, e.g. "email:jeff@example.com"
	// for a contact or "msgid:<abc@example.com>" for an e-mail. A record
	// matching any key (and of the same entity) is the same record.
	Keys []string
	// ModifiedAt is when the source last changed this item; it decides a
	// conflict under ConflictNewest. Zero means unknown (treated as older
	// than any known time).
	ModifiedAt time.Time
	// Origin is the journal origin, e.g. "pst:mail.pst". Defaults to
	// Source.Kind.
	Origin string
	// Pos is where the item was read ("mail.pst: Inbox: item 3"), for
	// messages only.
	Pos string
	// Schedule is the iTIP version of an iCalendar item (method, SEQUENCE,
	// DTSTAMP); nil for items without one. The store applies versions of
	// one item in Schedule.Compare order and treats REPLY, COUNTER and
	// CANCEL as RFC 5546 says (see crmstore.Tx.Apply).
	Schedule *Schedule
	// Once names the extras (by Extra.Name, upper case) that the source's
	// format holds at most once per item (an iCalendar STATUS or URL, a
	// vCard GENDER, a single-valued MAPI property). A newer version of a
	// source replaces every extra value it gave before (the store keeps
	// which sources give each value); an older version only adds, except
	// a value of a name in Once when the source's newer version gave one.
	Once map[string]bool
}
