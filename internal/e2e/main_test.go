// Package e2e holds the integration tests and system benchmarks: real
// planet processes on loopback addresses, driven through their public APIs.
package e2e

import (
	"os"
	"testing"

	"planet/internal/planettest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	planettest.Cleanup()
	os.Exit(code)
}
