package backup

import "syscall"

// syscallUmask sets the process umask and returns the old one (the
// control socket is created 0600).
func syscallUmask(mask int) int { return syscall.Umask(mask) }
