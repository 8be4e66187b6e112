package item

import (
	"strings"

	"github.com/google/uuid"
)

// RecordID classifies an identifier a file gives for its item (a vCard or
// iCalendar UID, the local part of a Message-ID crmbridge generated, the
// record id crmbridge keeps in a PST item): id is its canonical lower-case
// form when it is a UUID in the standard 36-character form (RFC 9562 4),
// "" otherwise; minted says whether it is a version 7 UUID of the RFC
// variant (RFC 9562 5.7), the kind of id crmbridge makes for its records.
// Only such an identifier becomes a new record's id (bridge claimID): the
// random version 4 UIDs of other programs are not crmbridge's.
func RecordID(s string) (id string, minted bool) {
	s = strings.TrimSpace(s)
	u, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return "", false
	}
	return u.String(), u.Version() == 7 && u.Variant() == uuid.RFC4122
}
