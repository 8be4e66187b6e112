//go:build unix && !linux

package crmstore

// mapNoReserve is Linux's MAP_NORESERVE; the BSDs and macOS commit an
// anonymous mapping's pages when they are first touched anyway.
const mapNoReserve = 0
