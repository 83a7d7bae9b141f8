package resp

import (
	"reflect"
	"testing"
)

func newPipeline() *pipeline {
	p := &pipeline{}
	p.init()
	return p
}

// TestPipelineOrder drives a pipeline by hand: commands finish out of
// order, replies come out in order, workers are spawned only when needed.
func TestPipelineOrder(t *testing.T) {
	p := newPipeline()
	if p.appendDone([]byte("x")) {
		t.Fatal("appendDone on an empty pipeline queued the reply")
	}
	if !p.enqueue(Read, args("a")) {
		t.Fatal("first command: no worker spawned")
	}
	if p.enqueue(Read, args("b")) || p.enqueue(Read, args("c")) {
		t.Fatal("a worker was spawned while one is pending")
	}
	seqA, a, ok, spawn := p.start()
	if seqA != 0 || string(a[0]) != "a" || !ok || !spawn {
		t.Fatalf("start = %d %q %v %v, want 0 a true true", seqA, a, ok, spawn)
	}
	seqB, b, ok, spawn := p.start()
	if seqB != 1 || string(b[0]) != "b" || !ok || !spawn {
		t.Fatalf("start = %d %q %v %v, want 1 b true true (c still waits)", seqB, b, ok, spawn)
	}
	seqC, c, ok, spawn := p.finish(seqB, []byte("B"))
	if seqC != 2 || string(c[0]) != "c" || !ok || spawn {
		t.Fatalf("finish = %d %q %v %v, want 2 c true false", seqC, c, ok, spawn)
	}
	if _, _, ok, _ := p.finish(seqC, []byte("C")); ok {
		t.Fatal("finish took a command, none waits")
	}
	if p.appendDone([]byte("D")) != true {
		t.Fatal("appendDone behind unwritten replies did not queue")
	}
	if _, _, ok, _ := p.start(); ok {
		t.Fatal("the pending helper found a command, none waits")
	}
	p.finish(seqA, []byte("A"))
	batch, ok := p.take(nil)
	if want := [][]byte{[]byte("A"), []byte("B"), []byte("C"), []byte("D")}; !ok || !reflect.DeepEqual(batch, want) {
		t.Fatalf("take = %q, %v; want %q", batch, ok, want)
	}
	if p.advanceIfReady(len(batch)) {
		t.Fatal("advanceIfReady with nothing after the batch")
	}
	p.advance(len(batch))
	if !p.empty() {
		t.Fatal("pipeline not empty after writing everything")
	}
	p.close()
	if _, ok := p.take(nil); ok {
		t.Fatal("take after close")
	}
}

// TestPipelineRing: sequence numbers wrap around the ring, which grows to
// the commands in flight only.
func TestPipelineRing(t *testing.T) {
	p := newPipeline()
	for i := range 3000 {
		want := p.tail
		p.enqueue(Write, args("x"))
		seq, _, ok, _ := p.start()
		if !ok || seq != want {
			t.Fatalf("command %d: start = %d, %v; want %d", i, seq, ok, want)
		}
		p.finish(seq, []byte{byte(i)})
		wantReplies := 1
		if i%3 == 0 {
			p.appendDone([]byte("serial"))
			wantReplies = 2
		}
		batch, _ := p.take(nil)
		if len(batch) != wantReplies || batch[0][0] != byte(i) {
			t.Fatalf("command %d: replies %q", i, batch)
		}
		p.advance(len(batch))
	}
	if len(p.slots) != 8 {
		t.Errorf("ring of %d slots for 2 in flight", len(p.slots))
	}
	for range maxInFlight {
		p.enqueue(Read, args("y"))
	}
	if len(p.slots) != maxInFlight || !p.fullLocked() {
		t.Errorf("ring of %d slots, full %v, for %d in flight", len(p.slots), p.fullLocked(), maxInFlight)
	}
	for i := range maxInFlight {
		if _, _, ok, _ := p.start(); !ok {
			t.Fatalf("command %d lost in the grown ring", i)
		}
	}
}
