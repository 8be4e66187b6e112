package crmstore

import "syscall"

// statCtime returns the status-change time of st in nanoseconds.
func statCtime(st *syscall.Stat_t) int64 { return st.Ctim.Nano() }
