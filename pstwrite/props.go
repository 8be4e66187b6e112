package pstwrite

import (
	"encoding/binary"
	"math"
	"strings"
	"time"
	"unicode/utf16"
)

// Property types (MS-OXCDATA 2.11.1).
const (
	TypeInt16    uint16 = 0x0002
	TypeInt32    uint16 = 0x0003
	TypeFloat64  uint16 = 0x0005
	TypeBool     uint16 = 0x000B
	TypeInt64    uint16 = 0x0014
	TypeString   uint16 = 0x001F
	TypeTime     uint16 = 0x0040
	TypeGUID     uint16 = 0x0048
	TypeBinary   uint16 = 0x0102
	TypeMVInt32  uint16 = 0x1003
	TypeMVString uint16 = 0x101F
	TypeMVBinary uint16 = 0x1102
)

// GUID is a property set GUID in its stored (Windows) byte order.
type GUID [16]byte

// Name names a named property (MS-OXPROPS 1.3.2): a property set and
// either a numeric LID or a string name.
type Name struct {
	Set GUID
	LID uint32
	Str string // used when not empty
}

// Key identifies a property: a tagged property id below 0x8000, or a name.
type Key struct {
	ID   uint16
	Name *Name
}

// Tag is the key of tagged property id.
func Tag(id uint16) Key { return Key{ID: id} }

// LID is the key of the numeric named property lid in set.
func LID(set GUID, lid uint32) Key { return Key{Name: &Name{Set: set, LID: lid}} }

// NameString is the key of the string named property s in set.
func NameString(set GUID, s string) Key { return Key{Name: &Name{Set: set, Str: s}} }

// Prop is one property with its value encoded as MS-PST stores it:
// little-endian numbers, UTF-16LE strings without a terminator, FILETIME
// times, and the MS-PST 2.3.3.4 layout for multi-valued properties.
type Prop struct {
	Key   Key
	Type  uint16
	Value []byte
	empty bool // write even when Value is empty
}

// String returns a PtypString property.
func String(k Key, s string) Prop { return Prop{Key: k, Type: TypeString, Value: utf16le(s)} }

// Int32 returns a PtypInteger32 property.
func Int32(k Key, v int32) Prop {
	b := make([]byte, 4)
	binary.LittleEndian.PutUint32(b, uint32(v))
	return Prop{Key: k, Type: TypeInt32, Value: b}
}

// Int64 returns a PtypInteger64 property.
func Int64(k Key, v int64) Prop {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint64(b, uint64(v))
	return Prop{Key: k, Type: TypeInt64, Value: b}
}

// Float64 returns a PtypFloating64 property.
func Float64(k Key, v float64) Prop {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint64(b, math.Float64bits(v))
	return Prop{Key: k, Type: TypeFloat64, Value: b}
}

// Bool returns a PtypBoolean property.
func Bool(k Key, v bool) Prop {
	b := []byte{0}
	if v {
		b[0] = 1
	}
	return Prop{Key: k, Type: TypeBool, Value: b}
}

// Time returns a PtypTime property (a FILETIME, MS-OXCDATA 2.11.1).
func Time(k Key, t time.Time) Prop {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint64(b, Filetime(t))
	return Prop{Key: k, Type: TypeTime, Value: b}
}

// Binary returns a PtypBinary property.
func Binary(k Key, v []byte) Prop { return Prop{Key: k, Type: TypeBinary, Value: v} }

// MVString returns a PtypMultipleString property.
func MVString(k Key, vs []string) Prop {
	items := make([][]byte, len(vs))
	for i, s := range vs {
		items[i] = utf16le(s)
	}
	return Prop{Key: k, Type: TypeMVString, Value: mvVariable(items)}
}

// MVBinary returns a PtypMultipleBinary property.
func MVBinary(k Key, vs [][]byte) Prop {
	return Prop{Key: k, Type: TypeMVBinary, Value: mvVariable(vs)}
}

// mvVariable encodes a variable-size multi-valued property (MS-PST
// 2.3.3.4.2): ulCount, an offset per value, then the values.
func mvVariable(items [][]byte) []byte {
	b := make([]byte, 4+4*len(items))
	binary.LittleEndian.PutUint32(b, uint32(len(items)))
	for i, it := range items {
		binary.LittleEndian.PutUint32(b[4+4*i:], uint32(len(b)))
		b = append(b, it...)
	}
	return b
}

// Filetime converts t to 100-ns intervals since 1601-01-01 UTC; the zero
// time gives 0.
func Filetime(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	const epochDiff = 116444736000000000 // 1601 to 1970 in 100 ns
	return uint64(t.UTC().UnixNano()/100 + epochDiff)
}

// utf16le encodes s as UTF-16LE without a terminator. MS-OXCDATA 2.11.1:
// a PtypString ends at its first NUL, so readers stop there; NUL
// characters are dropped so that the text after one survives. Invalid
// UTF-8 bytes become U+FFFD.
func utf16le(s string) []byte {
	u := utf16.Encode([]rune(strings.ReplaceAll(s, "\x00", "")))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b
}

// fixedSize is the size of a fixed-size type stored inline in a TC row, or
// 0 for a type stored through an HNID.
func fixedSize(t uint16) int {
	switch t {
	case TypeInt16:
		return 2
	case TypeInt32, 0x0004, 0x000A: // PtypFloating32, PtypErrorCode
		return 4
	case TypeBool:
		return 1
	case TypeFloat64, TypeInt64, TypeTime, 0x0006, 0x0007: // PtypCurrency, PtypFloatingTime
		return 8
	}
	return 0
}

// inlinePC reports whether a PC stores a value of type t in dwValueHnid
// (MS-PST 2.3.3.3: fixed-size types of 4 bytes or less).
func inlinePC(t uint16) bool {
	s := fixedSize(t)
	return s > 0 && s <= 4
}
