package peer

import (
	"errors"
	"testing"
)

func TestPool(t *testing.T) {
	checkGoroutines(t)
	peerA := startFakePeer(t, "", answerOK)
	peerB := startFakePeer(t, "", answerOK)
	p := NewPool(Config{Conns: 1})
	t.Cleanup(func() { p.Close() })

	a := p.Get(peerA.addr())
	if a.Addr() != peerA.addr() {
		t.Fatalf("Get(%s).Addr() = %s", peerA.addr(), a.Addr())
	}
	if again := p.Get(peerA.addr()); again != a {
		t.Fatal("second Get for the same address made a new client")
	}
	b := p.Get(peerB.addr())
	if b == a {
		t.Fatal("Get for another address returned the same client")
	}
	for _, c := range []*Client{a, b} {
		if _, err := do(t, c, "PING"); err != nil {
			t.Fatalf("%s: %v", c.Addr(), err)
		}
	}

	p.Retain([]string{peerB.addr(), "127.0.0.1:1"})
	if _, err := do(t, a, "PING"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("dropped client: err = %v, want ErrUnavailable", err)
	}
	if _, err := do(t, b, "PING"); err != nil {
		t.Fatalf("retained client: %v", err)
	}
	if p.Get(peerB.addr()) != b {
		t.Fatal("Retain replaced a retained client")
	}
	a2 := p.Get(peerA.addr())
	if a2 == a {
		t.Fatal("Get after Retain dropped the address returned the closed client")
	}
	if _, err := do(t, a2, "PING"); err != nil {
		t.Fatalf("new client after Retain: %v", err)
	}

	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Client{a2, b, p.Get(peerA.addr())} {
		if _, err := do(t, c, "PING"); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("%s after Pool.Close: err = %v, want ErrUnavailable", c.Addr(), err)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
