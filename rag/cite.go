package rag

import (
	"regexp"
	"strconv"
	"strings"
)

// citeGroup matches one bracketed citation group: [1], [1, 2], [1-3],
// 【1】, ［1，2］, with ASCII or full-width digits.
var citeGroup = regexp.MustCompile(`[\[【［]\s*([0-9０-９]{1,3}(?:\s*[,，、;；\-–~～]\s*[0-9０-９]{1,3})*)\s*[\]】］]`)

var citeSplit = regexp.MustCompile(`[0-9０-９]+|[\-–~～]`)

// citeNumbers lists the numbers a group names, ranges expanded (capped so a
// stray "[1-999]" cannot blow up).
func citeNumbers(inner string) []int {
	var out []int
	parts := citeSplit.FindAllString(inner, -1)
	for i := 0; i < len(parts); i++ {
		p := parts[i]
		if p == "-" || p == "–" || p == "~" || p == "～" {
			continue
		}
		n := atoiWide(p)
		if i+2 < len(parts) && isRangeSep(parts[i+1]) {
			m := atoiWide(parts[i+2])
			if m >= n && m-n < 50 {
				for x := n; x <= m; x++ {
					out = append(out, x)
				}
				i += 2
				continue
			}
		}
		out = append(out, n)
	}
	return out
}

func isRangeSep(s string) bool { return s == "-" || s == "–" || s == "~" || s == "～" }

func atoiWide(s string) int {
	var b strings.Builder
	for _, r := range s {
		if r >= '０' && r <= '９' {
			r = '0' + (r - '０')
		}
		b.WriteRune(r)
	}
	n, _ := strconv.Atoi(b.String())
	return n
}

// Cited returns the distinct citation numbers in answer that name one of
// the given passages (1..given), in order of first use.
func Cited(answer string, given int) []int {
	seen := map[int]bool{}
	var out []int
	for _, m := range citeGroup.FindAllStringSubmatch(answer, -1) {
		for _, n := range citeNumbers(m[1]) {
			if n >= 1 && n <= given && !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	return out
}

// CleanCitations removes citation numbers that name no given passage (a
// model inventing [7] when five were given); a group left empty is removed
// with the space before it.
func CleanCitations(answer string, given int) string {
	locs := citeGroup.FindAllStringSubmatchIndex(answer, -1)
	if len(locs) == 0 {
		return answer
	}
	var b strings.Builder
	last := 0
	for _, loc := range locs {
		start, end := loc[0], loc[1]
		nums := citeNumbers(answer[loc[2]:loc[3]])
		var keep []string
		bad := false
		for _, n := range nums {
			if n >= 1 && n <= given {
				keep = append(keep, strconv.Itoa(n))
			} else {
				bad = true
			}
		}
		if !bad {
			continue // leave valid groups exactly as written
		}
		prefix := answer[last:start]
		if len(keep) == 0 {
			prefix = strings.TrimRight(prefix, " ")
			b.WriteString(prefix)
		} else {
			open, close := "[", "]"
			if strings.HasPrefix(answer[start:], "【") {
				open, close = "【", "】"
			}
			b.WriteString(prefix)
			b.WriteString(open + strings.Join(keep, ", ") + close)
		}
		last = end
	}
	b.WriteString(answer[last:])
	return b.String()
}
