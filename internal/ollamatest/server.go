// Package ollamatest runs a real Ollama server, with a tiny generated model,
// for integration tests. Nothing is downloaded but the ollama binary itself
// (built once into the user cache dir): the model is a GGUF file with seeded
// random weights, so its answers are gibberish, but everything around them
// (the HTTP protocol, streaming, errors, model loading, timing) is real.
//
// One server per test binary is the intended use:
//
//	func TestMain(m *testing.M) { os.Exit(ollamatest.RunMain(m)) }
//
//	func TestSomething(t *testing.T) {
//		srv := ollamatest.Shared(t)  // started on first use, ~1 s
//		... srv.URL, srv.ChatModel, srv.EmbedModel ...
//	}
//
// Tests that do not call Shared never start the server, so a package's fast
// unit tests stay fast.
package ollamatest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Model names created by Start.
const (
	// ChatModel answers chat, generate and embed requests.
	ChatModel = "tiny"
	// ToolsModel is the same weights with a template that mentions .Tools, so
	// Ollama reports it as tools-capable.
	ToolsModel = "tiny-tools"
	// EmbedModel is the same weights again under its own name, so that, as
	// with a real embedding model, embedding and chat do not share one loaded
	// instance (Ollama reloads a model whose num_ctx changes).
	EmbedModel = "tiny-embed"
	// ContextLength is the tiny model's llama.context_length.
	ContextLength = tinyCtx
	// EmbeddingLength is the length of the tiny model's embeddings.
	EmbeddingLength = tinyEmbd
)

// SkipEnv, when set to 1, makes Shared skip instead of fail where the server
// cannot be started (for a developer without network who has no binary yet).
// CI never sets it.
const SkipEnv = "ATOLL_SKIP_REAL_OLLAMA"

const chatTemplate = `{{ if .System }}system: {{ .System }}
{{ end }}{{ range .Messages }}{{ .Role }}: {{ .Content }}
{{ end }}assistant: `

const toolsTemplate = `{{ if .Tools }}tools: {{ range .Tools }}{{ .Function.Name }} {{ end }}
{{ end }}` + chatTemplate

// Server is a running `ollama serve` with the tiny models created.
type Server struct {
	URL        string // http://127.0.0.1:PORT
	ChatModel  string
	ToolsModel string
	EmbedModel string // the same weights as ChatModel under another name
	ModelsDir  string // OLLAMA_MODELS
	LogPath    string // ollama's own output
	StartTime  time.Duration

	bin  string
	dir  string
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{} // closed when the process has exited
	stop sync.Once
}

// Options change how the server runs.
type Options struct {
	// NumParallel is OLLAMA_NUM_PARALLEL: how many sequences a loaded model
	// runs at once. Tests use 1 (predictable memory and timing on small CI
	// machines); Ollama's own default picks 4 when memory allows.
	NumParallel int
}

// Start writes the tiny model, starts `ollama serve` on a free loopback port
// with its own model folder and home, waits for it and creates the models.
// The caller must Stop it.
func Start(ctx context.Context) (*Server, error) {
	return StartWith(ctx, Options{NumParallel: 1})
}

// StartWith is Start with options.
func StartWith(ctx context.Context, opt Options) (*Server, error) {
	began := time.Now()
	bin, err := BinaryPath()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "atoll-ollamatest-")
	if err != nil {
		return nil, err
	}
	s := &Server{
		ChatModel:  ChatModel,
		ToolsModel: ToolsModel,
		EmbedModel: EmbedModel,
		ModelsDir:  filepath.Join(dir, "models"),
		LogPath:    filepath.Join(dir, "ollama.log"),
		bin:        bin,
		dir:        dir,
		done:       make(chan struct{}),
	}
	if err := s.start(ctx, max(opt.NumParallel, 1)); err != nil {
		err = s.failure(err)
		s.Stop()
		return nil, err
	}
	s.StartTime = time.Since(began)
	return s, nil
}

func (s *Server) start(ctx context.Context, parallel int) error {
	home := filepath.Join(s.dir, "home")
	for _, d := range []string{s.ModelsDir, home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	gguf := filepath.Join(s.dir, tinyFileName)
	if err := writeTinyGGUF(gguf); err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	host := fmt.Sprintf("127.0.0.1:%d", port)
	s.URL = "http://" + host

	if s.log, err = os.Create(s.LogPath); err != nil {
		return err
	}
	env := append(os.Environ(),
		"OLLAMA_HOST="+host,
		"OLLAMA_MODELS="+s.ModelsDir,
		"HOME="+home, // ollama writes its key pair under $HOME/.ollama
		"OLLAMA_NOPRUNE=1",
		fmt.Sprintf("OLLAMA_NUM_PARALLEL=%d", parallel),
		"OLLAMA_MAX_LOADED_MODELS=3", // chat, tools and embedding models side by side
	)
	s.cmd = exec.Command(s.bin, "serve")
	s.cmd.Env = env
	s.cmd.Dir = s.dir
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	// Its own process group, so Stop also ends the runner subprocesses.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		close(s.done)
		return fmt.Errorf("starting %s serve: %w", s.bin, err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()

	if err := s.waitReady(ctx, 30*time.Second); err != nil {
		return err
	}
	for _, m := range []struct{ name, template string }{{ChatModel, chatTemplate}, {ToolsModel, toolsTemplate}, {EmbedModel, chatTemplate}} {
		if err := s.create(ctx, env, m.name, m.template); err != nil {
			return err
		}
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) waitReady(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/api/version", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("ollama serve exited before answering on %s", s.URL)
		case <-ctx.Done():
			return fmt.Errorf("ollama serve did not answer /api/version on %s within %s: %w", s.URL, limit, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// create runs `ollama create` (the CLI uploads the GGUF as a blob and posts
// /api/create), as a user would to import a model file.
func (s *Server) create(ctx context.Context, env []string, name, template string) error {
	modelfile := filepath.Join(s.dir, "Modelfile."+name)
	// num_thread 1: llama.cpp's worker threads spin at barriers, and on a
	// busy 2-core CI machine two threads made the tiny model 5-10 times
	// slower (and far noisier) than one.
	content := fmt.Sprintf("FROM ./%s\nTEMPLATE \"\"\"%s\"\"\"\nPARAMETER num_predict 24\nPARAMETER num_thread 1\n", tinyFileName, template)
	if err := os.WriteFile(modelfile, []byte(content), 0o644); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bin, "create", name, "-f", modelfile)
	cmd.Env = env
	cmd.Dir = s.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("ollama create %s: %w\n%s", name, err, tail(out, 10))
	}
	return nil
}

// failure adds the tail of ollama's log to err.
func (s *Server) failure(err error) error {
	if s.log == nil {
		return err
	}
	b, rerr := os.ReadFile(s.LogPath)
	if rerr != nil || len(b) == 0 {
		return err
	}
	return fmt.Errorf("%w\n--- last lines of %s ---\n%s", err, s.LogPath, tail(b, 30))
}

// LogTail returns the last n lines of ollama's log, for test failure messages.
func (s *Server) LogTail(n int) string {
	b, _ := os.ReadFile(s.LogPath)
	return tail(b, n)
}

// Stop kills ollama and its runners (the whole process group) and removes
// the temp dir. It is safe to call more than once.
func (s *Server) Stop() error {
	var err error
	s.stop.Do(func() {
		if s.cmd != nil && s.cmd.Process != nil {
			pgid := s.cmd.Process.Pid
			syscall.Kill(-pgid, syscall.SIGTERM)
			select {
			case <-s.done:
			case <-time.After(5 * time.Second):
				syscall.Kill(-pgid, syscall.SIGKILL)
				<-s.done
			}
			// Runners may outlive the server for a moment.
			syscall.Kill(-pgid, syscall.SIGKILL)
		}
		if s.log != nil {
			s.log.Close()
		}
		if s.dir != "" {
			err = os.RemoveAll(s.dir)
		}
	})
	return err
}

var shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Shared returns the test binary's one server, starting it on first use.
// It fails the test if the server cannot start, or skips it when
// ATOLL_SKIP_REAL_OLLAMA=1. Pair it with RunMain in TestMain so the server is
// stopped when the tests end.
func Shared(t testing.TB) *Server {
	t.Helper()
	if os.Getenv(SkipEnv) == "1" {
		t.Skipf("%s=1: skipping a test that needs a real Ollama server", SkipEnv)
	}
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute) // includes a first build
		defer cancel()
		shared.srv, shared.err = Start(ctx)
	})
	if shared.err != nil {
		t.Fatalf("real Ollama server for integration tests: %v", shared.err)
	}
	return shared.srv
}

// RunMain runs the tests and then stops the shared server, if one started.
// Use it as: func TestMain(m *testing.M) { os.Exit(ollamatest.RunMain(m)) }
func RunMain(m *testing.M) int {
	code := m.Run()
	if shared.srv != nil {
		if err := shared.srv.Stop(); err != nil && code == 0 {
			fmt.Fprintln(os.Stderr, "ollamatest: stopping the shared server:", err)
		}
	}
	return code
}

// Alive reports whether the ollama process is still running.
func (s *Server) Alive() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}
