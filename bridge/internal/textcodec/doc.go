// Package textcodec is the one text toolkit of the format packages: the
// backslash escapes of iCalendar (RFC 5545 3.3.11) and vCard (RFC 6350
// 3.4), content-line folding at 75 octets (RFC 5545 3.1, RFC 6350 3.2),
// quoted-printable (RFC 2045 6.7) and the conversion of bytes of any
// declared or undeclared charset to valid UTF-8 under one rule (see
// [ToUTF8]). Every function terminates on any input, including bytes that
// are not UTF-8, and never panics.
package textcodec
