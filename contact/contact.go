// Package contact is a lead (a contact an agent gathered) and the one rule
// that says when two leads are the same person and how they merge. The
// desktop's leads file (agent) and the hub's store (hubstore) both use it,
// so a lead merges the same way wherever it was captured.
package contact

import (
	"strings"
	"time"
)

// Lead is one contact. The JSON names are Flowise's lead record, so an
// export reads in tools that know that format.
type Lead struct {
	ID           string            `json:"id"`
	Name         string            `json:"name"`
	Email        string            `json:"email"`
	Phone        string            `json:"phone"`
	Agent        string            `json:"chatflowid"`
	Conversation string            `json:"chatId"`
	Created      time.Time         `json:"createdDate"`
	Updated      time.Time         `json:"updatedDate"`
	Fields       map[string]string `json:"fields"`
}

// Same says whether two leads are one person: the same email (any case) or
// the same phone digits.
func Same(a, b Lead) bool {
	if a.Email != "" && strings.EqualFold(a.Email, b.Email) {
		return true
	}
	p := PhoneDigits(a.Phone)
	return p != "" && p == PhoneDigits(b.Phone)
}

// PhoneDigits keeps a phone number's digits, for matching.
func PhoneDigits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Merge merges newer into old: the earliest id and creation time are kept,
// newer's non-empty values win.
func Merge(old, newer Lead) Lead {
	out := old
	out.Fields = map[string]string{}
	for k, v := range old.Fields {
		out.Fields[k] = v
	}
	for k, v := range newer.Fields {
		if v != "" {
			out.Fields[k] = v
		}
	}
	if newer.Conversation != "" {
		out.Conversation = newer.Conversation
	}
	if newer.Updated.After(out.Updated) {
		out.Updated = newer.Updated
	}
	if newer.Created.Before(out.Created) {
		out.Created, out.ID = newer.Created, newer.ID
	}
	for _, p := range []struct {
		dst *string
		v   string
	}{{&out.Name, newer.Name}, {&out.Email, newer.Email}, {&out.Phone, newer.Phone}} {
		if p.v != "" {
			*p.dst = p.v
		}
	}
	return out
}
