package textcodec

import (
	"slices"
	"unicode/utf8"

	"crmbridge/crm"
)

// ValidRecord returns rec with every text it holds (field values, party
// names, addresses and statuses, attachment names and types) valid UTF-8:
// each byte that is not part of a valid UTF-8 sequence becomes U+FFFD
// ([ReplaceInvalid]). Writers call it first: every format they write is
// UTF-8 text, and a store written before input was validated may hold
// such bytes. rec's maps and slices are not modified; copies are made
// only for what needs a change.
func ValidRecord(rec crm.Record) crm.Record {
	if !fieldsValid(rec.Fields) {
		f := make(map[string]string, len(rec.Fields))
		for k, v := range rec.Fields {
			f[ReplaceInvalid(k)] = ReplaceInvalid(v)
		}
		rec.Fields = f
	}
	if slices.ContainsFunc(rec.Parties, func(p crm.Party) bool {
		return !utf8.ValidString(p.Name) || !utf8.ValidString(p.Address) || !utf8.ValidString(p.Status)
	}) {
		rec.Parties = slices.Clone(rec.Parties)
		for i := range rec.Parties {
			p := &rec.Parties[i]
			p.Name, p.Address, p.Status = ReplaceInvalid(p.Name), ReplaceInvalid(p.Address), ReplaceInvalid(p.Status)
		}
	}
	if slices.ContainsFunc(rec.Attachments, func(a crm.Attachment) bool {
		return !utf8.ValidString(a.Name) || !utf8.ValidString(a.MimeType) || !utf8.ValidString(a.ContentID)
	}) {
		rec.Attachments = slices.Clone(rec.Attachments)
		for i := range rec.Attachments {
			a := &rec.Attachments[i]
			a.Name, a.MimeType, a.ContentID = ReplaceInvalid(a.Name), ReplaceInvalid(a.MimeType), ReplaceInvalid(a.ContentID)
		}
	}
	return rec
}

func fieldsValid(f map[string]string) bool {
	for k, v := range f {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return false
		}
	}
	return true
}
