package crm

import "strings"

// JoinSubject places an activity's whole subject at the head of its
// description, for an upstream whose subject column is too short for it
// (Dataverse: the subject is sent cut, the description has room):
// "<subject>\n\n<description>", the subject alone for an empty
// description, and the description as it is when it already starts so.
func JoinSubject(subject, desc string) string {
	switch {
	case desc == "":
		return subject
	case desc == subject || strings.HasPrefix(desc, subject+"\n\n"):
		return desc
	}
	return subject + "\n\n" + desc
}

// SplitSubject undoes JoinSubject: the description without the subject
// placed at its head.
func SplitSubject(subject, desc string) string {
	if desc == subject {
		return ""
	}
	if rest, ok := strings.CutPrefix(desc, subject+"\n\n"); ok {
		return rest
	}
	return desc
}
