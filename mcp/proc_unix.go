//go:build unix

package mcp

import (
	"os/exec"
	"syscall"
)

// A server started through npx or a shell runs as a child of it: the group
// lets Close and a crash end them all, not only the first process.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
