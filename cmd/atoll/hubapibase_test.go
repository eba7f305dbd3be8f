package main

// --channel-api-base's usage errors, kept beside the table in cli_test.go.
func init() {
	usageErrors["hub"] = append(usageErrors["hub"],
		[]string{"--channel-api-base", "127.0.0.1:8081"},
		[]string{"--channel-api-base", "ftp://127.0.0.1:8081"},
		[]string{"--channel-api-base", "http://user:pw@127.0.0.1:8081"},
		[]string{"--channel-api-base", "http://127.0.0.1:8081/?x=1"})
}
