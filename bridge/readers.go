package bridge

import (
	"io"

	"crmbridge/bridge/eml"
	"crmbridge/bridge/ics"
	"crmbridge/bridge/item"
	"crmbridge/bridge/vcf"
)

// newReader returns the reader for a text source format.
func newReader(format Format, r io.Reader, name string) item.Reader {
	switch format {
	case FormatVCF:
		return vcf.NewReader(r, name)
	case FormatICS:
		return ics.NewReader(r, name)
	case FormatMbox:
		return eml.NewMboxReader(r, name)
	default:
		return eml.NewReader(r, name)
	}
}
