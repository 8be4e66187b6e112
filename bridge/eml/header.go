package eml

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"regexp"
	"strings"
	"unicode/utf8"

	"crmbridge/bridge/internal/textcodec"
)

// charsetReader converts input from charset to UTF-8 by textcodec.ToUTF8's
// one rule, for mime.WordDecoder. An unknown charset is an error.
func charsetReader(charset string, input io.Reader) (io.Reader, error) {
	b, err := io.ReadAll(input) // input is an in-memory header word
	if err != nil {
		return nil, err
	}
	s, err := textcodec.ToUTF8(b, charset)
	if err != nil {
		return nil, err
	}
	return strings.NewReader(s), nil
}

// decodeCharset converts b from charset to valid UTF-8 by
// textcodec.ToUTF8's one rule. An unknown charset returns the reading
// without a charset and an error for the caller to report as a warning.
func decodeCharset(charset string, b []byte) (string, error) {
	return textcodec.ToUTF8(b, charset)
}

var wordDecoder = &mime.WordDecoder{CharsetReader: charsetReader}

// decodeText decodes an unstructured header value (RFC 2047 encoded words;
// raw 8-bit bytes read as UTF-8 when valid, else windows-1252). On an
// encoded word it cannot decode it returns the raw value and the error.
func decodeText(raw string) (string, error) {
	if !strings.Contains(raw, "=?") {
		return textcodec.String(raw), nil
	}
	if utf8.ValidString(raw) {
		// mime.WordDecoder leaves a word it finds invalid as it is (bad
		// base64 padding: "=?NONE?B?VEVTVA=?="); the lenient path reads it.
		if dec, err := wordDecoder.DecodeHeader(raw); err == nil && utf8.ValidString(dec) && !reWord.MatchString(dec) {
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
// read with textcodec.String. A word in an unknown charset is decoded as
// text without a charset and reported.
func decodeWordsLenient(raw string) (string, error) {
	var b strings.Builder
	var firstErr error
	prevWord := false
	last := 0
	for _, loc := range reWord.FindAllStringSubmatchIndex(raw, -1) {
		between := raw[last:loc[0]]
		if !(prevWord && strings.TrimSpace(between) == "") {
			b.WriteString(textcodec.String(between))
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
			data = textcodec.DecodeQP([]byte(strings.ReplaceAll(text, "_", " ")))
		}
		s, err := decodeCharset(charset, data)
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("decode %q: %w", truncate(raw, 80), err)
			}
			if !errors.Is(err, textcodec.ErrUnknownCharset) {
				s = textcodec.String(raw[loc[0]:loc[1]])
			}
			// An unknown label ("NONE", "x-unknown"): the text as read
			// without a charset (UTF-8 when valid, else Windows-1252), as
			// Python's email package does, not the encoded word.
		}
		b.WriteString(s)
		prevWord = true
		last = loc[1]
	}
	b.WriteString(textcodec.String(raw[last:]))
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
	v := strings.TrimSpace(textcodec.String(raw))
	if v == "" {
		return nil, nil
	}
	// RFC 5322 4.4: an obsolete source route ("<@relay:user@host>") is
	// to be ignored; net/mail does not know the syntax.
	v = reRoute.ReplaceAllString(v, "<")
	p := mail.AddressParser{WordDecoder: wordDecoder}
	list, err := p.ParseList(v)
	if err == nil {
		for _, a := range list {
			a.Name = textcodec.String(a.Name)
			// Encoded words inside a quoted display name are not valid
			// (RFC 2047 5) but common; decode them as mail clients do.
			if strings.Contains(a.Name, "=?") {
				if d, err := decodeText(a.Name); err == nil {
					a.Name = d
				}
			}
		}
		return checkAddresses(list, true), nil
	}
	return checkAddresses(lenientAddresses(v), false), fmt.Errorf("address list %q: %w", truncate(v, 80), err)
}

// checkAddresses drops obsolete source routes (RFC 5322 4.4 obs-route:
// "<@relay1,@relay2:user@example.com>" is user@example.com) and checks each
// address against the addr-spec of RFC 5322 3.4.1. An address that fails
// ("<Undisclosed-Recipient:@host;>", "joe@", "x@y@z") is kept as written
// (without its angle brackets and list punctuation), as the party rule of
// crm.Party says, for the caller to report (validAddrSpec tells it); the
// writer carries it as an unparsed address (encapsulateText).
//
// strict says that net/mail's parser read the list: it unquotes a quoted
// local part ("a b"@x gives a b@x), which is then quoted again.
func checkAddresses(list []*mail.Address, strict bool) []*mail.Address {
	for _, a := range list {
		addr := strings.TrimSpace(a.Address)
		if strings.HasPrefix(addr, "@") {
			if i := strings.LastIndexByte(addr, ':'); i >= 0 {
				addr = addr[i+1:]
			}
		}
		if validAddrSpec(addr) {
			a.Address = addr
			continue
		}
		if q := quoteLocal(addr); strict && q != addr && validAddrSpec(q) {
			a.Address = q // net/mail unquotes a quoted local part: "a b"@x
			continue
		}
		a.Address = strings.Trim(a.Address, " <>;,")
	}
	return list
}

var reRoute = regexp.MustCompile(`<\s*@[^<>:"]*:`)

// quoteLocal returns addr with its local part as an RFC 5322 quoted-string.
func quoteLocal(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i <= 0 || strings.HasPrefix(addr, `"`) {
		return addr
	}
	return `"` + quoter.Replace(addr[:i]) + `"` + addr[i:]
}

// quoter and unquoter escape and unescape an RFC 5322 quoted-string's
// backslash and quote. Built once: a Replacer builds its tables on first
// use.
var (
	quoter   = strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	unquoter = strings.NewReplacer(`\"`, `"`, `\\`, `\`)
)

// validAddrSpec reports whether s is an RFC 5322 3.4.1 addr-spec
// (local-part "@" domain, UTF-8 allowed as RFC 6532 says), as net/mail's
// strict parser reads it.
func validAddrSpec(s string) bool {
	if s == "" || !strings.Contains(s, "@") {
		return false
	}
	a, err := mail.ParseAddress("<" + s + ">")
	return err == nil && a.Address != ""
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
		// A piece without an address ("Joe Bloggs") is a display name
		// alone: kept as one (the party rule gives it as the address).
		name = strings.TrimSpace(strings.Replace(piece, addr, "", 1))
		name = strings.TrimSpace(strings.Trim(name, "()"))
	}
	addr = strings.Trim(strings.TrimSpace(addr), `"';:<>`)
	name = strings.Trim(name, `"' `)
	if addr == "" && name == "" {
		return nil
	}
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
	if a.Address == "" {
		return a.Name
	}
	if a.Name == "" || a.Name == a.Address {
		return a.Address
	}
	return a.Name + " <" + a.Address + ">"
}

// msgIDs returns the message ids in a Message-ID, In-Reply-To or References
// value, each in angle brackets. Values without brackets (seen from broken
// mailers) count as one id per white-space separated word containing an @.
func msgIDs(v string) []string {
	v = strings.TrimSpace(textcodec.String(v))
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
