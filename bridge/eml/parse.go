package eml

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-message/textproto"

	"crmbridge/bridge/internal/textcodec"
	"crmbridge/bridge/item"
	"crmbridge/crm"
	"crmbridge/internal/recovered"
)

const (
	// maxDepth bounds the nesting of multiparts followed; deeper parts are
	// reported and skipped.
	maxDepth = 32
	// maxParts bounds the number of MIME parts taken from one message.
	maxParts = 10000
)

// msgParser is the state of parsing one message.
type msgParser struct {
	pos      string // "<name>" or "<name>: message N"
	warns    []error
	atts     []crm.Attachment
	plain    string
	html     string
	hasPlain bool
	hasHTML  bool
	parts    int
}

func (m *msgParser) warnf(where, format string, args ...any) {
	pos := m.pos
	if where != "" {
		pos += ": " + where
	}
	m.warns = append(m.warns, item.Errorf(pos, format, args...))
}

// parseMessage turns one raw RFC 5322 message into an email Incoming. The
// warnings are *item.Error values for problems that did not stop the
// parse. A nil Incoming comes with a non-nil error.
func parseMessage(raw []byte, kind, pos string, envelope time.Time) (inc *crm.Incoming, warns []error, err error) {
	defer func() {
		if r := recover(); r != nil {
			recovered.Note(r)
			inc, warns, err = nil, nil, item.Errorf(pos, "cannot parse message (recovered panic: %v)", r)
		}
	}()
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil, item.Errorf(pos, "empty message")
	}
	m := &msgParser{pos: pos}
	hdrBytes, body := m.splitHeader(raw)
	h, herr := textproto.ReadHeader(headerReader(hdrBytes))
	if herr != nil {
		// Cannot happen after splitHeader's clean-up; keep what was read.
		m.warnf("header", "%v", herr)
	}

	fields := map[string]string{}
	rec := crm.Record{Entity: crm.Email, Fields: fields}

	subject := m.text(h, "Subject")
	item.SetIf(fields, "subject", subject)

	from := m.addresses(h, "From")
	var sender string
	var senderAddr string
	if len(from) > 0 {
		sender = formatAddress(from[0])
		senderAddr = from[0].Address
		rec.Parties = append(rec.Parties, crm.Party{Role: crm.RoleSender, Address: from[0].Address, Name: from[0].Name})
	}
	item.SetIf(fields, "sender", sender)
	// RFC 5322 3.6.2: a Sender other than the author is the mailbox that
	// sent the mail on the author's behalf; no field holds it.
	if snd := m.addresses(h, "Sender"); len(snd) > 0 && snd[0].Address != "" && !strings.EqualFold(snd[0].Address, senderAddr) {
		rec.Extras = append(rec.Extras, crm.SenderExtra(snd[0].Name, snd[0].Address))
	}
	var to []string
	for _, hr := range []struct {
		key  string
		role int
	}{{"To", crm.RoleTo}, {"Cc", crm.RoleCc}, {"Bcc", crm.RoleBcc}} {
		for _, a := range m.addresses(h, hr.key) {
			rec.Parties = append(rec.Parties, crm.Party{Role: hr.role, Address: a.Address, Name: a.Name})
			if hr.role == crm.RoleTo && a.Address != "" {
				to = append(to, a.Address)
			}
		}
	}
	item.SetIf(fields, "torecipients", strings.Join(to, ","))

	msgID := ""
	if ids := msgIDs(h.Get("Message-Id")); len(ids) > 0 {
		msgID = ids[0]
	}
	item.SetIf(fields, "messageid", msgID)
	if ids := msgIDs(h.Get("In-Reply-To")); len(ids) > 0 {
		fields["inreplyto"] = ids[0]
	}
	item.SetIf(fields, "references", strings.Join(msgIDs(strings.Join(h.Values("References"), " ")), " "))
	fields["directioncode"] = "false"
	m.readState(h, fields)

	var date time.Time
	if v := h.Get("Date"); v != "" {
		t, derr := parseDate(textcodec.String(v))
		if derr != nil {
			m.warnf("header Date", "%v (senton left empty)", derr)
		} else {
			date = t
			fields["senton"] = item.FormatTime(t)
		}
	}
	if t := receivedDate(h, envelope); !t.IsZero() {
		fields["receivedon"] = item.FormatTime(t)
	}
	// actualend is when the mail was sent, else received, as the PST
	// mapping sets it.
	if v := fields["senton"]; v != "" {
		fields["actualend"] = v
	} else {
		item.SetIf(fields, "actualend", fields["receivedon"])
	}
	// The header block as it was in the file (not the cleaned copy).
	hdrLen := len(raw)
	if body != nil {
		hdrLen = len(raw) - len(body)
	}
	item.SetIf(fields, "headers", textcodec.String(string(bytes.TrimRight(raw[:hdrLen], "\r\n"))))

	m.walk(h, body, "", 0)
	description := m.plain
	if !m.hasPlain || strings.TrimSpace(description) == "" {
		description = htmlToText(m.html)
	}
	item.SetIf(fields, "description", description)
	item.SetIf(fields, "descriptionhtml", m.html)
	rec.Attachments = m.atts

	keys := item.EmailKeys(msgID, senderAddr, date, subject, description)
	sum := sha256.Sum256(raw)
	inc = &crm.Incoming{
		Source: crm.SourceRef{
			Kind:    kind,
			Key:     sourceKey(keys[0]),
			Version: "sha256:" + hex.EncodeToString(sum[:]),
		},
		Record:     rec,
		Keys:       keys,
		ModifiedAt: date,
		Pos:        pos,
		// A mail has one Sender (RFC 5322 3.6: at most once).
		Once: map[string]bool{crm.ExtraSender: true},
	}
	return inc, m.warns, nil
}

// sourceKey is the Source.Key for an identity key: the normalized
// Message-ID, or the whole "mailhash:..." key when there is none.
func sourceKey(k string) string {
	if id, ok := strings.CutPrefix(k, "msgid:"); ok {
		return id
	}
	return k
}

// receivedDate is when the message arrived: the Delivery-Date header
// (RFC 2156, written by the delivering agent, and by our writer from the
// record's receivedon), else the date of the topmost Received header
// (RFC 5321 4.4: the text after its last ';'), else the mbox envelope's
// date.
func receivedDate(h textproto.Header, envelope time.Time) time.Time {
	if v := h.Get("Delivery-Date"); v != "" {
		if t, err := parseDate(v); err == nil {
			return t
		}
	}
	if v := h.Get("Received"); v != "" {
		if i := strings.LastIndexByte(v, ';'); i >= 0 {
			if t, err := parseDate(v[i+1:]); err == nil {
				return t
			}
		}
	}
	return envelope
}

// text decodes an unstructured header field, reporting encoded words it
// cannot decode.
func (m *msgParser) text(h textproto.Header, key string) string {
	s, err := decodeText(unfoldedValue(h, key))
	if err != nil {
		m.warnf("header "+key, "%v", err)
	}
	return strings.TrimSpace(s)
}

// unfoldedValue returns the value of the field key unfolded as RFC 5322
// 2.2.3 says: only the line breaks are removed, the white space around
// them stays ("a  b" folded as "a\r\n  b" reads "a  b"; Header.Get would
// collapse it to one space).
func unfoldedValue(h textproto.Header, key string) string {
	raw, err := h.Raw(key)
	if err != nil || raw == nil {
		return h.Get(key)
	}
	_, v, ok := bytes.Cut(raw, []byte(":"))
	if !ok {
		return h.Get(key)
	}
	v = bytes.ReplaceAll(v, []byte("\r\n"), nil)
	v = bytes.ReplaceAll(v, []byte("\n"), nil)
	return strings.Trim(string(v), " \t\r")
}

// addresses parses every field named key as one address list.
func (m *msgParser) addresses(h textproto.Header, key string) []*mail.Address {
	vals := h.Values(key)
	if len(vals) == 0 {
		return nil
	}
	list, err := parseAddressList(strings.Join(vals, ", "))
	if err != nil {
		m.warnf("header "+key, "%v (kept %d address(es))", err, len(list))
	}
	for _, a := range list {
		var unparsed bool
		if a.Address, unparsed = decapsulateAddress(a.Address); unparsed {
			// Written by crmbridge (encapsulateText) from text already
			// reported when it was read.
			continue
		}
		if a.Address != "" && !validAddrSpec(a.Address) && !isX500(a.Address) {
			m.warnf("header "+key, "%q is not an address (RFC 5322 3.4.1): kept as written", truncate(a.Address, 80))
		}
	}
	return list
}

// splitHeader separates the header block from the body and cleans the
// header so that textproto.ReadHeader accepts it: a line that is neither
// "Name: value" nor a continuation becomes a continuation of the field
// before it when more fields follow (anti-spam gateways break long headers
// that way; go-message issue #144), and the start of the body otherwise (a
// missing blank line). A message that does not start with a header field
// is all body.
func (m *msgParser) splitHeader(raw []byte) (hdr, body []byte) {
	var lines [][]byte
	rest := raw
	ended := false
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		var line []byte
		if i < 0 {
			line, rest = rest, nil
		} else {
			line, rest = rest[:i+1], rest[i+1:]
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			ended = true
			break
		}
		lines = append(lines, line)
	}
	// The last line that is a header field; every non-field line after it
	// (and not a continuation) starts the body.
	last := -1
	for i, l := range lines {
		if isHeaderLine(l) {
			last = i
		}
	}
	// Leading continuation lines (a line of spaces before the first field)
	// belong to no field: drop them, as Python's email package does. But
	// a first field whose own line is indented (text pasted with a
	// margin) is that field: its value is kept, not dropped with the
	// white space.
	first := 0
	for first < len(lines) && (lines[first][0] == ' ' || lines[first][0] == '\t') {
		if t := bytes.TrimLeft(lines[first], " \t"); len(t) > 0 && isHeaderLine(t) {
			lines[first] = t
			m.warnf("header", "white space before the first header field ignored")
			if first >= last {
				last = first
			}
			break
		}
		first++
	}
	if first > 0 && first < len(lines) && isHeaderLine(lines[first]) {
		m.warnf("header", "%d indented line(s) before the first header field ignored", first)
	}
	if len(lines) == 0 && ended {
		return []byte("\r\n"), rest // empty header
	}
	if last < 0 || first >= len(lines) || !isHeaderLine(lines[first]) {
		if len(lines) > 0 {
			m.warnf("header", "message does not start with a header field (%q): read as body only", truncate(string(bytes.TrimSpace(lines[0])), 60))
		}
		return []byte("\r\n"), raw
	}
	end := last + 1
	for end < len(lines) && (lines[end][0] == ' ' || lines[end][0] == '\t' || reParamLine.Match(lines[end])) {
		// A continuation, or a MIME parameter that lost its indentation
		// ("Content-Type: ...;\nname=\"a.zip\"", enmime issue #2).
		end++
	}
	var b bytes.Buffer
	for i, l := range lines[first:end] {
		if i > 0 && !isHeaderLine(l) && l[0] != ' ' && l[0] != '\t' {
			m.warnf("header", "malformed header line %q kept as a continuation", truncate(string(bytes.TrimSpace(l)), 60))
			b.WriteByte(' ')
		}
		b.Write(bytes.TrimRight(l, "\r\n"))
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	if end < len(lines) {
		m.warnf("header", "no blank line between header and body (body starts at %q)", truncate(string(bytes.TrimSpace(lines[end])), 60))
		body = raw[offsetOf(raw, lines[end]):]
	} else if ended {
		body = rest
	}
	return b.Bytes(), body
}

var reParamLine = regexp.MustCompile(`^[A-Za-z0-9_.-]+\*?(?:\d+\*?)?=`)

// offsetOf returns the offset of sub (a sub-slice of b) in b.
func offsetOf(b, sub []byte) int {
	if len(sub) == 0 {
		return len(b)
	}
	return cap(b) - cap(sub)
}

// isHeaderLine reports whether l starts with a field name and a colon
// (RFC 5322 2.2: printable ASCII except colon; white space before the colon
// is tolerated as obsolete syntax).
func isHeaderLine(l []byte) bool {
	n := 0
	for i, c := range l {
		if c == ':' {
			return n > 0
		}
		if c == ' ' || c == '\t' {
			// obs-optional: "Subject : x"
			if n == 0 {
				return false
			}
			for _, d := range l[i:] {
				if d == ':' {
					return true
				}
				if d != ' ' && d != '\t' {
					return false
				}
			}
			return false
		}
		if c < 33 || c > 126 {
			return false
		}
		n++
	}
	return false
}

// walk visits one MIME entity: a multipart is walked part by part; a text
// part becomes the body or an attachment, anything else an attachment.
func (m *msgParser) walk(h textproto.Header, body []byte, path string, depth int) {
	m.parts++
	where := "part " + path
	if path == "" {
		where = "body"
	}
	if m.parts > maxParts {
		if m.parts == maxParts+1 {
			m.warnf(where, "more than %d MIME parts: the rest is skipped", maxParts)
		}
		return
	}
	ct := h.Get("Content-Type")
	mt, params, err := parseParams(ct)
	if err != nil {
		m.warnf(where, "Content-Type: %v", err)
	}
	if mt == "" || !validMediaType(mt) {
		if ct != "" {
			m.warnf(where, "invalid Content-Type %q read as text/plain", truncate(ct, 60))
		}
		// RFC 2045 5.2: an invalid Content-Type is text/plain;
		// charset=us-ascii, its parameters discarded: a "name=" there
		// does not make the body an attachment. The charset is kept as
		// a hint only (us-ascii reads the same).
		mt = "text/plain"
		params = map[string]string{"charset": params["charset"]}
	}
	if strings.HasPrefix(mt, "multipart/") {
		boundary := params["boundary"]
		if boundary == "" {
			m.warnf(where, "multipart without boundary read as text/plain")
			mt = "text/plain"
		} else {
			if depth >= maxDepth {
				m.warnf(where, "multipart nested deeper than %d levels skipped", maxDepth)
				return
			}
			m.walkMultipart(body, boundary, path, depth)
			return
		}
	}
	m.leaf(h, mt, params, body, where)
}

// validMediaType reports whether mt is "type/subtype" with both parts
// RFC 2045 5.1 tokens.
func validMediaType(mt string) bool {
	typ, sub, ok := strings.Cut(mt, "/")
	return ok && isToken(typ) && isToken(sub)
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 {
			return false
		}
	}
	return true
}

// leaf turns a non-multipart entity into the plain or HTML body or an
// attachment.
func (m *msgParser) leaf(h textproto.Header, mt string, params map[string]string, body []byte, where string) {
	disp, dparams, err := parseParams(h.Get("Content-Disposition"))
	if err != nil {
		m.warnf(where, "Content-Disposition: %v", err)
	}
	name := strings.TrimSpace(dparams["filename"])
	if name == "" {
		name = strings.TrimSpace(params["name"])
	}
	data, err := decodeTransfer(h.Get("Content-Transfer-Encoding"), body)
	if err != nil {
		m.warnf(where, "%v", err)
	}
	if disp != "attachment" && name == "" && (mt == "text/plain" || mt == "text/html") {
		if mt == "text/plain" && !m.hasPlain || mt == "text/html" && !m.hasHTML {
			text, err := decodeCharset(params["charset"], data)
			if strings.TrimSpace(text) == "" {
				// An empty text part (a multipart whose delimiters are
				// missing, read as text) shows nothing: the body is the
				// first text part a reader would show.
				return
			}
			if err != nil {
				m.warnf(where, "%v (read as windows-1252)", err)
			}
			if mt == "text/plain" {
				m.plain, m.hasPlain = text, true
			} else {
				m.html, m.hasHTML = text, true
			}
			return
		}
	}
	cid := strings.TrimSpace(h.Get("Content-Id"))
	cid = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(cid, "<"), ">"))
	if name == "" {
		name = defaultName(mt, data, len(m.atts)+1)
	}
	a := crm.Attachment{
		Name:      name,
		MimeType:  mt,
		ContentID: cid,
		Inline:    disp == "inline" || disp == "" && cid != "",
		Size:      int64(len(data)),
		Open:      func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
	}
	m.atts = append(m.atts, a)
}

// walkMultipart walks the parts of a multipart body (RFC 2046 5.1.1).
// It splits the body itself rather than through go-message's multipart
// reader, which loses a part whose header it cannot read and stops at a
// missing closing boundary (go-message issues #129 and #144): here a part
// header gets the same lenient reading as the message header, a missing
// closing boundary keeps every part read, and a body without any
// delimiter line is read as text, as Python's email package does.
func (m *msgParser) walkMultipart(body []byte, boundary, path string, depth int) {
	where := "part " + path
	if path == "" {
		where = "body"
	}
	parts, found, closed, pre := splitMultipart(body, boundary)
	if !found {
		m.warnf(where, "multipart boundary %q not found: body read as text/plain", truncate(boundary, 40))
		m.leaf(textproto.Header{}, "text/plain", map[string]string{}, body, where)
		return
	}
	if closed && len(parts) == 0 && len(bytes.TrimSpace(pre)) > 0 {
		// The close delimiter came before any delimiter (the first one
		// mangled): no body part, only the preamble, which holds all the
		// text there is. Read as text/plain, as Python's email package
		// does, rather than dropped.
		m.warnf(where, "multipart has no body part before its close delimiter: preamble read as text/plain")
		m.leaf(textproto.Header{}, "text/plain", map[string]string{}, pre, where)
		return
	}
	if !closed {
		m.warnf(where, "missing closing boundary: kept the %d part(s) read", len(parts))
	}
	for i, p := range parts {
		sub := strconv.Itoa(i + 1)
		if path != "" {
			sub = path + "." + sub
		}
		sp := &msgParser{pos: m.pos + ": part " + sub}
		hdr, data := sp.splitHeader(p)
		m.warns = append(m.warns, sp.warns...)
		h, err := textproto.ReadHeader(headerReader(hdr))
		if err != nil {
			m.warnf("part "+sub, "header: %v", err)
		}
		m.walk(h, data, sub, depth+1)
	}
}

// splitMultipart returns the parts of a multipart body between delimiter
// lines "--boundary" (white space may follow; the line break before a
// delimiter belongs to it). found reports whether any delimiter was seen,
// closed whether the close delimiter "--boundary--" was; pre is the
// preamble, the text before the first delimiter line.
func splitMultipart(body []byte, boundary string) (parts [][]byte, found, closed bool, pre []byte) {
	delim := []byte("--" + boundary)
	start := -1 // start of the current part, -1 in the preamble
	for off := 0; off < len(body); {
		end := bytes.IndexByte(body[off:], '\n')
		next := len(body)
		line := body[off:]
		if end >= 0 {
			next = off + end + 1
			line = body[off : off+end]
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if bytes.HasPrefix(line, delim) {
			rest := line[len(delim):]
			isClose := bytes.HasPrefix(rest, []byte("--"))
			if isClose {
				rest = rest[2:]
			}
			if len(bytes.Trim(rest, " \t")) == 0 {
				if !found {
					pre = bytes.TrimRight(body[:off], "\r\n")
				}
				found = true
				if start >= 0 && start < off {
					// (a delimiter right after a delimiter is an empty
					// part with neither header nor body: skipped)
					partEnd := off
					if partEnd > start && body[partEnd-1] == '\n' {
						partEnd--
						if partEnd > start && body[partEnd-1] == '\r' {
							partEnd--
						}
					}
					parts = append(parts, body[start:partEnd])
				}
				if isClose {
					return parts, true, true, pre
				}
				start = next
				if len(parts) >= maxParts {
					return parts, true, false, pre
				}
			}
		}
		off = next
	}
	if start >= 0 && start < len(body) {
		// An unclosed last part ends at the end of the body, less the
		// final line break (as in Python's email package).
		last := body[start:]
		if bytes.HasSuffix(last, []byte("\r\n")) {
			last = last[:len(last)-2]
		} else if bytes.HasSuffix(last, []byte("\n")) {
			last = last[:len(last)-1]
		}
		parts = append(parts, last)
	}
	return parts, found, false, pre
}

// defaultName names an attachment that has no file name: the subject of an
// attached message, else "attachment-N" with an extension for its type.
func defaultName(mt string, data []byte, n int) string {
	if mt == "message/rfc822" || mt == "message/global" {
		hdr, _ := (&msgParser{}).splitHeader(data)
		h, err := textproto.ReadHeader(headerReader(hdr))
		if err == nil {
			if s, err := decodeText(h.Get("Subject")); err == nil {
				if s = strings.TrimSpace(s); s != "" {
					return s + ".eml"
				}
			}
		}
		return fmt.Sprintf("message-%d.eml", n)
	}
	return fmt.Sprintf("attachment-%d%s", n, extensionFor(mt))
}

func extensionFor(mt string) string {
	switch mt {
	case "text/plain", "message/delivery-status", "message/disposition-notification", "text/rfc822-headers":
		return ".txt"
	case "text/html":
		return ".html"
	case "text/calendar":
		return ".ics"
	case "text/vcard", "text/x-vcard":
		return ".vcf"
	case "image/png":
		return ".png"
	case "image/jpeg", "image/jpg", "image/pjpeg":
		return ".jpg"
	case "image/gif":
		return ".gif"
	case "application/pdf":
		return ".pdf"
	case "application/ms-tnef", "application/vnd.ms-tnef":
		return ".dat"
	case "application/pgp-signature":
		return ".asc"
	case "application/pkcs7-signature", "application/x-pkcs7-signature":
		return ".p7s"
	}
	return ".bin"
}

// headerReader reads a header block held in memory through a buffer of
// its own size (bufio's default 4 KiB per part was the mbox reader's
// largest allocation): a line never outgrows the buffer.
func headerReader(hdr []byte) *bufio.Reader {
	return bufio.NewReaderSize(bytes.NewReader(hdr), len(hdr)+1)
}
