// Command benchtable turns `go test -bench` output on stdin into a Markdown
// table: one row per benchmark, one column per unit (ns/op becomes ms/op).
// scripts/bench.sh uses it to write docs/BENCHMARKS.md.
package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

var procSuffix = regexp.MustCompile(`-\d+$`)

func main() {
	type row struct {
		name string
		vals map[string]string
	}
	var rows []row
	var units []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		r := row{name: procSuffix.ReplaceAllString(strings.TrimPrefix(f[0], "Benchmark"), ""), vals: map[string]string{}}
		for i := 2; i+1 < len(f); i += 2 {
			v, unit := f[i], f[i+1]
			if unit == "ns/op" {
				if x, err := strconv.ParseFloat(v, 64); err == nil {
					v, unit = strconv.FormatFloat(x/1e6, 'f', 3, 64), "ms/op"
				}
			}
			r.vals[unit] = v
			if !seen[unit] {
				seen[unit] = true
				units = append(units, unit)
			}
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		fmt.Println("_(no benchmark output)_")
		return
	}
	fmt.Printf("| benchmark | %s |\n|---|%s\n", strings.Join(units, " | "), strings.Repeat("---|", len(units)))
	for _, r := range rows {
		cells := make([]string, len(units))
		for i, u := range units {
			cells[i] = r.vals[u]
		}
		fmt.Printf("| %s | %s |\n", r.name, strings.Join(cells, " | "))
	}
}
