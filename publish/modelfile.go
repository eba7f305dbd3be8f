package publish

import (
	"fmt"
	"strconv"
	"strings"

	"atoll/agent"
)

// ErrHasKnowledge is returned for an agent whose knowledge a Modelfile
// cannot carry.
var ErrHasKnowledge = fmt.Errorf("a Modelfile cannot carry knowledge bases")

// Modelfile writes an Ollama Modelfile that gives def's chat model its
// system prompt, opening and parameters. A Modelfile has no retrieval, so an
// agent with knowledge bases is refused unless withoutKnowledge is set.
// The warnings say what was changed or left out.
func Modelfile(def agent.Definition, generator string, withoutKnowledge bool) (string, []string, error) {
	var warnings []string
	if len(def.KBs) > 0 {
		if !withoutKnowledge {
			return "", nil, fmt.Errorf("agent %q answers from knowledge bases (%s) and %w: export it as a bundle instead, or pass --without-knowledge to export only its prompt and parameters", def.Name, strings.Join(def.KBs, ", "), ErrHasKnowledge)
		}
		warnings = append(warnings, "the knowledge bases "+strings.Join(def.KBs, ", ")+" are left out: the model will answer without them")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Atoll agent %q", def.Name)
	if generator != "" {
		fmt.Fprintf(&b, ", exported by %s", generator)
	}
	b.WriteString("\n# Build it with: ollama create " + modelName(def.Name) + " -f Modelfile\n")
	fmt.Fprintf(&b, "FROM %s\n", def.Model)
	fmt.Fprintf(&b, "PARAMETER temperature %s\n", strconv.FormatFloat(def.Temperature, 'f', -1, 64))
	if def.NumCtx > 0 {
		fmt.Fprintf(&b, "PARAMETER num_ctx %d\n", def.NumCtx)
	}
	if strings.TrimSpace(def.System) != "" {
		s, changed := modelfileString(def.System)
		if changed {
			warnings = append(warnings, `the system prompt's """ were written as ''' (a Modelfile cannot contain """)`)
		}
		fmt.Fprintf(&b, "SYSTEM %s\n", s)
	}
	if strings.TrimSpace(def.Opening) != "" {
		s, changed := modelfileString(def.Opening)
		if changed {
			warnings = append(warnings, `the opening's """ were written as ''' (a Modelfile cannot contain """)`)
		}
		fmt.Fprintf(&b, "MESSAGE assistant %s\n", s)
	}
	if len(def.Starters) > 0 || def.Followups || def.Memory || len(def.Tools) > 0 {
		warnings = append(warnings, "conversation starters, follow-up suggestions, memory and tools are Atoll features a Modelfile cannot express")
	}
	return b.String(), warnings, nil
}

// modelfileString quotes s for a Modelfile value. Ollama's parser ends a
// """-quoted value at the first """ followed by a space or newline and has
// no escape, so runs of three double quotes inside s are written as ”'.
// Carriage returns are dropped (the parser would end the value there too)
// and so are other control characters except tab and newline, which the
// parser discards anyway.
func modelfileString(s string) (string, bool) {
	var b strings.Builder
	for _, r := range strings.ReplaceAll(s, "\r\n", "\n") {
		if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || r == '\r' {
			continue
		}
		b.WriteRune(r)
	}
	clean := b.String()
	out := clean
	for strings.Contains(out, `"""`) {
		out = strings.ReplaceAll(out, `"""`, `'''`)
	}
	return `"""` + out + `"""`, out != clean
}

// modelName suggests an Ollama model name for an agent name.
func modelName(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	if b.Len() == 0 {
		return "atoll-agent"
	}
	return b.String()
}
