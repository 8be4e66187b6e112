package pstwrite

import "hash/crc32"

// crc computes the MS-PST CRC (MS-PST 5.3): the CRC-32 of the IEEE
// polynomial with an initial value of 0 and no final inversion, which is
// the complement of Go's crc32 started from all ones.
func crc(p []byte) uint32 {
	return ^crc32.Update(0xFFFFFFFF, crc32.IEEETable, p)
}

// computeSig computes a block or page signature (MS-PST 5.5).
func computeSig(ib, bid uint64) uint16 {
	ib ^= bid
	return uint16(uint16(ib>>16) ^ uint16(ib))
}
