package eml

import (
	"strconv"
	"strings"
	"time"

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
	m.readFlag(h, f)
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

// flagHeader carries what X-Message-Flag cannot say about an e-mail's
// follow-up flag (MS-OXOFLAG): "status=complete; start=...; due=...;
// completed=...; icon=N", times in RFC 3339 UTC. X-Message-Flag, which
// Outlook writes for a flagged message and reads back as its flag text,
// carries the request ("Follow up").
const flagHeader = "X-Crmbridge-Flag"

// writeFlag writes the record's follow-up flag: X-Message-Flag with the
// flag text (Outlook's "Follow up" when it has none) for a flagged or
// completed message, and flagHeader for its state, dates and icon.
func writeFlag(h *mail.Header, f map[string]string) {
	status := strings.TrimSpace(f["flagstatus"])
	req := strings.TrimSpace(f["flagrequest"])
	if !headerSafe(req) {
		req = ""
	}
	if status == "2" || status == "1" || req != "" {
		if req == "" {
			req = "Follow up"
		}
		h.Set("X-Message-Flag", subjectValue(req))
	}
	var parts []string
	switch status {
	case "1":
		parts = append(parts, "status=complete")
	case "2":
		parts = append(parts, "status=flagged")
	}
	for _, k := range []string{"start", "due", "completed"} {
		if t := fieldTime(f, "flag"+k); !t.IsZero() {
			parts = append(parts, k+"="+t.UTC().Format(time.RFC3339))
		}
	}
	if n, err := strconv.Atoi(strings.TrimSpace(f["flagicon"])); err == nil && n > 0 {
		parts = append(parts, "icon="+strconv.Itoa(n))
	}
	if len(parts) > 0 {
		h.Set(flagHeader, strings.Join(parts, "; "))
	}
}

// readFlag reads what writeFlag writes: X-Message-Flag (also as Outlook
// writes it) is a flagged message with that flag text, else a message
// Thunderbird starred (X-Mozilla-Status) is flagged; flagHeader's
// status, dates and icon override and complete it. An unknown part is
// ignored.
func (m *msgParser) readFlag(h textproto.Header, f map[string]string) {
	if req := m.text(h, "X-Message-Flag"); req != "" {
		f["flagstatus"], f["flagrequest"] = "2", req
	} else if n, err := strconv.ParseUint(strings.TrimSpace(h.Get("X-Mozilla-Status")), 16, 32); err == nil && n&0x0004 != 0 {
		// Thunderbird's star: nsMsgMessageFlags::Marked (0x0004) in the
		// hex flags of X-Mozilla-Status, a flag without a text.
		f["flagstatus"] = "2"
	}
	for _, p := range strings.Split(h.Get(flagHeader), ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok {
			continue
		}
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		switch k {
		case "status":
			switch strings.ToLower(v) {
			case "complete":
				f["flagstatus"] = "1"
			case "flagged":
				f["flagstatus"] = "2"
			}
		case "start", "due", "completed":
			if t, err := time.Parse(time.RFC3339, v); err == nil {
				f["flag"+k] = t.UTC().Format(time.RFC3339)
			}
		case "icon":
			if n, err := strconv.Atoi(v); err == nil && n > 0 && n <= 6 {
				f["flagicon"] = strconv.Itoa(n)
			}
		}
	}
}
