package ics

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"crmbridge/bridge/item"
	"crmbridge/crm"
)

// readAll reads every item of data; it fails the test on a fatal error
// unless allowFatal.
func readAll(t testing.TB, data, name string) (recs []*crm.Incoming, itemErrs []*item.Error, fatal error) {
	t.Helper()
	r := NewReader(strings.NewReader(data), name)
	for i := 0; ; i++ {
		if i > 1e6 {
			t.Fatalf("%s: reader does not end", name)
		}
		in, err := r.Next()
		if err == io.EOF {
			return
		}
		var ie *item.Error
		if errors.As(err, &ie) {
			itemErrs = append(itemErrs, ie)
			continue
		}
		if err != nil {
			fatal = err
			return
		}
		recs = append(recs, in)
	}
}

func validValue(k crm.Kind, v string) bool {
	switch k {
	case crm.Time:
		_, err := time.Parse(time.RFC3339, v)
		return err == nil && strings.HasSuffix(v, "Z")
	case crm.Date:
		_, err := time.Parse("2006-01-02", v)
		return err == nil
	case crm.Int, crm.Option:
		_, err := strconv.Atoi(v)
		return err == nil
	case crm.Bool:
		return v == "true" || v == "false"
	}
	return utf8.ValidString(v)
}
