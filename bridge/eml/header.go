package eml

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message"
	"golang.org/x/text/encoding/charmap"
)

// toUTF8 returns b as valid UTF-8 text: unchanged when it already is, else
// decoded as windows-1252 (a superset of the printable ISO-8859-1 range), the
// charset of nearly every unlabelled 8-bit header and body in the wild.
func toUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	if mostlyUTF8(b) {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	out, err := charmap.Windows1252.NewDecoder().Bytes(b)
	if err != nil {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return string(out)
}

// mostlyUTF8 reports whether b is UTF-8 text with a few broken sequences
// (a multi-byte character cut by a length limit): more valid multi-byte
// characters than invalid bytes.
func mostlyUTF8(b []byte) bool {
	multi, bad := 0, 0
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && n == 1:
			bad++
		case n > 1:
			multi++
		}
		b = b[n:]
	}
	return multi >= 2 && bad*4 <= multi
}

// errUnknownCharset marks a charset neither go-message (with its tables
// registered) nor the fallbacks here can decode.
var errUnknownCharset = errors.New("unknown charset")

// charsetReader converts input from charset to UTF-8: UTF-8, US-ASCII,
// ISO-8859-1/windows-1252 and UTF-7 are handled here; every other charset goes
// through message.CharsetReader, which the command sets by importing
// go-message's charset package.
func charsetReader(charset string, input io.Reader) (io.Reader, error) {
	cs := strings.ToLower(strings.Trim(strings.TrimSpace(charset), `"'`))
	switch cs {
	case "", "utf-8", "utf8", "us-ascii", "ascii", "7bit", "8bit":
		return input, nil
	case "iso-8859-1", "latin1", "latin-1", "windows-1252", "cp1252", "iso8859-1":
		return charmap.Windows1252.NewDecoder().Reader(input), nil
	case "utf-7", "unicode-1-1-utf-7":
		b, err := io.ReadAll(input) // input is an in-memory part or header
		if err != nil {
			return nil, err
		}
		return strings.NewReader(decodeUTF7(b)), nil
	}
	if message.CharsetReader != nil {
		if r, err := message.CharsetReader(cs, input); err == nil && r != nil {
			return r, nil
		}
	}
	return nil, fmt.Errorf("%w %q", errUnknownCharset, charset)
}

// decodeCharset converts b from charset to valid UTF-8. An unknown charset
// returns the windows-1252 reading of b and an error for the caller to
// report as a warning.
func decodeCharset(charset string, b []byte) (string, error) {
	r, err := charsetReader(charset, bytes.NewReader(b))
	if err != nil {
		return toUTF8(b), err
	}
	out, err := io.ReadAll(r)
	if err != nil {
		return toUTF8(b), fmt.Errorf("charset %q: %w", charset, err)
	}
	return toUTF8(out), nil
}

var wordDecoder = &mime.WordDecoder{CharsetReader: charsetReader}

// decodeText decodes an unstructured header value (RFC 2047 encoded words;
// raw 8-bit bytes read as UTF-8 when valid, else windows-1252). On an
// encoded word it cannot decode it returns the raw value and the error.
func decodeText(raw string) (string, error) {
	if !strings.Contains(raw, "=?") {
		return toUTF8([]byte(raw)), nil
	}
	if utf8.ValidString(raw) {
		if dec, err := wordDecoder.DecodeHeader(raw); err == nil && utf8.ValidString(dec) {
			return dec, nil
		}
	}
	return decodeWordsLenient(raw)
}

var reWord = regexp.MustCompile(`=\?([^?\s]+)\?([QqBb])\?([^?]*)\?=`)

// decodeWordsLenient decodes RFC 2047 encoded words the way mail clients
// do when mime.WordDecoder refuses them: raw 8-bit bytes inside a Q word
// are taken as they are, base64 is decoded leniently, white space between
// two encoded words is dropped (RFC 2047 6.2), and text outside words is
// read with toUTF8. A word in an unknown charset is kept as it is and
// reported.
func decodeWordsLenient(raw string) (string, error) {
	var b strings.Builder
	var firstErr error
	prevWord := false
	last := 0
	for _, loc := range reWord.FindAllStringSubmatchIndex(raw, -1) {
		between := raw[last:loc[0]]
		if !(prevWord && strings.TrimSpace(between) == "") {
			b.WriteString(toUTF8([]byte(between)))
		}
		charset := raw[loc[2]:loc[3]]
		if i := strings.IndexByte(charset, '*'); i >= 0 { // RFC 2231 language
			charset = charset[:i]
		}
		enc, text := raw[loc[4]:loc[5]], raw[loc[6]:loc[7]]
		var data []byte
		if enc == "B" || enc == "b" {
			data = decodeBase64([]byte(text))
		} else {
			data = decodeQP([]byte(strings.ReplaceAll(text, "_", " ")))
		}
		s, err := decodeCharset(charset, data)
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("decode %q: %w", truncate(raw, 80), err)
			}
			s = toUTF8([]byte(raw[loc[0]:loc[1]]))
		}
		b.WriteString(s)
		prevWord = true
		last = loc[1]
	}
	b.WriteString(toUTF8([]byte(raw[last:])))
	return b.String(), firstErr
}

// truncate shortens s to at most n bytes for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// parseAddressList parses an address header (From, To, Cc, Bcc). When the
// strict RFC 5322 parser refuses the value, a lenient split recovers every
// address it can and the error is returned for the caller to report.
func parseAddressList(raw string) ([]*mail.Address, error) {
	v := strings.TrimSpace(toUTF8([]byte(raw)))
	if v == "" {
		return nil, nil
	}
	p := mail.AddressParser{WordDecoder: wordDecoder}
	list, err := p.ParseList(v)
	if err == nil {
		for _, a := range list {
			a.Name = toUTF8([]byte(a.Name))
			// Encoded words inside a quoted display name are not valid
			// (RFC 2047 5) but common; decode them as mail clients do.
			if strings.Contains(a.Name, "=?") {
				if d, err := decodeText(a.Name); err == nil {
					a.Name = d
				}
			}
		}
		return list, nil
	}
	return lenientAddresses(v), fmt.Errorf("address list %q: %w", truncate(v, 80), err)
}

// lenientAddresses splits v at commas outside quotes, angle brackets and
// comments, and takes from each piece the <address> or the bare word that
// contains an @. A piece with several <addresses> (a missing comma) gives
// each of them.
func lenientAddresses(v string) []*mail.Address {
	var out []*mail.Address
	for _, piece := range splitAddresses(v) {
		for strings.Count(piece, "<") > 1 {
			i := strings.IndexByte(piece, '>')
			if i < 0 {
				break
			}
			sub := piece[:i+1]
			if j := strings.LastIndexByte(sub, '<'); j > 0 && strings.Count(sub, "<") > 1 {
				sub = sub[j:]
			}
			if a := lenientAddress(sub); a != nil {
				out = append(out, a)
			}
			piece = piece[i+1:]
		}
		if a := lenientAddress(piece); a != nil {
			out = append(out, a)
		}
	}
	return out
}

// lenientAddress reads one address from piece, or returns nil.
func lenientAddress(piece string) *mail.Address {
	piece = strings.TrimSpace(piece)
	if piece == "" {
		return nil
	}
	var addr, name string
	if i := strings.LastIndexByte(piece, '<'); i >= 0 {
		j := strings.IndexByte(piece[i:], '>')
		if j < 0 {
			addr = piece[i+1:]
		} else {
			addr = piece[i+1 : i+j]
		}
		name = strings.TrimSpace(piece[:i])
	} else {
		for _, w := range strings.Fields(piece) {
			if strings.Contains(w, "@") {
				addr = w
			}
		}
		if addr == "" {
			return nil
		}
		name = strings.TrimSpace(strings.Replace(piece, addr, "", 1))
		name = strings.TrimSpace(strings.Trim(name, "()"))
	}
	addr = strings.Trim(strings.TrimSpace(addr), `"';:<>`)
	if addr == "" || !strings.Contains(addr, "@") {
		return nil
	}
	name = strings.Trim(name, `"' `)
	if d, err := decodeText(name); err == nil {
		name = d
	}
	return &mail.Address{Name: name, Address: addr}
}

func splitAddresses(v string) []string {
	var out []string
	var quoted, escaped bool
	angle, paren, start := 0, 0, 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case escaped:
			escaped = false
		case c == '\\':
			escaped = true
		case quoted:
			quoted = c != '"'
		case c == '"':
			quoted = true
		case c == '<':
			angle++
		case c == '>' && angle > 0:
			angle--
		case c == '(':
			paren++
		case c == ')' && paren > 0:
			paren--
		case (c == ',' || c == ';') && angle == 0 && paren == 0:
			out = append(out, v[start:i])
			start = i + 1
		case c == ':' && angle == 0 && paren == 0:
			// group display name "undisclosed-recipients:"
			start = i + 1
		}
	}
	return append(out, v[start:])
}

// formatAddress renders an address as "Name <addr>" or "addr".
func formatAddress(a *mail.Address) string {
	if a.Name == "" || a.Name == a.Address {
		return a.Address
	}
	return a.Name + " <" + a.Address + ">"
}

// msgIDs returns the message ids in a Message-ID, In-Reply-To or References
// value, each in angle brackets. Values without brackets (seen from broken
// mailers) count as one id per white-space separated word containing an @.
func msgIDs(v string) []string {
	v = strings.TrimSpace(toUTF8([]byte(v)))
	var out []string
	for {
		i := strings.IndexByte(v, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			break
		}
		if id := strings.TrimSpace(v[i+1 : i+j]); id != "" {
			out = append(out, "<"+id+">")
		}
		v = v[i+j+1:]
	}
	if len(out) > 0 {
		return out
	}
	for _, w := range strings.Fields(v) {
		if strings.Contains(w, "@") {
			out = append(out, "<"+strings.Trim(w, "<>")+">")
		}
	}
	return out
}
