//go:build race

package testenv

// raceEnabled builds the child binaries with -race when the tests run with
// it, so data races in the server and agent processes fail the tests too.
const raceEnabled = true
