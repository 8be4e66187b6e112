// Package item holds what every crmbridge reader shares: the Reader
// interface that yields one incoming CRM record at a time with its
// position, the error type for a bad item, and the identity keys that make
// the same mail, meeting or contact from two sources one record.
package item

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"crmbridge/crm"
)

// Reader yields records read from one source file, one at a time.
//
// Next returns io.EOF after the last item. An error of type *Error means
// one item (or a part of the file) was bad: the caller reports it and
// calls Next again. Any other error means the rest of the file cannot be
// read. The returned Incoming is valid until the next call to Next
// (attachment Open functions included).
type Reader interface {
	Next() (*crm.Incoming, error)
}

// Error reports one bad item: where it was and why. The reader that
// returned it can go on.
type Error struct {
	Pos string // "contacts.vcf: line 230", "mail.pst: Inbox: item 17"
	Err error
	// Kept is true for a warning: the item was read (and returned by an
	// earlier or later call to Next) despite the problem, e.g. an unknown
	// charset read as windows-1252 or a missing closing MIME boundary.
	Kept bool
}

func (e *Error) Error() string { return e.Pos + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error at pos.
func Errorf(pos, format string, args ...any) *Error {
	return &Error{Pos: pos, Err: fmt.Errorf(format, args...)}
}

// Warnf returns a warning *Error at pos: the item was kept.
func Warnf(pos, format string, args ...any) *Error {
	return &Error{Pos: pos, Err: fmt.Errorf(format, args...), Kept: true}
}

// NormalizeMessageID returns a Message-ID in canonical form: angle
// brackets, surrounding space and comments stripped, the domain part
// lower-cased (RFC 5322 3.6.4: the id-right is a domain), or "" when id
// holds nothing usable.
func NormalizeMessageID(id string) string {
	id = strings.TrimSpace(id)
	if i := strings.IndexByte(id, '<'); i >= 0 {
		if j := strings.IndexByte(id[i:], '>'); j > 0 {
			id = id[i+1 : i+j]
		}
	}
	id = strings.TrimSpace(id)
	if id == "" {
		return ""
	}
	if at := strings.LastIndexByte(id, '@'); at >= 0 {
		id = id[:at] + strings.ToLower(id[at:])
	}
	return id
}

// EmailKeys returns the identity keys of an e-mail: its Message-ID when it
// has one, else a hash of sender, date, subject and body, so the same
// message from a PST and from an EML export is one record.
func EmailKeys(messageID, sender string, date time.Time, subject, body string) []string {
	if id := NormalizeMessageID(messageID); id != "" {
		return []string{"msgid:" + id}
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", strings.ToLower(strings.TrimSpace(sender)),
		date.UTC().Truncate(time.Second).Format(time.RFC3339), strings.TrimSpace(subject))
	h.Write([]byte(normalizeBody(body)))
	return []string{"mailhash:" + hex.EncodeToString(h.Sum(nil))[:32]}
}

// normalizeBody strips what transports change: line endings and trailing
// white space.
func normalizeBody(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t\r")
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// ContactKeys returns the identity keys of a contact: its primary e-mail
// address, lower-cased. A contact without one has no cross-source key and
// is matched by its source key only.
func ContactKeys(primaryEmail string) []string {
	a := strings.ToLower(strings.TrimSpace(primaryEmail))
	if a == "" || !strings.Contains(a, "@") {
		return nil
	}
	return []string{"email:" + a}
}

// EventKeys returns the identity keys of an appointment: its iCalendar UID
// (for a PST item, the UID derived from its global object id), plus the
// RECURRENCE-ID of an exception.
func EventKeys(uid string, recurrenceID time.Time) []string {
	uid = strings.TrimSpace(uid)
	if uid == "" {
		return nil
	}
	if !recurrenceID.IsZero() {
		return []string{"uid:" + uid + "/" + recurrenceID.UTC().Format("20060102T150405Z")}
	}
	return []string{"uid:" + uid}
}

// TaskKeys returns the identity keys of a task: its UID.
func TaskKeys(uid string) []string {
	uid = strings.TrimSpace(uid)
	if uid == "" {
		return nil
	}
	return []string{"uid:" + uid}
}

// FormatTime formats t in the store's canonical form (RFC 3339, UTC,
// seconds), or "" for the zero time.
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Truncate(time.Second).Format(time.RFC3339)
}

// FormatDate formats t as a date (YYYY-MM-DD), or "" for the zero time.
func FormatDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format("2006-01-02")
}

// SetIf sets fields[name] = value when value is not empty.
func SetIf(fields map[string]string, name, value string) {
	if v := strings.TrimSpace(value); v != "" {
		fields[name] = value
	}
}
