package ics

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-ical"

	"crmbridge/bridge/internal/textcodec"
)

// text returns the decoded text of the first property name of c.
func (r *Reader) text(c *ical.Component, name string) string {
	p := c.Props.Get(name)
	if p == nil {
		return ""
	}
	return r.propText(p)
}

// propText decodes a TEXT value: vCalendar 1.0 quoted-printable or base64,
// then textcodec.ToUTF8's one rule with its CHARSET (Windows-1252 when
// none is given and the bytes are not UTF-8 at all), then RFC 5545 escapes
// (../rfc/5545:3.3.11). Unlike go-ical's Prop.Text it does not cut the
// value at an unescaped comma (Outlook writes them) and keeps an unknown
// escape as written.
func (r *Reader) propText(p *ical.Prop) string {
	v := p.Value
	raw := []byte(v)
	switch strings.ToUpper(p.Params.Get("ENCODING")) {
	case "QUOTED-PRINTABLE":
		raw = textcodec.DecodeQP(raw)
	case "BASE64", "B":
		if b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v)); err == nil {
			raw = b
		}
	}
	s, _ := textcodec.ToUTF8(raw, p.Params.Get("CHARSET")) // an unknown charset reads as none
	return strings.ReplaceAll(textcodec.Unescape(s, `"`), "\r\n", "\n")
}

// parseDuration reads an RFC 5545 duration (../rfc/5545:3.3.6), leniently:
// surrounding space, a week count after "T" ("PT1W") and mixed weeks and
// days are accepted.
func parseDuration(v string) (time.Duration, error) {
	s := strings.ToUpper(strings.TrimSpace(v))
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if !strings.HasPrefix(s, "P") || len(s) < 3 {
		return 0, fmt.Errorf("bad duration %q", trunc(v))
	}
	s = s[1:]
	var d time.Duration
	timePart := false
	for s != "" {
		if s[0] == 'T' {
			timePart = true
			s = s[1:]
			continue
		}
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 || i == len(s) || i > 9 {
			return 0, fmt.Errorf("bad duration %q", trunc(v))
		}
		n, _ := strconv.Atoi(s[:i])
		var unit time.Duration
		switch s[i] {
		case 'W':
			unit = 7 * 24 * time.Hour
		case 'D':
			unit = 24 * time.Hour
		case 'H':
			unit = time.Hour
		case 'M':
			if !timePart {
				return 0, fmt.Errorf("bad duration %q: months are not durations", trunc(v))
			}
			unit = time.Minute
		case 'S':
			unit = time.Second
		default:
			return 0, fmt.Errorf("bad duration %q", trunc(v))
		}
		d += time.Duration(n) * unit
		s = s[i+1:]
	}
	if neg {
		d = -d
	}
	return d, nil
}

// decodeBase64 decodes a base64 value, ignoring white space and missing
// padding.
func decodeBase64(v string) ([]byte, error) {
	v = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, v)
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(v, "="))
	}
	if err != nil {
		return nil, fmt.Errorf("bad base64: %w", err)
	}
	return b, nil
}
