package eml

import (
	"strings"
	"unicode/utf16"
)

// decodeUTF7 decodes UTF-7 (RFC 2152), which x/text does not provide and
// which old Outlook and webmail versions used: "+" starts a run of modified
// base64 (no padding) holding UTF-16BE code units, ended by any character
// outside the base64 alphabet ("-" is absorbed); "+-" is a literal "+".
func decodeUTF7(b []byte) string {
	var out strings.Builder
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '+' {
			out.WriteByte(c)
			continue
		}
		j := i + 1
		if j < len(b) && b[j] == '-' {
			out.WriteByte('+')
			i = j
			continue
		}
		var acc uint32
		bits := 0
		var units []uint16
		for ; j < len(b) && b64val[b[j]] >= 0; j++ {
			acc = acc<<6 | uint32(b64val[b[j]])
			bits += 6
			if bits >= 16 {
				bits -= 16
				units = append(units, uint16(acc>>bits))
				acc &= 1<<bits - 1
			}
		}
		out.WriteString(string(utf16.Decode(units)))
		if j < len(b) && b[j] == '-' {
			j++
		}
		i = j - 1
	}
	return toUTF8([]byte(out.String()))
}
