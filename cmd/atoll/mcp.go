package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"atoll/agent"
	"atoll/app"
	"atoll/mcp"
)

// mcpStdin is where `atoll mcp` reads the client's messages (tests swap it).
var mcpStdin io.Reader = os.Stdin

// mcpCmd serves knowledge bases (and an agent) to MCP clients over stdio.
// Stdout carries the protocol only; everything said to a person goes to
// stderr.
func (e *env) mcpCmd(args []string) error {
	fs := e.flags("mcp", "--kb NAME[,NAME...] | --agent NAME")
	kbFlag := fs.String("kb", "", "knowledge bases to offer, separated by commas")
	agentFlag := fs.String("agent", "", "an agent to offer as the ask tool (its knowledge bases are searched when --kb is not given)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *kbFlag == "" && *agentFlag == "" {
		return errUsage{"mcp needs --kb NAME or --agent NAME"}
	}
	st, c, err := e.open()
	if err != nil {
		return err
	}
	defer st.Close()
	opt := mcp.ServerOptions{Store: st, Retriever: e.searcher(st, c), Version: version}
	if *kbFlag != "" {
		if opt.KBs, err = existingKBs(st, *kbFlag); err != nil {
			return err
		}
	}
	if *agentFlag != "" {
		def, err := agent.NewRepo(filepath.Join(e.data, "agents")).Get(*agentFlag)
		if err != nil {
			return fmt.Errorf("agent %q does not exist: create it with atoll agent create", *agentFlag)
		}
		if len(opt.KBs) == 0 {
			opt.KBs = def.KBs
		}
		opt.Agent = &def
		opt.Runner = e.runner(st, c)
		// Nobody is at a terminal to say Allow: only calls the agent's
		// allow-list names may run.
		opt.Runner.Confirm = func(_ context.Context, call agent.HTTPCall) error {
			if call.Allowed {
				fmt.Fprintf(e.stderr, "atoll mcp: tool %s: %s %s %s\n", call.Tool, call.Method, call.URL, call.Arguments)
				return nil
			}
			fmt.Fprintf(e.stderr, "atoll mcp: tool %s was refused: it needs your Allow, which can't be asked over MCP\n", call.Tool)
			return agent.ErrDenied
		}
	}
	srv, err := mcp.NewServer(opt)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	t := &sdk.IOTransport{Reader: io.NopCloser(mcpStdin), Writer: nopWriteCloser{e.stdout}}
	if err := srv.Run(ctx, t); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, io.EOF) {
		return fmt.Errorf("the MCP connection ended: %v", err)
	}
	return nil
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// mcpManager runs the user's MCP servers (DATA/mcp.json) for a command's
// agents; their processes end with the command (stdin closes).
func mcpManager(data string) *mcp.Manager {
	return mcp.NewManager(func() mcp.Config { return app.LoadMCPConfig(data) })
}
