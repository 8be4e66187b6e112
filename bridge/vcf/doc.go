// Package vcf reads and writes vCard files (versions 2.1, 3.0 and 4.0,
// RFC 2426 and RFC 6350) as CRM contact records. The Reader streams a file
// card by card and copes with what Outlook and phones write in practice:
// vCard 2.1 quoted-printable values with soft line breaks, CHARSET
// parameters, bare parameter types (TEL;CELL;VOICE), base64 photos spread
// over continuation lines, CR-only and mixed line endings. Lines it cannot
// parse, cards without END:VCARD and text outside any card are reported as
// *item.Error with the file name and line, never dropped silently: a
// problem with a value of a card that is still read (a line or value
// skipped, a value not kept) is a warning (item.Error.Kept), as in package
// ics; a card lost is not. The
// Encoder writes contacts (and accounts) back as vCard 2.1, 3.0 or 4.0 with
// correct escaping of structured values and lines folded at 75 octets.
// go-vcard is not used for decoding: it unescapes values before splitting
// structured components (so an escaped ";" inside N or ADR splits them) and
// skips lines it cannot parse; its encoder neither escapes ";" inside
// components nor folds lines.
package vcf
