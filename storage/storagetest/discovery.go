package storagetest

import (
	"context"
	"slices"
	"sync"
	"time"

	"planet/discovery/api"
	"planet/storage"
)

var _ storage.Discovery = (*Discovery)(nil)

// Discovery is an in-memory discovery of one region, shared by the
// region's replicas in place of a discovery server. As the real client's,
// Register holds a registration until its context ends; ListLocal returns
// what is registered. A test can also change what it lists: Hide and Show
// an address (a replica that discovery does not list, though it runs), Pin
// and Unpin one (a replica that discovery still lists, though it is gone,
// as a dead process's registration until its TTL expires), and Fail the
// listing altogether (discovery unreachable). Discovery is safe for
// concurrent use.
type Discovery struct {
	region string
	now    func() time.Time

	mu         sync.Mutex
	registered map[key]int       // guarded by mu; registrations held, by service and address
	pinned     map[key]bool      // guarded by mu
	hidden     map[string]bool   // guarded by mu; by address, any service
	lastSeen   map[key]time.Time // guarded by mu
	fail       error             // guarded by mu; ListLocal's error, if set
	lists      int               // guarded by mu; ListLocal calls so far
}

// key is a service name and an address.
type key struct{ name, addr string }

// NewDiscovery returns an empty discovery of region.
func NewDiscovery(region string) *Discovery {
	return &Discovery{
		region:     region,
		now:        time.Now,
		registered: make(map[key]int),
		pinned:     make(map[key]bool),
		hidden:     make(map[string]bool),
		lastSeen:   make(map[key]time.Time),
	}
}

// Register lists name at addr until ctx ends, then removes it (as the
// real client deregisters). It returns nil once ctx ends, or at once an
// error for a name or address the discovery API would refuse.
func (d *Discovery) Register(ctx context.Context, name, addr string) error {
	if err := api.ValidateName(name); err != nil {
		return err
	}
	if err := api.ValidateAddress(addr); err != nil {
		return err
	}
	k := key{name, addr}
	d.mu.Lock()
	d.registered[k]++
	d.lastSeen[k] = d.now()
	d.mu.Unlock()
	<-ctx.Done()
	d.mu.Lock()
	if d.registered[k]--; d.registered[k] == 0 {
		delete(d.registered, k)
	}
	d.mu.Unlock()
	return nil
}

// ListLocal returns the instances of name that are registered or pinned
// and not hidden, sorted by address; or the error set by Fail.
func (d *Discovery) ListLocal(ctx context.Context, name string) ([]api.Instance, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lists++
	if d.fail != nil {
		return nil, d.fail
	}
	var out []api.Instance
	for _, addr := range d.addrsLocked(name) {
		out = append(out, api.Instance{Name: name, Address: addr, Region: d.region, Local: true,
			LastSeen: d.lastSeen[key{name, addr}]})
	}
	return out, nil
}

// isRegistered reports whether name at addr holds a registration.
func (d *Discovery) isRegistered(name, addr string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.registered[key{name, addr}] > 0
}

// Addrs returns the addresses that ListLocal lists for name, sorted.
func (d *Discovery) Addrs(name string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.addrsLocked(name)
}

func (d *Discovery) addrsLocked(name string) []string {
	var addrs []string
	for k := range d.registered {
		if k.name == name && !d.hidden[k.addr] {
			addrs = append(addrs, k.addr)
		}
	}
	for k := range d.pinned {
		if k.name == name && !d.hidden[k.addr] && !slices.Contains(addrs, k.addr) {
			addrs = append(addrs, k.addr)
		}
	}
	slices.Sort(addrs)
	return addrs
}

// Hide stops listing addr (for every service) while it stays registered:
// its peers drop it, it still sees them.
func (d *Discovery) Hide(addr string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.hidden[addr] = true
}

// Show lists addr again after Hide.
func (d *Discovery) Show(addr string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.hidden, addr)
}

// Pin lists name at addr whether or not it is registered, until Unpin.
func (d *Discovery) Pin(name, addr string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := key{name, addr}
	d.pinned[k] = true
	if _, ok := d.lastSeen[k]; !ok {
		d.lastSeen[k] = d.now()
	}
}

// Unpin undoes Pin.
func (d *Discovery) Unpin(name, addr string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.pinned, key{name, addr})
}

// Fail makes ListLocal return err (nil: list again).
func (d *Discovery) Fail(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fail = err
}

// Lists returns how many times ListLocal was called: a test waits for it
// to grow to know that the replicas have refreshed their peers.
func (d *Discovery) Lists() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lists
}
