package ics

import (
	"encoding/hex"
	"strings"

	"crmbridge/crm"
)

// UID returns the iCalendar UID the Encoder writes for rec: its uid
// field, else the UID of its Outlook global object id, else the record id.
// A series master and its exceptions share it.
func UID(rec *crm.Record) string { return uidOf(rec) }

// goidClass is the class id every PidLidGlobalObjectId starts with
// (MS-OXOCAL 2.2.1.27: 04 00 00 00 82 00 E0 00 74 C5 B7 10 1A 82 E0 08).
const goidClass = "040000008200E00074C5B7101A82E008"

// isGlobalObjectID reports whether uid is an Outlook global object id in
// hex: the class id, then at least the 20 bytes that follow it.
func isGlobalObjectID(uid string) bool {
	if len(uid) < len(goidClass)+40 || len(uid)%2 != 0 || !strings.EqualFold(uid[:len(goidClass)], goidClass) {
		return false
	}
	_, err := hex.DecodeString(uid)
	return err == nil
}
