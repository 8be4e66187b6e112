package bridge

import "slices"

// keyCounter numbers the items of one file that share a provenance key,
// by a 64-bit hash of the key (readPass): next returns 1 for the first
// item with a hash, 2 for the second, and so on.
//
// A Go map of every hash held 18 MB for a million items, and 36 MB from
// about 900,000 on (the map doubles its tables then: the rise of a
// million-card import's peak RSS in its last minute). Here the hashes seen
// once are kept in a sorted slice, 8 bytes each, merged from a small map
// of the recent ones; repeats, rare, have a map of their own.
type keyCounter struct {
	sorted []uint64            // hashes seen once, ascending (merged from recent)
	recent map[uint64]struct{} // hashes seen once since the last merge
	more   map[uint64]uint32   // the count of each hash seen more than once
}

// keyCounterMerge is how many recent hashes are merged into the sorted
// slice at once: each merge copies the slice, so it bounds both the map
// and the copying (a million items: 30 merges).
const keyCounterMerge = 1 << 15

// next counts one more item with hash h and returns its number.
func (c *keyCounter) next(h uint64) uint32 {
	if n, ok := c.more[h]; ok {
		c.more[h] = n + 1
		return n + 1
	}
	_, seen := c.recent[h]
	if !seen {
		_, seen = slices.BinarySearch(c.sorted, h)
	}
	if seen {
		if c.more == nil {
			c.more = map[uint64]uint32{}
		}
		c.more[h] = 2
		return 2
	}
	if c.recent == nil {
		c.recent = map[uint64]struct{}{}
	}
	c.recent[h] = struct{}{}
	if len(c.recent) >= keyCounterMerge {
		c.merge()
	}
	return 1
}

// merge moves the recent hashes into the sorted slice.
func (c *keyCounter) merge() {
	add := make([]uint64, 0, len(c.recent))
	for h := range c.recent {
		add = append(add, h)
	}
	slices.Sort(add)
	out := make([]uint64, 0, len(c.sorted)+len(add))
	i, j := 0, 0
	for i < len(c.sorted) && j < len(add) {
		if c.sorted[i] < add[j] {
			out = append(out, c.sorted[i])
			i++
		} else {
			out = append(out, add[j])
			j++
		}
	}
	out = append(append(out, c.sorted[i:]...), add[j:]...)
	c.sorted = out
	clear(c.recent)
}
