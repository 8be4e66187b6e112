package pst

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/encoding/unicode"
)

// codepages maps Windows code page numbers (PidTagMessageCodepage,
// PidTagInternetCodepage) to decoders.
var codepages = map[int]encoding.Encoding{
	437: charmap.CodePage437, 850: charmap.CodePage850, 852: charmap.CodePage852,
	855: charmap.CodePage855, 858: charmap.CodePage858, 860: charmap.CodePage860,
	862: charmap.CodePage862, 863: charmap.CodePage863, 865: charmap.CodePage865,
	866: charmap.CodePage866, 874: charmap.Windows874,
	932: japanese.ShiftJIS, 936: simplifiedchinese.GBK, 949: korean.EUCKR,
	950:  traditionalchinese.Big5,
	1200: unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM),
	1201: unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM),
	1250: charmap.Windows1250, 1251: charmap.Windows1251, 1252: charmap.Windows1252,
	1253: charmap.Windows1253, 1254: charmap.Windows1254, 1255: charmap.Windows1255,
	1256: charmap.Windows1256, 1257: charmap.Windows1257, 1258: charmap.Windows1258,
	10000: charmap.Macintosh, 20866: charmap.KOI8R, 21866: charmap.KOI8U,
	28591: charmap.ISO8859_1, 28592: charmap.ISO8859_2, 28593: charmap.ISO8859_3,
	28594: charmap.ISO8859_4, 28595: charmap.ISO8859_5, 28596: charmap.ISO8859_6,
	28597: charmap.ISO8859_7, 28598: charmap.ISO8859_8, 28599: charmap.ISO8859_9,
	28603: charmap.ISO8859_13, 28605: charmap.ISO8859_15,
	38598: charmap.ISO8859_8,
	50220: japanese.ISO2022JP, 50221: japanese.ISO2022JP, 50222: japanese.ISO2022JP,
	51932: japanese.EUCJP, 51936: simplifiedchinese.GBK, 51949: korean.EUCKR,
	52936: simplifiedchinese.HZGB2312, 54936: simplifiedchinese.GB18030,
}

// knownCodepage reports whether cp can be decoded.
func knownCodepage(cp int) bool {
	if cp == 65001 || cp == 20127 {
		return true
	}
	_, ok := codepages[cp]
	return ok
}

// decodeCodepage decodes 8-bit text in Windows code page cp to UTF-8. Text
// in an unknown code page, and text claimed to be UTF-8 that is not, is
// read as UTF-8 when valid, else as Windows-1252: a UTF-8 claim often
// comes only from PidTagInternetCodepage, which names the HTML body's
// charset, not that of the 8-bit properties.
func decodeCodepage(b []byte, cp int) string {
	if isASCII(b) || cp == 65001 && utf8.Valid(b) {
		return string(b)
	}
	if cp == 20127 {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	enc, ok := codepages[cp]
	if !ok {
		if utf8.Valid(b) {
			return string(b)
		}
		enc = charmap.Windows1252
	}
	s, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return string(s)
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// decodeUTF16 decodes little-endian UTF-16 (PT_UNICODE); an odd trailing
// byte is dropped, an unpaired surrogate becomes U+FFFD (as utf16.Decode).
// It writes UTF-8 straight into the result, one allocation per string:
// through []uint16 and []rune copies, PT_UNICODE strings were a fifth of
// the bytes an enron.pst import allocated.
func decodeUTF16(b []byte) string {
	n := len(b) / 2
	size := 0 // the UTF-8 length: exact, or above it by 2 per surrogate pair
	for i := 0; i < n; i++ {
		switch u := uint16(b[2*i]) | uint16(b[2*i+1])<<8; {
		case u < 0x80:
			size++
		case u < 0x800:
			size += 2
		default:
			size += 3
		}
	}
	var sb strings.Builder
	sb.Grow(size)
	for i := 0; i < n; i++ {
		r := rune(uint16(b[2*i]) | uint16(b[2*i+1])<<8)
		switch {
		case r < utf8.RuneSelf:
			sb.WriteByte(byte(r))
			continue
		case utf16.IsSurrogate(r):
			// RFC 2781 2.2: a high surrogate and the low one after it
			// make one character; any other surrogate is an error.
			r2 := rune(utf8.RuneError)
			if i+1 < n {
				r2 = rune(uint16(b[2*i+2]) | uint16(b[2*i+3])<<8)
			}
			if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
				r = d
				i++
			} else {
				r = utf8.RuneError
			}
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

// trimNUL cuts a string at its first NUL (8-bit values often carry one).
func trimNUL(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// lcidCodepage returns the Windows ANSI code page of a locale id
// (PidTagMessageLocaleId), or 0 when unknown. ANSI (97–2002) PSTs store
// 8-bit strings in the code page of the writer's locale; Japanese files
// carry LCID 0x0411 and Shift-JIS (932) text.
func lcidCodepage(lcid int) int {
	if lcid <= 0 {
		return 0
	}
	switch lcid & 0x3FF { // primary language id
	case 0x11:
		return 932
	case 0x12:
		return 949
	case 0x04:
		switch lcid {
		case 0x0804, 0x1004:
			return 936
		}
		return 950
	case 0x02, 0x19, 0x22, 0x23, 0x2F, 0x3F, 0x40, 0x44, 0x50, 0x6D:
		return 1251
	case 0x1A: // Croatian/Serbian/Bosnian: Cyrillic sublanguages use 1251
		switch lcid {
		case 0x0C1A, 0x1C1A, 0x201A:
			return 1251
		}
		return 1250
	case 0x05, 0x0E, 0x15, 0x18, 0x1B, 0x24, 0x1C:
		return 1250
	case 0x08:
		return 1253
	case 0x1F, 0x2C, 0x43:
		return 1254
	case 0x0D:
		return 1255
	case 0x01, 0x29, 0x20, 0x8C:
		return 1256
	case 0x25, 0x26, 0x27:
		return 1257
	case 0x2A:
		return 1258
	case 0x1E:
		return 874
	}
	return 1252
}

// ansiCodepage maps a MIME code page (PidTagInternetCodepage) to the
// Windows ANSI code page of the same script: a Japanese message has
// internet code page 50220 (ISO-2022-JP) but 8-bit properties in 932.
func ansiCodepage(cp int) int {
	switch cp {
	case 50220, 50221, 50222, 51932, 20932:
		return 932
	case 50225, 51949:
		return 949
	case 52936, 54936, 51936, 20936:
		return 936
	case 28591, 28605, 20127:
		return 1252
	case 28592:
		return 1250
	case 28595, 20866, 21866:
		return 1251
	case 28597:
		return 1253
	case 28599:
		return 1254
	case 28598, 38598:
		return 1255
	case 28596:
		return 1256
	case 28594, 28603:
		return 1257
	}
	if knownCodepage(cp) {
		return cp
	}
	return 0
}
