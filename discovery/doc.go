// Package discovery is Planet's federated service discovery: each region
// runs one Server, which keeps the region's local registry and gossips it to
// every other region.
//
// # Local registry
//
// A service registers (name, address, ttl) with PUT /v1/services/{name} and
// repeats the call as a heartbeat; an entry not refreshed within its TTL
// expires. Every change that other regions must learn (a new entry, a new
// TTL, a deregistration, an expiry) gets a version from a clock that never
// goes backwards and starts from the wall clock, so versions keep growing
// across restarts. A heartbeat that changes nothing is not broadcast.
//
// # Federation
//
// The discovery instances of all regions form one hashicorp/memberlist
// cluster (WAN timings, tuned so that a dead region is declared dead in
// about 10 s), bootstrapped from Config.Peers. The node name is the region.
// Peers that are not alive members are joined again every RejoinInterval, so
// regions start in any order and find each other after a long partition.
//
// Gossip shares the API's port: UDP for packets, and the same TCP listener
// as HTTP for streams. Our transport opens every stream with streamMagic,
// whose first byte is zero; an HTTP request never starts with one, so the
// first byte tells the two apart.
//
// A region's state leaves it with loopback and unspecified hosts rewritten
// to its WireGuard IP (see RewriteAddress). Four user messages carry it
// (JSON after a one-byte type, see messages.go):
//
//   - delta: one put or delete with its version, sent at once to every
//     alive region over UDP and queued for gossip piggybacking as well;
//   - snapshot: the region's full state and its registry version; it is
//     our half of memberlist's push/pull (every PushPullInterval, 5 s), and
//     is also sent over TCP to a region that joins or returns, asking for
//     its snapshot in reply;
//   - digest: every PushPullInterval, the count and an order-independent
//     hash of the region's entries; a receiver whose view matches confirms
//     every entry of that region, one whose view differs asks for a snapshot;
//   - sync request: "send me your snapshot".
//
// The view of each other region merges these so that order and duplication
// do not matter (see federation): a put or delete applies only if newer
// than what the view holds; a delete leaves a tombstone; a snapshot replaces
// every entry it covers, and an older snapshot than one already applied is
// ignored.
//
// Federated entries expire like local ones: an entry whose region has not
// confirmed it (delta, snapshot or matching digest) for max(TTL, three
// push/pull periods) is dropped. All entries of a region are dropped at once
// when gossip declares it dead or it leaves; when it returns, the snapshot
// exchange on rejoin brings them back.
//
// # Invariants
//
//   - list_local never contains another region's instances; list contains
//     the local instances (with the address they registered) and every alive
//     region's (with rewritten addresses).
//   - Bad API input gets a 4xx with a JSON {"error": ...} and changes
//     nothing; bad gossip messages are counted and dropped.
package discovery
