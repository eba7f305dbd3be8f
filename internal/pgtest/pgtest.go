// Package pgtest starts a throwaway PostgreSQL cluster for tests, from the
// server Debian's postgresql package installs (/usr/lib/postgresql/N/bin):
// initdb with trust authentication in a temporary folder, pg_ctl on a free
// loopback port, stopped and deleted when the test ends. Running as root
// (CI), the cluster runs as the unprivileged user postgres, because
// initdb refuses root.
//
// When PostgreSQL is missing, tests skip saying why, unless
// ATOLL_REQUIRE_PG=1 is set: then they fail.
package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Options for a cluster.
type Options struct {
	// Durable keeps fsync on (for benchmarks that measure commit cost);
	// tests run with fsync off, which is faster and loses nothing unless
	// the machine itself crashes.
	Durable bool
}

// Server is a running cluster.
type Server struct {
	Port int
	dir  string
	bin  string
	cred *syscall.Credential
	n    atomic.Int64
}

// missing skips or fails the test as ATOLL_REQUIRE_PG says.
func missing(tb testing.TB, why string) {
	tb.Helper()
	msg := "PostgreSQL is not available for this test: " + why + " (install Debian's postgresql package; set ATOLL_REQUIRE_PG=1 to make this a failure)"
	if os.Getenv("ATOLL_REQUIRE_PG") == "1" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}

// binDir finds the newest installed server, preferring 15.
func binDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if strings.Contains(d, "/15/") {
			dirs = append([]string{d}, dirs...)
			break
		}
	}
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("no initdb in /usr/lib/postgresql/*/bin or on PATH")
}

// Start starts a cluster and stops it when tb ends.
func Start(tb testing.TB, opt Options) *Server {
	tb.Helper()
	bin, err := binDir()
	if err != nil {
		missing(tb, err.Error())
	}
	s := &Server{bin: bin}
	base := os.TempDir()
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			missing(tb, "running as root needs the user postgres to run the server, and there is none")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		// postgres must be able to walk down to its folder.
		if !traversable(base) {
			base = "/tmp"
		}
	}
	dir, err := os.MkdirTemp(base, "atoll-pg-")
	if err != nil {
		tb.Fatal(err)
	}
	s.dir = dir
	tb.Cleanup(func() { os.RemoveAll(dir) })
	if s.cred != nil {
		if err := os.Chown(dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			tb.Fatal(err)
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := s.run("initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		tb.Fatalf("initdb failed: %v\n%s", err, out)
	}
	fsync := "off"
	if opt.Durable {
		fsync = "on"
	}
	var lastErr error
	var lastOut string
	for try := 0; try < 5; try++ {
		port, err := freePort()
		if err != nil {
			tb.Fatal(err)
		}
		o := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=%s -c max_connections=200", port, dir, fsync)
		out, err := s.run("pg_ctl", "-D", data, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "-o", o, "start")
		if err == nil {
			s.Port = port
			tb.Cleanup(func() { _, _ = s.run("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop") })
			return s
		}
		lastErr, lastOut = err, out
		_, _ = s.run("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
	}
	log, _ := os.ReadFile(filepath.Join(dir, "log"))
	tb.Fatalf("PostgreSQL did not start: %v\n%s\n%s", lastErr, lastOut, log)
	return nil
}

func (s *Server) run(name string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// DSN is the address of database db.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, db)
}

// NewDatabase creates an empty database and returns its address.
func (s *Server) NewDatabase(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		tb.Fatalf("couldn't connect to the test PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("t%d", s.n.Add(1))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("couldn't create a test database: %v", err)
	}
	return s.DSN(name)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// traversable reports whether others may walk through every folder from
// / down to dir.
func traversable(dir string) bool {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		if d == filepath.Dir(d) {
			return true
		}
	}
}
