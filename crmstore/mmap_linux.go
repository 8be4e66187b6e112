package crmstore

import "golang.org/x/sys/unix"

// mapNoReserve asks the kernel not to reserve swap for the page arena:
// untouched slots cost nothing (Linux; other systems commit lazily).
const mapNoReserve = unix.MAP_NORESERVE
