package vcf

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"crmbridge/bridge/internal/textcodec"
	"crmbridge/bridge/item"
	"crmbridge/crm"
)

// maxPhoto is the largest photo the Encoder embeds.
const maxPhoto = 8 << 20

// Encoder writes CRM contacts (and accounts) as vCards. It builds each card
// in memory and writes it with one Write, so a failed Encode writes
// nothing. An Encoder is not safe for concurrent use.
type Encoder struct {
	w       io.Writer
	version string
	err     error
	buf     bytes.Buffer
	long    []byte              // a line longer than one line, to fold (endLine)
	typs    map[string][]string // types' results
}

// NewEncoder returns an Encoder that writes vCards of the given version to
// w: "2.1" (Outlook's own format: quoted-printable UTF-8 for non-ASCII
// values), "3.0" (the default, for "") or "4.0". Any other version makes
// every Encode fail.
func NewEncoder(w io.Writer, version string) *Encoder {
	e := &Encoder{w: w, version: version}
	switch version {
	case "":
		e.version = "3.0"
	case "2.1", "3.0", "4.0":
	default:
		e.err = fmt.Errorf("vcf: unsupported vCard version %q (want 2.1, 3.0 or 4.0)", version)
	}
	return e
}

// Encode writes rec, a contact or an account, as one vCard without REV.
func (e *Encoder) Encode(rec crm.Record) error { return e.EncodeRev(rec, time.Time{}) }

// EncodeRev writes rec as one vCard whose REV is rev (omitted when zero).
// The UID is the one the card was read with (a kept UID extra) or the
// record's ID, and X-CRMBRIDGE-ID the ID when the UID is not; its first
// image attachment (a contact's photo) becomes PHOTO.
func (e *Encoder) EncodeRev(rec crm.Record, rev time.Time) error {
	if e.err != nil {
		return e.err
	}
	return e.EncodeValidRev(textcodec.ValidRecord(rec), rev)
}

// EncodeValidRev is EncodeRev for a record whose texts (field names and
// values, parties, attachments' names, types and content ids) the caller
// has made valid UTF-8 already, as an export does before it encodes
// (bridge's cleanView, which also says which records it changed): the
// texts are not checked again. Invalid bytes given to it would be written
// as they are. An export of 100,000 contacts spent a tenth of its
// encoding checking twice.
func (e *Encoder) EncodeValidRev(rec crm.Record, rev time.Time) error {
	if e.err != nil {
		return e.err
	}
	f := rec.Fields
	if f == nil {
		f = map[string]string{}
	}
	switch rec.Entity {
	case crm.Contact:
	case crm.Account:
		// An account is written as an organisation card: its name is FN
		// and ORG, its address the work address.
		g := map[string]string{"company": f["name"], "fullname": f["name"]}
		for k, v := range f {
			if k != "name" {
				g[k] = v
			}
		}
		f = g
	default:
		return fmt.Errorf("vcf: cannot write a %s record as a vCard", rec.Entity)
	}
	e.buf.Reset()
	e.raw("BEGIN:VCARD")
	e.raw("VERSION:" + e.version)
	if e.version == "4.0" && rec.Entity == crm.Account {
		e.raw("KIND:org")
	}
	// The UID is the card's own, kept from the file it came from (an
	// extra: a UID crmbridge did not mint), else the record's id. Unless
	// the UID is the id and crmbridge minted it (a UUIDv7, which the
	// reader takes for a record id), X-CRMBRIDGE-ID carries the id, so
	// that reading the card back, here or into a fresh store, finds the
	// record and keeps no UID of its own.
	uid := rec.ID
	for _, x := range rec.Extras {
		if strings.EqualFold(x.Name, "UID") && strings.TrimSpace(x.Value) != "" {
			uid = strings.TrimSpace(x.Value)
			break
		}
	}
	if uid != "" {
		e.text("UID", nil, uid)
	}
	if _, minted := item.RecordID(rec.ID); rec.ID != "" && (uid != rec.ID || !minted) {
		e.text(xRecordID, nil, rec.ID)
	}
	// An FN kept as given (an extra: it says more than the name parts)
	// is the card's FN.
	fn, fnExtra := fullName(f), -1
	for i, x := range rec.Extras {
		if strings.EqualFold(x.Name, "FN") && strings.TrimSpace(x.Value) != "" {
			fn, fnExtra = x.Value, i
			break
		}
	}
	e.text("FN", nil, fn)
	e.structured("N", nil, f["lastname"], f["firstname"], f["middlename"], f["salutation"], f["suffix"])
	if v := f["nickname"]; v != "" {
		e.list("NICKNAME", nil, splitList(v))
	}
	// An ORG kept whole (an extra: units below the department) whose
	// first components are the company and department is the card's ORG.
	orgExtra := -1
	for i, x := range rec.Extras {
		if strings.EqualFold(x.Name, "ORG") && len(x.Params) == 0 &&
			strings.HasPrefix(x.Value, escapeText(f["company"])+";"+escapeText(f["department"])+";") {
			orgExtra = i
			break
		}
	}
	if orgExtra < 0 && (f["company"] != "" || f["department"] != "") {
		e.structured("ORG", nil, f["company"], f["department"])
	}
	if v := f["jobtitle"]; v != "" {
		e.text("TITLE", nil, v)
	}
	for i, k := range []string{"emailaddress1", "emailaddress2", "emailaddress3"} {
		if v := f[k]; v != "" {
			e.text("EMAIL", e.emailParams(i == 0), v)
		}
	}
	for _, t := range []struct{ field, types string }{
		{"telephone1", "WORK,VOICE"}, {"telephone2", "HOME,VOICE"}, {"mobilephone", "CELL,VOICE"},
		{"fax", "WORK,FAX"}, {"pager", "PAGER"}, {"telephone3", "VOICE"},
	} {
		if v := f[t.field]; v != "" {
			e.text("TEL", e.types(t.types), v)
		}
	}
	for _, a := range []struct{ n, types string }{{"1", "WORK"}, {"2", "HOME"}, {"3", ""}} {
		p := "address" + a.n + "_"
		var street []string
		for _, l := range []string{"line1", "line2", "line3"} {
			if v := f[p+l]; v != "" {
				street = append(street, v)
			}
		}
		comps := [...]string{f[p+"postofficebox"], "", strings.Join(street, "\n"), f[p+"city"],
			f[p+"stateorprovince"], f[p+"postalcode"], f[p+"country"]}
		if slices.ContainsFunc(comps[:], func(c string) bool { return c != "" }) {
			e.structured("ADR", e.types(a.types), comps[:]...)
		}
	}
	e.date("BDAY", f["birthdate"])
	anniv, spouse := "X-ANNIVERSARY", "X-SPOUSE"
	switch e.version {
	case "2.1":
		anniv, spouse = "X-MS-ANNIVERSARY", "X-MS-SPOUSE" // Outlook's names
	case "4.0":
		anniv = "ANNIVERSARY"
	}
	e.date(anniv, f["anniversary"])
	if v := f["spousesname"]; v != "" {
		e.text(spouse, nil, v)
	}
	if v := f["description"]; v != "" {
		e.text("NOTE", nil, v)
	}
	if v := f["websiteurl"]; v != "" {
		// URL is a URI value: no backslash escapes (RFC 6350 6.7.8).
		e.uri("URL", strings.Join(strings.Fields(v), ""))
	}
	if v := f["categories"]; v != "" {
		e.list("CATEGORIES", nil, splitList(v))
	}
	for i, x := range rec.Extras {
		if i != fnExtra {
			e.extra(x) // the ORG extra (orgExtra) in the ORG's place
		}
	}
	if !rev.IsZero() {
		e.buf.WriteString("REV:")
		e.buf.Write(rev.UTC().AppendFormat(e.buf.AvailableBuffer(), "20060102T150405Z"))
		e.buf.WriteString("\r\n")
	}
	if err := e.photo(rec.Attachments); err != nil {
		return fmt.Errorf("vcf: record %s: %w", rec.ID, err)
	}
	e.raw("END:VCARD")
	_, err := e.w.Write(e.buf.Bytes())
	return err
}

// structuredProps are the properties whose extra values keep their
// components escaped (crm.Extra).
var structuredProps = map[string]bool{"N": true, "ADR": true, "ORG": true, "GENDER": true, "CLIENTPIDMAP": true}

// extra writes an extra value back as the property it came from, with its
// parameters. A name that is not a vCard property name (RFC 6350 3.3:
// letters, digits, '-') cannot be written and is left out.
func (e *Encoder) extra(x crm.Extra) {
	name := strings.ToUpper(strings.TrimSpace(x.Name))
	if name == "" || !validName(name) || metaProps[name] || name == "PHOTO" && strings.HasPrefix(x.Value, "data:") {
		return
	}
	var params []string
	keys := make([]string, 0, len(x.Params))
	for k := range x.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := x.Params[k]
		if k == "TYPE" {
			params = append(params, e.types(strings.ToUpper(v))...)
			continue
		}
		if !validName(k) {
			continue
		}
		if strings.ContainsAny(v, ",;:\"") {
			// RFC 6868: a quoted value; ^ escapes newline and quote.
			v = `"` + caretEscaper.Replace(v) + `"`
		}
		params = append(params, k+"="+v)
	}
	if mt, b64, ok := dataURI(x.Value); ok {
		// A binary value (map.go binaryExtra): inline as each version
		// writes binary values (as photo does).
		typ := strings.ToUpper(mt[strings.IndexByte(mt, '/')+1:])
		switch e.version {
		case "4.0":
			e.fold(head(name, params) + x.Value)
		case "3.0":
			e.fold(head(name, append(params, "ENCODING=b", "TYPE="+typ)) + b64)
		default:
			e.fold(head(name, append(params, "TYPE="+typ, "ENCODING=BASE64")) + b64)
			e.buf.WriteString("\r\n")
		}
		return
	}
	if structuredProps[name] {
		if e.version == "2.1" {
			e.prop21(name, params, x.Value)
			return
		}
		e.fold(head(name, params) + x.Value)
		return
	}
	e.text(name, params, x.Value)
}

// fullName returns FN: the full name, else one made of the name parts, the
// company or the e-mail address (FN is required, RFC 6350 6.2.1).
func fullName(f map[string]string) string {
	if v := strings.TrimSpace(f["fullname"]); v != "" {
		return v
	}
	var parts []string
	for _, k := range []string{"salutation", "firstname", "middlename", "lastname", "suffix"} {
		if v := strings.TrimSpace(f[k]); v != "" {
			parts = append(parts, v)
		}
	}
	if len(parts) > 0 {
		return strings.Join(parts, " ")
	}
	if v := strings.TrimSpace(f["company"]); v != "" {
		return v
	}
	return f["emailaddress1"]
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// types returns the parameters for a comma-separated list of types in the
// encoder's version: 2.1 bare types (TEL;WORK;VOICE), 3.0 TYPE=WORK,VOICE,
// 4.0 lower-case TYPE=work,voice.
func (e *Encoder) types(ts string) []string {
	if ts == "" {
		return nil
	}
	if p, ok := e.typs[ts]; ok {
		return p
	}
	if e.typs == nil {
		e.typs = map[string][]string{}
	}
	p := e.newTypes(ts)
	e.typs[ts] = p
	return p
}

func (e *Encoder) newTypes(ts string) []string {
	switch e.version {
	case "2.1":
		return strings.Split(ts, ",")
	case "4.0":
		return []string{"TYPE=" + strings.ToLower(ts)}
	}
	return []string{"TYPE=" + ts}
}

func (e *Encoder) emailParams(pref bool) []string {
	switch e.version {
	case "2.1":
		if pref {
			return emailParams21[0]
		}
		return emailParams21[1]
	case "4.0":
		if pref {
			return emailParams40[0]
		}
		return nil
	}
	if pref {
		return emailParams30[0]
	}
	return emailParams30[1]
}

// The EMAIL parameters of each version, preferred and not (emailParams;
// the caller does not change them).
var (
	emailParams21 = [2][]string{{"PREF", "INTERNET"}, {"INTERNET"}}
	emailParams30 = [2][]string{{"TYPE=INTERNET,PREF"}, {"TYPE=INTERNET"}}
	emailParams40 = [2][]string{{"PREF=1"}}
)

// escapeText escapes a text value or component (RFC 6350 3.4): backslash,
// comma, semicolon and newline.
func escapeText(s string) string {
	if !strings.ContainsAny(s, "\\,;\r\n") {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', ',', ';':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\n`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// escape21 escapes a structured component or list item of a 2.1 card:
// only backslash, ';' and ',' (the reader takes 2.1 text literally).
func escape21(s string) string { return escaper21.Replace(s) }

// A strings.Replacer builds its lookup tables on first use and keeps
// them: each is made once, not per value (per value, building them was
// 89 % of what encoding a card with a quoted parameter allocated).
var (
	// caretEscaper quotes a parameter value (RFC 6868).
	caretEscaper = strings.NewReplacer("^", "^^", "\n", "^n", `"`, "^'")
	escaper21    = strings.NewReplacer(`\`, `\\`, `;`, `\;`, `,`, `\,`)
)

// text writes a single text property.
func (e *Encoder) text(name string, params []string, v string) {
	if e.version == "2.1" {
		e.prop21(name, params, v)
		return
	}
	start := e.startLine(name, params)
	e.escaped(v)
	e.endLine(start)
}

// startLine writes a property's name and parameters and the colon, and
// returns where its line starts, for endLine. The line is built in place,
// without a string per part (an export of 100,000 contacts made 20 of them
// per card).
func (e *Encoder) startLine(name string, params []string) int {
	start := e.buf.Len()
	e.buf.WriteString(name)
	for _, p := range params {
		e.buf.WriteByte(';')
		e.buf.WriteString(p)
	}
	e.buf.WriteByte(':')
	return start
}

// endLine ends the line started at start with CRLF, folded as fold folds.
func (e *Encoder) endLine(start int) {
	if e.buf.Len()-start > textcodec.LineOctets {
		e.long = append(e.long[:0], e.buf.Bytes()[start:]...)
		e.buf.Truncate(start)
		e.fold(string(e.long))
		return
	}
	e.buf.WriteString("\r\n")
}

// escaped writes s as escapeText escapes it.
func (e *Encoder) escaped(s string) {
	if !strings.ContainsAny(s, "\\,;\r\n") {
		e.buf.WriteString(s)
		return
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', ',', ';':
			e.buf.WriteByte('\\')
			e.buf.WriteByte(c)
		case '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				i++ // CRLF is one line break
			}
			e.buf.WriteString(`\n`)
		case '\n':
			e.buf.WriteString(`\n`)
		default:
			e.buf.WriteByte(c)
		}
	}
}

// structured writes N, ADR or ORG: components separated by ';', each
// escaped so that a ';' inside one does not split it.
func (e *Encoder) structured(name string, params []string, comps ...string) {
	if e.version != "2.1" {
		start := e.startLine(name, params)
		for i, c := range comps {
			if i > 0 {
				e.buf.WriteByte(';')
			}
			e.escaped(c)
		}
		e.endLine(start)
		return
	}
	out := make([]string, len(comps))
	for i, c := range comps {
		if e.version == "2.1" {
			out[i] = escape21(c)
		} else {
			out[i] = escapeText(c)
		}
	}
	v := strings.Join(out, ";")
	if e.version == "2.1" {
		e.prop21(name, params, v)
		return
	}
	e.fold(head(name, params) + v)
}

// list writes a comma-separated list (NICKNAME, CATEGORIES).
func (e *Encoder) list(name string, params []string, items []string) {
	out := make([]string, len(items))
	for i, it := range items {
		if e.version == "2.1" {
			out[i] = escape21(it)
		} else {
			out[i] = escapeText(it)
		}
	}
	v := strings.Join(out, ",")
	if e.version == "2.1" {
		e.prop21(name, params, v)
		return
	}
	e.fold(head(name, params) + v)
}

func (e *Encoder) uri(name, v string) {
	if e.version == "2.1" {
		e.prop21(name, nil, v)
		return
	}
	e.fold(head(name, nil) + v)
}

// date writes a date property from a YYYY-MM-DD value. A date in the year
// the reader gives to year-less dates (1604) is written without a year in
// 4.0 (--MMDD, RFC 6350 4.3.1) and with Apple's X-APPLE-OMIT-YEAR in 3.0.
func (e *Encoder) date(name, v string) {
	if v == "" {
		return // no date (and no error to allocate)
	}
	t, err := time.Parse("2006-01-02", v)
	if err != nil {
		return
	}
	switch {
	case e.version == "4.0" && t.Year() == noYear:
		e.raw(name + ":" + t.Format("--0102"))
	case e.version == "4.0" || e.version == "2.1":
		e.raw(name + ":" + t.Format("20060102"))
	case t.Year() == noYear:
		e.raw(name + ";X-APPLE-OMIT-YEAR=1604:" + t.Format("2006-01-02"))
	default:
		e.raw(name + ":" + t.Format("2006-01-02"))
	}
}

func head(name string, params []string) string {
	if len(params) == 0 {
		return name + ":"
	}
	return name + ";" + strings.Join(params, ";") + ":"
}

// prop21 writes a vCard 2.1 property: as it is when the value is printable
// ASCII on one line, else quoted-printable UTF-8 with soft line breaks, as
// Outlook writes it.
func (e *Encoder) prop21(name string, params []string, v string) {
	if isPlainASCII(v) {
		e.fold(head(name, params) + v)
		return
	}
	params = append(append([]string(nil), params...), "CHARSET=UTF-8", "ENCODING=QUOTED-PRINTABLE")
	e.qp(head(name, params), strings.ReplaceAll(v, "\r\n", "\n"))
}

func isPlainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e {
			return false
		}
	}
	return !strings.HasSuffix(s, " ") && !strings.HasPrefix(s, " ")
}

// qp writes head followed by v quoted-printable encoded with soft line
// breaks (textcodec.AppendQP).
func (e *Encoder) qp(head, v string) {
	e.buf.Write(textcodec.AppendQP(e.buf.AvailableBuffer(), head, v))
}

// raw writes a line that needs no escaping, folded.
func (e *Encoder) raw(line string) { e.fold(line) }

// fold writes line with CRLF, folded at 75 octets (RFC 6350 3.2) by
// textcodec.Fold.
func (e *Encoder) fold(line string) {
	e.buf.Write(textcodec.Fold(e.buf.AvailableBuffer(), line))
}

// photo writes the first image attachment as PHOTO.
func (e *Encoder) photo(as []crm.Attachment) error {
	for _, a := range as {
		if !strings.HasPrefix(strings.ToLower(a.MimeType), "image/") || a.Open == nil {
			continue
		}
		rc, err := a.Open()
		if err != nil {
			return fmt.Errorf("open photo %s: %w", a.Name, err)
		}
		data, err := io.ReadAll(io.LimitReader(rc, maxPhoto+1))
		rc.Close()
		if err != nil {
			return fmt.Errorf("read photo %s: %w", a.Name, err)
		}
		if len(data) > maxPhoto {
			return errors.New("photo " + a.Name + " larger than 8 MiB")
		}
		if len(data) == 0 {
			return nil
		}
		b64 := base64.StdEncoding.EncodeToString(data)
		mt := strings.ToLower(a.MimeType)
		typ := strings.ToUpper(strings.TrimPrefix(mt, "image/"))
		switch e.version {
		case "4.0":
			e.fold("PHOTO:data:" + mt + ";base64," + b64)
		case "3.0":
			e.fold("PHOTO;ENCODING=b;TYPE=" + typ + ":" + b64)
		default:
			// 2.1: base64 on folded lines, then an empty line (vCard 2.1 2.1.3).
			e.fold("PHOTO;TYPE=" + typ + ";ENCODING=BASE64:" + b64)
			e.buf.WriteString("\r\n")
		}
		return nil
	}
	return nil
}

// dataURI splits an RFC 2397 base64 data: URI with a media type
// ("data:image/png;base64,iVBOR...") into the type and the base64 text.
func dataURI(v string) (mediaType, b64 string, ok bool) {
	rest, ok := strings.CutPrefix(v, "data:")
	if !ok {
		return "", "", false
	}
	head, b64, ok := strings.Cut(rest, ",")
	mt, enc, _ := strings.Cut(head, ";")
	if !ok || !strings.EqualFold(enc, "base64") || !strings.Contains(mt, "/") || strings.ContainsAny(mt, " \t\r\n:") {
		return "", "", false
	}
	return mt, b64, true
}
