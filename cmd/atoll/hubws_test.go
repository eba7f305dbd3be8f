package main

// The hub's workspace commands' usage errors, kept beside the table in
// cli_test.go (which other commands' rows change often).
func init() {
	usageErrors["hub workspace create"] = [][]string{{}, {"a", "b"}}
	usageErrors["hub workspace list"] = [][]string{{"extra"}}
	usageErrors["hub workspace quota"] = [][]string{{}, {"a", "--max-streams", "-5"}}
}
