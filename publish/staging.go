package publish

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"atoll/agent"
	"atoll/store"
)

// stagingDir holds imports in progress, inside the data folder so the final
// renames stay on one file system, and outside kb/ so nothing in it is ever
// listed as a knowledge base.
const stagingDir = ".staging"

// staging is one import's folder: DATA/.staging/import-<pid>-<random>. The
// pid tells a later import whether its owner is still running.
type staging struct{ dir string }

func newStaging(data string) (*staging, error) {
	root := filepath.Join(data, stagingDir)
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, err
	}
	r := make([]byte, 6)
	if _, err := rand.Read(r); err != nil {
		return nil, err
	}
	dir := filepath.Join(root, fmt.Sprintf("import-%d-%s", os.Getpid(), hex.EncodeToString(r)))
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, err
	}
	return &staging{dir: dir}, nil
}

// journal is written just before the knowledge bases are renamed into the
// data folder: if the process dies before the agent is saved, the next
// import removes them again.
type journal struct {
	Agent string   `json:"agent"`
	KBs   []string `json:"kbs"`
}

const journalName = "journal.json"

func (s *staging) journal(j journal) error {
	b, _ := json.Marshal(j)
	return store.WriteFileAtomic(filepath.Join(s.dir, journalName), b, 0o600)
}

func (s *staging) remove() {
	_ = os.RemoveAll(s.dir)
	_ = os.Remove(filepath.Dir(s.dir)) // only when no other import uses it
}

// cleanStaging finishes what a killed import left: a staging folder whose
// process is gone is deleted, and when its journal shows the knowledge bases
// were moved into place but the agent never saved, those are deleted too.
func cleanStaging(data string, agents *agent.Repo) {
	root := filepath.Join(data, stagingDir)
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), "import-")
		if !ok {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		dir := filepath.Join(root, e.Name())
		if b, err := os.ReadFile(filepath.Join(dir, journalName)); err == nil {
			var j journal
			if json.Unmarshal(b, &j) == nil && !agentUses(agents, j.Agent, j.KBs) {
				for _, name := range j.KBs {
					if store.ValidName(name) != nil {
						continue
					}
					// Only what this import moved: a name still in staging
					// was never renamed, and the data folder's one is not ours.
					if _, err := os.Stat(filepath.Join(dir, "kb", name)); os.IsNotExist(err) {
						_ = os.RemoveAll(filepath.Join(data, "kb", name))
					}
				}
			}
		}
		_ = os.RemoveAll(dir)
	}
	_ = os.Remove(root)
}

// agentUses reports whether some version of agent name uses the knowledge
// bases kbs, that is, whether the import that made them finished.
func agentUses(agents *agent.Repo, name string, kbs []string) bool {
	if len(kbs) == 0 {
		return true
	}
	vs, err := agents.Versions(name)
	if err != nil {
		return false
	}
	for i := len(vs) - 1; i >= 0; i-- {
		if d, err := agents.GetVersion(name, vs[i]); err == nil && slices.Contains(d.KBs, kbs[0]) {
			return true
		}
	}
	return false
}
