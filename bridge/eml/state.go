package eml

import (
	"strconv"
	"strings"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// directionHeader carries an e-mail record's direction (Dataverse
// directioncode: true outgoing, false incoming). No standard header says
// whether a message was sent or received by the mailbox it was exported
// from (a folder name is localised, and From is the owner only when the
// owner is known), so crmbridge writes its own X- header (RFC 5322 3.6.8
// optional field), which other readers ignore.
const directionHeader = "X-Crmbridge-Direction"

// writeDirection writes the record's direction and state: a draft
// (statecode 0, open) as "X-Unsent: 1", which Outlook opens as a message
// still to be sent; any other with directioncode set as
// X-Crmbridge-Direction: outgoing or incoming.
func writeDirection(h *mail.Header, f map[string]string) {
	if strings.TrimSpace(f["statecode"]) == "0" {
		h.Set("X-Unsent", "1")
		return
	}
	switch strings.TrimSpace(f["directioncode"]) {
	case "true":
		h.Set(directionHeader, "outgoing")
	case "false":
		h.Set(directionHeader, "incoming")
	}
}

// readState reads what writeState writes, and the same headers written
// by other programs, into the record's fields:
//   - prioritycode (0 low, 1 normal, 2 high) from Importance (RFC 2156:
//     low, normal, high), else from X-Priority (1–2 high, 3 normal, 4–5
//     low, as Outlook and Thunderbird map it);
//   - sensitivity (1 personal, 2 private, 3 confidential) from Sensitivity
//     (RFC 2156: Personal, Private, Company-Confidential);
//   - categories from every Keywords field (RFC 5322 3.6.5: comma-separated
//     phrases, encoded words allowed), joined with ", " as the PST mapping
//     does;
//   - folder from X-Folder;
//   - the direction and state: "X-Unsent: 1" is a draft (directioncode
//     true, statecode 0 open, statuscode 1 draft); X-Crmbridge-Direction
//     outgoing or incoming is a sent (statuscode 3) or received (4)
//     message, completed (statecode 1), as the PST mapping gives them.
//     Without either header the message is received (directioncode false)
//     and the state is left unset.
//
// An absent or unknown value sets nothing.
func (m *msgParser) readState(h textproto.Header, f map[string]string) {
	switch strings.ToLower(strings.TrimSpace(h.Get("Importance"))) {
	case "low":
		f["prioritycode"] = "0"
	case "normal":
		f["prioritycode"] = "1"
	case "high":
		f["prioritycode"] = "2"
	default:
		v := strings.TrimSpace(h.Get("X-Priority"))
		if i := strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
			v = v[:i]
		}
		switch n, err := strconv.Atoi(v); {
		case err != nil:
		case n == 1 || n == 2:
			f["prioritycode"] = "2"
		case n == 3:
			f["prioritycode"] = "1"
		case n == 4 || n == 5:
			f["prioritycode"] = "0"
		}
	}
	switch strings.ToLower(strings.TrimSpace(h.Get("Sensitivity"))) {
	case "personal":
		f["sensitivity"] = "1"
	case "private":
		f["sensitivity"] = "2"
	case "company-confidential":
		f["sensitivity"] = "3"
	}
	var cats []string
	for _, v := range h.Values("Keywords") {
		s, err := decodeText(v)
		if err != nil {
			m.warnf("header Keywords", "%v", err)
		}
		for _, c := range strings.Split(s, ",") {
			if c = strings.TrimSpace(c); c != "" {
				cats = append(cats, c)
			}
		}
	}
	if len(cats) > 0 {
		f["categories"] = strings.Join(cats, ", ")
	}
	if fo := m.text(h, "X-Folder"); fo != "" {
		f["folder"] = fo
	}
	if strings.TrimSpace(h.Get("X-Unsent")) == "1" {
		f["directioncode"], f["statecode"], f["statuscode"] = "true", "0", "1"
		return
	}
	switch strings.ToLower(strings.TrimSpace(h.Get(directionHeader))) {
	case "outgoing":
		f["directioncode"], f["statecode"], f["statuscode"] = "true", "1", "3"
	case "incoming":
		f["directioncode"], f["statecode"], f["statuscode"] = "false", "1", "4"
	}
}
