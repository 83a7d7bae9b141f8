//go:build !race

package planettest

const raceEnabled = false
