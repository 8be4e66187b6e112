package vcf

import (
	"encoding/base64"
	"errors"
	"strings"

	"crmbridge/bridge/internal/textcodec"
)

// param is one parameter value: TYPE=WORK,VOICE gives two. Names are
// upper case, TYPE values lower case.
type param struct{ name, value string }

// prop is one content line of a card (RFC 6350 3.3:
// [group "."] name *(";" param) ":" value), after unfolding but before its
// value is decoded.
type prop struct {
	group  string
	name   string  // upper case
	params []param // in file order; one entry per value
	raw    string  // value as written (quoted-printable not yet decoded)
	line   int
	// headLen is the length of the line up to and including the colon
	// that starts the value.
	headLen int
}

var errNoColon = errors.New("no ':' between property name and value")

// parseProp parses an unfolded content line. 2.1 bare parameters
// (TEL;CELL;VOICE, LABEL;QUOTED-PRINTABLE) become TYPE= or ENCODING=.
func parseProp(l string, line int) (*prop, error) {
	p := &prop{line: line}
	// Name: up to the first ';' or ':'.
	i := strings.IndexAny(l, ";:")
	if i < 0 {
		return nil, errNoColon
	}
	name := l[:i]
	if dot := strings.LastIndexByte(name, '.'); dot >= 0 {
		p.group, name = name[:dot], name[dot+1:]
	}
	name = strings.TrimSpace(name)
	if name == "" || !validName(name) {
		return nil, errors.New("invalid property name " + quoteShort(l[:i]))
	}
	p.name = strings.ToUpper(name)
	rest := l[i:]
	for len(rest) > 0 && rest[0] == ';' {
		rest = rest[1:]
		// One parameter, up to an unquoted ';' or ':'.
		j, inQuote := 0, false
		for ; j < len(rest); j++ {
			c := rest[j]
			if c == '"' {
				inQuote = !inQuote
			} else if !inQuote && (c == ';' || c == ':') {
				break
			}
		}
		if j == len(rest) {
			return nil, errNoColon
		}
		p.addParam(rest[:j])
		rest = rest[j:]
	}
	if len(rest) == 0 || rest[0] != ':' {
		return nil, errNoColon
	}
	p.raw = rest[1:]
	p.headLen = len(l) - len(p.raw)
	return p, nil
}

func validName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func quoteShort(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return `"` + strings.ToValidUTF8(s, "?") + `"`
}

func (p *prop) addParam(s string) {
	k, v, ok := strings.Cut(s, "=")
	k = strings.ToUpper(strings.TrimSpace(k))
	if !ok {
		// vCard 2.1 bare parameter: a type, or an encoding.
		switch k {
		case "":
			return
		case "QUOTED-PRINTABLE", "BASE64", "B", "8BIT", "7BIT":
			p.params = append(p.params, param{"ENCODING", k})
		default:
			p.params = append(p.params, param{"TYPE", strings.ToLower(k)})
		}
		return
	}
	for _, pv := range splitParamValues(v) {
		if k == "TYPE" {
			// RFC 6350 5.6 also allows TYPE="work,voice".
			for _, t := range strings.Split(strings.ToLower(pv), ",") {
				p.params = append(p.params, param{k, strings.TrimSpace(t)})
			}
			continue
		}
		p.params = append(p.params, param{k, pv})
	}
}

// splitParamValues splits a parameter value list at commas outside double
// quotes, removing the quotes and decoding RFC 6868 ^-escapes.
func splitParamValues(v string) []string {
	var out []string
	var b strings.Builder
	inQuote := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '"':
			inQuote = !inQuote
		case c == ',' && !inQuote:
			out = append(out, strings.TrimSpace(b.String()))
			b.Reset()
		case c == '^' && i+1 < len(v) && (v[i+1] == 'n' || v[i+1] == '^' || v[i+1] == '\''):
			// RFC 6868 2: ^n newline, ^^ caret, ^' double quote.
			i++
			switch v[i] {
			case 'n':
				b.WriteByte('\n')
			case '^':
				b.WriteByte('^')
			default:
				b.WriteByte('"')
			}
		default:
			b.WriteByte(c)
		}
	}
	return append(out, strings.TrimSpace(b.String()))
}

// param returns the first value of parameter k.
func (p *prop) param(k string) string {
	for _, x := range p.params {
		if x.name == k {
			return x.value
		}
	}
	return ""
}

// hasType reports whether TYPE includes t (lower case).
func (p *prop) hasType(t string) bool {
	for _, x := range p.params {
		if x.name == "TYPE" && x.value == t {
			return true
		}
	}
	return false
}

func (p *prop) encoding() string { return strings.ToUpper(p.param("ENCODING")) }

func (p *prop) isQP() bool { return p.encoding() == "QUOTED-PRINTABLE" }

func (p *prop) isBase64() bool {
	e := p.encoding()
	return e == "B" || e == "BASE64"
}

// pref returns the preference of p: 1 is most preferred, 101 means none
// (RFC 6350 5.3 PREF=1..100; 3.0 TYPE=pref; 2.1 bare PREF).
func (p *prop) pref() int {
	if v := p.param("PREF"); v != "" {
		n := 0
		for _, c := range v {
			if c < '0' || c > '9' {
				n = 100
				break
			}
			n = n*10 + int(c-'0')
			if n > 100 {
				break
			}
		}
		if n >= 1 && n <= 100 {
			return n
		}
	}
	if p.hasType("pref") {
		return 1
	}
	return 101
}

// bytes returns the value's bytes after the transfer encoding
// (quoted-printable or base64) is undone.
func (p *prop) bytes() ([]byte, error) {
	switch {
	case p.isQP():
		return textcodec.DecodeQP([]byte(p.raw)), nil
	case p.isBase64():
		return decodeBase64(p.raw)
	}
	return []byte(p.raw), nil
}

// text returns the value as UTF-8 text: transfer encoding undone, then
// textcodec.ToUTF8's one rule with the CHARSET parameter (Windows-1252,
// which Outlook writes, when none is given and the bytes are not UTF-8 at
// all). Escapes are not yet removed.
func (p *prop) text() string {
	b, err := p.bytes()
	if err != nil {
		b = []byte(p.raw)
	}
	s, _ := textcodec.ToUTF8(b, p.param("CHARSET")) // an unknown charset reads as no charset
	return s
}

// decodeBase64 decodes base64 that may contain white space and may lack
// padding.
func decodeBase64(s string) ([]byte, error) {
	clean := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t', '\r', '\n':
		default:
			clean = append(clean, c)
		}
	}
	for len(clean) > 0 && clean[len(clean)-1] == '=' {
		clean = clean[:len(clean)-1]
	}
	out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
	n, err := base64.RawStdEncoding.Decode(out, clean)
	if err != nil {
		// Some writers use the URL alphabet.
		n, err = base64.RawURLEncoding.Decode(out, clean)
	}
	return out[:n], err
}
