package textcodec

import "strings"

// Unescape undoes backslash escapes: \n and \N become a newline; \\ \; \,
// \: and a backslash before any byte in extra stand for themselves. An
// unknown escape keeps its backslash, as many writers leave them.
func Unescape(s, extra string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch c := s[i]; {
		case c == 'n' || c == 'N':
			b.WriteByte('\n')
		case c == '\\' || c == ';' || c == ',' || c == ':' || strings.IndexByte(extra, c) >= 0:
			b.WriteByte(c)
		default:
			b.WriteByte('\\')
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Split splits s at each sep not preceded by an escaping backslash. The
// parts keep their escapes.
func Split(s string, sep byte) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// Unhex returns the value of a hexadecimal digit of either case.
func Unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
