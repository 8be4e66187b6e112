package eml

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"crmbridge/bridge/item"
	"crmbridge/crm"
)

// DefaultMaxMessageSize is the largest message a reader accepts (256 MiB);
// a larger one is reported and skipped.
const DefaultMaxMessageSize = 256 << 20

// Reader reads one e-mail message from an EML file. It implements
// item.Reader and yields one Incoming of Source.Kind "eml".
//
// Warnings — problems that did not stop the message from being read (an
// unknown charset, a malformed header line or date, a missing closing
// boundary) — are returned as *item.Error values by the calls to Next that
// follow the one that returned the message, one per call, before io.EOF.
type Reader struct {
	// MaxMessageSize overrides DefaultMaxMessageSize when positive. Set it
	// before the first call to Next.
	MaxMessageSize int64

	r       io.Reader
	name    string
	done    bool
	pending []error
}

var _ item.Reader = (*Reader)(nil)

// NewReader returns a Reader of the EML message in r; name (the file name)
// is used in positions.
func NewReader(r io.Reader, name string) *Reader {
	return &Reader{r: r, name: name}
}

// Next returns the message, then its warnings as *item.Error values, then
// io.EOF. Any other error means r could not be read.
func (r *Reader) Next() (*crm.Incoming, error) {
	if len(r.pending) > 0 {
		err := r.pending[0]
		r.pending = r.pending[1:]
		return nil, err
	}
	if r.done {
		return nil, io.EOF
	}
	r.done = true
	max := r.MaxMessageSize
	if max <= 0 {
		max = DefaultMaxMessageSize
	}
	raw, err := io.ReadAll(io.LimitReader(r.r, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", r.name, err)
	}
	if int64(len(raw)) > max {
		return nil, item.Errorf(r.name, "message larger than %d bytes: skipped", max)
	}
	raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
	// An EML saved from an mbox may keep its "From " envelope line.
	var envelope time.Time
	if bytes.HasPrefix(raw, []byte("From ")) {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		envelope = envelopeDate(string(line))
	}
	inc, warns, err := parseMessage(raw, "eml", r.name, envelope)
	if err != nil {
		r.pending = warns
		return nil, err
	}
	r.pending = kept(warns)
	return inc, nil
}

// envelopeDate parses the date of an mbox "From sender date" line, or
// returns the zero time. The sender may contain spaces (readpst writes
// From "Jane Doe" date), so the date is taken from the end of the line:
// asctime is five words, six with a zone.
func envelopeDate(line string) time.Time {
	f := strings.Fields(strings.TrimRight(line, "\r\n"))
	if len(f) < 3 {
		return time.Time{}
	}
	// The usual line, "From sender Tue Jan  2 09:02:20 2024" (asctime,
	// no zone), without the general parser's tries and their errors (it
	// was a quarter of the mbox reader's CPU). It gives what parseDate
	// gives for it: the time at offset 0 under no zone name.
	if len(f) >= 7 {
		if t, err := time.ParseInLocation(asctime, strings.Join(f[len(f)-5:], " "), noZone); err == nil {
			return t
		}
	}
	for _, n := range []int{5, 6, len(f) - 2} {
		if n < 1 || n > len(f)-2 {
			continue
		}
		if t, err := parseDate(strings.Join(f[len(f)-n:], " ")); err == nil {
			return t
		}
	}
	return time.Time{}
}

// kept marks the warnings of a message that was read as such
// (item.Error.Kept): the importer counts them apart from lost items.
func kept(warns []error) []error {
	for _, w := range warns {
		var ie *item.Error
		if errors.As(w, &ie) {
			ie.Kept = true
		}
	}
	return warns
}

// asctime is the envelope date's usual layout (as fields joined by one
// space); noZone is the zone parseDate gives a date without one.
const asctime = "Mon Jan _2 15:04:05 2006"

var noZone = time.FixedZone("", 0)
