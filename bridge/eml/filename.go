package eml

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"crmbridge/crm"

	"golang.org/x/text/unicode/norm"
)

// MaxFileNameBytes is the longest name FileName returns, in bytes: under
// the 255-byte limit of common Unix file systems and the 255 UTF-16 unit
// limit of NTFS, with room for a temporary-file suffix.
const MaxFileNameBytes = 200

// FileName returns a safe, stable file name for an email record:
// "<subject> - <record id>.eml". The subject part is NFC-normalized, has
// path separators, characters Windows forbids (<>:"/\|?*), control and
// invisible formatting characters (such as the right-to-left override)
// replaced or removed, runs of dots and white space collapsed, no leading
// or trailing dot or space, and is not a Windows device name (CON, NUL,
// COM1...). The whole name is at most MaxFileNameBytes bytes, cut on a
// character boundary. The record id (or, without one, the generated
// Message-ID's local part) makes the name unique and stable.
func FileName(rec crm.Record) string {
	id := strings.ToLower(strings.TrimSpace(rec.ID))
	id = sanitize(id)
	if id == "" {
		id = strings.TrimSuffix(generatedID(rec), "@crmbridge.invalid")
	}
	if len(id) > 64 {
		id = id[:64]
	}
	suffix := " - " + id + ".eml"
	subject := sanitize(rec.Fields["subject"])
	if subject == "" {
		subject = "message"
	}
	subject = cutUTF8(subject, MaxFileNameBytes-len(suffix))
	subject = strings.TrimRight(subject, ". ")
	if subject == "" || isDeviceName(subject) {
		subject = "_" + subject
	}
	return subject + suffix
}

// sanitize makes s safe as part of a file name on Windows, macOS and Unix.
func sanitize(s string) string {
	s = norm.NFC.String(strings.ToValidUTF8(s, ""))
	var b strings.Builder
	lastSpace, lastDot := false, false
	for _, r := range s {
		switch {
		case r == '/' || r == '\\' || r == ':' || r == '*' || r == '?' || r == '"' || r == '<' || r == '>' || r == '|':
			r = '_'
		case unicode.IsControl(r) || unicode.IsSpace(r):
			r = ' '
		case unicode.Is(unicode.Cf, r) || r == utf8.RuneError || unicode.Is(unicode.Co, r) || unicode.Is(unicode.Cs, r):
			continue // invisible formatting (bidi overrides, zero-width), private use
		}
		if r == ' ' {
			if lastSpace {
				continue
			}
			lastSpace = true
		} else {
			lastSpace = false
		}
		if r == '.' {
			if lastDot { // no ".." anywhere
				continue
			}
			lastDot = true
		} else {
			lastDot = false
		}
		b.WriteRune(r)
	}
	return strings.Trim(b.String(), ". ")
}

// cutUTF8 returns the longest prefix of s of at most n bytes that does not
// split a character.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// isDeviceName reports whether name (up to its first dot) is a reserved
// Windows device name.
func isDeviceName(name string) bool {
	base := strings.ToUpper(strings.TrimSpace(name))
	if i := strings.IndexByte(base, '.'); i >= 0 {
		base = strings.TrimSpace(base[:i])
	}
	switch base {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return true
	}
	if len(base) == 4 && (strings.HasPrefix(base, "COM") || strings.HasPrefix(base, "LPT")) && base[3] >= '0' && base[3] <= '9' {
		return true
	}
	// COM¹ COM² COM³ LPT¹ ... are reserved too.
	for _, p := range []string{"COM", "LPT"} {
		if rest, ok := strings.CutPrefix(base, p); ok && (rest == "¹" || rest == "²" || rest == "³") {
			return true
		}
	}
	return false
}
