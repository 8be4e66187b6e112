package vcf

import (
	"strings"
	"testing"

	"crmbridge/bridge/internal/textcodec"
)

// The Encoder builds a text or structured line in its buffer (startLine,
// escaped, endLine): the bytes are those of escaping each value with
// escapeText, joining name, parameters and value, and folding with
// textcodec.Fold, for lines around the fold limit, with multi-byte
// characters and escapes across it, CR, LF and CRLF.
func TestLineInPlace(t *testing.T) {
	values := []string{"", "plain", `a\b,c;d`, "x\r\ny\rz\nw", "\r\r\n\n\r", "ü;," + strings.Repeat("é", 40)}
	for n := 50; n < 170; n++ {
		values = append(values, strings.Repeat("a", n), strings.Repeat("a", n-1)+"€", strings.Repeat("a", n-1)+";", strings.Repeat("ab\n", n/3))
	}
	for _, params := range [][]string{nil, {"TYPE=WORK,VOICE"}, {"X-A=1", "X-B=2"}} {
		for _, v := range values {
			e := NewEncoder(nil, "3.0")
			e.text("NOTE", params, v)
			want := string(textcodec.Fold(nil, head("NOTE", params)+escapeText(v)))
			if got := e.buf.String(); got != want {
				t.Errorf("text %q %q:\ngot  %q\nwant %q", params, v, got, want)
			}
			e.buf.Reset()
			e.structured("ADR", params, v, "", v+";x")
			want = string(textcodec.Fold(nil, head("ADR", params)+escapeText(v)+";;"+escapeText(v+";x")))
			if got := e.buf.String(); got != want {
				t.Errorf("structured %q %q:\ngot  %q\nwant %q", params, v, got, want)
			}
		}
	}
}
