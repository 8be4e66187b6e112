package textcodec

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
)

// ErrUnknownCharset is returned by ToUTF8 for a charset label it cannot
// decode; the text is then read as if no charset had been declared. Its
// text carries no package prefix: readers pass it on to the user as the
// warning about an item.
var ErrUnknownCharset = errors.New("unknown charset")

// ToUTF8 returns b as valid UTF-8 text. Every format reads text through
// this one rule:
//
//  1. A charset in which ASCII bytes do not stand for ASCII (UTF-16,
//     UTF-7, the ISO-2022 family, HZ) is always decoded as declared.
//  2. Valid UTF-8 is kept as it is, whatever charset is declared: a
//     mislabelled charset is common, valid multi-byte UTF-8 by chance in
//     legacy text rare.
//  3. Otherwise, when a legacy charset is declared, the whole value is
//     decoded in it, as Python's email package and ez-vcard do.
//  4. Otherwise (no charset, UTF-8, US-ASCII or an unknown one declared)
//     the value is decoded as Windows-1252, which Outlook writes and which
//     covers the printable ISO-8859-1 range, only when it is not UTF-8 at
//     all: at least one byte that is not part of a valid UTF-8 sequence and
//     no valid multi-byte sequence ([NotUTF8]). Else it is UTF-8 with a few
//     broken bytes (a character cut by a length limit, a stray byte), and
//     each invalid byte becomes U+FFFD, the rest kept, as Python's
//     bytes.decode("utf-8", "replace") does.
//
// So undeclared "2005年日本" with one stray byte keeps its characters and
// gets one U+FFFD, while "Müller" in Windows-1252 (0xFC alone) reads as
// "Müller". Rule 4 asks for no multi-byte sequence, not for a majority,
// because legacy text rarely holds one by chance in Windows-1252 (a
// capital accented letter before a curly quote) but often in the double-
// byte charsets (EUC-KR "\xd1\xb1"), which is why a declared charset wins
// over it (rule 3).
//
// An unknown charset label gives the reading under rule 4 and an error
// wrapping ErrUnknownCharset for the caller to report as a warning.
func ToUTF8(b []byte, charset string) (string, error) {
	label := normalizeLabel(charset)
	var legacy encoding.Encoding // a declared charset other than UTF-8
	var err error
	switch {
	case isUTF7(label):
		return validUTF8(decodeUTF7(b)), nil
	case isUTF8(label):
	default:
		enc, stateful := lookupCharset(label)
		switch {
		case enc == nil:
			err = fmt.Errorf("%w %q", ErrUnknownCharset, charset)
		case isUTF8Encoding(enc):
		case stateful:
			out, derr := enc.NewDecoder().Bytes(b)
			if derr != nil {
				break // read under rule 4 instead
			}
			return validUTF8(out), nil
		default:
			legacy = enc
		}
	}
	switch {
	case utf8.Valid(b):
		return string(b), err
	case legacy != nil:
		if out, derr := legacy.NewDecoder().Bytes(b); derr == nil {
			return validUTF8(out), nil
		}
	case NotUTF8(b):
		if out, derr := charmap.Windows1252.NewDecoder().Bytes(b); derr == nil {
			return validUTF8(out), err
		}
	}
	return validUTF8(b), err
}

// ReplaceInvalid returns s with each byte that is not part of a valid
// UTF-8 sequence replaced by U+FFFD, the rest unchanged. Writers use it on
// stored values, which are UTF-8 by contract, without guessing a charset.
func ReplaceInvalid(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return validUTF8([]byte(s))
}

// String is ToUTF8 for text that declares no charset.
func String(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	out, _ := ToUTF8([]byte(s), "")
	return out
}

// NotUTF8 reports whether b is not UTF-8 at all: at least one invalid
// byte and no valid multi-byte sequence (rule 4 of ToUTF8).
func NotUTF8(b []byte) bool {
	bad := false
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if n > 1 {
			return false
		}
		if r == utf8.RuneError {
			bad = true
		}
		b = b[n:]
	}
	return bad
}

// validUTF8 returns b with each byte that is not part of a valid UTF-8
// sequence replaced by U+FFFD.
func validUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var s strings.Builder
	s.Grow(len(b) + 8)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			s.WriteRune(utf8.RuneError)
		} else {
			s.Write(b[:n])
		}
		b = b[n:]
	}
	return s.String()
}

// isUTF8 reports whether label names no charset, UTF-8 or a subset.
func isUTF8(label string) bool {
	switch label {
	case "", "utf-8", "utf8", "us-ascii", "ascii", "7bit", "8bit", "x-utf_8j":
		return true
	}
	return false
}

// isUTF7 reports whether label names UTF-7 (RFC 2152).
func isUTF7(label string) bool {
	switch label {
	case "utf-7", "utf7", "unicode-1-1-utf-7", "csunicode11utf7":
		return true
	}
	return false
}

// normalizeLabel lower-cases a charset label and drops quotes and an RFC
// 2231 5 language suffix ("utf-8*en").
func normalizeLabel(charset string) string {
	label, _, _ := strings.Cut(charset, "*")
	return strings.ToLower(strings.Trim(strings.TrimSpace(label), `"'`))
}

type charsetEntry struct {
	enc      encoding.Encoding
	stateful bool
}

// isUTF8Encoding reports whether enc is UTF-8 under another label
// ("unicode-1-1-utf-8").
func isUTF8Encoding(enc encoding.Encoding) bool {
	name, _ := htmlindex.Name(enc)
	return name == "utf-8"
}

var charsets sync.Map // normalized label → charsetEntry

// lookupCharset finds the decoder for a label: the WHATWG Encoding
// Standard's labels first (as mail clients and browsers read them, so
// ISO-8859-1 is Windows-1252), then IANA's MIME names. stateful reports a
// charset under rule 1 of ToUTF8.
func lookupCharset(label string) (encoding.Encoding, bool) {
	if e, ok := charsets.Load(label); ok {
		ce := e.(charsetEntry)
		return ce.enc, ce.stateful
	}
	enc, err := htmlindex.Get(label)
	if err != nil || enc == nil {
		enc, err = ianaindex.MIME.Encoding(label)
		if err != nil || enc == nil {
			enc, _ = ianaindex.MIME.Encoding("cs" + label)
		}
	}
	ce := charsetEntry{enc: enc}
	if enc != nil {
		name, _ := htmlindex.Name(enc)
		if name == "" {
			name, _ = ianaindex.MIME.Name(enc)
		}
		name = strings.ToLower(name)
		ce.stateful = strings.HasPrefix(name, "utf-16") || strings.HasPrefix(name, "utf-32") ||
			strings.HasPrefix(name, "iso-2022") || name == "hz-gb-2312" || name == "replacement"
	}
	charsets.Store(label, ce)
	return ce.enc, ce.stateful
}

// Base64Value maps a byte to its value in the base64 alphabet (RFC 4648
// table 1), or -1 for a byte outside it: for the lenient decoders of UTF-7
// here and of mail bodies in eml.
var Base64Value = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(alpha); i++ {
		t[alpha[i]] = int8(i)
	}
	return t
}()

// decodeUTF7 decodes UTF-7 (RFC 2152), which x/text does not provide and
// which old Outlook and webmail versions used: "+" starts a run of modified
// base64 (no padding) holding UTF-16BE code units, ended by any character
// outside the base64 alphabet ("-" is absorbed); "+-" is a literal "+".
func decodeUTF7(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '+' {
			out = append(out, c)
			continue
		}
		j := i + 1
		if j < len(b) && b[j] == '-' {
			out = append(out, '+')
			i = j
			continue
		}
		var acc uint32
		bits := 0
		var units []uint16
		for ; j < len(b) && Base64Value[b[j]] >= 0; j++ {
			acc = acc<<6 | uint32(Base64Value[b[j]])
			bits += 6
			if bits >= 16 {
				bits -= 16
				units = append(units, uint16(acc>>bits))
				acc &= 1<<bits - 1
			}
		}
		for _, r := range utf16.Decode(units) {
			out = utf8.AppendRune(out, r)
		}
		if j < len(b) && b[j] == '-' {
			j++
		}
		i = j - 1
	}
	return out
}
