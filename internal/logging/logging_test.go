package logging

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestLevelsAndFormats(t *testing.T) {
	for in, want := range map[string]slog.Level{"debug": slog.LevelDebug, "": slog.LevelInfo, "WARN": slog.LevelWarn, "error": slog.LevelError} {
		if got, err := ParseLevel(in); err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseLevel("loud"); err == nil {
		t.Error("ParseLevel(loud) accepted")
	}
	var b bytes.Buffer
	log, err := New(&b, "json", slog.LevelWarn)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown", "k", 1)
	if out := b.String(); strings.Contains(out, "hidden") || !strings.Contains(out, `"msg":"shown","k":1`) {
		t.Errorf("json output %q", out)
	}
	if _, err := New(&b, "xml", slog.LevelInfo); err == nil {
		t.Error("New(xml) accepted")
	}
}
