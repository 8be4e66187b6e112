package pst

import (
	"container/list"
	"io"
	"sync"
)

// Default sizes of the block cache: 32 blocks of 8 KiB, 256 KiB in all.
// Walking enron.pst (29 MB) with bodies and attachments: 64 × 64 KiB held
// 4 MiB and read 48 MiB from the file (99.8 % of reads hit); 128 × 8 KiB
// holds 1 MiB and reads 34 MiB in about 4,400 calls (99.0 % hit). go-pst's
// reads are small and scattered, so small blocks waste less. 32 blocks
// make an enron.pst import about 1,600 reads (13 MB, from the OS's page
// cache) more than 128 (strace: 19,080 pread calls in all against 17,462,
// SQLite's included), no CPU time that shows, and hold 768 KiB less of
// live heap during the whole import: 91 GC cycles instead of 113 under
// cmd/crmbridge's soft memory limit, and a peak RSS 0.35 MiB lower.
const (
	cacheBlockSize = 8 << 10
	cacheBlocks    = 32
)

// blockCache is a bounded, read-through, LRU block cache over an
// io.ReaderAt. go-pst issues a great many small ReadAt calls (a few bytes of
// a header, then a few more); serving them from a few cached 64 KiB blocks
// turns them into few large reads. It is safe for concurrent use.
type blockCache struct {
	r         io.ReaderAt
	size      int64
	blockSize int64
	max       int

	mu     sync.Mutex
	blocks map[int64]*list.Element // block index → element holding *cacheBlock
	lru    list.List               // front = most recently used
	free   [][]byte                // buffers of evicted blocks, reused

	reads, hits int64 // statistics for benchmarks
}

type cacheBlock struct {
	index int64
	data  []byte // len < blockSize only for the last block of the file
}

// newBlockCache returns a cache over r (of size bytes) that holds at most
// maxBlocks blocks of blockSize bytes.
func newBlockCache(r io.ReaderAt, size int64, blockSize, maxBlocks int) *blockCache {
	if blockSize <= 0 {
		blockSize = cacheBlockSize
	}
	if maxBlocks <= 0 {
		maxBlocks = cacheBlocks
	}
	return &blockCache{r: r, size: size, blockSize: int64(blockSize), max: maxBlocks, blocks: make(map[int64]*list.Element)}
}

// ReadAt implements io.ReaderAt. It returns io.EOF when p reaches past the
// end of the file.
func (c *blockCache) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		if pos >= c.size {
			return n, io.EOF
		}
		idx := pos / c.blockSize
		c.mu.Lock()
		data, err := c.block(idx)
		if err != nil {
			c.mu.Unlock()
			return n, err
		}
		inBlock := pos - idx*c.blockSize
		if inBlock >= int64(len(data)) {
			c.mu.Unlock()
			return n, io.EOF
		}
		n += copy(p[n:], data[inBlock:])
		c.mu.Unlock()
	}
	return n, nil
}

// block returns the data of block idx, reading it on a miss. c.mu is held.
func (c *blockCache) block(idx int64) ([]byte, error) {
	c.reads++
	if e, ok := c.blocks[idx]; ok {
		c.hits++
		c.lru.MoveToFront(e)
		return e.Value.(*cacheBlock).data, nil
	}
	var buf []byte
	if k := len(c.free); k > 0 {
		buf, c.free = c.free[k-1], c.free[:k-1]
	} else {
		buf = make([]byte, c.blockSize)
	}
	buf = buf[:c.blockSize]
	start := idx * c.blockSize
	if rest := c.size - start; rest < c.blockSize {
		buf = buf[:rest]
	}
	m, err := c.r.ReadAt(buf, start)
	if m < len(buf) {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		c.free = append(c.free, buf)
		return nil, err
	}
	b := &cacheBlock{index: idx, data: buf}
	c.blocks[idx] = c.lru.PushFront(b)
	for c.lru.Len() > c.max {
		old := c.lru.Back()
		ob := old.Value.(*cacheBlock)
		c.lru.Remove(old)
		delete(c.blocks, ob.index)
		c.free = append(c.free, ob.data[:cap(ob.data)])
	}
	return buf, nil
}
