package vcf

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"crmbridge/bridge/internal/textcodec"
	"crmbridge/bridge/item"
	"crmbridge/crm"
)

// card is what mapCard makes of one vCard.
type card struct {
	version string
	uid     string
	// recordID is X-CRMBRIDGE-ID: the id of the record crmbridge exported
	// as this card when the card's UID is not that id (Encoder).
	recordID    string
	rev         time.Time
	fields      map[string]string
	attachments []crm.Attachment
	// extras are the values no field holds (crm.Extra).
	extras []crm.Extra
}

// extra keeps p's value v as an extra value, with p's parameters but not
// its transfer encoding and charset (v is decoded text).
func (c *card) extra(p *prop, v string) {
	x := crm.Extra{Name: p.name, Value: v}
	for _, pr := range p.params {
		switch pr.name {
		case "ENCODING", "CHARSET":
			continue
		}
		if x.Params == nil {
			x.Params = map[string]string{}
		}
		if old, ok := x.Params[pr.name]; ok {
			x.Params[pr.name] = old + "," + pr.value
		} else {
			x.Params[pr.name] = pr.value
		}
	}
	c.extras = append(c.extras, x)
}

// structuredValue is a structured property's value (ADR, N, ORG) as an
// extra keeps it: components with their escapes, joined by ';'.
func (c *card) structuredValue(p *prop) string {
	return strings.Join(c.components(p), ";")
}

// xRecordID is the property crmbridge's export writes the record's id in
// when the card's UID is another (a UID of the file it came from).
const xRecordID = "X-CRMBRIDGE-ID"

// metaProps are properties about the card itself, not values of the
// contact: nothing to keep.
var metaProps = map[string]bool{"BEGIN": true, "END": true, "VERSION": true, "PRODID": true, "UID": true, "REV": true, xRecordID: true,
	"PROFILE": true} // RFC 2426 2.1.2: PROFILE:VCARD names the type of the directory entry

// warning is a problem with one property; the card is still imported.
type warning struct {
	line int
	err  error
}

// key returns the source key: the UID, else a hash of the identifying
// content (FN, N, first e-mail) so that re-reading the file gives the same
// key (see /work/notes/readers.md).
func (c *card) key() string {
	if c.uid != "" {
		return c.uid
	}
	h := sha256.New()
	f := c.fields
	io.WriteString(h, f["fullname"]+"\x00"+strings.Join([]string{f["lastname"], f["firstname"], f["middlename"],
		f["salutation"], f["suffix"]}, ";")+"\x00"+strings.ToLower(f["emailaddress1"]))
	return "sha:" + hex.EncodeToString(h.Sum(nil))[:32]
}

// noYear is the year given to a birthday or anniversary without one
// (--MMDD), as Apple's address book does (X-APPLE-OMIT-YEAR=1604). The
// Encoder writes such dates back without a year where the version allows.
const noYear = 1604

// mapCard maps a card's properties to contact fields
// (crmstore/schema.go names), its photo, UID and REV.
func mapCard(props []*prop) (*card, []warning) {
	c := &card{version: "2.1", fields: make(map[string]string, 16)}
	for _, p := range props {
		if p.name == "VERSION" {
			c.version = strings.TrimSpace(p.raw)
		}
	}
	var warns []warning
	var emails, tels, adrs, urls, orgs []*prop
	var notes, nicks, cats []string
	var fns []*prop // FN may repeat (RFC 6350 6.2.1: 1*, one per language)
	f := c.fields
	for _, p := range props {
		switch p.name {
		case "N":
			comps := c.components(p)
			for i, name := range []string{"lastname", "firstname", "middlename", "salutation", "suffix"} {
				if i < len(comps) {
					sep := " "
					if i >= 3 {
						sep = ", "
					}
					item.SetIf(f, name, c.joinList(comps[i], sep))
				}
			}
		case "FN":
			fns = append(fns, p)
			if _, ok := f["fullname"]; !ok {
				item.SetIf(f, "fullname", c.textValue(p))
			}
		case "ORG":
			orgs = append(orgs, p)
		case "TITLE":
			if _, ok := f["jobtitle"]; ok {
				c.extra(p, c.textValue(p))
				continue
			}
			item.SetIf(f, "jobtitle", c.textValue(p))
		case "EMAIL":
			emails = append(emails, p)
		case "TEL":
			tels = append(tels, p)
		case "ADR":
			adrs = append(adrs, p)
		case "URL":
			urls = append(urls, p)
		case "NOTE":
			if v := c.textValue(p); strings.TrimSpace(v) != "" {
				notes = append(notes, v)
			}
		case "NICKNAME":
			nicks = append(nicks, c.list(p)...)
		case "CATEGORIES":
			cats = append(cats, c.list(p)...)
		case "UID":
			c.uid = strings.TrimSpace(c.textValue(p))
		case xRecordID:
			c.recordID = strings.TrimSpace(c.textValue(p))
		case "REV":
			if t, ok := parseTimestamp(c.textValue(p)); ok {
				c.rev = t
			}
		case "BDAY":
			c.setDate(p, "birthdate", &warns)
		case "ANNIVERSARY", "X-ANNIVERSARY", "X-MS-ANNIVERSARY", "X-EVOLUTION-ANNIVERSARY":
			c.setDate(p, "anniversary", &warns)
		case "X-MS-SPOUSE", "X-SPOUSE", "X-EVOLUTION-SPOUSE":
			if _, ok := f["spousesname"]; ok {
				c.extra(p, c.textValue(p))
				continue
			}
			item.SetIf(f, "spousesname", c.textValue(p))
		case "PHOTO":
			if len(c.attachments) > 0 {
				warns = append(warns, warning{p.line, errors.New("a second PHOTO is not kept")})
				continue
			}
			a, err := photo(p)
			if err != nil {
				warns = append(warns, warning{p.line, err})
			} else if a != nil {
				c.attachments = append(c.attachments, *a)
			} else if v := strings.TrimSpace(p.raw); v != "" {
				c.extra(p, v) // a photo by URL: kept as given, not fetched
			}
		default:
			switch {
			case metaProps[p.name]:
			case p.isBase64():
				// Binary (LOGO, SOUND, KEY, X-MS-CARDPICTURE): kept as an
				// RFC 2397 data: URI, as vCard 4.0 writes it.
				if err := c.binaryExtra(p); err != nil {
					warns = append(warns, warning{p.line, fmt.Errorf("%s: %w, not kept", strings.ToLower(p.name), err)})
				}
			default:
				c.extra(p, c.textValue(p))
			}
		}
	}
	if len(orgs) > 0 {
		orgs = byPref(orgs)
		for _, p := range orgs[1:] {
			c.extra(p, c.structuredValue(p))
		}
		comps := c.components(orgs[0])
		if strings.Join(append([]string{}, comps[min(2, len(comps)):]...), "") != "" {
			// Units below the department (RFC 6350 6.6.4) have no column:
			// the whole ORG is kept too.
			c.extra(orgs[0], c.structuredValue(orgs[0]))
		}
		if len(comps) > 0 {
			item.SetIf(f, "company", c.joinList(comps[0], ", "))
		}
		if len(comps) > 1 {
			item.SetIf(f, "department", c.joinList(comps[1], ", "))
		}
	}
	c.mapEmails(emails)
	c.mapPhones(tels)
	c.mapAddresses(adrs)
	for _, p := range byPref(urls) {
		if v := strings.TrimSpace(c.textValue(p)); v != "" {
			if _, ok := f["websiteurl"]; ok {
				c.extra(p, v)
				continue
			}
			f["websiteurl"] = v
		}
	}
	if len(notes) > 0 {
		f["description"] = strings.Join(notes, "\n\n")
	}
	item.SetIf(f, "nickname", strings.Join(dedupe(nicks), ", "))
	item.SetIf(f, "categories", strings.Join(dedupe(cats), ","))
	if len(fns) > 0 {
		// The store keeps fullname as Dataverse computes it, "first
		// middle last"; an FN that says more or otherwise (a prefix,
		// another order: "Mr. Michael Angstadt Jr.", "安藤 ロイド") is
		// kept as given in an extra. So is every FN of a card that has
		// several, the first first: the encoder writes the first FN
		// extra as the card's FN, the others after it.
		var parts []string
		for _, n := range []string{"firstname", "middlename", "lastname"} {
			if v := strings.TrimSpace(f[n]); v != "" {
				parts = append(parts, v)
			}
		}
		if derived := strings.Join(parts, " "); len(fns) > 1 || derived != "" && derived != f["fullname"] {
			for _, p := range fns {
				if v := c.textValue(p); strings.TrimSpace(v) != "" {
					c.extra(p, v)
				}
			}
		}
	}
	if f["fullname"] == "" {
		var parts []string
		for _, n := range []string{"salutation", "firstname", "middlename", "lastname", "suffix"} {
			if v := f[n]; v != "" {
				parts = append(parts, v)
			}
		}
		item.SetIf(f, "fullname", strings.Join(parts, " "))
	}
	return c, warns
}

func (c *card) v21() bool { return strings.HasPrefix(c.version, "2.") || c.version == "" }

// textValue returns a text value, decoded and unescaped. vCard 2.1 defines
// no backslash escapes for text values (Outlook writes a backslash as it
// is), so a 2.1 value is taken literally.
func (c *card) textValue(p *prop) string {
	t := normNewlines(p.text())
	if c.v21() {
		return t
	}
	return textcodec.Unescape(t, "")
}

// components splits a structured value (N, ADR, ORG) at unescaped ';'.
// The components keep their escapes (see joinList).
func (c *card) components(p *prop) []string {
	return textcodec.Split(normNewlines(p.text()), ';')
}

// joinList unescapes one component, joining its comma-separated values
// with sep (RFC 6350 5.1: "Richter,James" are two additional names). In a
// 2.1 card a comma separates values only in N's given and additional names
// (sep " "): ADR and ORG commas are text ("Company, The").
func (c *card) joinList(comp, sep string) string {
	var out []string
	parts := []string{comp}
	if sep == " " || !c.v21() {
		// N components always: Outlook's 2.1 writes "Richter,James" too.
		parts = textcodec.Split(comp, ',')
	}
	for _, v := range parts {
		if v = strings.TrimSpace(textcodec.Unescape(v, "")); v != "" {
			out = append(out, v)
		}
	}
	return strings.Join(out, sep)
}

// list returns the values of a list property (NICKNAME, CATEGORIES).
func (c *card) list(p *prop) []string {
	var out []string
	for _, v := range textcodec.Split(normNewlines(p.text()), ',') {
		if c.v21() {
			// 2.1 writers also separate categories with ';'.
			for _, w := range textcodec.Split(v, ';') {
				if w = strings.TrimSpace(textcodec.Unescape(w, "")); w != "" {
					out = append(out, w)
				}
			}
			continue
		}
		if v = strings.TrimSpace(textcodec.Unescape(v, "")); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func (c *card) setDate(p *prop, field string, warns *[]warning) {
	if strings.EqualFold(p.param("VALUE"), "text") {
		c.extra(p, c.textValue(p)) // "circa 1800": not a date, kept as given
		return
	}
	v := strings.TrimSpace(c.textValue(p))
	if v == "" {
		return
	}
	d, ok := parseDate(v)
	if !ok {
		// Not a date a column can hold (1985-04, a typo): kept as given.
		c.extra(p, v)
		return
	}
	if d.Year() == noYear && !strings.HasPrefix(v, "1604") || p.param("X-APPLE-OMIT-YEAR") != "" {
		// RFC 6350 4.3.1 --MMDD: a birthday without a year. No date
		// column can hold it (a made-up year would be pushed as a fact).
		c.extra(p, v)
		return
	}
	if _, ok := c.fields[field]; ok {
		c.extra(p, v) // a second birthday
		return
	}
	c.fields[field] = item.FormatDate(d)
}

func (c *card) mapEmails(ps []*prop) {
	var addrs []string
	var from []*prop
	seen := map[string]bool{}
	for _, p := range byPref(ps) {
		a := strings.TrimSpace(c.textValue(p))
		if i := strings.LastIndexByte(a, '<'); i >= 0 {
			if j := strings.IndexByte(a[i:], '>'); j > 0 {
				a = strings.TrimSpace(a[i+1 : i+j])
			}
		}
		if len(a) >= 7 && strings.EqualFold(a[:7], "mailto:") {
			a = a[7:]
		}
		if a == "" || seen[strings.ToLower(a)] {
			continue
		}
		seen[strings.ToLower(a)] = true
		addrs = append(addrs, a)
		from = append(from, p)
	}
	for i, a := range addrs {
		if i >= 3 {
			c.extra(from[i], a) // Dataverse has three e-mail columns
			continue
		}
		c.fields["emailaddress"+string(rune('1'+i))] = a
	}
}

// mapPhones assigns TEL values: work voice → telephone1, home →
// telephone2, cell → mobilephone, fax → fax, pager → pager, anything else
// (and a number whose slot is taken) → telephone3. A home fax yields the
// fax slot to a work fax (Outlook writes both, in no fixed order).
func (c *card) mapPhones(ps []*prop) {
	ps = byPref(ps)
	homeFax := func(p *prop) bool { return p.hasType("fax") && p.hasType("home") }
	sort.SliceStable(ps, func(i, j int) bool { return !homeFax(ps[i]) && homeFax(ps[j]) })
	for _, p := range ps {
		v := strings.TrimSpace(c.textValue(p))
		if len(v) >= 4 && strings.EqualFold(v[:4], "tel:") {
			// RFC 3966 URI (vCard 4.0 VALUE=uri): tel:+1-418-656-9254;ext=102
			num, params, _ := strings.Cut(v[4:], ";")
			v = num
			for _, kv := range strings.Split(params, ";") {
				if k, x, ok := strings.Cut(kv, "="); ok && strings.EqualFold(k, "ext") && x != "" {
					v += " x" + x
				}
			}
		}
		if v == "" {
			continue
		}
		slot := "telephone3"
		switch {
		case p.hasType("fax"):
			slot = "fax"
		case p.hasType("pager"):
			slot = "pager"
		case p.hasType("cell"):
			slot = "mobilephone"
		case p.hasType("home"):
			slot = "telephone2"
		case p.hasType("work"):
			slot = "telephone1"
		}
		if _, taken := c.fields[slot]; taken {
			slot = "telephone3"
		}
		if _, taken := c.fields[slot]; !taken {
			c.fields[slot] = v
		} else if c.fields[slot] != v {
			c.extra(p, v) // a second home number, a home fax...
		}
	}
}

// mapAddresses assigns ADR values: work → address1_*, home → address2_*,
// other (and an address whose slot is taken) → address3_*.
func (c *card) mapAddresses(ps []*prop) {
	used := map[string]bool{}
	for _, p := range byPref(ps) {
		comps := c.components(p)
		get := func(i int) string {
			if i < len(comps) {
				return c.joinList(comps[i], ", ")
			}
			return ""
		}
		// RFC 6350 6.3.1: PO box; extended; street; locality; region; code; country.
		var lines []string
		for _, l := range strings.Split(get(2), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				lines = append(lines, l)
			}
		}
		if ext := get(1); ext != "" {
			lines = append(lines, ext)
		}
		vals := map[string]string{
			"postofficebox":   get(0),
			"city":            get(3),
			"stateorprovince": get(4),
			"postalcode":      get(5),
			"country":         get(6),
		}
		switch len(lines) {
		default:
			vals["line3"] = strings.Join(lines[2:], ", ")
			fallthrough
		case 2:
			vals["line2"] = lines[1]
			fallthrough
		case 1:
			vals["line1"] = lines[0]
		case 0:
		}
		empty := true
		for _, v := range vals {
			if v != "" {
				empty = false
			}
		}
		if empty {
			continue
		}
		slot := "3"
		switch {
		case p.hasType("work"):
			slot = "1"
		case p.hasType("home"):
			slot = "2"
		}
		if used[slot] {
			slot = "3"
		}
		if used[slot] {
			c.extra(p, c.structuredValue(p)) // Dataverse has three addresses
			continue
		}
		used[slot] = true
		for k, v := range vals {
			item.SetIf(c.fields, "address"+slot+"_"+k, v)
		}
	}
}

// byPref returns ps sorted by preference, keeping file order otherwise.
func byPref(ps []*prop) []*prop {
	out := append([]*prop(nil), ps...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].pref() < out[j].pref() })
	return out
}

func dedupe(vs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range vs {
		if k := strings.ToLower(v); !seen[k] {
			seen[k] = true
			out = append(out, v)
		}
	}
	return out
}

func normNewlines(s string) string {
	if strings.IndexByte(s, '\r') < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// parseDate parses a vCard date: 19800322, 1980-03-22, either followed by
// a time, and the year-less --0322 and --03-22 (RFC 6350 4.3.1,
// RFC 2426 3.1.5).
func parseDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "Tt"); i > 0 {
		s = s[:i]
	}
	year := -1
	if strings.HasPrefix(s, "--") {
		year = noYear
		s = s[2:]
	}
	s = strings.ReplaceAll(s, "-", "")
	want := 8
	if year == noYear {
		want = 4
	}
	if len(s) != want {
		return time.Time{}, false
	}
	n := make([]int, 0, 3)
	for i := 0; i < len(s); {
		w := 2
		if i == 0 && year != noYear {
			w = 4
		}
		v := 0
		for _, ch := range s[i : i+w] {
			if ch < '0' || ch > '9' {
				return time.Time{}, false
			}
			v = v*10 + int(ch-'0')
		}
		n = append(n, v)
		i += w
	}
	if year == noYear {
		n = append([]int{noYear}, n...)
	}
	t := time.Date(n[0], time.Month(n[1]), n[2], 0, 0, 0, 0, time.UTC)
	if t.Year() != n[0] || int(t.Month()) != n[1] || t.Day() != n[2] || n[0] == 0 {
		return time.Time{}, false
	}
	return t, true
}

var timestampLayouts = []string{
	"20060102T150405Z",
	"20060102T150405Z0700",
	"20060102T150405",
	"20060102T1504Z0700",
	"2006-01-02T15:04:05Z07:00",
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04Z07:00",
	"20060102",
	"2006-01-02",
}

// parseTimestamp parses a REV value (RFC 6350 6.7.4, RFC 2426 3.6.4).
// A time without a zone is taken as UTC.
func parseTimestamp(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, l := range timestampLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// photo returns p's image as an attachment named photo.<ext>, or nil for a
// photo given by URL (not fetched).
func photo(p *prop) (*crm.Attachment, error) {
	var data []byte
	mimeType := ""
	raw := strings.TrimSpace(p.raw)
	switch {
	case p.isBase64():
		b, err := p.bytes()
		if err != nil {
			return nil, errors.New("photo: bad base64: " + err.Error())
		}
		data = b
	case len(raw) > 5 && strings.EqualFold(raw[:5], "data:"):
		// RFC 2397: data:[<mediatype>][;base64],<data>
		head, body, ok := strings.Cut(raw[5:], ",")
		if !ok {
			return nil, errors.New("photo: bad data: URI")
		}
		parts := strings.Split(head, ";")
		mimeType = strings.ToLower(strings.TrimSpace(parts[0]))
		isB64 := false
		for _, x := range parts[1:] {
			if strings.EqualFold(strings.TrimSpace(x), "base64") {
				isB64 = true
			}
		}
		if !isB64 {
			return nil, errors.New("photo: data: URI is not base64")
		}
		b, err := decodeBase64(body)
		if err != nil {
			return nil, errors.New("photo: bad base64 in data: URI: " + err.Error())
		}
		data = b
	default:
		return nil, nil // a URL: not fetched
	}
	if len(data) == 0 {
		return nil, nil
	}
	if mimeType == "" {
		t := p.param("MEDIATYPE")
		if t == "" {
			for _, x := range p.params {
				if x.name == "TYPE" && x.value != "pref" && x.value != "home" && x.value != "work" {
					t = x.value
					break
				}
			}
		}
		mimeType = imageMIME(t)
	}
	if mimeType == "" || mimeType == "application/octet-stream" {
		mimeType = http.DetectContentType(data)
		if i := strings.IndexByte(mimeType, ';'); i >= 0 {
			mimeType = mimeType[:i]
		}
	}
	return &crm.Attachment{
		Name:     "photo." + imageExt(mimeType),
		MimeType: mimeType,
		Size:     int64(len(data)),
		Open:     func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
	}, nil
}

// imageMIME maps a vCard image type (JPEG, image/png, GIF) to a MIME type.
func imageMIME(t string) string {
	t = strings.ToLower(strings.TrimSpace(t))
	if t == "" {
		return ""
	}
	if strings.Contains(t, "/") {
		return t
	}
	switch t {
	case "jpg", "jpeg", "pjpeg":
		return "image/jpeg"
	case "tif", "tiff":
		return "image/tiff"
	}
	return "image/" + t
}

func imageExt(mimeType string) string {
	switch mimeType {
	case "image/jpeg":
		return "jpg"
	case "image/png":
		return "png"
	case "image/gif":
		return "gif"
	case "image/bmp", "image/x-ms-bmp":
		return "bmp"
	case "image/webp":
		return "webp"
	case "image/tiff":
		return "tif"
	}
	if t, sub, ok := strings.Cut(mimeType, "/"); ok && t == "image" && validName(sub) && len(sub) <= 10 {
		return sub
	}
	return "bin"
}

// binaryExtra keeps a base64 value of p as an extra whose value is an
// RFC 2397 data: URI ("data:image/png;base64,..."); the media type comes
// from MEDIATYPE or TYPE (a subtype such as PNG, or a full type), and
// that TYPE is not kept as a parameter.
func (c *card) binaryExtra(p *prop) error {
	b, err := p.bytes()
	if err != nil {
		return fmt.Errorf("bad base64: %w", err)
	}
	mt, typeIsMedia := strings.ToLower(p.param("MEDIATYPE")), false
	if mt == "" {
		if t := strings.ToLower(strings.Trim(p.param("TYPE"), `"`)); t != "" {
			typeIsMedia = true
			switch {
			case strings.Contains(t, "/"):
				mt = t
			case p.name == "SOUND":
				mt = "audio/" + t
			case p.name == "KEY":
				mt = "application/" + t
			default:
				mt = "image/" + t
			}
		}
	}
	c.extra(p, "data:"+mt+";base64,"+base64.StdEncoding.EncodeToString(b))
	if x := &c.extras[len(c.extras)-1]; typeIsMedia {
		delete(x.Params, "TYPE")
		if len(x.Params) == 0 {
			x.Params = nil
		}
	}
	return nil
}
