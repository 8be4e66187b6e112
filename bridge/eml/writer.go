package eml

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"path"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"crmbridge/bridge/internal/textcodec"
	"crmbridge/crm"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
)

// ErrNotEmail is returned by Write for a record that is not an email.
var ErrNotEmail = errors.New("eml: record is not an email")

// Write writes an email record as one RFC 5322 message with MIME (RFC
// 2045-2049) to w: From, To, Cc and Bcc from the record's parties (From
// falls back to the sender field, To to torecipients), Subject (encoded
// words when not ASCII), Date from senton (else receivedon), the original
// Message-ID (one derived from the record id when it has none),
// In-Reply-To and References. The body is text/plain (description),
// text/html (descriptionhtml), or both as multipart/alternative; inline
// attachments with a Content-ID go with the HTML in multipart/related;
// other attachments follow in multipart/mixed, base64-encoded and named
// with an RFC 2231 filename* parameter (and an RFC 2047 name= for older
// readers). An attached message (message/rfc822) is written unencoded with
// CRLF line ends, as RFC 2046 5.2.1 requires. A record holding a
// delivery-status, disposition (read receipt) or feedback report is
// written as an RFC 6522 multipart/report (writeReport), its report part
// as text. Each attachment's Open is called once and its reader closed.
func Write(w io.Writer, rec crm.Record) error {
	if rec.Entity != crm.Email {
		return fmt.Errorf("%w (%q)", ErrNotEmail, rec.Entity)
	}
	rec = textcodec.ValidRecord(rec)
	f := rec.Fields
	var h mail.Header
	if t := fieldTime(f, "senton", "receivedon"); !t.IsZero() {
		h.SetDate(t)
	}
	from, to, cc, bcc := recipients(rec)
	if len(from) > 0 {
		h.Set("From", formatAddresses(from))
	}
	if len(to) > 0 {
		h.Set("To", formatAddresses(to))
	}
	if len(cc) > 0 {
		h.Set("Cc", formatAddresses(cc))
	}
	if len(bcc) > 0 {
		h.Set("Bcc", formatAddresses(bcc))
	}
	if s := f["subject"]; s != "" {
		h.Set("Subject", subjectValue(s))
	}
	if ids := trimIDs(msgIDs(f["messageid"])); len(ids) > 0 && ids[0] != "" {
		h.SetMessageID(ids[0])
	} else {
		h.SetMessageID(generatedID(rec))
	}
	if ids := trimIDs(msgIDs(f["inreplyto"])); len(ids) > 0 {
		h.SetMsgIDList("In-Reply-To", ids[:1])
	}
	if ids := trimIDs(msgIDs(f["references"])); len(ids) > 0 {
		h.SetMsgIDList("References", ids)
	}
	writeState(&h, f)
	addKeptHeaders(&h, f["headers"])
	if !h.Has("Sender") {
		for _, x := range rec.Extras {
			// RFC 5322 3.6.2: the mailbox that sent the message for the
			// author in From.
			if x.Name == crm.ExtraSender && x.Value != "" {
				h.Set("Sender", formatAddresses([]*mail.Address{{Name: x.Params["CN"], Address: x.Value}}))
				break
			}
		}
	}

	text, html := f["description"], f["descriptionhtml"]
	var related, other []crm.Attachment
	for _, a := range rec.Attachments {
		if a.Inline && a.ContentID != "" && html != "" {
			related = append(related, a)
		} else {
			other = append(other, a)
		}
	}
	b := newBoundaries(rec)
	if report, rt, orig, rest, ok := reportParts(other); ok {
		return writeReport(w, b, h, text, html, related, report, rt, orig, rest)
	}
	body := func(mw *message.Writer) error { return writeText(mw, b, text, html, related) }
	if len(other) == 0 {
		return writeTop(w, b, h, text, html, related)
	}
	h.SetContentType("multipart/mixed", b.next(nil))
	mw, err := message.CreateWriter(w, h.Header)
	if err != nil {
		return fmt.Errorf("write header: %w", err)
	}
	if err := body(mw); err != nil {
		return err
	}
	for _, a := range other {
		if err := writeAttachment(mw, a); err != nil {
			return err
		}
	}
	return mw.Close()
}

// writeTop writes a message without separate attachments: its body is the
// top-level entity.
func writeTop(w io.Writer, b *boundaries, h mail.Header, text, html string, related []crm.Attachment) error {
	switch {
	case len(related) > 0:
		h.SetContentType("multipart/related", b.next(map[string]string{"type": alternativeOrHTML(text)}))
	case text != "" && html != "":
		h.SetContentType("multipart/alternative", b.next(nil))
	case html != "":
		return writeLeaf(w, h.Header, "text/html", html)
	default:
		return writeLeaf(w, h.Header, "text/plain", text)
	}
	mw, err := message.CreateWriter(w, h.Header)
	if err != nil {
		return fmt.Errorf("write header: %w", err)
	}
	if len(related) > 0 {
		if err := writeAlternative(mw, b, text, html); err != nil {
			return err
		}
		for _, a := range related {
			if err := writeAttachment(mw, a); err != nil {
				return err
			}
		}
	} else {
		if err := writePart(mw, "text/plain", text); err != nil {
			return err
		}
		if err := writePart(mw, "text/html", html); err != nil {
			return err
		}
	}
	return mw.Close()
}

func alternativeOrHTML(text string) string {
	if text != "" {
		return "multipart/alternative"
	}
	return "text/html"
}

// writeText writes the body as one part of a multipart/mixed message.
func writeText(mw *message.Writer, b *boundaries, text, html string, related []crm.Attachment) error {
	if len(related) == 0 {
		return writeAlternative(mw, b, text, html)
	}
	var h message.Header
	h.SetContentType("multipart/related", b.next(map[string]string{"type": alternativeOrHTML(text)}))
	pw, err := mw.CreatePart(h)
	if err != nil {
		return fmt.Errorf("write related part: %w", err)
	}
	if err := writeAlternative(pw, b, text, html); err != nil {
		return err
	}
	for _, a := range related {
		if err := writeAttachment(pw, a); err != nil {
			return err
		}
	}
	return pw.Close()
}

// writeAlternative writes text and HTML as multipart/alternative, or the
// one that is present as a single part.
func writeAlternative(mw *message.Writer, b *boundaries, text, html string) error {
	switch {
	case text != "" && html != "":
		var h message.Header
		h.SetContentType("multipart/alternative", b.next(nil))
		pw, err := mw.CreatePart(h)
		if err != nil {
			return fmt.Errorf("write alternative part: %w", err)
		}
		if err := writePart(pw, "text/plain", text); err != nil {
			return err
		}
		if err := writePart(pw, "text/html", html); err != nil {
			return err
		}
		return pw.Close()
	case html != "":
		return writePart(mw, "text/html", html)
	default:
		return writePart(mw, "text/plain", text)
	}
}

// formatDisposition formats a Content-Disposition with the file name, if
// any (RFC 2183 2.3). mime.FormatMediaType applies RFC 2231 when the name
// needs it but writes one parameter of any length; a long one is split
// into RFC 2231 3 continuations (filename*0*=utf-8”...; filename*1*=...)
// so that no header line exceeds 998 octets (RFC 5322 2.1.1).
func formatDisposition(disp, name string) string {
	if name == "" {
		return disp
	}
	if v := mime.FormatMediaType(disp, map[string]string{"filename": name}); len(v) <= 200 {
		return v
	}
	const attrChars = "!#$&+-.^_`|~" // RFC 2231 7 attribute-char, besides letters and digits
	var enc []string                 // the name's octets, one escape or character each
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c < 0x80 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(attrChars, c) >= 0) {
			enc = append(enc, string(c))
		} else {
			enc = append(enc, fmt.Sprintf("%%%02X", c))
		}
	}
	var b strings.Builder
	b.WriteString(disp)
	for n := 0; len(enc) > 0; n++ {
		k := min(len(enc), 20)
		fmt.Fprintf(&b, "; filename*%d*=", n) // go-message folds at the space
		if n == 0 {
			b.WriteString("utf-8''")
		}
		b.WriteString(strings.Join(enc[:k], ""))
		enc = enc[k:]
	}
	return b.String()
}

// formatAddresses formats an address list (RFC 5322 3.4). A display name
// that is not printable ASCII, or that looks like an encoded word, is
// written as B encoded words: RFC 2047 5(3) allows a Q word in a phrase
// no specials such as '\\', which mime.QEncoding (used by
// mail.Address.String) writes as they are and net/mail then refuses.
func formatAddresses(addrs []*mail.Address) string {
	parts := make([]string, len(addrs))
	for i, a := range addrs {
		if a.Name == "" || (isPrintableASCII(a.Name) && !strings.Contains(a.Name, "=?")) {
			parts[i] = a.String()
			continue
		}
		parts[i] = bWords(a.Name) + " " + (&mail.Address{Address: a.Address}).String()
	}
	return strings.Join(parts, ", ")
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// bWords encodes s as B encoded words (RFC 2047 4.1) of at most 75
// octets (RFC 2047 2), each ending between UTF-8 characters, separated by
// spaces, which a reader drops between encoded words (RFC 2047 6.2).
// Unlike mime.BEncoding it encodes ASCII text too.
func bWords(s string) string {
	var words []string
	for len(s) > 0 {
		n := min(len(s), 45) // 10 + 60 base64 + 2 = 72 octets
		for n < len(s) && n > 1 && !utf8.RuneStart(s[n]) {
			n--
		}
		words = append(words, "=?utf-8?b?"+base64.StdEncoding.EncodeToString([]byte(s[:n]))+"?=")
		s = s[n:]
	}
	return strings.Join(words, " ")
}

func textHeader(h *message.Header, mt string) {
	h.SetContentType(mt, map[string]string{"charset": "utf-8"})
	h.Set("Content-Transfer-Encoding", "quoted-printable")
}

// writeLeaf writes a single-part message with header h.
func writeLeaf(w io.Writer, h message.Header, mt, s string) error {
	textHeader(&h, mt)
	ww, err := message.CreateWriter(w, h)
	if err != nil {
		return fmt.Errorf("write header: %w", err)
	}
	if _, err := io.WriteString(ww, s); err != nil {
		return fmt.Errorf("write body: %w", err)
	}
	return ww.Close()
}

func writePart(mw *message.Writer, mt, s string) error {
	var h message.Header
	textHeader(&h, mt)
	pw, err := mw.CreatePart(h)
	if err != nil {
		return fmt.Errorf("write %s part: %w", mt, err)
	}
	if _, err := io.WriteString(pw, s); err != nil {
		return fmt.Errorf("write %s part: %w", mt, err)
	}
	return pw.Close()
}

// writeAttachment writes one attachment part.
func writeAttachment(mw *message.Writer, a crm.Attachment) error {
	if a.Open == nil {
		return fmt.Errorf("attachment %q: no content to write", a.Name)
	}
	rc, err := a.Open()
	if err != nil {
		return fmt.Errorf("open attachment %q: %w", a.Name, err)
	}
	defer rc.Close()
	mt := strings.ToLower(strings.TrimSpace(a.MimeType))
	if _, _, err := mime.ParseMediaType(mt); err != nil || !strings.Contains(mt, "/") || strings.HasPrefix(mt, "multipart/") {
		mt = "application/octet-stream"
	}
	name := headerFileName(a.Name)
	var h message.Header
	ctParams := map[string]string{}
	if name != "" {
		// RFC 2047 in name= is not standard but is what Outlook reads.
		ctParams["name"] = mime.QEncoding.Encode("utf-8", name)
	}
	disp := "attachment"
	if a.Inline {
		disp = "inline"
	}
	if cid := headerToken(a.ContentID); cid != "" {
		h.Set("Content-Id", "<"+cid+">")
	}
	var content io.Reader = rc
	var dst func(io.Writer) io.Writer // what the part's content is written through
	if mt == "message/rfc822" || mt == "message/global" {
		// A message is written with CRLF line ends (crlf), 8bit when
		// its lines fit (RFC 5322 2.1.1: at most 998 octets), else
		// binary (RFC 3030). It is read twice, to measure its lines,
		// then to write it, a buffer at a time: an attached message
		// can be as large as the attachments it holds.
		longest, err := longestCRLFLine(rc)
		if err != nil {
			return fmt.Errorf("read attachment %q: %w", a.Name, err)
		}
		again, err := a.Open()
		if err != nil {
			return fmt.Errorf("open attachment %q: %w", a.Name, err)
		}
		defer again.Close()
		content = again
		dst = func(w io.Writer) io.Writer { return &crlfWriter{w: w} }
		h.Set("Content-Transfer-Encoding", "binary")
		if longest <= 998 {
			h.Set("Content-Transfer-Encoding", "8bit")
		}
	} else if textual(mt) {
		b, err := io.ReadAll(rc)
		if err != nil {
			return fmt.Errorf("read attachment %q: %w", a.Name, err)
		}
		b = crlf(b)
		content = bytes.NewReader(b)
		h.Set("Content-Transfer-Encoding", "base64")
		if enc := textEncoding(b); enc != "" {
			h.Set("Content-Transfer-Encoding", enc)
		}
	} else {
		h.Set("Content-Transfer-Encoding", "base64")
	}
	h.Set("Content-Type", mime.FormatMediaType(mt, ctParams))
	h.Set("Content-Disposition", formatDisposition(disp, name))
	pw, err := mw.CreatePart(h)
	if err != nil {
		return fmt.Errorf("write attachment %q: %w", a.Name, err)
	}
	var w io.Writer = pw
	if dst != nil {
		w = dst(pw)
	}
	if _, err := io.Copy(w, content); err != nil {
		return fmt.Errorf("write attachment %q: %w", a.Name, err)
	}
	return pw.Close()
}

// crlfWriter writes what it is given as crlf would turn it: every LF that
// no CR precedes becomes CRLF.
type crlfWriter struct {
	w  io.Writer
	cr bool // the last byte written was a CR
}

func (c *crlfWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if _, err := c.w.Write(p); err != nil {
				return n, err
			}
			c.cr = p[len(p)-1] == '\r'
			return n + len(p), nil
		}
		if i > 0 {
			if _, err := c.w.Write(p[:i]); err != nil {
				return n, err
			}
			c.cr = p[i-1] == '\r'
		}
		end := "\r\n"
		if c.cr {
			end = "\n"
		}
		if _, err := io.WriteString(c.w, end); err != nil {
			return n, err
		}
		c.cr = false
		n += i + 1
		p = p[i+1:]
	}
	return n, nil
}

// longestCRLFLine returns the length of the longest line of r's content as
// crlf writes it (longestLine of crlf's result): a line that ends in a bare
// LF gains the CR.
func longestCRLFLine(r io.Reader) (int, error) {
	buf := make([]byte, 32<<10)
	longest, cur, cr := 0, 0, false
	for {
		n, err := r.Read(buf)
		for _, b := range buf[:n] {
			if b == '\n' {
				if !cr {
					cur++
				}
				longest, cur = max(longest, cur), 0
			} else {
				cur++
			}
			cr = b == '\r'
		}
		if err == io.EOF {
			return max(longest, cur), nil
		}
		if err != nil {
			return 0, err
		}
	}
}

// crlf turns bare LF line ends into CRLF.
func crlf(b []byte) []byte {
	if !bytes.Contains(b, []byte("\n")) {
		return b
	}
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
}

func longestLine(b []byte) int {
	longest := 0
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			i = len(b)
		}
		longest = max(longest, i)
		if i == len(b) {
			break
		}
		b = b[i+1:]
	}
	return longest
}

// trimIDs returns the ids without angle brackets, white space or control
// characters, so that a stored value cannot inject a header line; ids left
// empty are dropped.
func trimIDs(ids []string) []string {
	var out []string
	for _, id := range ids {
		if id = headerToken(strings.Trim(id, "<>")); id != "" {
			out = append(out, id)
		}
	}
	return out
}

// headerToken removes white space, control characters and angle brackets
// from s (a msg-id, a Content-ID or an address; UTF-8 stays, RFC 6532).
func headerToken(s string) string {
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7f || r == '<' || r == '>' || unicode.IsControl(r) || unicode.IsSpace(r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, s)
}

// fieldTime returns the first of the named time fields that parses.
func fieldTime(f map[string]string, names ...string) time.Time {
	for _, n := range names {
		if t, err := time.Parse(time.RFC3339, f[n]); err == nil {
			return t
		}
	}
	return time.Time{}
}

// recipients returns the From, To, Cc and Bcc addresses of rec: its
// parties, with the sender and torecipients fields as fallbacks. An
// Exchange X.500 address is IMCEA-encapsulated (encapsulateEX), and so is
// any other address that is not an RFC 5322 addr-spec (encapsulateText).
func recipients(rec crm.Record) (from, to, cc, bcc []*mail.Address) {
	for _, p := range rec.Parties {
		addr := strings.TrimSpace(p.Address)
		if addr == "" {
			continue // the party rule (crm.Party) leaves none
		}
		a := &mail.Address{Name: p.Name, Address: headerToken(addr)}
		switch {
		case isX500(addr):
			a.Address = encapsulateEX(addr)
		case !validAddrSpec(a.Address) || a.Address != addr:
			a.Address = encapsulateText(addr)
		}
		switch p.Role {
		case crm.RoleSender:
			from = append(from, a)
		case crm.RoleTo:
			to = append(to, a)
		case crm.RoleCc:
			cc = append(cc, a)
		case crm.RoleBcc:
			bcc = append(bcc, a)
		}
	}
	if len(from) == 0 {
		from, _ = parseAddressList(rec.Fields["sender"])
	}
	if len(to) == 0 {
		to, _ = parseAddressList(rec.Fields["torecipients"])
	}
	return from[:min(len(from), 1)], to, cc, bcc
}

// generatedID is the Message-ID given to a record that has none: derived
// from the record id (or, without one, from its content), so writing the
// same record twice gives the same id.
func generatedID(rec crm.Record) string {
	id := strings.ToLower(strings.TrimSpace(rec.ID))
	if id == "" {
		h := sha256.New()
		keys := make([]string, 0, len(rec.Fields))
		for k := range rec.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(h, "%s\x00%s\x00", k, rec.Fields[k])
		}
		id = hex.EncodeToString(h.Sum(nil))[:32]
	}
	var b strings.Builder
	for _, r := range id {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			b.WriteRune(r)
		}
	}
	return b.String() + "@crmbridge.invalid"
}

// subjectValue is the Subject field body that reads back as s byte for
// byte. A subject of printable ASCII, spaces and tabs, with no white space
// at either end and nothing that looks like an encoded word, goes as it
// is: folding only inserts CRLF before white space, and unfolding removes
// just the CRLF (RFC 5322 2.2.3). Any other is written whole as RFC 2047
// encoded words (base64 of UTF-8, at most 75 octets each, separated by
// folding white space that readers drop between encoded words, RFC 2047
// 6.2), which carry every byte, controls and inner runs of blanks
// included.
func subjectValue(s string) string {
	plain := !strings.Contains(s, "=?") && strings.TrimSpace(s) == s
	for i := 0; plain && i < len(s); i++ {
		c := s[i]
		plain = c == '\t' || c >= ' ' && c <= '~'
	}
	if plain {
		return s
	}
	return bWords(s)
}

// boundaries gives the multipart boundaries of one message, derived from
// its content, so that the same record is written as the same bytes
// (go-message would pick random ones). RFC 2046 5.1.1: a boundary must
// not occur in the parts it separates; "=_" never occurs in
// quoted-printable or base64 output, which every text and attachment part
// is, and the digest makes a clash with an embedded message's text
// practically impossible.
type boundaries struct {
	seed string
	n    int
}

func newBoundaries(rec crm.Record) *boundaries {
	h := sha256.New()
	keys := make([]string, 0, len(rec.Fields))
	for k := range rec.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(h, "%q\n", rec.ID)
	for _, k := range keys {
		fmt.Fprintf(h, "%q=%q\n", k, rec.Fields[k])
	}
	for _, p := range rec.Parties {
		fmt.Fprintf(h, "%d %q %q\n", p.Role, p.Address, p.Name)
	}
	for _, a := range rec.Attachments {
		fmt.Fprintf(h, "%q %q %q %d %q\n", a.Name, a.MimeType, a.ContentID, a.Size, a.SHA256)
	}
	return &boundaries{seed: hex.EncodeToString(h.Sum(nil))[:24]}
}

// next returns params with the next boundary added.
func (b *boundaries) next(params map[string]string) map[string]string {
	if params == nil {
		params = map[string]string{}
	}
	b.n++
	params["boundary"] = fmt.Sprintf("=_%s_%d", b.seed, b.n)
	return params
}

// writeState writes what an e-mail record knows beyond the RFC 5322
// fields, in headers Outlook and Thunderbird read: when it arrived
// (Delivery-Date, RFC 2156; our reader takes it as receivedon), its
// priority (Importance, RFC 2156, which Outlook reads, and X-Priority,
// which Thunderbird reads), its sensitivity (Sensitivity, RFC 2156), its
// categories (Keywords, RFC 5322 3.6.5: Outlook's categories, Thunderbird's
// tags), the Outlook folder it came from (X-Folder, as in the Enron
// corpus and readpst's output), its follow-up flag (writeFlag) and
// whether it was sent or received (writeDirection). readState reads every one of them back. Values with line breaks or controls are
// left out rather than let into a header.
func writeState(h *mail.Header, f map[string]string) {
	if t := fieldTime(f, "receivedon"); !t.IsZero() {
		h.Set("Delivery-Date", t.Format(time.RFC1123Z))
	}
	switch strings.TrimSpace(f["prioritycode"]) {
	case "0":
		h.Set("Importance", "low")
		h.Set("X-Priority", "5 (Lowest)")
	case "1":
		h.Set("Importance", "normal")
		h.Set("X-Priority", "3 (Normal)")
	case "2":
		h.Set("Importance", "high")
		h.Set("X-Priority", "1 (Highest)")
	}
	switch strings.TrimSpace(f["sensitivity"]) {
	case "1":
		h.Set("Sensitivity", "Personal")
	case "2":
		h.Set("Sensitivity", "Private")
	case "3":
		h.Set("Sensitivity", "Company-Confidential")
	}
	var cats []string
	for _, c := range strings.Split(f["categories"], ",") {
		if c = strings.TrimSpace(c); c != "" && headerSafe(c) {
			cats = append(cats, c)
		}
	}
	if len(cats) > 0 {
		h.Set("Keywords", subjectValueList(cats))
	}
	if fo := strings.TrimSpace(f["folder"]); fo != "" && headerSafe(fo) {
		h.Set("X-Folder", subjectValue(fo))
	}
	writeFlag(h, f)
	writeDirection(h, f)
}

// headerSafe reports whether s has no control character (CR and LF
// included) to carry into a header.
func headerSafe(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// subjectValueList writes each phrase as subjectValue does, separated by
// commas (Keywords is a list of phrases).
func subjectValueList(ps []string) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = subjectValue(p)
	}
	return strings.Join(out, ", ")
}

// maxHeaderName bounds an attachment name in headers: 255 bytes is the
// longest file name common file systems take, and it keeps the
// Content-Type and Content-Disposition lines (RFC 2231 percent-encoding
// triples a byte) within RFC 5322's 998 octets.
const maxHeaderName = 255

// headerFileName makes an attachment name safe for the name= and
// filename= parameters: valid UTF-8, no control characters (CR and LF
// included) and no bidirectional overrides or isolates (which can show
// "txt.exe" as "exe.txt", CVE-2021-42574), cut to maxHeaderName bytes at
// a character boundary, keeping the extension.
func headerFileName(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0:
			return -1
		case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	s = strings.TrimSpace(s)
	if len(s) <= maxHeaderName {
		return s
	}
	ext := path.Ext(s)
	if len(ext) > 16 || !utf8.ValidString(ext) {
		ext = ""
	}
	base := s[:len(s)-len(ext)]
	cut := maxHeaderName - len(ext)
	for cut > 0 && !utf8.RuneStart(base[cut]) {
		cut--
	}
	return base[:cut] + ext
}
