package ics

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-ical"

	"crmbridge/bridge/internal/textcodec"
	"crmbridge/bridge/item"
	"crmbridge/bridge/wintz"
	"crmbridge/crm"
)

// ErrTruncated is wrapped by the *item.Error a Reader returns when the file
// ends inside a VCALENDAR or one of its components (go-ical's decoder
// returns a bare io.EOF there, which looks like a clean end).
var ErrTruncated = errors.New("ics: truncated file (no END:VCALENDAR)")

// ErrSkipped is wrapped by the warning (*item.Error with Kept set) a Reader
// returns for a component it does not import (VJOURNAL, VFREEBUSY, unknown
// components): the caller may count it with errors.Is(err, ErrSkipped)
// instead of reporting it.
var ErrSkipped = errors.New("ics: component not imported")

// Reader reads appointments (VEVENT) and tasks (VTODO) from an iCalendar
// (RFC 5545) or vCalendar 1.0 file, one component at a time. It keeps in
// memory the current component and the file's VTIMEZONEs, plus the
// components whose TZID neither a VTIMEZONE read so far nor package wintz
// resolves (at most maxDeferred): those wait for END:VCALENDAR, since a
// VTIMEZONE may follow the events that use it, and come after the others.
// Records come in file order otherwise. A Reader is not safe for
// concurrent use.
type Reader struct {
	sc   *scanner
	name string

	queue      []result // errors and items ready to return, in order
	dropped    int      // problems not queued (over maxQueued)
	droppedPos string
	done       bool

	inCal    bool
	sawCal   bool
	sawComp  bool // any BEGIN read
	stray    int  // consecutive lines outside any VCALENDAR
	method   string
	version  string
	prodid   string
	floating zone // for times without TZID and Z
	tzs      map[string]*vtimezone
	tzErrs   map[string]error
	tzDefs   map[string]string // customZone's results
	deferred []deferredComp

	// Skipped counts the components read but not imported, by name
	// ("VJOURNAL", "VFREEBUSY"); each also produced an ErrSkipped.
	Skipped map[string]int
}

type result struct {
	in  *crm.Incoming
	err error
}

var _ item.Reader = (*Reader)(nil)

// NewReader returns a Reader of r; name is the file name used in positions
// ("calendar.ics: line 12").
func NewReader(r io.Reader, name string) *Reader {
	return &Reader{sc: newScanner(r), name: name, Skipped: map[string]int{}}
}

func (r *Reader) pos(line int) string { return fmt.Sprintf("%s: line %d", r.name, line) }

// maxQueued bounds the problems held for one component; more are counted
// and reported as one.
//
// Problems that leave the item in place (a malformed line skipped, an
// unknown TZID read as floating time, a repaired END) are warnings
// (item.Error.Kept); a component lost (truncated file, conversion
// failure) is not. A skipped VJOURNAL or VFREEBUSY is a warning too: the
// file holds nothing more we could import.
const maxQueued = 1000

func (r *Reader) warn(line int, format string, args ...any) {
	if len(r.queue) >= maxQueued {
		if r.dropped == 0 {
			r.droppedPos = r.pos(line)
		}
		r.dropped++
		return
	}
	r.queue = append(r.queue, result{err: item.Warnf(r.pos(line), format, args...)})
}

// Next returns the next appointment or task. See item.Reader for the
// error contract: *item.Error for a bad line or component (call Next
// again; errors.Is(err, ErrSkipped) for a skipped VJOURNAL or VFREEBUSY,
// ErrTruncated for a file cut short), io.EOF at the end, any other error
// when the file cannot be read further.
func (r *Reader) Next() (*crm.Incoming, error) {
	for {
		if len(r.queue) > 0 {
			res := r.queue[0]
			r.queue[0] = result{}
			r.queue = r.queue[1:]
			return res.in, res.err
		}
		if r.dropped > 0 {
			err := item.Warnf(r.droppedPos, "%d more problems not reported", r.dropped)
			r.dropped = 0
			return nil, err
		}
		if r.done {
			return nil, io.EOF
		}
		if err := r.step(); err != nil {
			r.done = true
			return nil, err
		}
	}
}

// step reads one top-level or calendar-level line (a whole component when
// it is a BEGIN) and queues what it produced. A non-nil error is fatal.
func (r *Reader) step() error {
	cl, err := r.sc.next()
	if err == io.EOF {
		r.done = true
		r.flush()
		if r.inCal {
			r.queue = append(r.queue, result{err: &item.Error{Pos: r.pos(r.sc.line), Err: ErrTruncated}})
		} else if !r.sawCal && r.sc.line > 0 {
			if r.sawComp {
				r.warn(1, "no BEGIN:VCALENDAR in the file")
			} else {
				r.queue = append(r.queue, result{err: item.Errorf(r.pos(1), "no BEGIN:VCALENDAR in the file")})
			}
		}
		return nil
	}
	if err == errLineTooLong {
		r.warn(cl.line, "%v, skipped", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", r.name, err)
	}
	prop, err := parseLine(cl.text)
	if err != nil {
		r.warn(cl.line, "malformed line skipped: %v", err)
		return r.strayLine()
	}
	if !r.inCal {
		if prop.Name == "BEGIN" && strings.EqualFold(strings.TrimSpace(prop.Value), ical.CompCalendar) {
			r.beginCalendar()
			return nil
		}
		if prop.Name == "BEGIN" {
			// A component outside any VCALENDAR: read it like one inside,
			// so a bare VEVENT still imports.
			r.warn(cl.line, "BEGIN:%s outside VCALENDAR", trunc(prop.Value))
			r.component(strings.ToUpper(strings.TrimSpace(prop.Value)), cl.line)
			return nil
		}
		r.warn(cl.line, "line outside VCALENDAR skipped: %s", trunc(prop.Name))
		return r.strayLine()
	}
	r.stray = 0
	switch prop.Name {
	case "BEGIN":
		r.component(strings.ToUpper(strings.TrimSpace(prop.Value)), cl.line)
	case "END":
		if strings.EqualFold(strings.TrimSpace(prop.Value), ical.CompCalendar) {
			r.inCal = false
			r.flush()
		} else {
			r.warn(cl.line, "unexpected END:%s", trunc(prop.Value))
		}
	case ical.PropMethod:
		r.method = strings.ToUpper(strings.TrimSpace(prop.Value))
	case ical.PropVersion:
		r.version = strings.TrimSpace(prop.Value)
	case ical.PropProductID:
		r.prodid = strings.TrimSpace(prop.Value)
	case "X-WR-TIMEZONE":
		if loc, err := wintz.Location(prop.Value); err == nil {
			r.floating = locZone{loc}
		} else {
			r.warn(cl.line, "X-WR-TIMEZONE: %v", err)
		}
	case "TZ": // vCalendar 1.0: the calendar's standard offset, "+01:00" or "-05"
		if off, ok := parseVCalOffset(prop.Value); ok && r.floating == nil {
			r.floating = locZone{time.FixedZone(prop.Value, off)}
		}
	}
	return nil
}

// strayLine counts lines that are not iCalendar outside a calendar; a file
// that starts with many of them is not an iCalendar file at all.
func (r *Reader) strayLine() error {
	if r.inCal {
		return nil
	}
	r.stray++
	if !r.sawCal && r.stray >= 20 {
		return fmt.Errorf("%s: not an iCalendar file (no BEGIN:VCALENDAR in the first %d lines)", r.name, r.sc.line)
	}
	return nil
}

func (r *Reader) beginCalendar() {
	r.inCal, r.sawCal, r.stray = true, true, 0
	r.method, r.version, r.prodid, r.floating = "", "", "", nil
	r.tzs, r.tzErrs, r.tzDefs = map[string]*vtimezone{}, map[string]error{}, nil
}

// component reads the component that starts at line (its BEGIN already
// read) and queues its record, or its errors.
func (r *Reader) component(name string, line int) {
	r.sawComp = true
	c, recur, sum, err := r.readComponent(name, line)
	if err != nil {
		r.queue = append(r.queue, result{err: err})
		return
	}
	switch name {
	case ical.CompTimezone:
		tzid := c.Props.Get(ical.PropTimezoneID)
		if tzid == nil || strings.TrimSpace(tzid.Value) == "" {
			r.warn(line, "VTIMEZONE without TZID")
			return
		}
		if r.tzs == nil {
			r.tzs, r.tzErrs = map[string]*vtimezone{}, map[string]error{}
		}
		if len(r.tzs)+len(r.tzErrs) >= maxTimezones {
			r.warn(line, "more than %d VTIMEZONEs, ignored", maxTimezones)
			return
		}
		id := tzKey(tzid.Value)
		z, err := parseVTimezone(c)
		if err != nil {
			r.tzErrs[id] = err
			return
		}
		r.tzs[id] = z
	case ical.CompEvent, ical.CompToDo:
		d := deferredComp{c, line, recur, sum}
		if r.inCal && len(r.deferred) < maxDeferred && r.unresolvedTZ(c) {
			// Its VTIMEZONE may come later in the calendar (RFC 5545 does
			// not order components): convert it at END:VCALENDAR.
			r.deferred = append(r.deferred, d)
			break
		}
		r.emit(d)
	default:
		r.Skipped[name]++
		r.queue = append(r.queue, result{err: &item.Error{Pos: r.pos(line), Err: fmt.Errorf("%w: %s", ErrSkipped, trunc(name)), Kept: true}})
	}
	if !r.inCal {
		r.flush() // the component ended the calendar (END:VCALENDAR, or the file)
	}
}

// deferredComp is a VEVENT or VTODO waiting for its VTIMEZONE.
type deferredComp struct {
	c     *ical.Component
	line  int
	recur []string
	sum   hash.Hash
}

// maxDeferred bounds the components held back for a later VTIMEZONE; past
// it, components are converted at once (an unknown TZID then reads as
// floating time, with a warning).
const maxDeferred = 10000

// unresolvedTZ reports whether a property of c names a TZID that neither a
// VTIMEZONE read so far nor package wintz resolves.
func (r *Reader) unresolvedTZ(c *ical.Component) bool {
	for _, ps := range c.Props {
		for _, p := range ps {
			if id := tzidParam(&p); id != "" {
				if _, err := r.zoneFor(id); err != nil {
					return true
				}
			}
		}
	}
	return false
}

func (r *Reader) emit(d deferredComp) {
	in, err := r.convert(d.c, d.line, d.recur, d.sum)
	if err != nil {
		r.queue = append(r.queue, result{err: &item.Error{Pos: r.pos(d.line), Err: err}})
		return
	}
	r.queue = append(r.queue, result{in: in})
}

// flush converts the components held back for a VTIMEZONE, at the end of
// their calendar.
func (r *Reader) flush() {
	for i, d := range r.deferred {
		r.emit(d)
		r.deferred[i] = deferredComp{}
	}
	r.deferred = nil
}

// readComponent reads lines up to the END that matches the BEGIN at line.
// It returns the component, its raw RRULE/EXRULE/RDATE/EXDATE lines, and a
// running hash of its lines (DTSTAMP left out: servers regenerate it on
// every download, so it does not make a new version). Malformed lines are
// queued as errors and skipped. A missing END of a nested component is
// repaired at the END of its parent. Reaching the end of the file returns
// ErrTruncated (and ends the calendar).
func (r *Reader) readComponent(name string, line int) (*ical.Component, []string, hash.Hash, error) {
	root := ical.NewComponent(name)
	stack := []*ical.Component{root}
	var recur []string
	h := sha256.New()
	size, lines, deep, tooBig := 0, 0, 0, false
	for {
		cl, err := r.sc.next()
		if err == io.EOF {
			r.inCal = false
			r.done = true
			return nil, nil, nil, &item.Error{Pos: r.pos(line), Err: fmt.Errorf("%s not closed: %w", name, ErrTruncated)}
		}
		if err == errLineTooLong {
			r.warn(cl.line, "%v, skipped", err)
			continue
		}
		if err != nil {
			r.done = true
			return nil, nil, nil, fmt.Errorf("read %s: %w", r.name, err)
		}
		prop, perr := parseLine(cl.text)
		if perr != nil {
			r.warn(cl.line, "malformed line skipped: %v", perr)
			continue
		}
		size += len(cl.text)
		lines++
		if !tooBig && (size > maxComponentBytes || lines > maxComponentLines) {
			tooBig = true
			r.warn(line, "%s larger than %d bytes or %d lines, rest of it ignored", name, maxComponentBytes, maxComponentLines)
		}
		top := stack[len(stack)-1]
		switch prop.Name {
		case "BEGIN":
			if len(stack) >= maxDepth {
				if deep == 0 {
					r.warn(cl.line, "components nested deeper than %d, ignored", maxDepth)
				}
				deep++
				continue
			}
			child := ical.NewComponent(strings.ToUpper(strings.TrimSpace(prop.Value)))
			if !tooBig {
				top.Children = append(top.Children, child)
			}
			stack = append(stack, child)
			fmt.Fprintf(h, "BEGIN:%s\n", child.Name)
			continue
		case "END":
			if deep > 0 {
				deep--
				continue
			}
			v := strings.ToUpper(strings.TrimSpace(prop.Value))
			fmt.Fprintf(h, "END:%s\n", v)
			if v == top.Name {
				stack = stack[:len(stack)-1]
				if len(stack) == 0 {
					return root, recur, h, nil
				}
				continue
			}
			k := len(stack) - 1
			for k >= 0 && stack[k].Name != v {
				k--
			}
			if k >= 0 {
				r.warn(cl.line, "END:%s before END:%s", v, top.Name)
				stack = stack[:k]
				if len(stack) == 0 {
					return root, recur, h, nil
				}
				continue
			}
			if v == ical.CompCalendar {
				r.warn(cl.line, "END:VCALENDAR before END:%s", top.Name)
				r.inCal = false
				return root, recur, h, nil
			}
			r.warn(cl.line, "unexpected END:%s in %s", trunc(v), top.Name)
			continue
		}
		if tooBig || deep > 0 {
			continue
		}
		if prop.Name != ical.PropDateTimeStamp {
			h.Write([]byte(cl.text))
			h.Write([]byte{'\n'})
		}
		if len(stack) == 1 {
			switch prop.Name {
			case ical.PropRecurrenceRule, ical.PropRecurrenceDates, ical.PropExceptionDates, "EXRULE":
				recur = append(recur, cl.text)
			}
		}
		top.Props.Add(prop)
	}
}

// zoneFor resolves a TZID. An IANA name ("America/New_York") uses the IANA
// database, which knows the zone's history, even when the file has a
// VTIMEZONE of that id (many give only the current rules, or one year's);
// Python's icalendar does the same. Any other id uses the file's
// VTIMEZONE, then package wintz (Windows ids and display names).
func (r *Reader) zoneFor(tzid string) (zone, error) {
	id := tzKey(tzid)
	if id != "" && !strings.EqualFold(id, "local") && !strings.ContainsAny(id, " \"") {
		if loc, err := wintz.LoadIANA(id); err == nil {
			return locZone{loc}, nil
		}
	}
	if z, ok := r.tzs[id]; ok {
		return z, nil
	}
	for k, z := range r.tzs {
		if strings.EqualFold(strings.Trim(k, `"' `), strings.Trim(id, `"' `)) {
			return z, nil
		}
	}
	loc, err := wintz.Location(id)
	if err == nil {
		return locZone{loc}, nil
	}
	if verr, ok := r.tzErrs[id]; ok {
		return nil, fmt.Errorf("TZID %q: bad VTIMEZONE (%v) and %w", trunc(id), verr, err)
	}
	return nil, fmt.Errorf("TZID %q: no VTIMEZONE and %w", trunc(id), err)
}

// tzKey is the name a TZID stands for, whether it comes from a VTIMEZONE's
// TZID property, a TEXT value (../rfc/5545:3.3.11: "\," is a comma), or
// from a TZID parameter, which is quoted when it holds a comma
// (../rfc/5545:3.2) but which writers also leave escaped: "Pacific Time
// (US & Canada)\, Tijuana" and "\"Pacific Time (US & Canada), Tijuana\""
// are one zone.
func tzKey(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	return strings.TrimSpace(textcodec.Unescape(s, ""))
}

// tzidParam returns the TZID parameter of p as tzKey reads it. An unquoted
// value with a comma was split by parseLine into several values: TZID has
// only one (../rfc/5545:3.2.19), so they are joined again.
func tzidParam(p *ical.Prop) string {
	vs := p.Params[ical.PropTimezoneID]
	if len(vs) == 0 {
		return ""
	}
	return tzKey(strings.Join(vs, ","))
}

// when is a parsed DATE or DATE-TIME property.
type when struct {
	t    time.Time // the instant; a DATE is midnight UTC of that date
	date bool
	tzid string
}

// timeOf parses a DATE or DATE-TIME property, resolving its TZID; a
// problem with the time zone is returned as warn (the time is then read
// as floating), a value that cannot be read as err.
func (r *Reader) timeOf(p *ical.Prop) (w when, warn, err error) {
	v := p.Value
	if i := strings.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	n, date, utc, err := parseNaive(v)
	if err != nil {
		return w, nil, fmt.Errorf("%s: %w", p.Name, err)
	}
	if strings.EqualFold(p.Params.Get(ical.ParamValue), "DATE") && !date {
		n, date = time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, time.UTC), true
	}
	w.date = date
	switch {
	case date, utc:
		w.t = n
	default:
		w.tzid = tzidParam(p)
		var z zone
		if w.tzid != "" {
			z, warn = r.zoneFor(w.tzid)
			if warn != nil {
				warn = fmt.Errorf("%s: %w, read as floating time", p.Name, warn)
			}
		}
		if z == nil {
			z = r.floating
		}
		if z == nil {
			w.t = n
		} else {
			w.t = z.toUTC(n)
		}
	}
	return w, warn, nil
}

func parseVCalOffset(s string) (int, bool) {
	s = strings.TrimSpace(s)
	if len(s) < 2 || (s[0] != '+' && s[0] != '-') {
		return 0, false
	}
	hs, ms, _ := strings.Cut(s[1:], ":")
	if len(hs) == 4 && ms == "" {
		hs, ms = hs[:2], hs[2:]
	}
	h, err := strconv.Atoi(hs)
	if err != nil || h > 14 {
		return 0, false
	}
	m := 0
	if ms != "" {
		if m, err = strconv.Atoi(ms); err != nil || m > 59 {
			return 0, false
		}
	}
	off := h*3600 + m*60
	if s[0] == '-' {
		off = -off
	}
	return off, true
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }
