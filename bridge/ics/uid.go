package ics

import "crmbridge/crm"

// UID returns the iCalendar UID the Encoder writes for rec: its uid
// field, else the UID of its Outlook global object id, else the record id.
// A series master and its exceptions share it.
func UID(rec *crm.Record) string { return uidOf(rec) }
