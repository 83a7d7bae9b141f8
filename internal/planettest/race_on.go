//go:build race

package planettest

// raceEnabled: the test runs with -race, so the planet binary is built with
// it too, and a data race in a child process fails the test.
const raceEnabled = true
