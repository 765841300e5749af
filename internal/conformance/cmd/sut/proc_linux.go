package main

import "syscall"

// childAttr makes a child die with sut: the runner may kill sut outright
// after its SIGTERM grace, which must not leave a gateway or a reference
// server running.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
