package agent

import (
	"atoll/contact"
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"atoll/store"
)

// LeadForm is what an agent gathers from a visitor before saving a lead
// with the save_lead tool.
type LeadForm struct {
	Fields []LeadField `json:"fields"`
}

// LeadField is one field of a lead form.
type LeadField struct {
	Name     string `json:"name"` // the argument name the model fills, e.g. "email"
	Label    string `json:"label"`
	Type     string `json:"type"` // text, phone, email, date or number
	Required bool   `json:"required"`
}

var (
	leadFieldName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)
	phoneChars    = regexp.MustCompile(`^\+?[0-9 \-]+$`)
	emailShape    = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$`)
)

// Validate checks a form before an agent is saved with it.
func (f LeadForm) Validate() error {
	if len(f.Fields) == 0 {
		return errors.New("the lead form needs at least one field")
	}
	seen := map[string]bool{}
	for _, fl := range f.Fields {
		if !leadFieldName.MatchString(fl.Name) {
			return fmt.Errorf("lead field name %q: use lower-case letters, digits and '_', starting with a letter", fl.Name)
		}
		if seen[fl.Name] {
			return fmt.Errorf("lead field %q appears twice", fl.Name)
		}
		seen[fl.Name] = true
		switch fl.Type {
		case "text", "phone", "email", "date", "number":
		default:
			return fmt.Errorf("lead field %q has type %q: use text, phone, email, date or number", fl.Name, fl.Type)
		}
	}
	return nil
}

func (f LeadForm) label(fl LeadField) string {
	if fl.Label != "" {
		return fl.Label
	}
	return fl.Name
}

// schema is save_lead's parameters. Ollama keeps only flat properties with
// type and description, which is all a form needs.
func (f LeadForm) schema() json.RawMessage {
	props := map[string]any{}
	required := []string{}
	for _, fl := range f.Fields {
		typ, desc := "string", f.label(fl)
		switch fl.Type {
		case "number":
			typ = "number"
		case "date":
			desc += " (YYYY-MM-DD)"
		case "phone":
			desc += " (phone number)"
		case "email":
			desc += " (email address)"
		}
		props[fl.Name] = map[string]any{"type": typ, "description": desc}
		if fl.Required {
			required = append(required, fl.Name)
		}
	}
	b, _ := json.Marshal(map[string]any{"type": "object", "properties": props, "required": required})
	return b
}

// instruction is added to the system prompt of an agent with a lead form.
func (f LeadForm) instruction() string {
	var req, opt []string
	for _, fl := range f.Fields {
		if fl.Required {
			req = append(req, f.label(fl))
		} else {
			opt = append(opt, f.label(fl))
		}
	}
	s := "When the user is interested in being contacted, ordering or booking, collect their details for the save_lead tool"
	if len(req) > 0 {
		s += "; required: " + strings.Join(req, ", ")
	}
	if len(opt) > 0 {
		s += "; optional: " + strings.Join(opt, ", ")
	}
	return s + ". Ask for missing details naturally, one or two at a time, as part of the conversation. " +
		"Before calling save_lead, repeat the details back and ask the user to confirm them; call it only after they confirm. " +
		"If save_lead reports a problem, ask the user to correct that detail."
}

// check validates save_lead's arguments against the form and returns the
// field values as text. Every problem is listed, in words the model can
// pass on to the user.
func (f LeadForm) check(args map[string]any) (map[string]string, error) {
	out := map[string]string{}
	var problems []string
	for _, fl := range f.Fields {
		raw, ok := args[fl.Name]
		v := ""
		if ok && raw != nil {
			switch x := raw.(type) {
			case string:
				v = strings.TrimSpace(x)
			case float64:
				v = FormatNumber(x)
			case bool:
				v = strconv.FormatBool(x)
			default:
				problems = append(problems, fmt.Sprintf("%s must be a single value", fl.Name))
				continue
			}
		}
		if v == "" {
			if fl.Required {
				problems = append(problems, fmt.Sprintf("%s is missing (ask the user for their %s)", fl.Name, f.label(fl)))
			}
			continue
		}
		if len([]rune(v)) > 500 {
			problems = append(problems, fmt.Sprintf("%s is longer than 500 characters", fl.Name))
			continue
		}
		if err := checkValue(fl.Type, v); err != nil {
			problems = append(problems, fmt.Sprintf("%s %q %v", fl.Name, v, err))
			continue
		}
		if fl.Type == "email" {
			v = strings.ToLower(v)
		}
		out[fl.Name] = v
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("the lead was not saved: %s", strings.Join(problems, "; "))
	}
	return out, nil
}

func checkValue(typ, v string) error {
	switch typ {
	case "phone":
		digits := 0
		for _, r := range v {
			if r >= '0' && r <= '9' {
				digits++
			}
		}
		if !phoneChars.MatchString(v) || digits < 6 || digits > 20 {
			return errors.New("is not a phone number (6 to 20 digits, with optional +, spaces and dashes)")
		}
	case "email":
		if !emailShape.MatchString(v) {
			return errors.New("is not an email address")
		}
	case "date":
		if _, err := time.Parse("2006-01-02", v); err != nil {
			return errors.New("is not a date in the form YYYY-MM-DD")
		}
	case "number":
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsInf(n, 0) || math.IsNaN(n) {
			return errors.New("is not a number")
		}
	}
	return nil
}

// Lead is one saved contact. The core fields carry Flowise's lead names
// (chatflowid, chatId, createdDate) so an export can go where Flowise
// leads go; Fields holds every form value by field name.
type Lead = contact.Lead

// Leads stores each agent's leads as DATA/leads/<agent>.jsonl.
type Leads struct {
	dir string
	mu  sync.Mutex
}

// NewLeads uses dir (DATA/leads).
func NewLeads(dir string) *Leads { return &Leads{dir: dir} }

func (l *Leads) path(agent string) (string, error) {
	if !agentName.MatchString(agent) {
		return "", fmt.Errorf("%q: %w", agent, ErrNotFound)
	}
	return filepath.Join(l.dir, agent+".jsonl"), nil
}

// List returns an agent's leads, oldest first.
func (l *Leads) List(agent string) ([]Lead, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.list(agent)
}

func (l *Leads) list(agent string) ([]Lead, error) {
	p, err := l.path(agent)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return []Lead{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't read the leads of %q: %w", agent, err)
	}
	defer f.Close()
	out := []Lead{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var ld Lead
		if err := json.Unmarshal(line, &ld); err != nil {
			return nil, fmt.Errorf("line %d of %s is damaged: %w", n, p, err)
		}
		out = append(out, ld)
	}
	return out, sc.Err()
}

// Save stores a lead for agent from form values. A lead with the same email
// or phone as stored ones is merged into the first of them: its non-empty
// values win, the rest are kept. It returns the stored lead and whether it
// was merged.
func (l *Leads) Save(agent, conversation string, form LeadForm, fields map[string]string, now time.Time) (Lead, bool, error) {
	return l.Merge(agent, form.NewLead(agent, conversation, fields, now))
}

// NewLead makes a lead of form values (empty ones dropped), with the core
// fields filled from the form's name, email and phone fields.
func (f LeadForm) NewLead(agent, conversation string, fields map[string]string, now time.Time) Lead {
	now = now.UTC()
	in := Lead{ID: NewID(), Agent: agent, Conversation: conversation, Created: now, Updated: now, Fields: map[string]string{}}
	for k, v := range fields {
		if v != "" {
			in.Fields[k] = v
		}
	}
	in.Name, in.Email, in.Phone = f.core(in.Fields)
	return in
}

// Merge stores a complete lead — one saved here, or one pulled from a hub's
// inbox — merging it with any stored lead of the same contact. It reports
// whether it was merged.
func (l *Leads) Merge(agent string, in Lead) (Lead, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	all, err := l.list(agent)
	if err != nil {
		return Lead{}, false, err
	}
	if in.ID == "" {
		in.ID = NewID()
	}
	in.Agent = agent
	var keep []Lead
	merged := -1
	for _, old := range all {
		if !contact.Same(old, in) && old.ID != in.ID {
			keep = append(keep, old)
			continue
		}
		if merged < 0 {
			merged = len(keep)
			keep = append(keep, old)
		} else {
			// The new lead links two stored ones (one by email, one by
			// phone): they are the same person.
			keep[merged] = contact.Merge(keep[merged], old)
		}
	}
	stored := in
	if merged >= 0 {
		stored = contact.Merge(keep[merged], in)
		keep[merged] = stored
	} else {
		keep = append(keep, in)
	}
	if err := l.write(agent, keep); err != nil {
		return Lead{}, false, err
	}
	return stored, merged >= 0, nil
}

// core picks the Flowise fields from form values: the field named "name"
// (else the first text field with "name" in its name), and the first email
// and phone fields.
func (f LeadForm) core(v map[string]string) (name, email, phone string) {
	name = v["name"]
	for _, fl := range f.Fields {
		switch {
		case name == "" && fl.Type == "text" && strings.Contains(fl.Name, "name"):
			name = v[fl.Name]
		case email == "" && fl.Type == "email":
			email = strings.ToLower(v[fl.Name])
		case phone == "" && fl.Type == "phone":
			phone = v[fl.Name]
		}
	}
	return name, email, phone
}

func (l *Leads) write(agent string, all []Lead) error {
	p, err := l.path(agent)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(l.dir, 0o700); err != nil {
		return fmt.Errorf("couldn't create the leads folder: %w", err)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for _, ld := range all {
		if err := enc.Encode(ld); err != nil {
			return err
		}
	}
	if err := store.WriteFileAtomic(p, b.Bytes(), 0o600); err != nil {
		return fmt.Errorf("couldn't save the leads of %q: %w", agent, err)
	}
	return nil
}

// LeadsCSV writes leads as CSV: the Flowise core columns, then every other
// form field (sorted), then the agent, conversation and dates.
func LeadsCSV(leads []Lead) string {
	var extra []string
	seen := map[string]bool{"name": true, "email": true, "phone": true}
	for _, ld := range leads {
		for k := range ld.Fields {
			if !seen[k] {
				seen[k] = true
				extra = append(extra, k)
			}
		}
	}
	slices.Sort(extra)
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	head := append([]string{"id", "name", "email", "phone"}, extra...)
	head = append(head, "chatflowid", "chatId", "createdDate", "updatedDate")
	_ = w.Write(head)
	for _, ld := range leads {
		row := []string{ld.ID, cell(ld.Name), cell(ld.Email), cell(ld.Phone)}
		for _, k := range extra {
			row = append(row, cell(ld.Fields[k]))
		}
		row = append(row, ld.Agent, ld.Conversation, ld.Created.Format(time.RFC3339), ld.Updated.Format(time.RFC3339))
		_ = w.Write(row)
	}
	w.Flush()
	return b.String()
}

// cell keeps a visitor's text from running as a spreadsheet formula. A
// phone number such as "+33 6 12" is data, so a sign followed by digits
// passes.
func cell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '@', '\t', '\r':
		return "'" + s
	case '+', '-':
		if !phoneChars.MatchString(s) {
			return "'" + s
		}
	}
	return s
}

// MergeRaw merges leads in their stored JSON form (from a hub's inbox) into
// agent's leads, and counts the new and the merged ones.
func MergeRaw(l *Leads, agent string, raw []json.RawMessage) (added, merged int, err error) {
	for _, r := range raw {
		var ld Lead
		if err := json.Unmarshal(r, &ld); err != nil {
			return added, merged, fmt.Errorf("a lead from the hub is not readable: %w", err)
		}
		_, was, err := l.Merge(agent, ld)
		if err != nil {
			return added, merged, err
		}
		if was {
			merged++
		} else {
			added++
		}
	}
	return added, merged, nil
}
