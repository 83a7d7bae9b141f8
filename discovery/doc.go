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
// # Security
//
// With a platform secret (Config.Secret, PLANET_SECRET_FILE; the same file
// in every region):
//
//   - API writes — every method but GET and HEAD, so PUT and DELETE of
//     registrations and whatever changes state later — need
//     Authorization: Bearer <secret.APIToken()>. Without it, or with
//     another token, the reply is 401 with the usual {"error": ...} body
//     and WWW-Authenticate: Bearer realm="planet", and nothing changes; the
//     check runs before the body is read.
//   - Reads stay open: list, list_local, /v1/regions, /health, /metrics.
//     Applications discover services without credentials of their own
//     (the same as with DNS), and what they read is no secret: addresses
//     that anyone on the mesh can connect to anyway. Who can read is
//     bounded by where discovery listens: loopback, or the WireGuard
//     interface, which the firewall admits only from the mesh (see
//     DESIGN.md, Security). A writer, on the other hand, could point every
//     region's storage or cache at itself, so writes need the token.
//   - Gossip (packets and streams, the user messages included) is
//     encrypted and authenticated with memberlist's keyring holding
//     secret.GossipKey() (AES-256-GCM), and unencrypted gossip is refused
//     both ways (GossipVerifyIncoming and GossipVerifyOutgoing). A region
//     with another secret, or none, cannot join: the region that tries
//     logs one line "cannot join peer P: gossip rejected: <why>; is
//     PLANET_SECRET_FILE the same in every region?" and lists the peer in
//     /v1/regions with state "rejected" and that reason in "error"; the
//     region that refuses logs "gossip from HOST rejected: ..." (at most
//     once a minute per host). Each region's /v1/regions shows its
//     secret's fingerprint, for comparison.
//
// Without a secret everything is open, as in planet dev; a server that
// listens on a non-loopback address says so when it starts.
//
// Every connection on the port counts against Config.MaxConns (HTTP and
// gossip streams alike); beyond it new connections are closed at once.
// HTTP requests are bounded in time (Config.ReadHeaderTimeout and
// friends), header size (MaxHeaderBytes) and body size (api.MaxBodyBytes).
//
// # Persistence
//
// With Config.DataDir, the local registrations and their deadlines are kept
// in DataDir/discovery/registrations.json (format and invariants in
// persist.go), so a restarted instance serves them at once. A registration
// or deregistration is written before it is acknowledged (concurrent ones
// share a write); heartbeats, which only move deadlines, are written at
// most once per PersistInterval.
//
// # Invariants
//
//   - list_local never contains another region's instances; list contains
//     the local instances (with the address they registered) and every alive
//     region's (with rewritten addresses).
//   - Bad API input gets a 4xx with a JSON {"error": ...} and changes
//     nothing; bad gossip messages are counted and dropped.
package discovery
