package ics

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-ical"
)

// Limits that keep a hostile or broken file from taking unbounded memory.
const (
	maxLineBytes      = 8 << 20  // one unfolded content line (inline attachments)
	maxComponentBytes = 32 << 20 // one VEVENT/VTODO/VTIMEZONE with its children
	maxComponentLines = 50000
	maxTimezones      = 1000 // VTIMEZONEs kept per file
	maxDepth          = 16   // component nesting
)

// errLineTooLong reports a content line over maxLineBytes; the scanner has
// skipped the rest of it.
var errLineTooLong = errors.New("content line too long")

// contentLine is one unfolded content line with the physical line number
// where it starts (1-based).
type contentLine struct {
	line int
	text string
}

// scanner reads content lines: it unfolds RFC 5545 continuation lines
// (../rfc/5545:3.1 a CRLF followed by one space or tab), joins vCalendar
// 1.0 quoted-printable soft line breaks (a value ending in "="), and
// accepts LF or CRLF line ends.
type scanner struct {
	br     *bufio.Reader
	line   int    // physical lines consumed so far
	peeked []byte // next physical line, already read (nil: none)
	peekOK bool
	eof    bool
	err    error // a read error other than io.EOF
}

func newScanner(r io.Reader) *scanner {
	return &scanner{br: bufio.NewReaderSize(r, 64<<10)}
}

// physical returns the next physical line without its line end. tooLong is
// set when the line was cut at maxLineBytes (the rest is discarded).
func (s *scanner) physical() (b []byte, tooLong bool, err error) {
	if s.peekOK {
		b, s.peeked, s.peekOK = s.peeked, nil, false
		s.line++
		return b, false, nil
	}
	if s.eof {
		return nil, false, io.EOF
	}
	var buf []byte
	for {
		chunk, err := s.br.ReadSlice('\n')
		if len(buf)+len(chunk) <= maxLineBytes {
			buf = append(buf, chunk...)
		} else {
			tooLong = true
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			s.eof = true
			if len(buf) == 0 && !tooLong {
				return nil, false, io.EOF
			}
		} else if err != nil {
			s.err = err
			return nil, false, err
		}
		break
	}
	s.line++
	buf = bytes.TrimRight(buf, "\r\n")
	return buf, tooLong, nil
}

// peek returns the next physical line without consuming it.
func (s *scanner) peek() ([]byte, bool) {
	if s.peekOK {
		return s.peeked, true
	}
	b, tooLong, err := s.physical()
	if err != nil || tooLong {
		// A too-long continuation is dropped with its line; the logical
		// line ends here.
		return nil, false
	}
	s.line-- // not consumed yet
	s.peeked, s.peekOK = b, true
	return b, true
}

// next returns the next non-empty logical line. At the end it returns
// io.EOF.
func (s *scanner) next() (contentLine, error) {
	for {
		b, tooLong, err := s.physical()
		if err != nil {
			return contentLine{}, err
		}
		start := s.line
		if tooLong {
			s.skipFolds()
			return contentLine{line: start}, errLineTooLong
		}
		// A UTF-8 byte order mark (Windows editors, Outlook web exports)
		// at the start of the file, or of a calendar appended to another,
		// is not part of the content line.
		b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		buf := append([]byte(nil), b...)
		qp := isQP(buf)
		for {
			nb, ok := s.peek()
			if !ok {
				break
			}
			switch {
			case len(nb) > 0 && (nb[0] == ' ' || nb[0] == '\t'):
				buf = append(buf, nb[1:]...)
			case qp && len(buf) > 0 && buf[len(buf)-1] == '=':
				// vCalendar 1.0 quoted-printable soft line break.
				buf = append(buf[:len(buf)-1], bytes.TrimLeft(nb, " \t")...)
			default:
				ok = false
			}
			if !ok {
				break
			}
			s.physical() // consume the peeked line
			if len(buf) > maxLineBytes {
				s.skipFolds()
				return contentLine{line: start}, errLineTooLong
			}
		}
		return contentLine{line: start, text: string(buf)}, nil
	}
}

// skipFolds consumes the continuation lines of a content line that is being
// skipped for its length, so that the whole value goes (one warning) and
// the lines after it are read as they are. Memory stays bounded: each
// continuation line is dropped as it is read.
func (s *scanner) skipFolds() {
	for {
		nb, ok := s.peek()
		if !ok {
			if s.eof || s.err != nil {
				return
			}
			continue // a too-long continuation line was dropped by peek
		}
		if len(nb) == 0 || (nb[0] != ' ' && nb[0] != '\t') {
			return
		}
		s.physical()
	}
}

// isQP reports whether a raw line declares quoted-printable encoding before
// its value.
func isQP(b []byte) bool {
	i := bytes.IndexByte(b, ':')
	if i < 0 {
		i = len(b)
	}
	return bytes.Contains(bytes.ToUpper(b[:i]), []byte("QUOTED-PRINTABLE"))
}

// parseLine splits a content line into a go-ical Prop
// (../rfc/5545:3.1 contentline = name *(";" param ) ":" value). It is more
// lenient than go-ical's decoder: a vCalendar 1.0 parameter without a
// value ("DESCRIPTION;QUOTED-PRINTABLE:") becomes ENCODING or TYPE, and a
// stray quote inside an unquoted parameter value is kept.
func parseLine(s string) (*ical.Prop, error) {
	i := strings.IndexAny(s, ";:")
	if i <= 0 {
		if i == 0 {
			return nil, fmt.Errorf("empty property name")
		}
		return nil, fmt.Errorf("no colon")
	}
	name := s[:i]
	for _, r := range name {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return nil, fmt.Errorf("invalid property name %q", trunc(name))
		}
	}
	prop := &ical.Prop{Name: strings.ToUpper(name), Params: make(ical.Params)}
	s = s[i:]
	for len(s) > 0 && s[0] == ';' {
		s = s[1:]
		j := strings.IndexAny(s, "=;:")
		if j < 0 {
			return nil, fmt.Errorf("property %s: no colon", prop.Name)
		}
		pname := strings.ToUpper(strings.TrimSpace(s[:j]))
		if s[j] != '=' {
			// vCalendar 1.0 bare parameter.
			s = s[j:]
			if pname == "" {
				continue
			}
			switch pname {
			case "QUOTED-PRINTABLE", "BASE64", "8BIT", "7BIT", "B":
				prop.Params.Add("ENCODING", pname)
			default:
				prop.Params.Add("TYPE", pname)
			}
			continue
		}
		s = s[j+1:]
		for {
			var v string
			if len(s) > 0 && s[0] == '"' {
				k := strings.IndexByte(s[1:], '"')
				if k < 0 {
					return nil, fmt.Errorf("property %s: unterminated quoted parameter", prop.Name)
				}
				v, s = s[1:1+k], s[2+k:]
			} else {
				k := strings.IndexAny(s, ",;:")
				if k < 0 {
					return nil, fmt.Errorf("property %s: no colon", prop.Name)
				}
				v, s = s[:k], s[k:]
			}
			if pname != "" {
				prop.Params.Add(pname, v)
			}
			if len(s) > 0 && s[0] == ',' {
				s = s[1:]
				continue
			}
			break
		}
	}
	if len(s) == 0 || s[0] != ':' {
		return nil, fmt.Errorf("property %s: no colon after parameters", prop.Name)
	}
	prop.Value = s[1:]
	return prop, nil
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
