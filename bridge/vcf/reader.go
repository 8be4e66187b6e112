package vcf

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"

	"crmbridge/bridge/item"
	"crmbridge/crm"
	"crmbridge/internal/recovered"
)

// Reader reads contacts from a vCard file, one card at a time. It
// implements item.Reader. A Reader is not safe for concurrent use.
type Reader struct {
	name string
	lr   *lineReader
	buf  []byte // logical line being unfolded
	// overflow is set when the logical line passed maxValue (its value is
	// skipped).
	overflow bool

	pending []error       // *item.Error values to return before ready
	ready   *crm.Incoming // a card read, returned after pending
	final   error         // io.EOF or the read error, once the input ended

	junkStart, junkLines int // a run of lines outside any card
}

var _ item.Reader = (*Reader)(nil)

// NewReader returns a Reader that reads the vCard file r. name is the file
// name used in positions ("contacts.vcf: line 230").
func NewReader(r io.Reader, name string) *Reader {
	return &Reader{name: name, lr: newLineReader(r)}
}

func (r *Reader) pos(line int) string { return r.name + ": line " + strconv.Itoa(line) }

// Next returns the next contact. It returns io.EOF after the last one, an
// *item.Error for a bad card or line (call Next again to go on), and any
// other error when the input cannot be read further. The Incoming's
// attachment data stays in memory until the next call.
func (r *Reader) Next() (*crm.Incoming, error) {
	for {
		if len(r.pending) > 0 {
			err := r.pending[0]
			r.pending = r.pending[1:]
			return nil, err
		}
		if r.ready != nil {
			inc := r.ready
			r.ready = nil
			return inc, nil
		}
		if r.final != nil {
			return nil, r.final
		}
		l, err := r.lr.next()
		if err != nil {
			r.flushJunk()
			r.final = r.readErr(err)
			continue
		}
		// A byte order mark can also start a later card, where files were
		// concatenated.
		t := strings.TrimPrefix(strings.TrimSpace(l.text), "\ufeff")
		if t == "" {
			continue
		}
		if isMarker(t, "BEGIN") {
			r.flushJunk()
			r.readCard(l)
			continue
		}
		if r.junkLines == 0 {
			r.junkStart = l.num
		}
		r.junkLines++
	}
}

func (r *Reader) readErr(err error) error {
	if errors.Is(err, io.EOF) {
		return io.EOF
	}
	return fmt.Errorf("read %s: %w", r.name, err)
}

// flushJunk reports a run of lines found outside BEGIN:VCARD … END:VCARD.
func (r *Reader) flushJunk() {
	if r.junkLines == 0 {
		return
	}
	what := "a line"
	if r.junkLines > 1 {
		what = strconv.Itoa(r.junkLines) + " lines"
	}
	r.pending = append(r.pending, item.Warnf(r.pos(r.junkStart),
		"%s outside BEGIN:VCARD/END:VCARD skipped", what))
	r.junkLines = 0
}

// isMarker reports whether line t is BEGIN:VCARD or END:VCARD (kw).
func isMarker(t, kw string) bool {
	if i := strings.IndexAny(t, ".:;"); i > 0 && t[i] == '.' {
		t = t[i+1:] // a group prefix: "home.begin:vcard" (vobject test data)
	}
	if len(t) < len(kw)+6 || !strings.EqualFold(t[:len(kw)], kw) {
		return false
	}
	rest := strings.TrimLeft(t[len(kw):], " \t")
	if rest == "" || rest[0] != ':' {
		return false
	}
	return strings.EqualFold(strings.TrimSpace(rest[1:]), "VCARD")
}

// readCard reads one card whose BEGIN:VCARD is begin, and queues the
// contact and any errors found.
func (r *Reader) readCard(begin physLine) {
	h := sha256.New()
	h.Write([]byte("BEGIN:VCARD\n"))
	r.lr.hasher = h
	defer func() { r.lr.hasher = nil }()

	var props []*prop
	size, depth := 0, 0
	for {
		l, err := r.lr.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				r.pending = append(r.pending, item.Errorf(r.pos(begin.num),
					"vCard has no END:VCARD (file truncated?); card skipped"))
			} else {
				r.final = r.readErr(err)
			}
			return
		}
		if strings.TrimSpace(l.text) == "" {
			continue
		}
		text, p, perr := r.logical(l)
		if cap(r.buf) > 1<<20 {
			r.buf = nil // do not keep a photo-sized buffer for the rest of the file
		}
		if r.overflow {
			// A value over the limit (a 50 MB PHOTO): skip the value, keep
			// the contact.
			name := "a property"
			if p != nil {
				name = p.name
			} else if i := strings.IndexAny(text, ";:"); i > 0 && i < 80 {
				name = text[:i]
			}
			r.pending = append(r.pending, item.Warnf(r.pos(l.num), "value of %s longer than %d bytes skipped; the rest of the card is kept", name, maxValue))
			continue
		}
		if perr != nil {
			r.pending = append(r.pending, item.Warnf(r.pos(l.num), "cannot parse line %s: %v", quoteShort(text), perr))
			continue
		}
		if p.name == "BEGIN" && strings.EqualFold(strings.TrimSpace(p.raw), "VCARD") {
			// vCard 2.1 allows a nested card (AGENT); vobject reads it as a
			// child of this card. We keep the outer card and skip the inner.
			if depth == 0 {
				r.pending = append(r.pending, item.Warnf(r.pos(l.num), "nested vCard skipped"))
			}
			depth++
			continue
		}
		if p.name == "END" && strings.EqualFold(strings.TrimSpace(p.raw), "VCARD") {
			if depth > 0 {
				depth--
				continue
			}
			break
		}
		if depth > 0 {
			continue
		}
		if size+len(text) > maxCard {
			r.pending = append(r.pending, item.Warnf(r.pos(l.num), "value of %s skipped: the card's values pass %d bytes; the rest of the card is kept", p.name, maxCard))
			continue
		}
		size += len(text)
		props = append(props, p)
	}
	inc, errs := r.build(props, begin.num, h)
	r.pending = append(r.pending, errs...)
	r.ready = inc
}

// logical returns the unfolded content line that starts with first, and
// the property parsed from it. It joins, in the order a card can mix them:
// folded lines (starting with a space or tab; RFC 6350 3.2), soft line
// breaks of quoted-printable values (a value ending in '=' continues on
// the next line; RFC 2045 6.7 rule 5) and vCard 2.1 base64 continuation
// lines that lack the leading space.
func (r *Reader) logical(first physLine) (string, *prop, error) {
	r.overflow = first.tooLong
	r.buf = append(r.buf[:0], first.text...)
	r.absorbFolds()
	line := string(r.buf)
	p, err := parseProp(line, first.num)
	if err != nil {
		return line, nil, err
	}
	qp, b64 := p.isQP(), p.isBase64()
	if !qp && !b64 {
		return line, p, nil
	}
	joined := false
	// soft: the last line joined ends in a quoted-printable soft break.
	soft := qp && len(r.buf) > 0 && r.buf[len(r.buf)-1] == '='
	for {
		next, ok := r.lr.peek()
		if !ok {
			break
		}
		switch {
		case soft && !isCardMarker(next.text):
			r.lr.next()
			if n := len(r.buf); n > 0 && r.buf[n-1] == '=' {
				r.buf = r.buf[:n-1]
			}
			r.appendCapped(next.text)
			soft = strings.HasSuffix(next.text, "=")
		case next.text != "" && (next.text[0] == ' ' || next.text[0] == '\t'):
			r.lr.next()
			r.appendCapped(next.text[1:])
			soft = qp && strings.HasSuffix(next.text, "=")
		case b64 && looksBase64(next.text):
			r.lr.next()
			r.appendCapped(next.text)
		default:
			if !joined {
				return line, p, nil
			}
			line = string(r.buf)
			p.raw = line[p.headLen:]
			return line, p, nil
		}
		joined = true
	}
	if joined {
		line = string(r.buf)
		p.raw = line[p.headLen:]
	}
	return line, p, nil
}

// absorbFolds appends the folded continuation lines that follow, up to a
// quoted-printable soft line break: the line after one is data, leading
// space included.
func (r *Reader) absorbFolds() {
	for {
		next, ok := r.lr.peek()
		if !ok || next.text == "" || (next.text[0] != ' ' && next.text[0] != '\t') {
			return
		}
		if n := len(r.buf); n > 0 && r.buf[n-1] == '=' {
			if colon := bytes.IndexByte(r.buf, ':'); colon > 0 &&
				bytes.Contains(bytes.ToUpper(r.buf[:colon]), []byte("QUOTED-PRINTABLE")) {
				return
			}
		}
		r.lr.next()
		r.appendCapped(next.text[1:])
	}
}

// appendCapped appends s to the logical line unless that would pass
// maxValue, in which case it sets r.overflow and drops s (the lines are
// still consumed, so the value is skipped whole).
func (r *Reader) appendCapped(s string) {
	if r.overflow || len(r.buf)+len(s) > maxValue {
		r.overflow = true
		return
	}
	r.buf = append(r.buf, s...)
}

func isCardMarker(s string) bool {
	t := strings.TrimSpace(s)
	return isMarker(t, "BEGIN") || isMarker(t, "END")
}

// looksBase64 reports whether a line holds only base64 characters (a 2.1
// base64 continuation line without its leading space).
func looksBase64(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=' || c == ' ' || c == '\t') {
			return false
		}
	}
	return true
}

// build maps a card's properties to an Incoming contact, recovering from
// any panic in the mapping so that one odd card cannot stop the file.
func (r *Reader) build(props []*prop, line int, h hash.Hash) (inc *crm.Incoming, errs []error) {
	pos := r.pos(line)
	defer func() {
		if v := recover(); v != nil {
			recovered.Note(v)
			inc, errs = nil, append(errs, item.Errorf(pos, "vCard skipped: internal error: %v", v))
		}
	}()
	c, warns := mapCard(props)
	for _, w := range warns {
		errs = append(errs, item.Warnf(r.pos(w.line), "%v", w.err))
	}
	if _, minted := item.RecordID(c.uid); c.uid != "" && !minted && c.uid != c.recordID {
		// A UID crmbridge did not mint is the card's own, not a record
		// id (bridge claimID): kept, and written back as the UID
		// (Encoder). A minted one, or the one X-CRMBRIDGE-ID repeats,
		// is the id of the record crmbridge exported.
		c.extras = append(c.extras, crm.Extra{Name: "UID", Value: c.uid})
	}
	inc = &crm.Incoming{
		Source: crm.SourceRef{
			Kind:    "vcf",
			Key:     c.key(),
			Version: "sha256:" + hex.EncodeToString(h.Sum(nil)),
		},
		Record: crm.Record{
			ID:          c.recordID, // for the importer's rule (bridge claimID)
			Entity:      crm.Contact,
			Fields:      c.fields,
			Attachments: c.attachments,
			Extras:      c.extras,
		},
		Keys:       item.ContactKeys(c.fields["emailaddress1"]),
		ModifiedAt: c.rev,
		Pos:        pos,
		Once:       onceProps,
	}
	return inc, errs
}

// onceProps are the properties a vCard holds at most once (RFC 6350 6:
// cardinality 1 or *1; RFC 6474 2: BIRTHPLACE, DEATHPLACE, DEATHDATE):
// kept as extras; an older version of the card does not add its value
// of one beside the newer version's (crm.Incoming.Once).
var onceProps = map[string]bool{"KIND": true, "N": true, "BDAY": true, "ANNIVERSARY": true, "GENDER": true,
	"PRODID": true, "REV": true, "UID": true, "BIRTHPLACE": true, "DEATHPLACE": true, "DEATHDATE": true}
