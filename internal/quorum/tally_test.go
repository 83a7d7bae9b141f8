package quorum

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/quick"
)

// script is a Tally's life decoded from bytes: the operation and its
// sizes, then one answer or deadline a byte.
type script struct {
	op          Op
	need, total int
	steps       []byte // see apply
}

// decodeScript makes a script of any bytes (for quick and fuzz tests).
func decodeScript(b []byte) script {
	for len(b) < 3 {
		b = append(b, 0)
	}
	s := script{op: Read, need: 1 + int(b[1]%7), total: int(b[2] % 7), steps: b[3:]}
	if b[0]%2 == 1 {
		s.op = Write
		s.total = max(s.total, 1)
	}
	return s
}

// apply runs step b on tl, and the same on m: mostly answers, a deadline
// one time in sixteen.
func apply(b byte, tl *Tally, m *model) (VoteResult, string) {
	switch v := b % 16; {
	case v < 5:
		m.answer(Peer, ack)
		return tl.Add(Peer, true), "ack"
	case v < 9:
		m.answer(Peer, fail)
		return tl.Add(Peer, false), "fail"
	case v < 12:
		m.answer(Local, ack)
		return tl.Add(Local, true), "ack local"
	case v < 15:
		m.answer(Local, fail)
		return tl.Add(Local, false), "fail local"
	}
	m.expire()
	return tl.Expire(), "expire"
}

// model is a naive Tally: a slot for each replica, and every count
// recomputed from the slots.
type model struct {
	op    Op
	need  int
	slots []answer // a write's slot 0 is the coordinator's
	local bool     // the coordinator answered
}

type answer uint8

const (
	none answer = iota
	ack
	fail
)

func newModel(s script) *model {
	return &model{op: s.op, need: s.need, slots: make([]answer, s.total)}
}

// answer fills the slot of the replica that answered, if there is one.
func (m *model) answer(from Replica, a answer) {
	slots := m.slots
	switch {
	case from == Local && m.local:
		return
	case from == Local && m.op == Write:
		slots = m.slots[:1]
	case m.op == Write:
		slots = m.slots[1:]
	}
	for i := range slots {
		if slots[i] == none {
			slots[i] = a
			m.local = m.local || from == Local
			return
		}
	}
}

func (m *model) expire() {
	for i := range m.slots {
		if m.slots[i] == none {
			m.slots[i] = fail
		}
	}
	m.local = true
}

func (m *model) count(a answer) int {
	n := 0
	for _, s := range m.slots {
		if s == a {
			n++
		}
	}
	return n
}

func (m *model) result() VoteResult {
	acks, open := m.count(ack), m.count(none)
	localDone := m.op != Write || m.slots[0] != none
	switch {
	case acks >= m.need && localDone:
		return Won
	case acks+open < m.need:
		return Lost
	}
	return Pending
}

// check runs the script on a Tally and on the model, and compares them
// after every step; it also checks that a decision never changes and
// that a deadline decides.
func check(b []byte) error {
	s := decodeScript(b)
	tl, m := NewTally(s.op, s.need, s.total), newModel(s)
	trace := []string{fmt.Sprintf("%s need=%d total=%d", s.op, s.need, s.total)}
	prev := tl.Result()
	for _, b := range s.steps {
		got, what := apply(b, &tl, m)
		trace = append(trace, what)
		fail := func(format string, args ...any) error {
			return fmt.Errorf("%s: %s", strings.Join(trace, "; "), fmt.Sprintf(format, args...))
		}
		switch {
		case got != tl.Result():
			return fail("returned %v, Result %v", got, tl.Result())
		case got != m.result():
			return fail("%v, the model says %v", got, m.result())
		case prev != Pending && got != prev:
			return fail("%v after %v", got, prev)
		case what == "expire" && (got == Pending || !tl.Done()):
			return fail("%v, done %v after the deadline", got, tl.Done())
		case tl.Acks() != m.count(ack) || tl.Outstanding() != m.count(none):
			return fail("acks %d outstanding %d, the model %d %d", tl.Acks(), tl.Outstanding(), m.count(ack), m.count(none))
		case tl.Done() != (m.count(none) == 0):
			return fail("done %v", tl.Done())
		}
		if err := checkErr(&tl); err != nil {
			return fail("%v", err)
		}
		prev = got
	}
	return nil
}

// checkErr checks that Err is an *Error with tl's counts when tl is lost,
// and nil otherwise.
func checkErr(tl *Tally) error {
	err := tl.Err()
	var qe *Error
	switch {
	case tl.Result() != Lost && err != nil:
		return fmt.Errorf("%v with error %v", tl.Result(), err)
	case tl.Result() != Lost:
		return nil
	case !errors.As(err, &qe):
		return fmt.Errorf("lost with error %v, want an *Error", err)
	case *qe != Error{Op: tl.op, Acks: tl.Acks(), Need: tl.need, Known: tl.total}:
		return fmt.Errorf("error %+v", *qe)
	}
	return nil
}

// TestTallyQuick compares Tally with the naive model on random scripts
// (as raft's quorum/quick_test.go does).
func TestTallyQuick(t *testing.T) {
	f := func(b []byte) bool {
		if err := check(b); err != nil {
			t.Log(err)
			return false
		}
		return true
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 10000}); err != nil {
		t.Error(err)
	}
}

func FuzzTally(f *testing.F) {
	f.Add([]byte{1, 1, 3, 0, 9, 0})     // write W=2 of 3, all acknowledge
	f.Add([]byte{1, 1, 1, 9})           // write W=2 of 1
	f.Add([]byte{0, 1, 3, 9, 5, 5, 15}) // read R=2 of 3, two fail, deadline
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := check(b); err != nil {
			t.Fatal(err)
		}
	})
}

func TestNewTallyPanics(t *testing.T) {
	for _, tc := range []struct {
		op          Op
		need, total int
	}{
		{Write, 0, 3},
		{Read, 1, -1},
		{Write, 1, 0},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewTally(%s, %d, %d) did not panic", tc.op, tc.need, tc.total)
				}
			}()
			NewTally(tc.op, tc.need, tc.total)
		}()
	}
}

func TestErrorText(t *testing.T) {
	for _, tc := range []struct {
		err  Error
		want string
	}{
		{Error{Op: Write, Acks: 1, Need: 2, Known: 3}, "NOQUORUM write: 1 of 2 required replicas acknowledged (3 known)"},
		{Error{Op: Read, Acks: 0, Need: 2, Known: 2}, "NOQUORUM read: 0 of 2 required replicas answered (2 known)"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestVoteResultString(t *testing.T) {
	for r, want := range map[VoteResult]string{Pending: "pending", Won: "won", Lost: "lost", 0: "VoteResult(0)"} {
		if got := r.String(); got != want {
			t.Errorf("%d: %q, want %q", r, got, want)
		}
	}
}

// TestTallyAllocs: deciding a quorum allocates nothing (Err aside).
func TestTallyAllocs(t *testing.T) {
	if n := testing.AllocsPerRun(100, tallyWrite); n != 0 {
		t.Errorf("%v allocations per write", n)
	}
}

// tallyWrite decides a W=2 of 3 write, the coordinator second.
func tallyWrite() {
	tl := NewTally(Write, 2, 3)
	tl.Add(Peer, true)
	if tl.Add(Local, true) != Won {
		panic("not won")
	}
	tl.Add(Peer, true)
	if !tl.Done() || tl.Err() != nil {
		panic("not done")
	}
}

func BenchmarkTally(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		tallyWrite()
	}
}
