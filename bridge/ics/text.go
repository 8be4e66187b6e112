package ics

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-ical"

	"crmbridge/bridge/internal/textcodec"
	"crmbridge/crm"
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

// parseDuration reads an RFC 5545 duration (crm.ParseDuration, which
// reads stored reminders too).
func parseDuration(v string) (time.Duration, error) { return crm.ParseDuration(v) }

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
