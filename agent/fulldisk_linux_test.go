package agent

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// A full disk is imitated with RLIMIT_FSIZE in a child process (the test
// binary run again): writes beyond the limit fail with EFBIG, as they would
// with ENOSPC, after the temporary file was created. Go ignores SIGXFSZ.
func TestSaveOnAFullDiskLeavesNothingBehind(t *testing.T) {
	if dir := os.Getenv("ATOLL_FULL_DISK_CHILD"); dir != "" {
		lim := syscall.Rlimit{Cur: 16, Max: 16}
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
			fmt.Println("setrlimit:", err)
			os.Exit(3)
		}
		_, err := NewRepo(dir).Save(Definition{Name: "baker", Model: "m", System: strings.Repeat("You are the bakery's assistant. ", 20)})
		fmt.Println("save:", err)
		os.Exit(0)
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSaveOnAFullDiskLeavesNothingBehind$")
	cmd.Env = append(os.Environ(), "ATOLL_FULL_DISK_CHILD="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "save: couldn't save agent") {
		t.Fatalf("the save on a full disk did not fail with a sentence: %s", out)
	}
	var left []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left = append(left, p)
		}
		return nil
	})
	if len(left) > 0 {
		t.Fatalf("a failed save left files behind: %v", left)
	}
}

// Two processes (here two repos) saving one agent at once each get their
// own version number; neither overwrites the other.
func TestConcurrentSavesKeepEveryVersion(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := NewRepo(dir)
			for i := 0; i < 10; i++ {
				if _, err := r.Save(Definition{Name: "baker", Model: "m", System: fmt.Sprintf("w%d i%d", w, i)}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	vs, err := NewRepo(dir).Versions("baker")
	if err != nil || len(vs) != 40 {
		t.Fatalf("%d versions after 40 saves (%v)", len(vs), err)
	}
}
