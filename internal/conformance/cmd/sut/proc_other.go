//go:build !linux

package main

import "syscall"

// childAttr has nothing to add outside Linux, which alone has a parent
// death signal.
func childAttr() *syscall.SysProcAttr { return nil }
