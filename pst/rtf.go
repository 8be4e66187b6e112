package pst

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
)

// maxRTFSize bounds the uncompressed size of a compressed RTF body.
const maxRTFSize = 64 << 20

// rtfPrebuffer initialises the LZFu dictionary (MS-OXRTFCP 2.1.2.1).
const rtfPrebuffer = "{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss \\fmodern \\fscript \\fdecor MS Sans SerifSymbolArialTimes New RomanCourier{\\colortbl\\red0\\green0\\blue0\r\n\\par \\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx"

// decompressRTF decodes PidTagRtfCompressed (MS-OXRTFCP 2.2: a 16-byte
// header of COMPSIZE, RAWSIZE, COMPTYPE and CRC, then LZFu-compressed or
// uncompressed ("MELA") data). The output never exceeds RAWSIZE, which is
// itself bounded. go-pst's decoder allocates RAWSIZE unchecked.
func decompressRTF(b []byte) ([]byte, error) {
	if len(b) < 16 {
		return nil, errors.New("compressed RTF: short header")
	}
	raw := int(binary.LittleEndian.Uint32(b[4:]))
	typ := string(b[8:12])
	data := b[16:]
	if cs := int(binary.LittleEndian.Uint32(b)); cs >= 12 && cs-12 < len(data) {
		data = data[:cs-12]
	}
	if raw < 0 || raw > maxRTFSize || raw > 64*len(b)+4096 {
		return nil, fmt.Errorf("compressed RTF: raw size %d out of range", raw)
	}
	switch typ {
	case "MELA":
		if len(data) > raw {
			data = data[:raw]
		}
		return append([]byte(nil), data...), nil
	case "LZFu":
	default:
		return nil, fmt.Errorf("compressed RTF: unknown type %q", typ)
	}
	var dict [4096]byte
	copy(dict[:], rtfPrebuffer)
	w := len(rtfPrebuffer)
	out := make([]byte, 0, raw)
	for i := 0; i < len(data) && len(out) < raw; {
		control := data[i]
		i++
		for bit := 0; bit < 8 && len(out) < raw; bit++ {
			if control&(1<<bit) == 0 {
				if i >= len(data) {
					return out, nil
				}
				c := data[i]
				i++
				out = append(out, c)
				dict[w] = c
				w = (w + 1) % len(dict)
				continue
			}
			if i+1 >= len(data) {
				return out, nil
			}
			ref := int(data[i])<<8 | int(data[i+1])
			i += 2
			off, n := ref>>4, ref&0xF+2
			if off == w { // end marker
				return out, nil
			}
			for k := 0; k < n && len(out) < raw; k++ {
				c := dict[(off+k)%len(dict)]
				out = append(out, c)
				dict[w] = c
				w = (w + 1) % len(dict)
			}
		}
	}
	return out, nil
}

// rtfSkipDestinations are RTF groups whose text is not body text.
var rtfSkipDestinations = map[string]bool{
	"fonttbl": true, "colortbl": true, "stylesheet": true, "info": true, "pict": true,
	"object": true, "header": true, "footer": true, "headerl": true, "headerr": true,
	"footerl": true, "footerr": true, "listtable": true, "listoverridetable": true,
	"rsidtbl": true, "generator": true, "themedata": true, "colorschememapping": true,
	"latentstyles": true, "datastore": true, "xmlnstbl": true, "mmathPr": true,
	"pgdsctbl": true, "filetbl": true, "revtbl": true, "fldinst": true,
}

// rtfText converts RTF to plain text, or de-encapsulates the HTML of an RTF
// body that carries \fromhtml1 (MS-OXRTFEX 2.1.3: text of \*\htmltag groups
// and text outside \htmlrtf…\htmlrtf0 spans). isHTML reports which.
// 8-bit text (\'hh) is decoded with the \ansicpg code page.
func rtfText(rtf []byte) (text string, isHTML bool) {
	type state struct {
		skip    bool // inside a destination that is not text
		htmltag bool // inside \*\htmltag
		uc      int  // characters to skip after \uN
	}
	var (
		out      strings.Builder
		pending  []byte // 8-bit bytes awaiting decoding
		cp       = 1252
		st       = state{uc: 1}
		stack    []state
		fromHTML bool
		htmlrtf  bool
		skipN    int  // characters still to skip after \uN
		newGroup bool // the next control word is the group's first
		starDest bool // the group started with \*
		surr     []uint16
	)
	flush := func() {
		if len(pending) > 0 {
			out.WriteString(decodeCodepage(pending, cp))
			pending = pending[:0]
		}
		if len(surr) > 0 {
			out.WriteString(string(utf16.Decode(surr)))
			surr = surr[:0]
		}
	}
	visible := func() bool {
		if st.skip {
			return false
		}
		if fromHTML {
			return st.htmltag || !htmlrtf
		}
		return true
	}
	emit := func(s string) {
		if visible() {
			flush()
			out.WriteString(s)
		}
	}
	for i := 0; i < len(rtf); i++ {
		c := rtf[i]
		switch c {
		case '{':
			if len(stack) > 256 {
				return "", false
			}
			stack = append(stack, st)
			newGroup, starDest = true, false
			continue
		case '}':
			if n := len(stack); n > 0 {
				if st.htmltag && !stack[n-1].htmltag {
					flush()
				}
				st, stack = stack[n-1], stack[:n-1]
			}
			newGroup, starDest = false, false
			continue
		case '\r', '\n':
			continue
		case '\\':
		default:
			if skipN > 0 {
				skipN--
				continue
			}
			if visible() {
				if len(surr) > 0 {
					flush()
				}
				pending = append(pending, c)
			}
			newGroup = false
			continue
		}
		// A control word or symbol.
		if i+1 >= len(rtf) {
			break
		}
		i++
		c = rtf[i]
		if !isLetter(c) {
			switch c {
			case '\\', '{', '}':
				if skipN > 0 {
					skipN--
				} else if visible() {
					pending = append(pending, c)
				}
			case '\'':
				if i+2 < len(rtf) {
					v, err := strconv.ParseUint(string(rtf[i+1:i+3]), 16, 8)
					i += 2
					if err == nil {
						if skipN > 0 {
							skipN--
						} else if visible() {
							pending = append(pending, byte(v))
						}
					}
				}
			case '*':
				starDest = true
			case '~':
				emit("\u00a0")
			case '_':
				emit("-")
			case '\r', '\n':
				emit("\r\n")
			}
			continue
		}
		start := i
		for i < len(rtf) && isLetter(rtf[i]) {
			i++
		}
		word := string(rtf[start:i])
		pstart := i
		if i < len(rtf) && (rtf[i] == '-' || rtf[i] >= '0' && rtf[i] <= '9') {
			i++
			for i < len(rtf) && rtf[i] >= '0' && rtf[i] <= '9' {
				i++
			}
		}
		param, hasParam := 0, i > pstart
		if hasParam {
			param, _ = strconv.Atoi(string(rtf[pstart:i]))
		}
		if i >= len(rtf) || rtf[i] != ' ' {
			i-- // the delimiter belongs to the text
		}
		first := newGroup
		newGroup = false
		if first && starDest {
			if word == "htmltag" && fromHTML {
				flush()
				st.htmltag = true
			} else {
				st.skip = true
			}
			continue
		}
		if first && rtfSkipDestinations[word] {
			st.skip = true
			continue
		}
		switch word {
		case "ansicpg":
			if hasParam && knownCodepage(param) {
				flush()
				cp = param
			}
		case "fromhtml":
			fromHTML = param != 0 || !hasParam
		case "htmlrtf":
			flush()
			htmlrtf = !hasParam || param != 0
		case "par", "line":
			if !fromHTML || st.htmltag {
				emit("\r\n")
			}
		case "tab":
			emit("\t")
		case "uc":
			st.uc = param
		case "u":
			if visible() {
				if len(pending) > 0 {
					flush()
				}
				surr = append(surr, uint16(int16(param)))
			}
			skipN = st.uc
		case "emdash":
			emit("—")
		case "endash":
			emit("–")
		case "bullet":
			emit("•")
		case "lquote":
			emit("‘")
		case "rquote":
			emit("’")
		case "ldblquote":
			emit("“")
		case "rdblquote":
			emit("”")
		}
	}
	flush()
	return out.String(), fromHTML
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
