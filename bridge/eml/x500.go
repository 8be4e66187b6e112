package eml

import (
	"strings"
	"unicode/utf8"
)

// imceaDomain is the domain of the addresses crmbridge encapsulates, and
// the only one it de-encapsulates (MS-OXCMAIL 2.1.3.1.8: "SHOULD be the
// MIME writer's local domain"; de-encapsulation only for a domain
// recognised as local). RFC 2606 reserves .invalid: mail to it is never
// delivered anywhere.
const imceaDomain = "crmbridge.invalid"

// isX500 reports whether addr is an Exchange X.500 distinguished name
// (MS-OXOABK 2.2.1.1 / MS-OXOAB 2.1: "/o=" org ["/ou=" unit] *("/cn=" rdn)),
// the EX address a PST holds when it has no SMTP address.
func isX500(addr string) bool {
	return len(addr) > 3 && strings.EqualFold(addr[:3], "/o=") && !strings.Contains(addr, "@")
}

// encapsulateEX writes an X.500 DN as an IMCEA-encapsulated SMTP address
// (MS-OXCMAIL 2.1.3.1.8): "IMCEAEX-", the DN with "/" as "_", letters,
// digits, "-" and "=" as they are and every other octet as "+" and two
// hex digits, then "@" and imceaDomain. The result is an RFC 5322
// dot-atom local part, so no header reader mangles it.
func encapsulateEX(dn string) string {
	return encapsulate("EX", dn)
}

// encapsulateText writes an address that is neither an RFC 5322 addr-spec
// nor an X.500 DN (the text of an address header that did not parse,
// kept as written by the party rule of crm.Party) the way encapsulateEX
// writes a DN, with the address type "UNPARSED": the header stays valid
// and decapsulateAddress gives the text back.
func encapsulateText(text string) string {
	return encapsulate("UNPARSED", text)
}

// encapsulate writes addr as an IMCEA address of type typ (MS-OXCMAIL
// 2.1.3.1.8).
func encapsulate(typ, addr string) string {
	var b strings.Builder
	b.WriteString("IMCEA" + typ + "-")
	for i := 0; i < len(addr); i++ {
		c := addr[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '=':
			b.WriteByte(c)
		case c == '/':
			b.WriteByte('_')
		default:
			b.WriteByte('+')
			b.WriteByte("0123456789ABCDEF"[c>>4])
			b.WriteByte("0123456789ABCDEF"[c&15])
		}
	}
	b.WriteString("@" + imceaDomain)
	return b.String()
}

// decapsulateAddress returns the X.500 DN or the unparsed text an address
// encapsulateEX or encapsulateText wrote encloses, or addr unchanged when
// it is not one (another type, another domain, a bad escape, or a result
// that is not valid UTF-8, or for type EX not an X.500 DN). unparsed says
// that addr is of type UNPARSED: encapsulateText wrote it.
func decapsulateAddress(addr string) (_ string, unparsed bool) {
	if s, ok := decapsulate(addr, "EX"); ok && isX500(s) {
		return s, false
	}
	if s, ok := decapsulate(addr, "UNPARSED"); ok {
		if strings.TrimSpace(s) != "" {
			return s, true
		}
		return addr, true
	}
	return addr, false
}

// decapsulate returns the address an IMCEA address of type typ at
// imceaDomain encloses.
func decapsulate(addr, typ string) (string, bool) {
	local, domain, ok := strings.Cut(addr, "@")
	prefix := "IMCEA" + typ + "-"
	if !ok || !strings.EqualFold(domain, imceaDomain) || len(local) < len(prefix) || !strings.EqualFold(local[:len(prefix)], prefix) {
		return "", false
	}
	enc := local[len(prefix):]
	out := make([]byte, 0, len(enc))
	for i := 0; i < len(enc); i++ {
		switch c := enc[i]; c {
		case '_':
			out = append(out, '/')
		case '+':
			if i+2 >= len(enc) {
				return "", false
			}
			hi, lo := unhex(enc[i+1]), unhex(enc[i+2])
			if hi < 0 || lo < 0 {
				return "", false
			}
			out = append(out, byte(hi<<4|lo))
			i += 2
		default:
			out = append(out, c)
		}
	}
	if s := string(out); utf8.ValidString(s) {
		return s, true
	}
	return "", false
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
