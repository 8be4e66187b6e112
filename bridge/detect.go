package bridge

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"crmbridge/msg"
)

// Format is a kind of source file.
type Format string

// Source formats, detected by content.
const (
	FormatUnknown Format = ""
	FormatPST     Format = "pst" // PST and OST: "!BDN" signature
	FormatVCF     Format = "vcf"
	FormatICS     Format = "ics"
	FormatEML     Format = "eml"
	FormatMbox    Format = "mbox"
	FormatMSG     Format = "msg" // Outlook .msg: a CFB file with MS-OXMSG's storages
)

// headerLine matches an RFC 5322 header field line ("Name: value").
var headerLine = regexp.MustCompile(`^[!-9;-~]+:[ \t]?`)

// DetectFile reads the start of a file and says what it holds.
func DetectFile(path string) (Format, error) {
	f, err := os.Open(path)
	if err != nil {
		return FormatUnknown, err
	}
	defer f.Close()
	head := make([]byte, 8192)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return FormatUnknown, err
	}
	if bytes.HasPrefix(head[:n], cfbSignature) {
		// The directory of a compound file may lie anywhere in it.
		st, err := f.Stat()
		if err != nil {
			return FormatUnknown, err
		}
		// A compound file named .msg whose layout says otherwise (often
		// a truncated one whose directory is gone) goes to the .msg
		// reader too, which reports what is wrong with it, rather than
		// being skipped as unknown.
		if msg.Sniff(f, st.Size()) || strings.EqualFold(filepath.Ext(path), ".msg") {
			return FormatMSG, nil
		}
		return FormatUnknown, nil
	}
	return Detect(head[:n]), nil
}

// cfbSignature starts a Compound File Binary file (MS-CFB 2.2).
var cfbSignature = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}

// Detect says what a file holds from its first bytes (8 KiB is plenty,
// except for a compound file whose directory lies further: DetectFile
// reads those whole): by content, not by extension.
func Detect(head []byte) Format {
	if bytes.HasPrefix(head, []byte("!BDN")) { // MS-PST 2.2.2.6 dwMagic
		return FormatPST
	}
	if bytes.HasPrefix(head, cfbSignature) {
		// MS-OXMSG 2.4: a .msg has __properties_version1.0 at its root;
		// other compound files (Word, Excel) are not ours.
		if msg.Sniff(bytes.NewReader(head), int64(len(head))) {
			return FormatMSG
		}
		return FormatUnknown
	}
	b := bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")) // UTF-8 BOM
	if len(b) >= 2 && (b[0] == 0xff && b[1] == 0xfe || b[0] == 0xfe && b[1] == 0xff) {
		b = utf16ToASCII(b[2:], b[0] == 0xff)
	}
	if bytes.HasPrefix(b, []byte("From ")) {
		return FormatMbox
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 8192), len(b)+1)
	headers, known := 0, 0 // header lines, and of those well-known mail headers
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		trimmed := strings.TrimSpace(line)
		if trimmed == "" {
			if headers > 0 {
				break
			}
			continue
		}
		up := strings.ToUpper(trimmed)
		if headers == 0 {
			if _, after, ok := strings.Cut(up, "."); ok && !strings.Contains(up[:len(up)-len(after)], ":") {
				up = after // a vCard group prefix: "home.BEGIN:VCARD"
			}
			switch {
			case strings.HasPrefix(line, "From "):
				return FormatMbox // after blank lines: the mbox reader skips them
			case strings.HasPrefix(up, "BEGIN:VCARD"):
				return FormatVCF
			case strings.HasPrefix(up, "BEGIN:V"):
				// VCALENDAR, or a bare VEVENT, VTODO, VJOURNAL, VFREEBUSY,
				// VTIMEZONE: the iCalendar reader says what it holds.
				return FormatICS
			case strings.HasPrefix(up, "VERSION:") && bytes.Contains(bytes.ToUpper(b), []byte("\nFN:")):
				return FormatVCF // a card without BEGIN: the reader reports it
			}
		}
		if headers == 0 && (line[0] == ' ' || line[0] == '\t') {
			// White space before the first header field: the mail reader
			// takes the field as it stands without its margin.
			line = strings.TrimLeft(line, " \t")
		}
		if headerLine.MatchString(line) {
			headers++
			name, _, _ := strings.Cut(strings.ToLower(line), ":")
			switch name {
			case "from", "to", "subject", "date", "message-id", "mime-version", "received", "return-path", "content-type":
				known++
			}
			continue
		}
		if (line[0] == ' ' || line[0] == '\t') && headers > 0 {
			continue // folded header
		}
		break
	}
	if known >= 1 && headers >= 1 {
		return FormatEML
	}
	return FormatUnknown
}

func utf16ToASCII(b []byte, little bool) []byte {
	out := make([]byte, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c, hi := b[i], b[i+1]
		if !little {
			c, hi = hi, c
		}
		if hi != 0 {
			c = '?'
		}
		out = append(out, c)
	}
	return out
}
