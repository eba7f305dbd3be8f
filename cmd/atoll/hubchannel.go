package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"atoll/channels"
	"atoll/hub"
	"atoll/hubstore"
)

// setList is the repeatable --set key=value flag.
type setList map[string]string

func (s setList) String() string {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

func (s setList) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("%q is not key=value", v)
	}
	s[strings.TrimSpace(k)] = val
	return nil
}

// hubChannel: `atoll hub channel add|list|rm`, on the hub's store (the
// running hub picks changes up through its change feed).
func (e *env) hubChannel(args []string) error {
	const subs = "add --agent NAME --kind KIND --set key=value…, list [--json] or rm ID"
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			e.groupHelp("hub channel", subcommands("hub channel"))
			return flag.ErrHelp
		}
		return errUsage{"hub channel needs a subcommand: " + subs}
	}
	ctx := context.Background()
	switch args[0] {
	case "add":
		f := e.flags("hub channel add", "--agent NAME --kind KIND [--set key=value]... [--workspace NAME] [--api-base URL] [--id ID] [--url URL] [--db URL]")
		agentName := f.String("agent", "", "the published agent that answers on the channel")
		kind := f.String("kind", "", "the platform: "+kindNames())
		set := setList{}
		f.Var(set, "set", "one of the kind's settings, key=value (repeatable); leave them out to be told what the kind needs")
		wsName := f.String("workspace", hub.DefaultWorkspace, "the workspace that published the agent")
		apiBase := f.String("api-base", "", "another API origin for the platform (a local Telegram Bot API server, a proxy)")
		id := f.String("id", "", "the channel's id, to change an existing channel (default: a new one)")
		hubURL := f.String("url", os.Getenv("ATOLL_HUB_URL"), "the hub's public address, for the webhook URL (default $ATOLL_HUB_URL)")
		db := dbFlag(f)
		pos, err := parse(f, args[1:])
		if err != nil {
			return err
		}
		if len(pos) > 0 {
			return errUsage{fmt.Sprintf("hub channel add takes no arguments (got %q); settings go in --set key=value", pos[0])}
		}
		if *agentName == "" || *kind == "" {
			return errUsage{"hub channel add needs --agent NAME and --kind KIND (" + kindNames() + ")"}
		}
		if *id == "" {
			*id = hubstore.NewID()
		}
		cfg := channels.Config{ID: *id, Kind: channels.Kind(*kind), Workspace: "", Agent: *agentName, APIBase: *apiBase, Settings: set}
		if err := hub.CheckChannel(cfg); err != nil {
			var miss *channels.MissingError
			if errors.As(err, &miss) {
				return errUsage{fmt.Sprintf("%s; add --set %s=…", err, miss.Missing[0])}
			}
			return errUsage{err.Error()}
		}
		sealer, err := hub.ChannelSealer(e.data)
		if err != nil {
			return err
		}
		st, done, err := e.hubAdmin(*db)
		if err != nil {
			return err
		}
		defer done()
		ws, err := workspaceNamed(ctx, st, *wsName)
		if err != nil {
			return err
		}
		cfg.Workspace = ws.ID
		_, err = hub.SaveChannel(ctx, st, sealer, cfg)
		var inv *hub.InvalidChannelError
		switch {
		case errors.As(err, &inv):
			return errUsage{inv.Error()}
		case errors.Is(err, hubstore.ErrNotFound):
			return fmt.Errorf("workspace %s has no published agent %q: publish it first with `atoll publish --agent %s`", cleanCell(ws.Name), *agentName, *agentName)
		case errors.Is(err, hubstore.ErrAlreadyExists):
			return fmt.Errorf("channel id %q is taken by another workspace: leave --id out for a new one", *id)
		case err != nil:
			return err
		}
		base := strings.TrimRight(*hubURL, "/")
		if base == "" {
			base = "https://HUB"
			fmt.Fprintln(e.stderr, "Replace HUB with the hub's public address (or pass --url).")
		}
		fac, _ := channels.Lookup(cfg.Kind)
		fmt.Fprintf(e.stdout, "channel: %s\nwebhook: %s\n", *id, hub.WebhookURL(base, *id))
		if fac.Webhook != "" {
			fmt.Fprintf(e.stderr, "On %s: %s.\n", cfg.Kind, fac.Webhook)
		}
		return nil
	case "list":
		f := e.flags("hub channel list", "[--workspace NAME] [--json] [--db URL]")
		wsName := f.String("workspace", "", "only this workspace's channels")
		asJSON := f.Bool("json", false, "print the channels as JSON (secrets masked)")
		db := dbFlag(f)
		pos, err := parse(f, args[1:])
		if err != nil {
			return err
		}
		if len(pos) > 0 {
			return errUsage{fmt.Sprintf("hub channel list takes no arguments (got %q)", pos[0])}
		}
		sealer, err := hub.ChannelSealer(e.data)
		if err != nil {
			return err
		}
		st, done, err := e.hubAdmin(*db)
		if err != nil {
			return err
		}
		defer done()
		names := map[string]string{}
		wss, err := st.Workspaces(ctx)
		if err != nil {
			return err
		}
		for _, w := range wss {
			names[w.ID] = w.Name
		}
		all, err := hub.ChannelStore{St: st}.List(ctx)
		if err != nil {
			return err
		}
		// The counts are the hub's replicas' together, as they last saved
		// them (each saves every second).
		stats, err := st.ChannelStatuses(ctx, "")
		if err != nil {
			return fmt.Errorf("couldn't read the channels' status from the hub database: %w", err)
		}
		list := []listedChannel{}
		for _, s := range all {
			if *wsName != "" && names[s.Workspace] != *wsName {
				continue
			}
			cfg, err := s.Open(sealer)
			if err != nil {
				return fmt.Errorf("channel %s cannot be opened with this hub's key (%s or $%s): %w", s.ID, hub.ChannelKeyFile, channels.KeyEnv, err)
			}
			p := channels.PublicView(cfg)
			p.Workspace = names[s.Workspace]
			sh := stats[s.ID]
			list = append(list, listedChannel{Public: p, Status: channelStatus{Received: sh.Received, Answered: sh.Answered, Failed: sh.Failed,
				Duplicates: sh.Duplicates, Rejected: sh.Rejected, Votes: sh.Votes,
				LastMessage: sh.LastMessage, LastReply: sh.LastReply, LastError: sh.LastError, LastErrorAt: sh.LastErrorAt}})
		}
		if *asJSON {
			return writeJSON(e, list)
		}
		if len(list) == 0 {
			fmt.Fprintln(e.stderr, "No channels yet: add one with `atoll hub channel add --agent NAME --kind KIND --set key=value`.")
			return nil
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tKIND\tWORKSPACE\tAGENT\tRECEIVED\tANSWERED\tFAILED\tLAST ERROR\tSETTINGS")
		for _, l := range list {
			p := l.Public
			keys := make([]string, 0, len(p.Settings))
			for k := range p.Settings {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var kv []string
			for _, k := range keys {
				kv = append(kv, k+"="+p.Settings[k])
			}
			lastErr := "-"
			if l.Status.LastError != "" {
				lastErr = channels.Clean(l.Status.LastError, 60)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", p.ID, p.Kind, cleanCell(p.Workspace), cleanCell(p.Agent),
				l.Status.Received, l.Status.Answered, l.Status.Failed, cleanCell(lastErr), cleanCell(strings.Join(kv, " ")))
		}
		return tw.Flush()
	case "rm":
		f := e.flags("hub channel rm", "ID [--db URL]")
		db := dbFlag(f)
		pos, err := parse(f, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return errUsage{"hub channel rm needs one channel ID (`atoll hub channel list` shows them)"}
		}
		st, done, err := e.hubAdmin(*db)
		if err != nil {
			return err
		}
		defer done()
		err = hub.ChannelStore{St: st}.Delete(ctx, pos[0])
		if errors.Is(err, hubstore.ErrNotFound) {
			return fmt.Errorf("there is no channel with id %q: `atoll hub channel list` shows them", pos[0])
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "Removed channel %s: the hub stops answering on it.\n", pos[0])
		return nil
	}
	return errUsage{fmt.Sprintf("unknown hub channel subcommand %q: use %s", args[0], subs)}
}

func kindNames() string {
	var ks []string
	for _, k := range channels.Kinds() {
		ks = append(ks, string(k))
	}
	return strings.Join(ks, ", ")
}

// listedChannel is a line of `hub channel list --json`: the channel's
// masked settings and its status.
type listedChannel struct {
	channels.Public
	Status channelStatus `json:"status"`
}

// channelStatus is a channel's status summed over the hub's replicas (a
// token's expiry is each replica's own, so not here).
type channelStatus struct {
	Received    int64     `json:"received"`
	Answered    int64     `json:"answered"`
	Failed      int64     `json:"failed"`
	Duplicates  int64     `json:"duplicates"`
	Rejected    int64     `json:"rejected"`
	Votes       int64     `json:"votes"`
	LastMessage time.Time `json:"last_message,omitzero"`
	LastReply   time.Time `json:"last_reply,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
}
