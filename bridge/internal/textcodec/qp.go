package textcodec

import "unicode/utf8"

// DecodeQP decodes quoted-printable (RFC 2045 6.7) leniently, as mail
// clients and vCard readers do: "=XX" (hex digits of either case) is a
// byte; "=" before a line break, after optional transport padding of
// spaces and tabs, is a soft line break; "=" at the very end is a soft
// break before nothing; any other "=" is kept as it is (Outlook 2003
// writes such values, see the FBURL of ez-vcard's outlook-2003.vcf).
func DecodeQP(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '=' {
			out = append(out, c)
			continue
		}
		rest := b[i+1:]
		j := 0
		for j < len(rest) && (rest[j] == ' ' || rest[j] == '\t') {
			j++
		}
		switch {
		case j == len(rest):
			return out
		case rest[j] == '\n':
			i += j + 1
			continue
		case rest[j] == '\r' && j+1 < len(rest) && rest[j+1] == '\n':
			i += j + 2
			continue
		}
		if len(rest) >= 2 {
			h, ok1 := Unhex(rest[0])
			l, ok2 := Unhex(rest[1])
			if ok1 && ok2 {
				out = append(out, h<<4|l)
				i += 2
				continue
			}
		}
		out = append(out, '=')
	}
	return out
}

const hexUpper = "0123456789ABCDEF"

// AppendQP appends head followed by v quoted-printable encoded (RFC 2045
// 6.7) as one logical line ending in CRLF, with soft line breaks ("=" and
// CRLF) that keep every physical line within LineOctets octets. A newline
// in v is written =0D=0A, a CRLF pair too; "=", control bytes, bytes above
// 0x7E and a space before a newline or at the end are written =XX. A soft
// break never splits an =XX triplet or the triplets of one UTF-8
// character, and a continuation line never starts with a space (it is
// written =20), so that a reader that unfolds first cannot lose it.
func AppendQP(dst []byte, head, v string) []byte {
	const max = LineOctets - 1 // room for the soft break '='
	line := len(head)
	dst = append(dst, head...)
	var tok []byte
	for i := 0; i < len(v); {
		_, n := utf8.DecodeRuneInString(v[i:]) // 1 for an invalid byte
		if v[i] == '\r' && i+1 < len(v) && v[i+1] == '\n' {
			n = 2
		}
		tok = tok[:0]
		for j := i; j < i+n; j++ {
			c := v[j]
			switch {
			case c == '\r' && n == 2:
				// written with the '\n' that follows
			case c == '\n':
				tok = append(tok, "=0D=0A"...)
			case c == '=' || c < 0x20 || c > 0x7e || (c == ' ' && (j == len(v)-1 || v[j+1] == '\n' || v[j+1] == '\r')):
				tok = append(tok, '=', hexUpper[c>>4], hexUpper[c&15])
			default:
				tok = append(tok, c)
			}
		}
		if line+len(tok) > max && line > 0 {
			dst = append(dst, "=\r\n"...)
			line = 0
			if tok[0] == ' ' {
				dst = append(dst, "=20"...)
				line = 3
				tok = tok[1:]
			}
		}
		dst = append(dst, tok...)
		line += len(tok)
		i += n
	}
	return append(dst, "\r\n"...)
}
