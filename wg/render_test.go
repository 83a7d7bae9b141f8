package wg

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func TestRenderGolden(t *testing.T) {
	got, err := Render(testTable(t), "sfo", testKey(1), DefaultKeepalive)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "render.golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Render:\n%s\nwant (%s):\n%s", got, path, want)
	}
}

func TestRenderRefusesAnotherRegionsKey(t *testing.T) {
	if _, err := Render(testTable(t), "sfo", testKey(2), DefaultKeepalive); !errors.Is(err, ErrConfig) {
		t.Errorf("Render with nyc's key for sfo: %v, want ErrConfig", err)
	}
}
