package eml

import (
	"bytes"
	"fmt"
	"mime"
	"strings"

	"crmbridge/bridge/internal/textcodec"
)

// dashes spells an encoding's separators as '-' ("quoted printable",
// "quoted_printable").
var dashes = strings.NewReplacer(" ", "-", "_", "-")

// decodeTransfer undoes a Content-Transfer-Encoding (RFC 2045 6). It is
// lenient the way mail clients are: base64 ignores characters outside the
// alphabet and missing padding, quoted-printable keeps a malformed escape
// literally, and uuencode (x-uuencode) is decoded. An encoding it does not
// know returns the bytes unchanged and an error to report.
func decodeTransfer(cte string, b []byte) ([]byte, error) {
	enc := strings.ToLower(strings.Trim(strings.TrimSpace(cte), `"'`))
	enc = dashes.Replace(enc)
	switch enc {
	case "", "7bit", "8bit", "binary", "7-bit", "8-bit", "7bits", "8bits", "none":
		return b, nil
	case "base64":
		return decodeBase64(b), nil
	case "quoted-printable", "qp":
		return textcodec.DecodeQP(b), nil
	case "x-uuencode", "uuencode", "x-uue", "uue":
		out, err := decodeUU(b)
		if err != nil {
			return b, err
		}
		return out, nil
	}
	return b, fmt.Errorf("unknown Content-Transfer-Encoding %q (kept undecoded)", truncate(cte, 40))
}

// decodeBase64 decodes base64, skipping every byte outside the alphabet
// and stopping at the first padding that ends a quantum, like Python's
// binascii.a2b_base64 in its default (non-strict) mode.
func decodeBase64(b []byte) []byte {
	out := make([]byte, 0, len(b)*3/4)
	var acc uint32
	n := 0
	pads := 0
	for _, c := range b {
		if c == '=' {
			if n >= 2 {
				pads++
				if n+pads >= 4 {
					break
				}
			}
			continue
		}
		v := textcodec.Base64Value[c]
		if v < 0 {
			continue
		}
		if pads > 0 {
			// data after a lone '=': a2b_base64 ignores the pad
			pads = 0
		}
		acc = acc<<6 | uint32(v)
		n++
		if n == 4 {
			out = append(out, byte(acc>>16), byte(acc>>8), byte(acc))
			acc, n = 0, 0
		}
	}
	switch n {
	case 2:
		out = append(out, byte(acc>>4))
	case 3:
		out = append(out, byte(acc>>10), byte(acc>>2))
	}
	return out
}

// decodeUU decodes a uuencoded body ("begin 644 name" ... "end").
func decodeUU(b []byte) ([]byte, error) {
	lines := bytes.Split(b, []byte("\n"))
	start := -1
	for i, l := range lines {
		if bytes.HasPrefix(l, []byte("begin ")) {
			start = i + 1
			break
		}
	}
	if start < 0 {
		return nil, fmt.Errorf("uuencode: no begin line")
	}
	var out []byte
	for _, l := range lines[start:] {
		l = bytes.TrimRight(l, "\r")
		if bytes.Equal(bytes.TrimSpace(l), []byte("end")) {
			return out, nil
		}
		if len(l) == 0 {
			continue
		}
		n := int((l[0] - ' ') & 63)
		if n == 0 {
			continue
		}
		data := l[1:]
		var line []byte
		for k := 0; k < len(data) && len(line) < n; k += 4 {
			var q [4]byte
			for m := 0; m < 4; m++ {
				if k+m < len(data) {
					q[m] = (data[k+m] - ' ') & 63
				}
			}
			line = append(line, q[0]<<2|q[1]>>4, q[1]<<4|q[2]>>2, q[2]<<6|q[3])
		}
		if len(line) > n {
			line = line[:n]
		}
		out = append(out, line...)
	}
	return out, fmt.Errorf("uuencode: no end line")
}

// parseParams parses a Content-Type or Content-Disposition value: the
// value (lower-cased) and its parameters, with RFC 2231 extended
// parameters and RFC 2047 encoded words decoded. When mime.ParseMediaType
// refuses the value (duplicate or malformed parameters, raw 8-bit bytes)
// a lenient split keeps the first of each parameter and the error is
// returned for the caller to report.
func parseParams(v string) (string, map[string]string, error) {
	v = strings.TrimSpace(textcodec.String(v))
	if v == "" {
		return "", map[string]string{}, nil
	}
	mt, params, err := mime.ParseMediaType(v)
	if err == nil {
		for k, p := range params {
			if d, derr := decodeText(p); derr == nil {
				params[k] = d
			}
		}
		if strings.Contains(v, "*=") {
			// mime.ParseMediaType silently drops an RFC 2231 value that
			// is quoted (filename*="utf-8''a%20b"), which mailers write.
			_, lp := lenientParams(v)
			for k, p := range lp {
				if _, ok := params[k]; !ok {
					params[k] = p
				}
			}
		}
		return mt, params, nil
	}
	mt, params = lenientParams(v)
	return mt, params, fmt.Errorf("parameters of %q: %w", truncate(v, 80), err)
}

func lenientParams(v string) (string, map[string]string) {
	params := map[string]string{}
	pieces := splitUnquoted(v, ';')
	mt := strings.ToLower(strings.TrimSpace(pieces[0]))
	if f := strings.Fields(mt); len(f) > 0 {
		mt = f[0]
	}
	for _, p := range pieces[1:] {
		k, val, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		val = strings.TrimSpace(val)
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = unquoter.Replace(val[1 : len(val)-1])
		} else {
			val = strings.Trim(val, `"`)
		}
		if strings.HasSuffix(k, "*") {
			k = strings.TrimSuffix(k, "*")
			// RFC 2231 charset'lang'percent-encoded
			if parts := strings.SplitN(val, "'", 3); len(parts) == 3 {
				if raw, err := percentDecode(parts[2]); err == nil {
					if s, err := decodeCharset(parts[0], raw); err == nil {
						val = s
					}
				}
			}
		} else if d, err := decodeText(val); err == nil {
			val = d
		}
		if _, dup := params[k]; !dup && k != "" {
			params[k] = val
		}
	}
	return mt, params
}

func percentDecode(s string) ([]byte, error) {
	var out []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			h, ok1 := textcodec.Unhex(s[i+1])
			l, ok2 := textcodec.Unhex(s[i+2])
			if ok1 && ok2 {
				out = append(out, h<<4|l)
				i += 2
				continue
			}
		}
		out = append(out, s[i])
	}
	return out, nil
}

// splitUnquoted splits s at sep outside double quotes.
func splitUnquoted(s string, sep byte) []string {
	var out []string
	quoted, escaped, start := false, false, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			escaped = false
		case c == '\\' && quoted:
			escaped = true
		case c == '"':
			quoted = !quoted
		case c == sep && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
