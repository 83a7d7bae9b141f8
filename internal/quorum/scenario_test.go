package quorum

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The scenario files testdata/*.txt script Tallies, one step a line, each
// followed by "->" and what it must give:
//
//	write need=W total=N -> STATE   starts a scenario: NewTally(Write, W, N)
//	read need=R total=N  -> STATE   starts a scenario: NewTally(Read, R, N)
//	ack [local]          -> STATE   Add(Peer or Local, true)
//	fail [local]         -> STATE   Add(Peer or Local, false)
//	expire               -> STATE   Expire()
//	err                  -> TEXT    Err().Error(), or <nil>
//	count                -> acks=A outstanding=O
//
// STATE is the result, followed by "done" when Done: pending, won,
// won done, lost, lost done. Blank lines and lines that start with # are
// ignored.

// step is one line of a scenario file.
type step struct {
	line  int
	words []string // before "->"
	want  string   // after "->"
}

// scenario is the steps from one "write" or "read" line to the next.
type scenario struct {
	name  string // file:line of its first step
	steps []step
}

func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenario files: %v", err)
	}
	for _, file := range files {
		for _, sc := range readScenarios(t, file) {
			t.Run(sc.name, func(t *testing.T) {
				var tl Tally
				for _, s := range sc.steps {
					got, err := runStep(&tl, s.words)
					if err != nil {
						t.Fatalf("%s:%d: %v", file, s.line, err)
					}
					if got != s.want {
						t.Errorf("%s:%d: %s -> %s, want %s", file, s.line, strings.Join(s.words, " "), got, s.want)
					}
				}
			})
		}
	}
}

// readScenarios parses a scenario file.
func readScenarios(tb testing.TB, file string) []scenario {
	tb.Helper()
	f, err := os.Open(file)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var scs []scenario
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cmd, want, ok := strings.Cut(line, "->")
		words := strings.Fields(cmd)
		if !ok || len(words) == 0 {
			tb.Fatalf("%s:%d: want STEP -> RESULT, got %q", file, n, line)
		}
		if words[0] == "write" || words[0] == "read" {
			scs = append(scs, scenario{name: fmt.Sprintf("%s:%d", filepath.Base(file), n)})
		}
		if len(scs) == 0 {
			tb.Fatalf("%s:%d: a step before the first write or read line", file, n)
		}
		last := &scs[len(scs)-1]
		last.steps = append(last.steps, step{line: n, words: words, want: strings.TrimSpace(want)})
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return scs
}

// runStep runs one step on tl and returns what it gave, in the form of
// the scenario files.
func runStep(tl *Tally, words []string) (string, error) {
	switch cmd, args := words[0], words[1:]; cmd {
	case "write", "read":
		need, total, err := parseSizes(args)
		if err != nil {
			return "", err
		}
		*tl = NewTally(Op(cmd), need, total)
		return state(tl, tl.Result())
	case "ack", "fail":
		from := Peer
		switch {
		case len(args) == 1 && args[0] == "local":
			from = Local
		case len(args) != 0:
			return "", fmt.Errorf("%s takes nothing or local, got %q", cmd, args)
		}
		return state(tl, tl.Add(from, cmd == "ack"))
	case "expire":
		return state(tl, tl.Expire())
	case "err":
		if err := tl.Err(); err != nil {
			return err.Error(), nil
		}
		return "<nil>", nil
	case "count":
		return fmt.Sprintf("acks=%d outstanding=%d", tl.Acks(), tl.Outstanding()), nil
	}
	return "", fmt.Errorf("unknown step %q", words[0])
}

// parseSizes parses "need=N total=N".
func parseSizes(args []string) (need, total int, err error) {
	if len(args) != 2 {
		return 0, 0, fmt.Errorf("want need=N total=N, got %q", args)
	}
	for i, p := range []*int{&need, &total} {
		name := [...]string{"need=", "total="}[i]
		v, ok := strings.CutPrefix(args[i], name)
		if !ok {
			return 0, 0, fmt.Errorf("want %sN, got %q", name, args[i])
		}
		if *p, err = strconv.Atoi(v); err != nil {
			return 0, 0, err
		}
	}
	return need, total, nil
}

// state is the STATE of a scenario line: r, and "done" when tl is; r
// must be what Result says too.
func state(tl *Tally, r VoteResult) (string, error) {
	if r != tl.Result() {
		return "", fmt.Errorf("returned %v, but Result is %v", r, tl.Result())
	}
	if tl.Done() {
		return r.String() + " done", nil
	}
	return r.String(), nil
}
